"""Listing publication on Mercado Livre, through the real client against the loopback
sandbox, into a throwaway PostgreSQL warehouse: dry-run, create, idempotence, the crash
between created and recorded, update on a catalog change, pause within the damage limit,
and a refusal named on its product."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from synchub_pipelines.defs.catalog.assets import central_products
from synchub_pipelines.defs.publishing import listings as publishing
from synchub_pipelines.defs.publishing.common import RunScope
from synchub_pipelines.defs.publishing.rules import RuleBook
from synchub_pipelines_tests.publishing.merchant import Merchant, sandbox_environment

pytestmark = pytest.mark.postgres


@pytest.fixture
def merchant(sandbox_factory: Any, pg_url: str, tmp_path: Path) -> Any:
    running = sandbox_factory()
    with sandbox_environment(running), dg.instance_for_test() as instance:
        shop = Merchant(running, pg_url, tmp_path, ("mercadolivre",))
        shop.start(instance)
        yield shop


def writes(shop: Merchant) -> int:
    return sum(shop.running.sandbox.simulators["mercadolivre"].write_calls.values())


def run(shop: Merchant, run_id: str, **options: Any) -> publishing.ListingReport:
    store = shop.store("mercadolivre")
    opts = publishing.ListingOptions(
        scope=RunScope(stores=frozenset({store})), **{"dry_run": False, **options}
    )
    return publishing.run_listings(
        shop.engine, shop.client, RuleBook(), opts, run_id, 0, datetime.now(UTC)
    )


def audit(shop: Merchant, run_id: str) -> dict[tuple[str, str], Any]:
    return {
        (r.seller_sku, r.action): r
        for r in shop.query("SELECT * FROM listing_publications WHERE run_id = :r", r=run_id)
    }


def test_dry_run_plans_and_writes_nothing(merchant: Merchant) -> None:
    before = writes(merchant)

    report = run(merchant, "dry", dry_run=True)

    assert writes(merchant) == before
    planned = audit(merchant, "dry")
    assert {k for k in planned if k[0].startswith("PUB-")} == {
        ("PUB-GAR01", "create"),
        ("PUB-CAM01", "create"),
    }
    row = planned[("PUB-CAM01", "create")]
    assert row.status == "planned" and row.dry_run
    request = json.loads(row.request)
    assert request["category_id"] == "MLB31447"
    assert sorted(v["sku"] for v in request["variations"]) == [
        "PUB-CAM01-AZL-M",
        "PUB-CAM01-AZL-P",
    ]
    assert {v["options"]["Tamanho"] for v in request["variations"]} == {"P", "M"}
    assert report.written == 0
    assert not merchant.query("SELECT * FROM published_listings WHERE origin = 'published'")


def test_create_links_and_a_rerun_writes_nothing(merchant: Merchant) -> None:
    store = merchant.store("mercadolivre")

    report = run(merchant, "real")

    done = audit(merchant, "real")
    bottle = done[("PUB-GAR01", "create")]
    shirt = done[("PUB-CAM01", "create")]
    assert bottle.status == "written", bottle.message
    assert shirt.status == "written", shirt.message
    assert report.problems == []
    # The listings are on the marketplace, as its reads show them.
    live = merchant.live_listings(store)
    by_sku = {x.seller_sku: x for x in live.values()}
    assert by_sku["PUB-GAR01"].listing_id == bottle.result_listing_id
    assert by_sku["PUB-GAR01"].title == "Garrafa Térmica Inox 500ml"
    assert by_sku["PUB-CAM01-AZL-P"].listing_id == shirt.result_listing_id
    assert by_sku["PUB-CAM01-AZL-M"].variation_id
    # Linked to their SKUs, so the stock push keeps them.
    links = {
        r.sku: (r.listing_id, r.variation_id, r.method)
        for r in merchant.query(
            "SELECT * FROM listing_links WHERE store_id = :s AND sku LIKE 'PUB-%'", s=store
        )
    }
    assert links["PUB-GAR01"] == (bottle.result_listing_id, "", "published")
    assert links["PUB-CAM01-AZL-M"] == (
        shirt.result_listing_id,
        by_sku["PUB-CAM01-AZL-M"].variation_id,
        "published",
    )

    before = writes(merchant)
    again = run(merchant, "again")
    assert writes(merchant) == before
    assert [w for w in again.plan.writes if w.seller_sku.startswith("PUB-")] == []
    assert audit(merchant, "again") == {}


def test_a_crash_between_created_and_recorded_never_duplicates(merchant: Merchant) -> None:
    store = merchant.store("mercadolivre")
    client = merchant.client(store)
    # The item is created on the marketplace, and the run dies before recording it.
    plan = publishing.plan_listings(
        merchant.engine,
        RuleBook(),
        publishing.ListingOptions(scope=RunScope(stores=frozenset({store}))),
        datetime.now(UTC),
    )
    draft = next(w.draft for w in plan.writes if w.seller_sku == "PUB-GAR01")
    assert draft is not None
    created = client.create_listing(draft)
    client.close()
    creates = merchant.running.sandbox.simulators["mercadolivre"].write_calls["items.create"]

    run(merchant, "recover")

    row = audit(merchant, "recover")[("PUB-GAR01", "create")]
    assert row.status == "written" and row.code == "already_listed"
    assert row.result_listing_id == created.listing_id
    # Only the other product was created; the bottle is listed once.
    simulator = merchant.running.sandbox.simulators["mercadolivre"]
    assert simulator.write_calls["items.create"] == creates + 1
    live = merchant.live_listings(store)
    assert [x.listing_id for x in live.values() if x.seller_sku == "PUB-GAR01"] == [
        created.listing_id
    ]


def test_a_catalog_change_updates_and_inactive_pauses(merchant: Merchant) -> None:
    store = merchant.store("mercadolivre")
    run(merchant, "create")
    listing_id = audit(merchant, "create")[("PUB-GAR01", "create")].result_listing_id

    merchant.edit("PUB-GAR01", name="Garrafa Térmica Inox 500 ml Preta")
    run(merchant, "update")

    row = audit(merchant, "update")[("PUB-GAR01", "update")]
    assert row.status == "written", row.message
    assert merchant.live_listings(store)[(listing_id, "")].title == (
        "Garrafa Térmica Inox 500 ml Preta"
    )

    merchant.edit("PUB-GAR01", status="inactive")
    # One listing of the tiny world's few: above the default share, within this one.
    run(merchant, "pause", max_pause_share=0.5)

    row = audit(merchant, "pause")[("PUB-GAR01", "pause")]
    assert row.status == "written", row.message
    assert merchant.live_listings(store)[(listing_id, "")].status.value == "paused"
    assert run(merchant, "pause-again", max_pause_share=0.5).plan.writes == []


def test_pauses_beyond_the_damage_limit_are_held_back_unless_forced(merchant: Merchant) -> None:
    store = merchant.store("mercadolivre")
    linked = merchant.query("SELECT DISTINCT sku FROM listing_links WHERE store_id = :s", s=store)
    # An export that lost its status column: every product inactive at once.
    rows = merchant.rows()
    for row in rows:
        row["status"] = "inactive"
    merchant.write_catalog(rows)
    merchant.materialize([central_products])
    before = writes(merchant)

    report = run(merchant, "mass-pause")

    assert writes(merchant) == before
    assert report.plan.refused, "the damage limit should hold the pauses back"
    assert "pause or close" in report.plan.refused["default"]
    assert not [w for w in report.plan.writes if w.action == "pause"]
    held = merchant.query("SELECT COUNT(*) FROM publication_plan WHERE reason LIKE 'HELD BACK:%'")[
        0
    ][0]
    assert held == len(report.plan.held_back) > 0
    assert len(linked) > 0

    forced = run(merchant, "forced", force=True)
    paused = [o for w, o, _ in forced.outcomes if w.action == "pause"]
    assert paused and all(o.status == "written" for o in paused)


def test_a_refusal_is_recorded_on_its_product(merchant: Merchant) -> None:
    store = merchant.store("mercadolivre")
    merchant.edit("PUB-GAR01", name="Garrafa Térmica Inox replica 500ml")

    report = run(merchant, "refused")

    row = audit(merchant, "refused")[("PUB-GAR01", "create")]
    assert row.status == "refused"
    assert row.code == "item.title.forbidden_words"
    assert row.message
    assert [p.seller_sku for p, _ in report.problems] == ["PUB-GAR01"]
    # The other product went ahead.
    assert audit(merchant, "refused")[("PUB-CAM01", "create")].status == "written"
    assert "PUB-GAR01" not in {x.seller_sku for x in merchant.live_listings(store).values()}


def test_the_dagster_assets_dry_run_by_default_and_the_check_blocks(merchant: Merchant) -> None:
    from synchub_pipelines.defs.publishing.assets import (
        LISTING_ASSETS,
        publication_within_limits,
    )

    def materialize(**config: Any) -> dg.ExecuteInJobResult:
        return dg.materialize(
            [*LISTING_ASSETS, publication_within_limits],
            instance=merchant.instance,
            resources=merchant.resources(),
            raise_on_error=False,
            run_config={
                "ops": {"listing_publications": {"config": config}} if config else {},
                "loggers": {"console": {"config": {"log_level": "ERROR"}}},
            },
        )

    before = writes(merchant)
    result = materialize()
    assert result.success
    assert writes(merchant) == before
    statuses = {
        r.status
        for r in merchant.query(
            "SELECT status FROM listing_publications WHERE run_id = :r", r=result.run_id
        )
    }
    assert statuses == {"planned"}

    real = materialize(dry_run=False)
    assert real.success
    created = merchant.query(
        "SELECT seller_sku FROM listing_publications WHERE run_id = :r AND status = 'written'",
        r=real.run_id,
    )
    assert {r.seller_sku for r in created} >= {"PUB-GAR01", "PUB-CAM01"}

    rows = merchant.rows()
    for row in rows:
        row["status"] = "discontinued"
    merchant.write_catalog(rows)
    merchant.materialize([central_products])
    before = writes(merchant)
    blocked = materialize(dry_run=False)
    assert not blocked.success
    evaluations = blocked.get_asset_check_evaluations()
    assert [e.passed for e in evaluations] == [False]
    assert writes(merchant) == before
    assert not merchant.query(
        "SELECT * FROM listing_publications WHERE run_id = :r", r=blocked.run_id
    )
