"""End to end against the sandbox shops over loopback HTTP, on SQLite and PostgreSQL:
crawl → pages and offers → matches → suggestions → price positions; reruns, price changes,
the layout switch and the review CLI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from synchub_pipelines.defs.catalog.assets import central_products
from synchub_pipelines.defs.catalog.source import CatalogResource
from synchub_pipelines.defs.enrichment.assets import SCRAPE_SITES, ScrapingResource
from synchub_pipelines.defs.enrichment.definitions import defs as enrichment_defs
from synchub_pipelines.defs.marketplaces import BlingResource
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.sandbox.shops import RunningShops, ShopsConfig
from synchub_pipelines.sandbox.shops.targets import write_targets
from synchub_pipelines.warehouse.engine import engine_for

CATALOG = Path(__file__).resolve().parents[2] / "synchub_pipelines" / "demo" / "catalog.csv"
DAY1, DAY2, DAY3 = date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)
SITES = ("jsonld", "plainshop")


@pytest.fixture
def shops() -> Iterator[RunningShops]:
    config = ShopsConfig(today=DAY1, crawl_delays={"microdata": 0.1, "plainshop": 0.1})
    with RunningShops(config) as running:
        yield running


class Harness:
    def __init__(self, url: str, shops: RunningShops, tmp: Path) -> None:
        self.url = url
        self.shops = shops
        self.targets = write_targets(tmp / "targets.toml", shops.base_urls, delay_seconds=0.0)
        self.instance = dg.DagsterInstance.ephemeral()
        self.resources = {
            "warehouse": WarehouseResource(url=url),
            "scraping": ScrapingResource(targets_file=str(self.targets)),
            "catalog": CatalogResource(
                source="file", file_path=str(CATALOG), bling=BlingResource()
            ),
        }
        dg.materialize([central_products], resources=self.resources, instance=self.instance)
        self.instance.add_dynamic_partitions(SCRAPE_SITES, list(SITES))

    @property
    def engine(self) -> sa.Engine:
        return engine_for(self.url)

    def run(self, site: str) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [*enrichment_defs.assets, *enrichment_defs.asset_checks],  # type: ignore[list-item]
            resources=self.resources,
            instance=self.instance,
            partition_key=site,
            selection=dg.AssetSelection.groups("enrichment"),
            raise_on_error=True,
        )

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))

    def count(self, sql: str, **params: Any) -> int:
        return int(self.rows(sql, **params)[0][0])


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    for event in result.get_asset_materialization_events():
        m = event.step_materialization_data.materialization
        if m.asset_key.to_user_string() == asset:
            return {k: v.value for k, v in m.metadata.items()}
    raise AssertionError(f"{asset} not materialized")


def check(result: dg.ExecuteInProcessResult) -> Any:
    [evaluation] = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "extraction_rate"
    ]
    return evaluation


def test_collect_match_suggest_position_then_rerun_change_and_layout_switch(
    warehouse_url: str, shops: RunningShops, tmp_path: Path
) -> None:
    h = Harness(warehouse_url, shops, tmp_path)
    for site in SITES:
        result = h.run(site)
        assert check(result).passed, site
    pages = metadata(result, "scraped_pages")
    assert pages["offers_extracted"] > 10 and pages["not_modified_304"] == 0

    # Offers: every ground-truth product page of the day, with the right price.
    for site in SITES:
        truth = {e.url: e for e in shops.expected_offers(site)}
        stored = {
            r.url: r
            for r in h.rows(
                "SELECT url, price, gtin FROM competitor_offers WHERE site = :s", s=site
            )
        }
        assert set(truth) <= set(stored), site
        for url, expected in truth.items():
            assert Decimal(str(stored[url].price)) == expected.price, url

    # Matches: by GTIN and by title; every automatic one is the product the shop sells.
    truth_sku = {e.url: e.catalog_sku for site in SITES for e in shops.expected_offers(site)}
    auto = h.rows("SELECT url, sku, method FROM offer_matches WHERE status = 'auto'")
    assert {r.method for r in auto} == {"gtin", "title"}
    for r in auto:
        assert truth_sku.get(r.url) == r.sku, r.url
    assert h.count("SELECT COUNT(*) FROM enrichment_suggestions WHERE field LIKE 'attribute:%'") > 0
    # Suggestions only for what a SKU lacks: never a description or images it already has.
    assert not h.rows(
        "SELECT s.sku, s.field FROM enrichment_suggestions s JOIN central_products p "
        "ON p.tenant = s.tenant AND p.sku = s.sku WHERE (s.field = 'description' "
        "AND COALESCE(p.description, '') <> '') OR (s.field = 'image' "
        "AND COALESCE(p.images, '') <> '') OR (s.field = 'gtin' AND COALESCE(p.gtin, '') <> '')"
    )
    positions = h.rows("SELECT * FROM price_positions")
    assert positions and all(p.channel == "catalog" for p in positions)
    assert any(p.undercut for p in positions)

    # A rerun the same day: 304s, no new offer row, nothing newly undercut.
    offers_before = h.count("SELECT COUNT(*) FROM competitor_offers")
    again = h.run("jsonld")
    pages = metadata(again, "scraped_pages")
    assert pages["not_modified_304"] > 0 and pages["offer_rows_written"] == 0
    assert h.count("SELECT COUNT(*) FROM competitor_offers") == offers_before
    assert metadata(again, "price_positions")["undercut_since_last_run"] == 0

    # The next day: a row for exactly the pages whose offer changed.
    day1 = {e.url: e.price for e in shops.expected_offers("jsonld")}
    shops.set_date(DAY2)
    day2 = {e.url: e.price for e in shops.expected_offers("jsonld")}
    changed = {url for url in day1 if day2.get(url) != day1[url]}
    assert changed
    h.run("jsonld")
    new = h.rows(
        "SELECT url, price FROM competitor_offers WHERE site = 'jsonld' AND url IN "
        "(SELECT url FROM competitor_offers GROUP BY url HAVING COUNT(*) > 1)"
    )
    assert {r.url for r in new} == changed
    assert h.count("SELECT COUNT(*) FROM competitor_offers") == offers_before + len(changed)

    # The layout switch: the recipe finds no price; the check fails naming sample URLs.
    shops.set_layout("plainshop", "v2")
    shops.set_date(DAY3)
    switched = h.run("plainshop")
    evaluation = check(switched)
    assert not evaluation.passed
    samples = evaluation.metadata["sample_urls"].value
    assert samples and all(s["url"].startswith(shops.base_urls["plainshop"]) for s in samples)
    assert all("/produtos/" in s["url"] and s["reason"] for s in samples)


def test_review_cli_decisions_survive_the_next_run(
    sqlite_url: str, shops: RunningShops, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from synchub_pipelines.cli import main

    h = Harness(sqlite_url, shops, tmp_path)
    h.run("jsonld")
    os.environ["SYNCHUB_WAREHOUSE_URL"] = sqlite_url
    try:
        assert main(["scrape", "matches", "--status", "auto"]) == 0
        listed = capsys.readouterr().out
        [auto] = h.rows(
            "SELECT m.url, m.sku FROM offer_matches m JOIN competitor_offers o ON o.url = m.url "
            "WHERE m.status = 'auto' AND m.method = 'gtin' AND o.availability = 'in_stock' "
            "ORDER BY m.url LIMIT 1"
        )
        assert auto.url in listed and auto.sku in listed

        # A person says the page sells another SKU: that wins over the GTIN next run.
        other = h.rows(
            "SELECT sku FROM central_products WHERE sku NOT IN (SELECT sku FROM offer_matches) "
            "AND price IS NOT NULL ORDER BY sku LIMIT 1"
        )[0].sku
        assert main(["scrape", "reject", auto.url, auto.sku, "--by", "ana"]) == 0
        assert main(["scrape", "accept", auto.url, other, "--by", "ana"]) == 0
        assert main(["scrape", "accept", "http://nowhere/x", other]) == 2
        assert main(["scrape", "accept", auto.url, "NO-SUCH-SKU"]) == 2
        h.run("jsonld")
        decided = {
            (r.sku, r.status, r.method, r.decided_by)
            for r in h.rows("SELECT * FROM offer_matches WHERE url = :u", u=auto.url)
        }
        assert decided == {
            (auto.sku, "rejected", "gtin", "ana"),
            (other, "accepted", "manual", "ana"),
        }
        assert (
            h.count(
                "SELECT COUNT(*) FROM price_positions WHERE sku = :s AND lowest_url = :u",
                s=other,
                u=auto.url,
            )
            == 1
        )

        # A suggestion accepted into a copy of the catalog: one cell filled, nothing else.
        catalog = tmp_path / "catalog.csv"
        catalog.write_bytes(CATALOG.read_bytes())
        [suggestion] = h.rows(
            "SELECT suggestion_id, sku, field, value FROM enrichment_suggestions "
            "WHERE field LIKE 'attribute:%' ORDER BY sku, field LIMIT 1"
        )
        assert main(["scrape", "accept-suggestion", suggestion.suggestion_id]) == 2  # no file set
        assert (
            main(
                [
                    "scrape",
                    "accept-suggestion",
                    suggestion.suggestion_id,
                    "--catalog-file",
                    str(catalog),
                ]
            )
            == 0
        )
        before = CATALOG.read_text(encoding="utf-8").splitlines()
        after = catalog.read_text(encoding="utf-8").splitlines()
        assert after[0] == before[0] + "," + suggestion.field
        changed = [(b, a) for b, a in zip(before[1:], after[1:], strict=True) if a != b + ","]
        assert len(changed) == 1 and changed[0][0].startswith(suggestion.sku + ",")
        assert (
            h.count(
                "SELECT COUNT(*) FROM enrichment_suggestions WHERE suggestion_id = :i "
                "AND status = 'accepted'",
                i=suggestion.suggestion_id,
            )
            == 1
        )
        h.run("jsonld")  # an accepted suggestion stays accepted
        assert (
            h.count(
                "SELECT COUNT(*) FROM enrichment_suggestions WHERE suggestion_id = :i "
                "AND status = 'accepted'",
                i=suggestion.suggestion_id,
            )
            == 1
        )
    finally:
        os.environ.pop("SYNCHUB_WAREHOUSE_URL", None)
