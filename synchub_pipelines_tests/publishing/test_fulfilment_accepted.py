"""A tracking Mercado Livre accepts, end to end: a seller-shipped (ME1) sale of a listing
the hub published, the merchant's tracking sent by the `fulfilment_pushes` asset, and the
shipment as the next `shipments` read lands it in the warehouse (PostgreSQL, the real
client against the loopback sandbox)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from synchub_pipelines.defs.orders.facts import order_facts
from synchub_pipelines.defs.publishing import listings as publishing
from synchub_pipelines.defs.publishing.assets import fulfilment_pushes_asset
from synchub_pipelines.defs.publishing.common import RunScope
from synchub_pipelines.defs.publishing.rules import RuleBook
from synchub_pipelines.defs.stock.planning import allocatable_stock_asset
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.rows import order_batches
from synchub_pipelines_tests.publishing.merchant import Merchant, sandbox_environment

pytestmark = pytest.mark.postgres

TRACKING = "BR987654321BR"


@pytest.fixture
def merchant(sandbox_factory: Any, pg_url: str, tmp_path: Path) -> Iterator[Merchant]:
    running = sandbox_factory()
    with sandbox_environment(running), dg.instance_for_test() as instance:
        shop = Merchant(running, pg_url, tmp_path, ("mercadolivre",))
        shop.start(instance)
        yield shop


def me1_sale(merchant: Merchant, store: str) -> tuple[str, str]:
    """The hub publishes the bottle, the seller ships it himself (ME1), a buyer pays."""
    merchant.materialize([allocatable_stock_asset])  # the units the new listing offers
    options = publishing.ListingOptions(dry_run=False, scope=RunScope(stores=frozenset({store})))
    report = publishing.run_listings(
        merchant.engine, merchant.client, RuleBook(), options, "create", 0, datetime.now(UTC)
    )
    (created,) = [r for w, o, r in report.outcomes if w.seller_sku == "PUB-GAR01" and o.ok]
    assert created
    client = merchant.client(store)
    try:
        client._write(
            "items.update", "PUT", f"/items/{created}", json={"shipping": {"mode": "me1"}}
        )
        base = merchant.running.base_url("mercadolivre")
        answer = httpx.post(
            f"{base}/_sandbox/sales", json={"item_id": created, "quantity": 1}, timeout=30
        )
        assert answer.status_code in (200, 201), answer.text
        order_id = str(answer.json()["id"])
        page = client.get_orders([order_id])
    finally:
        client.close()
    batches, prunes = order_batches(page.records)
    upsert.write(merchant.engine, batches, prunes)
    return created, order_id


def test_a_tracking_is_accepted_and_the_next_shipments_read_shows_it(
    merchant: Merchant, tmp_path: Path
) -> None:
    store = merchant.store("mercadolivre")
    _, order_id = me1_sale(merchant, store)
    path = tmp_path / "fulfilment.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["store_id", "order_id", "carrier", "tracking_number"])
        writer.writerow([store, order_id, "Sedex", TRACKING])
    simulator = merchant.running.sandbox.simulators["mercadolivre"]
    notified = simulator.write_calls["shipments.seller_notifications"]

    def send(dry_run: bool) -> dg.ExecuteInJobResult:
        return dg.materialize(
            [fulfilment_pushes_asset],
            instance=merchant.instance,
            resources=merchant.resources(),
            run_config={
                "ops": {
                    "fulfilment_pushes": {
                        "config": {"dry_run": dry_run, "file": str(path), "stores": [store]}
                    }
                },
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
            },
        )

    assert send(dry_run=True).success
    assert simulator.write_calls["shipments.seller_notifications"] == notified

    assert send(dry_run=False).success
    assert simulator.write_calls["shipments.seller_notifications"] == notified + 1
    (audit,) = merchant.query(
        "SELECT status, code, message FROM fulfilment_pushes "
        "WHERE order_id = :o AND kind = 'tracking' AND NOT dry_run",
        o=order_id,
    )
    assert audit.status == "written", (audit.code, audit.message)

    # The next shipments read (the order facts refresh of the store) carries the tracking.
    merchant.materialize([order_facts], partition_key=store)
    (shipment,) = merchant.query(
        "SELECT tracking_number, carrier, logistic_mode, status, shipped_at FROM shipments "
        "WHERE store_id = :s AND order_id = :o",
        s=store,
        o=order_id,
    )
    assert shipment.tracking_number == TRACKING
    assert shipment.status == "shipped"
    assert shipment.logistic_mode != "marketplace"
    assert "sedex" in (shipment.carrier or "").lower()

    # Sent and read back: a rerun sends nothing.
    assert send(dry_run=False).success
    assert simulator.write_calls["shipments.seller_notifications"] == notified + 1
