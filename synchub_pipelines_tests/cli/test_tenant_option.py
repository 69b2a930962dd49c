"""`synchub connect … --tenant T` assigns the store to a configured tenant: an unknown one,
or a tenants file that cannot be used, is refused with exit code 2 and nothing written.
Reconnecting without --tenant keeps the store's tenant."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from synchub_pipelines.cli import build_parser, main
from synchub_pipelines.connect import store_tenant
from synchub_pipelines.defs.stores.tenants import UnknownTenant
from synchub_pipelines.models import (
    CentralProduct,
    Listing,
    ListingStatus,
    Marketplace,
    Store,
)
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines.warehouse.rows import listing_batch, product_batches
from synchub_pipelines.warehouse.schema import listing_links, store_credentials, stores
from synchub_pipelines.warehouse.stores import register_store


@pytest.fixture
def tenants_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text("tenants:\n  acme:\n    catalog_file: acme.csv\n", encoding="utf-8")
    monkeypatch.setenv("SYNCHUB_TENANTS_FILE", str(path))
    return path


def _written(url: str) -> tuple[int, int]:
    engine = engine_for(url)
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        if "stores" not in names:
            return 0, 0
        count = sa.select(sa.func.count())
        return (
            conn.execute(count.select_from(stores)).scalar_one(),
            conn.execute(count.select_from(store_credentials)).scalar_one(),
        )


def test_the_tenant_option_defaults_to_keeping_the_stores_tenant() -> None:
    args = build_parser().parse_args(["connect", "mercadolivre"])
    assert args.tenant is None
    assert build_parser().parse_args(["connect", "shopee", "--tenant", "acme"]).tenant == "acme"


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (
            ["connect", "amazon", "--seller-id", "A1", "--tenant", "globex"],
            "unknown tenant 'globex': known are default, acme (the tenants file",
        ),
        (
            ["connect", "mercadolivre", "--code", "TG-1", "--tenant", "globex"],
            "unknown tenant 'globex'",
        ),
        (["connect", "bling", "--tenant", "acme"], "tenant acme has no bling_account"),
    ],
)
def test_an_unknown_tenant_is_refused_and_nothing_is_written(
    sqlite_url: str,
    tenants_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    says: str,
) -> None:
    monkeypatch.setenv("SYNCHUB_WAREHOUSE_URL", sqlite_url)
    monkeypatch.setenv("SYNCHUB_BLING_CLIENT_ID", "id")
    monkeypatch.setenv("SYNCHUB_BLING_CLIENT_SECRET", "secret")
    assert main(arguments) == 2
    assert says in capsys.readouterr().err
    assert _written(sqlite_url) == (0, 0)


def test_a_tenants_file_that_cannot_be_used_is_refused_naming_it(
    sqlite_url: str,
    tenants_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNCHUB_WAREHOUSE_URL", sqlite_url)
    tenants_file.write_text("tenants:\n  acme:\n    catalog: acme.csv\n", encoding="utf-8")
    assert main(["connect", "amazon", "--seller-id", "A1", "--tenant", "acme"]) == 2
    error = capsys.readouterr().err
    assert str(tenants_file) in error and "unknown setting 'catalog'" in error
    assert _written(sqlite_url) == (0, 0)


def test_a_reconnected_store_keeps_its_tenant_unless_one_is_named(
    warehouse_url: str, tenants_file: Path
) -> None:
    engine = engine_for(warehouse_url)
    migrate(engine)
    register_store(engine, Store.of(Marketplace.SHOPEE, "7", name="Acme", tenant="acme"))
    assert store_tenant(engine, "shopee-7", None) == "acme"
    assert store_tenant(engine, "shopee-8", None) == "default"
    assert store_tenant(engine, "shopee-7", "default") == "default"
    with pytest.raises(UnknownTenant, match="globex"):
        store_tenant(engine, "shopee-7", "globex")


def test_link_binds_only_a_sku_of_the_stores_tenant(
    warehouse_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNCHUB_WAREHOUSE_URL", warehouse_url)
    engine = engine_for(warehouse_url)
    migrate(engine)
    register_store(engine, Store.of(Marketplace.MERCADOLIVRE, "100", name="Acme", tenant="acme"))
    listing = Listing(
        store_id="mercadolivre-100",
        listing_id="MLB1",
        variation_id="",
        title="Camiseta",
        status=ListingStatus.ACTIVE,
        raw_status="active",
    )
    default_only = product_batches([CentralProduct(sku="CAM-P", name="Camiseta")], [])
    upsert.write(engine, [*default_only[:2], listing_batch([listing])])

    assert main(["link", "mercadolivre-100", "MLB1", "CAM-P"]) == 2
    error = capsys.readouterr().err
    assert "SKU CAM-P is not in the central catalog of tenant acme; nothing written" in error

    acme = product_batches([CentralProduct(sku="CAM-P", name="Camiseta")], [], "acme")
    upsert.write(engine, list(acme[:2]))
    assert main(["link", "mercadolivre-100", "MLB1", "CAM-P"]) == 0
    with engine.connect() as conn:
        row = conn.execute(sa.select(listing_links)).one()
    assert (row.tenant, row.sku, row.method) == ("acme", "CAM-P", "manual")
