"""The demo's enrichment step: the sandbox shops scraped, matched to the demo catalog, and
the price position shown (called by `synchub demo`, after the catalog is loaded)."""

from __future__ import annotations

import os
from collections.abc import Callable

import sqlalchemy as sa

from synchub_pipelines import settings
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.schema import Money

# Short crawl-delays so the demo stays short; the crawler honours whatever robots.txt says.
DEMO_CRAWL_DELAYS: dict[str, float | None] = {"microdata": 0.2, "plainshop": 0.2}


def show_price_positions(say: Callable[[str], None] = print, limit: int = 8) -> None:
    engine = engine_for(settings.warehouse_url())
    with engine.connect() as conn:
        matches: dict[str, int] = dict(
            conn.execute(
                sa.text("SELECT status, COUNT(*) FROM offer_matches GROUP BY status")
            ).all()
        )
        rows = conn.execute(
            sa.text(
                "SELECT sku, channel, our_price, lowest_price, median_price, offers, lowest_site "
                "FROM price_positions WHERE undercut ORDER BY (our_price - lowest_price) DESC, "
                "sku LIMIT :n"
            ).columns(our_price=Money, lowest_price=Money, median_price=Money),
            {"n": limit},
        ).all()
        total = conn.execute(sa.text("SELECT COUNT(*) FROM price_positions")).scalar_one()
        undercut = conn.execute(
            sa.text("SELECT COUNT(*) FROM price_positions WHERE undercut")
        ).scalar_one()
    say(f"matches: {', '.join(f'{n} {s}' for s, n in sorted(matches.items()))}")
    say(f"price position: {undercut} of {total} SKU × channel undercut; the widest gaps:")
    for r in rows:
        say(
            f"  {r.sku:<14} {r.channel:<10} ours {r.our_price:>8}  lowest {r.lowest_price:>8} "
            f"({r.lowest_site})  median {r.median_price:>8}  n={r.offers}"
        )
    say("review uncertain matches: synchub scrape matches; suggestions: synchub scrape suggestions")


def scrape_the_shops(say: Callable[[str], None] = print) -> None:
    from synchub_pipelines.defs.enrichment.cli import run_sites
    from synchub_pipelines.sandbox.shops import RunningShops, ShopsConfig
    from synchub_pipelines.sandbox.shops.targets import write_targets

    with RunningShops(ShopsConfig(crawl_delays=DEMO_CRAWL_DELAYS)) as shops:
        path = write_targets(
            settings.data_dir() / "scrape_targets.toml", shops.base_urls, delay_seconds=0.1
        )
        os.environ["SYNCHUB_SCRAPE_TARGETS"] = str(path)
        say(f"shops:     {', '.join(f'{s} {u}' for s, u in shops.base_urls.items())}")
        say(f"targets:   {path}")
        run_sites(say=lambda line: say(f"  scrape {line}"))
    show_price_positions(say)
