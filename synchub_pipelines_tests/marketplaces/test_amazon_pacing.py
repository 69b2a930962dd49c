"""The Amazon client paces publishing's lookups and writes to each operation's published
quota (its own rate and burst), so a sandbox at Amazon's own quotas never answers 429: a
run of lookups past the burst, and publishing's lookup-then-put per product."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from unittest import mock

import pytest
from pydantic import SecretStr

from synchub_pipelines.marketplaces.amazon import QUOTAS, AmazonApp, AmazonClient
from synchub_pipelines.marketplaces.amazon_writes import WRITE_QUOTAS
from synchub_pipelines.marketplaces.publishing import ListingDraft
from synchub_pipelines.marketplaces.tokens import MemoryTokenStore
from synchub_pipelines.models import Store
from synchub_pipelines.sandbox import server
from synchub_pipelines.sandbox.amazon import (
    APPLICATION_ID,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    MARKETPLACE_ID,
    REDIRECT_URI,
    initial_refresh_token,
)
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.world import gtin13


@pytest.fixture
def client() -> Iterator[AmazonClient]:
    # Amazon's published quotas on both sides: no rate_limits override, no rate_scale.
    with mock.patch.object(server, "SIMULATOR_MODULES", ("amazon",)):
        sandbox = Sandbox(SandboxConfig(seed=11, size="tiny", rate_limits={}))
    running = RunningSandbox(sandbox).start()
    url = running.base_url("amazon")
    app = AmazonApp(
        client_id=LWA_CLIENT_ID,
        client_secret=SecretStr(LWA_CLIENT_SECRET),
        application_id=APPLICATION_ID,
        redirect_uri=REDIRECT_URI,
        marketplace_id=MARKETPLACE_ID,
        api_url=url,
        lwa_url=url,
        seller_central_url=url,
    )
    (seller,) = sandbox.world.sellers_of("amazon")
    store = Store.of("amazon", f"{seller.seller_id}", seller.nickname)
    lwa = app.new_lwa_http()
    tokens = app.connect_with_refresh_token(lwa, SecretStr(initial_refresh_token(seller.seller_id)))
    lwa.close()
    token_store = MemoryTokenStore()
    token_store.save(store.store_id, tokens)
    client = AmazonClient(app, store, token_store, "salt")
    try:
        yield client
    finally:
        client.close()
        running.stop()


def test_every_operation_keeps_its_published_quota_and_a_token_back(client: AmazonClient) -> None:
    for operation in ("getListingsItem", "patchListingsItem", "searchListingsItems", *WRITE_QUOTAS):
        assert client.limiters[operation].headroom == 1.0, operation
    # The orders reads too: at exactly 0.5/s every call would land on the edge of the bucket.
    items = client.limiters["getOrderItems"]
    assert (items.rate, items.burst, items.headroom) == (0.5, 30, 1.0)
    assert QUOTAS["getListingsItem"].rate == 5.0 and QUOTAS["getListingsItem"].burst == 10


def test_a_run_of_lookups_past_the_burst_gets_no_429(client: AmazonClient) -> None:
    lookups = QUOTAS["getListingsItem"].burst * 3
    for n in range(lookups):
        assert client.find_listing_by_seller_sku(f"NOT-LISTED-{n:03d}") is None
    stats = client.http.stats
    assert stats["errors.RateLimitedError"] == 0
    assert stats["calls.getListingsItem"] == lookups  # no retry: every call answered at once
    # The client waited for its tokens instead of being refused.
    assert client.http.throttled_seconds > 0
    limiter = client.limiters["getListingsItem"]
    assert (limiter.rate, limiter.burst, limiter.headroom) == (5.0, 10, 1.0)


def test_lookup_then_put_per_product_gets_no_429(client: AmazonClient) -> None:
    products = QUOTAS["putListingsItem"].burst + 6
    for n in range(products):
        sku = f"PACE-{n:03d}"
        assert client.find_listing_by_seller_sku(sku) is None
        client.create_listing(
            ListingDraft(
                seller_sku=sku,
                title=f"Garrafa Térmica Inox {300 + n} ml",
                category_id="BOTTLE",
                attributes={"color": "Preto"},
                pictures=("https://images.example.com.br/garrafa.jpg",),
                price=Decimal("129.90"),
                quantity=5,
                brand="Stanley",
                gtin=gtin13(f"78910{n:07d}"),
            )
        )
    stats = client.http.stats
    assert stats["errors.RateLimitedError"] == 0
    assert stats["calls.putListingsItem"] == products
    assert stats["calls.getListingsItem"] == products
    assert client.find_listing_by_seller_sku("PACE-000") is not None  # the creates are real
