"""A listing the marketplace stopped listing is closed by the next complete sync, and the
stock push no longer writes to it (it would get a 404 and fail the push for the others)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from synchub_pipelines.defs.listings.assets import listings
from synchub_pipelines.defs.listings.vanished import VANISHED_REASON
from synchub_pipelines.defs.partitions import store_partitions
from synchub_pipelines.defs.stock.reads import linked_listings
from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines.warehouse.schema import listing_links
from synchub_pipelines.warehouse.schema import listings as listings_table
from synchub_pipelines_tests.pipeline.harness import Harness


def _listing(store_id: str, listing_id: str, synced_at: datetime) -> dict[str, object]:
    return {
        "store_id": store_id,
        "listing_id": listing_id,
        "variation_id": "",
        "title": f"Deleted in the back office {listing_id}",
        "seller_sku": "GONE-1",
        "status": "active",
        "currency": "BRL",
        "available_quantity": 4,
        "synced_at": synced_at,
    }


def test_a_listing_no_longer_listed_is_closed_and_takes_no_stock(
    sandbox: RunningSandbox, warehouse_url: str, tmp_path: Path
) -> None:
    harness = Harness(sandbox, warehouse_url, tmp_path)
    store_id = harness.connect_all()[0]

    def sync() -> dg.ExecuteInProcessResult:
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions(store_partitions.name or "", [store_id])
            return dg.materialize(
                [listings],
                partition_key=store_id,
                resources=harness.resources(),
                instance=instance,
            )

    assert sync().success
    baseline = _states(harness, store_id)
    assert len(baseline) >= 5  # the store's own listings, as the marketplace lists them
    now = datetime.now(UTC)
    with harness.engine.begin() as conn:
        conn.execute(
            sa.insert(listings_table),
            [
                _listing(store_id, "MLB-DELETED", now - timedelta(days=3)),
                # just published: maybe not searchable yet, so not taken for gone
                _listing(store_id, "MLB-JUST-PUBLISHED", now - timedelta(minutes=5)),
            ],
        )
        conn.execute(
            sa.insert(listing_links),
            [
                {
                    "store_id": store_id,
                    "listing_id": x,
                    "variation_id": "",
                    "sku": "GONE-1",
                    "method": "manual",
                    "synced_at": now,
                }
                for x in ("MLB-DELETED", "MLB-JUST-PUBLISHED")
            ],
        )

    first = sync()
    assert first.success
    (event,) = first.get_asset_materialization_events()
    assert event.materialization.metadata["listings_closed_as_gone"].value == 1
    states = _states(harness, store_id)
    with harness.engine.connect() as conn:
        reason = conn.execute(
            sa.select(listings_table.c.status_reason).where(
                listings_table.c.listing_id == "MLB-DELETED"
            )
        ).scalar_one()
        pushed_to = {x.key[1] for x in linked_listings(conn)}
    assert states["MLB-DELETED"] == "closed" and reason == VANISHED_REASON
    assert states["MLB-JUST-PUBLISHED"] == "active"
    # every listing the marketplace lists keeps the status it gives
    assert {k: v for k, v in states.items() if k in baseline} == baseline
    assert "MLB-DELETED" not in pushed_to and "MLB-JUST-PUBLISHED" in pushed_to

    # Idempotent: the next sync closes nothing more and rewrites nothing.
    second = sync()
    (event,) = second.get_asset_materialization_events()
    assert event.materialization.metadata["listings_closed_as_gone"].value == 0
    assert event.materialization.metadata["rows_changed"].value.get("listings", 0) == 0


def _states(harness: Harness, store_id: str) -> dict[str, str]:
    with harness.engine.connect() as conn:
        return dict(
            conn.execute(
                sa.select(listings_table.c.listing_id, listings_table.c.status).where(
                    listings_table.c.store_id == store_id
                )
            ).all()
        )
