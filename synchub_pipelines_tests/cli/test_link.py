"""`synchub link` binds only what exists: an unknown store, listing, variation or SKU is
refused with exit code 2, a message that says which and what exists, and nothing written."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from synchub_pipelines.cli import main
from synchub_pipelines.models import CentralProduct, Listing, ListingStatus, Marketplace, Store
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines.warehouse.rows import listing_batch, product_batches
from synchub_pipelines.warehouse.schema import listing_links
from synchub_pipelines.warehouse.stores import register_store

STORE = "mercadolivre-100"


def _listing(listing_id: str, variation_id: str = "") -> Listing:
    return Listing(
        store_id=STORE,
        listing_id=listing_id,
        variation_id=variation_id,
        title=f"listing {listing_id}",
        status=ListingStatus.ACTIVE,
        raw_status="active",
    )


@pytest.fixture
def warehouse(warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> sa.Engine:
    """A store with a listing that has variations 11 and 12, one without, and one SKU."""
    monkeypatch.setenv("SYNCHUB_WAREHOUSE_URL", warehouse_url)
    engine = engine_for(warehouse_url)
    migrate(engine)
    register_store(engine, Store.of(Marketplace.MERCADOLIVRE, "100", name="Loja"))
    products, components, _ = product_batches([CentralProduct(sku="CAM-P", name="Camiseta P")], [])
    listings = listing_batch([_listing("MLB1", "11"), _listing("MLB1", "12"), _listing("MLB2")])
    upsert.write(engine, [products, components, listings])
    return engine


def _links(engine: sa.Engine) -> list[tuple[str, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                listing_links.c.listing_id,
                listing_links.c.variation_id,
                listing_links.c.sku,
                listing_links.c.method,
            )
        ).all()
    return [tuple(row) for row in rows]


VARIATION = "--variation-id"


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (
            ["mercadolivre-999", "MLB1", "CAM-P", VARIATION, "11"],
            "unknown store 'mercadolivre-999'",
        ),
        (["not-a-store", "MLB1", "CAM-P"], "unknown store 'not-a-store'"),
        ([STORE, "MLB404", "CAM-P"], "has no listing 'MLB404'"),
        ([STORE, "MLB1", "CAM-P", VARIATION, "99"], "no variation '99' (it has 11, 12)"),
        ([STORE, "MLB1", "CAM-P"], "has variations (11, 12): give --variation-id"),
        ([STORE, "MLB2", "CAM-P", VARIATION, "11"], "has no variations"),
        ([STORE, "MLB2", "NOPE"], "SKU NOPE is not in the central catalog"),
    ],
)
def test_unknown_targets_are_refused_and_nothing_is_written(
    warehouse: sa.Engine,
    arguments: list[str],
    says: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["link", *arguments]) == 2
    error = capsys.readouterr().err
    assert says in error
    assert error.rstrip().endswith("nothing written")
    assert _links(warehouse) == []


def test_an_existing_variation_is_bound_by_hand(
    warehouse: sa.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["link", STORE, "MLB1", "CAM-P", "--variation-id", "12"]) == 0
    assert "MLB1 12 → CAM-P (manual)" in capsys.readouterr().out
    assert main(["link", STORE, "MLB2", "CAM-P"]) == 0
    assert sorted(_links(warehouse)) == [
        ("MLB1", "12", "CAM-P", "manual"),
        ("MLB2", "", "CAM-P", "manual"),
    ]


def test_the_earlier_option_name_still_works(warehouse: sa.Engine) -> None:
    # `--variation` was the option's name before ids were `--<thing>-id` everywhere.
    assert main(["link", STORE, "MLB1", "CAM-P", "--variation", "11"]) == 0
    assert _links(warehouse) == [("MLB1", "11", "CAM-P", "manual")]
