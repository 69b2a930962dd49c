"""Migration 0010 on a warehouse with data: every single-tenant row lands in `default`, the
keys take the tenant, and the schema matches the table definitions (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from synchub_pipelines.models import CentralProduct, CentralStock
from synchub_pipelines.warehouse import schema, upsert
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import _config, current_revision, head_revision
from synchub_pipelines.warehouse.rows import product_batches, stock_batch

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STORE = "mercadolivre-1"
LISTING = {"store_id": STORE, "listing_id": "MLB1", "variation_id": ""}

# One row per table as a single-tenant deployment (revision 0009) held it.
BEFORE: dict[str, list[dict[str, Any]]] = {
    "stores": [
        {
            "store_id": STORE,
            "marketplace": "mercadolivre",
            "seller_id": "1",
            "name": "Loja",
            # The label `synchub connect --tenant` could set before tenants existed.
            "tenant": "loja-sul",
            "timezone": "America/Sao_Paulo",
            "status": "active",
            "connected_at": T,
            "synced_at": T,
        }
    ],
    "central_products": [
        {
            "sku": sku,
            "name": sku,
            "currency": "BRL",
            "is_kit": sku == "KIT",
            "source": "catalog_file",
            "price": Decimal("10.00"),
            "synced_at": T,
        }
        for sku in ("CAM-P", "KIT")
    ],
    "product_components": [
        {"kit_sku": "KIT", "component_sku": "CAM-P", "quantity": 2, "synced_at": T}
    ],
    "central_stock": [
        {"sku": "CAM-P", "warehouse": "principal", "on_hand": 7, "updated_at": T, "synced_at": T}
    ],
    "categories": [
        {
            "category_id": "bling:1",
            "name": "Moda",
            "path": "Moda",
            "source": "bling",
            "synced_at": T,
        }
    ],
    "listing_links": [{**LISTING, "sku": "CAM-P", "method": "seller_sku", "synced_at": T}],
    "allocatable_stock": [
        {
            "sku": "CAM-P",
            "on_hand": 7,
            "reserved": 1,
            "allocatable": 6,
            "is_kit": False,
            "computed_at": T,
            "synced_at": T,
        }
    ],
    "allocatable_stock_history": [
        {
            "sku": "CAM-P",
            "computed_at": T,
            "on_hand": 7,
            "reserved": 1,
            "allocatable": 6,
            "synced_at": T,
        }
    ],
    "stock_push_plan": [
        {
            **LISTING,
            "sku": "CAM-P",
            "marketplace": "mercadolivre",
            "policy": "all",
            "allocatable": 6,
            "desired_quantity": 6,
            "target_quantity": 6,
            "planned_at": T,
            "synced_at": T,
        }
    ],
    "stock_listing_state": [
        {**LISTING, "published_quantity": 6, "observed_at": T, "last_written_at": T, "synced_at": T}
    ],
    "stock_pushes": [
        {
            "run_id": "run-1",
            "attempt": 0,
            **LISTING,
            "sku": "CAM-P",
            "marketplace": "mercadolivre",
            "quantity_before": 5,
            "quantity_after": 6,
            "reason": "changed",
            "mode": "real",
            "status": "written",
            "pushed_at": T,
            "synced_at": T,
        }
    ],
    "product_attributes_normalized": [
        {
            "sku": "CAM-P",
            "attribute": "brand",
            "value": "Acme",
            "raw_value": "acme",
            "source": "catalog",
            "status": "ok",
            "synced_at": T,
        }
    ],
    "product_marketplace_attributes": [
        {
            "sku": "CAM-P",
            "marketplace": "mercadolivre",
            "attribute_id": "BRAND",
            "attribute_name": "Marca",
            "status": "ok",
            "synced_at": T,
        }
    ],
    "listing_readiness": [
        {
            "sku": "CAM-P",
            "marketplace": "mercadolivre",
            "ready": True,
            "missing": "[]",
            "invalid": "[]",
            "notes": "[]",
            "synced_at": T,
        }
    ],
}


def _move(engine: Engine, revision: str, down: bool = False) -> None:
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def _insert_single_tenant_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        for name, rows in BEFORE.items():
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            conn.execute(table.insert(), rows)


def _tenants(engine: Engine, name: str) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.text(f"SELECT tenant FROM {name}")).scalars())


@pytest.fixture
def migrated(warehouse_url: str) -> Engine:
    engine = engine_for(warehouse_url)
    _move(engine, "0009")
    _insert_single_tenant_rows(engine)
    _move(engine, "head")
    return engine


def test_single_tenant_rows_land_in_the_default_tenant(migrated: Engine) -> None:
    engine = migrated
    assert current_revision(engine) == head_revision()
    for name, rows in BEFORE.items():
        assert _tenants(engine, name) == ["default"] * len(rows), name
    with engine.connect() as conn:
        stock = conn.execute(sa.select(schema.central_stock)).mappings().one()
        link = conn.execute(sa.select(schema.listing_links)).mappings().one()
    assert (stock["tenant"], stock["sku"], stock["on_hand"]) == ("default", "CAM-P", 7)
    assert (link["tenant"], link["sku"], link["method"]) == ("default", "CAM-P", "seller_sku")
    # Rebuilt tables (SQLite) and swapped keys (PostgreSQL) match the table definitions.
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, schema.metadata)
    flat = [d for group in differences for d in (group if isinstance(group, list) else [group])]
    assert [d for d in flat if d[0] not in {"add_table_comment", "modify_comment"}] == []
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for name in ("central_products", "central_stock", "allocatable_stock", "listing_readiness"):
            assert inspector.get_pk_constraint(name)["constrained_columns"] == list(
                schema.KEYS[name]
            )


def test_after_the_migration_a_second_tenant_keeps_its_own_rows_of_the_same_sku(
    migrated: Engine,
) -> None:
    engine = migrated
    products, components, prune = product_batches(
        [CentralProduct(sku="CAM-P", name="Camiseta da Acme")], [], tenant="acme"
    )
    stock = stock_batch(
        [CentralStock(sku="CAM-P", warehouse="principal", on_hand=2, updated_at=T)], "acme"
    )
    upsert.write(engine, [products, components, stock], [prune])
    with engine.connect() as conn:
        names = dict(
            conn.execute(
                sa.select(schema.central_products.c.tenant, schema.central_products.c.name).where(
                    schema.central_products.c.sku == "CAM-P"
                )
            ).all()
        )
        on_hand = dict(
            conn.execute(
                sa.select(schema.central_stock.c.tenant, schema.central_stock.c.on_hand)
            ).all()
        )
        kit = conn.execute(sa.select(schema.product_components)).mappings().one()
    assert names == {"default": "CAM-P", "acme": "Camiseta da Acme"}
    assert on_hand == {"default": 7, "acme": 2}
    # Acme's catalog has no kit: the prune of its kits leaves the default tenant's alone.
    assert (kit["tenant"], kit["kit_sku"]) == ("default", "KIT")


def test_going_back_refuses_a_second_tenant_and_keeps_a_single_ones_rows(
    migrated: Engine,
) -> None:
    engine = migrated
    products, components, _ = product_batches([CentralProduct(sku="X", name="X")], [], "acme")
    upsert.write(engine, [products, components])
    with pytest.raises(RuntimeError, match="central_products holds rows of tenant 'acme'"):
        _move(engine, "0009", down=True)
    assert current_revision(engine) == head_revision()

    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM central_products WHERE tenant = 'acme'"))
    _move(engine, "0009", down=True)
    assert current_revision(engine) == "0009"
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("central_products")}
        assert "tenant" not in columns
        assert sa.inspect(conn).get_pk_constraint("central_products")["constrained_columns"] == [
            "sku"
        ]
        for name, rows in BEFORE.items():
            count = conn.execute(sa.text(f"SELECT COUNT(*) FROM {name}")).scalar_one()
            assert count == len(rows), name
    _move(engine, "head")
    assert _tenants(engine, "central_stock") == ["default"]
