"""The demo scales the client's Amazon pacing as a whole: the sandbox must scale every quota."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from synchub_pipelines.demo.sandbox_accounts import (
    AMAZON_QUOTA_SCALE,
    BLING_QUOTA_SCALE,
    sandbox_rate_limits,
)
from synchub_pipelines.marketplaces.amazon import QUOTAS, AmazonApp
from synchub_pipelines.sandbox.amazon import PUBLISHED_QUOTAS
from synchub_pipelines.sandbox.server import Sandbox, SandboxConfig


def test_every_quota_the_demo_sandbox_enforces_is_scaled_like_the_client() -> None:
    sandbox = Sandbox(SandboxConfig(size="tiny", rate_limits=sandbox_rate_limits()))
    try:
        amazon = {name: b for name, b in sandbox.quotas.items() if name.startswith("amazon.")}
        # putListingsItem was once left out: the demo's client put at 200 × 5/s into 5/s.
        assert set(amazon) == set(PUBLISHED_QUOTAS)
        for name, bucket in amazon.items():
            published, burst = PUBLISHED_QUOTAS[name]
            assert bucket.rate == pytest.approx(published * AMAZON_QUOTA_SCALE), name
            assert bucket.burst == burst, name
        assert sandbox.quotas["bling"].rate == 3.0 * BLING_QUOTA_SCALE
    finally:
        sandbox.close()


# sandbox quota name → the client's operation name
CLIENT_OPERATIONS = {
    "amazon.getOrders": "getOrders",
    "amazon.getOrder": "getOrder",
    "amazon.getOrderItems": "getOrderItems",
    "amazon.getOrder2026": "getOrder2026",
    "amazon.listFinancialEventsByOrderId": "listFinancialEventsByOrderId",
    "amazon.listFinancialEvents": "listFinancialEvents",
    "amazon.listings": "searchListingsItems",
    "amazon.listings.get": "getListingsItem",
    "amazon.listings.patch": "patchListingsItem",
    "amazon.listings.put": "putListingsItem",
    "amazon.definitions": "getDefinitionsProductType",
    "amazon.definitions.search": "searchDefinitionsProductTypes",
    "amazon.confirmShipment": "confirmShipment",
    "amazon.submitInvoice": "submitInvoice",
    "amazon.getInvoiceStatus": "getInvoiceStatus",
}


def test_the_sandbox_publishes_the_quotas_the_client_paces_to() -> None:
    assert set(CLIENT_OPERATIONS) == set(PUBLISHED_QUOTAS)
    app = AmazonApp(client_id="demo", client_secret=SecretStr("s"), rate_scale=AMAZON_QUOTA_SCALE)
    for sandbox_name, operation in CLIENT_OPERATIONS.items():
        rate, burst = PUBLISHED_QUOTAS[sandbox_name]
        assert (QUOTAS[operation].rate, QUOTAS[operation].burst) == (rate, burst), operation
        assert app.quota(operation).rate == pytest.approx(rate * AMAZON_QUOTA_SCALE)
