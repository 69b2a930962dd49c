"""Fulfilment write-back on Mercado Livre: invoices and trackings from the merchant's file,
through the real client against the loopback sandbox, into a throwaway PostgreSQL
warehouse."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import httpx
import pytest

from synchub_pipelines.defs.orders.assets import orders
from synchub_pipelines.defs.publishing import fulfilment
from synchub_pipelines.defs.publishing.common import RunScope
from synchub_pipelines.models import DEFAULT_TIMEZONE
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.rows import order_batches
from synchub_pipelines_tests.publishing.merchant import Merchant, sandbox_environment

pytestmark = pytest.mark.postgres


def nfe_key(number: int, series: int = 1) -> str:
    """A valid NF-e access key (model 55, mod-11 check digit) for this number and series."""
    body = f"35{2603}12345678000195" + "55" + f"{series:03d}{number:09d}" + "1" + f"{number:08d}"
    weights = [2, 3, 4, 5, 6, 7, 8, 9]
    total = sum(int(d) * weights[i % 8] for i, d in enumerate(reversed(body)))
    check = 11 - total % 11
    return body + str(0 if check >= 10 else check)


@pytest.fixture
def merchant(sandbox_factory: Any, pg_url: str, tmp_path: Path) -> Any:
    running = sandbox_factory()
    with sandbox_environment(running), dg.instance_for_test() as instance:
        shop = Merchant(running, pg_url, tmp_path, ("mercadolivre",))
        shop.start(instance)
        store = shop.store("mercadolivre")
        zone = ZoneInfo(DEFAULT_TIMEZONE)
        world = running.sandbox.world.orders
        first = min(o.created_at for o in world).astimezone(zone).date() - timedelta(days=1)
        last = max(date.today(), max(o.created_at for o in world).astimezone(zone).date())
        start = dg.MultiPartitionKey({"date": first.isoformat(), "store": store})
        end = dg.MultiPartitionKey({"date": last.isoformat(), "store": store})
        result = dg.materialize(
            [orders],
            selection=["orders", "order_items"],
            instance=instance,
            resources=shop.resources(),
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            tags={
                "dagster/asset_partition_range_start": str(start),
                "dagster/asset_partition_range_end": str(end),
            },
        )
        assert result.success
        yield shop


def sell_some(merchant: Merchant, store: str, count: int) -> list[str]:
    """Buyers pay for items of the store now (the world's history is all delivered); the
    orders land in the warehouse as the event sync lands them."""
    base = merchant.running.base_url("mercadolivre")
    sold: list[str] = []
    for (listing_id, variation_id), listing in sorted(merchant.live_listings(store).items()):
        if len(sold) == count:
            break
        if listing.status.value != "active" or not listing.available_quantity:
            continue
        body: dict[str, Any] = {"item_id": listing_id, "quantity": 1}
        if variation_id:
            body["variation_id"] = int(variation_id)
        answer = httpx.post(f"{base}/_sandbox/sales", json=body, timeout=30)
        if answer.status_code in (200, 201):
            sold.append(str(answer.json()["id"]))
    client = merchant.client(store)
    try:
        page = client.get_orders(sold)
    finally:
        client.close()
    batches, prunes = order_batches(page.records)
    upsert.write(merchant.engine, batches, prunes)
    return sold


def test_invoices_and_trackings_dry_run_real_refusals_and_rerun(
    merchant: Merchant, tmp_path: Path
) -> None:
    store = merchant.store("mercadolivre")
    paid = sell_some(merchant, store, 6)
    assert len(paid) >= 2
    path = tmp_path / "fulfilment.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "store_id",
                "order_id",
                "invoice_key",
                "invoice_number",
                "invoice_series",
                "invoice_issued_at",
                "carrier",
                "tracking_number",
            ]
        )
        for n, order_id in enumerate(paid, start=1):
            # The first order also gets a tracking: its shipment is Mercado Envios' (ME2),
            # so Mercado Livre refuses it, on that order.
            carrier, tracking = ("Correios", "BR123456789BR") if n == 1 else ("", "")
            writer.writerow(
                [
                    store,
                    order_id,
                    nfe_key(1000 + n),
                    str(1000 + n),
                    "1",
                    "2026-03-14T10:00:00-03:00",
                    carrier,
                    tracking,
                ]
            )
        bad_line = len(paid) + 2
        writer.writerow([store, "bad-row", "123", "", "", "", "", ""])
    scope = RunScope(stores=frozenset({store}))
    simulator = merchant.running.sandbox.simulators["mercadolivre"]
    before = sum(simulator.write_calls.values())

    dry = fulfilment.run_fulfilment(
        merchant.engine, merchant.client, True, scope, "dry", 0, datetime.now(UTC), str(path)
    )

    assert sum(simulator.write_calls.values()) == before
    assert {(p.order_id, p.kind) for p in dry.plan} == {(o, "invoice") for o in paid} | {
        (paid[0], "tracking")
    }
    assert {o.status for _, o in dry.outcomes} == {"planned"}
    # The malformed rows are quarantined with their line, not loaded.
    reasons = [
        r.reason
        for r in merchant.query("SELECT reason FROM ingest_errors WHERE source = 'fulfilment_file'")
    ]
    assert any(f"line {bad_line}" in why and "invoice_key" in why for why in reasons)

    real = fulfilment.run_fulfilment(
        merchant.engine, merchant.client, False, scope, "real", 0, datetime.now(UTC), str(path)
    )

    tracking = {p.order_id: o for p, o in real.outcomes if p.kind == "tracking"}
    assert tracking[paid[0]].status == "refused"
    assert tracking[paid[0]].code == "shipment.mode.invalid"
    verdicts = {p.order_id: o for p, o in real.outcomes if p.kind == "invoice"}
    assert set(verdicts) == set(paid)
    written = [o for o, v in verdicts.items() if v.status == "written"]
    refused = {o: v for o, v in verdicts.items() if v.status == "refused"}
    assert written, {o: (v.code, v.message) for o, v in verdicts.items()}
    # Each refusal is on its own order, with Mercado Livre's code and message.
    for order_id, outcome in refused.items():
        assert outcome.code and outcome.message, order_id
        row = merchant.query(
            "SELECT status, code FROM fulfilment_pushes WHERE run_id = 'real' "
            "AND order_id = :o AND kind = 'invoice'",
            o=order_id,
        )
        assert [(r.status, r.code) for r in row] == [("refused", outcome.code)]
    client = merchant.client(store)
    try:
        for order_id in written:
            shipment = client._shipment_of(order_id)
            stored = client._read(
                "shipments.invoice", f"/shipments/{shipment}/invoice_data", params={"siteId": "MLB"}
            )
            assert stored["fiscal_key"].endswith(nfe_key(1000 + paid.index(order_id) + 1)[-10:])
    finally:
        client.close()

    after = sum(simulator.write_calls.values())
    again = fulfilment.run_fulfilment(
        merchant.engine, merchant.client, False, scope, "again", 0, datetime.now(UTC), str(path)
    )
    assert sum(simulator.write_calls.values()) == after
    assert again.plan == []
    assert {why for *_, why in again.skipped} >= {"already sent and accepted"}
