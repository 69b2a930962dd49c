"""Migrations, idempotent upserts and encrypted credentials, on SQLite and real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from synchub_pipelines.marketplaces.tokens import TokenSet
from synchub_pipelines.models import Listing, Order, OrderItem, OrderStatus, Rejected
from synchub_pipelines.warehouse import schema, upsert
from synchub_pipelines.warehouse.credentials import CredentialsError, SqlTokenStore
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import current_revision, head_revision, migrate
from synchub_pipelines.warehouse.rows import listing_batch, order_batches, reject_batch

T1 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T2 = T1 + timedelta(hours=1)
T3 = T1 + timedelta(hours=2)
STORE = "mercadolivre-1"


@pytest.fixture
def engine(warehouse_url: str) -> Engine:
    engine = engine_for(warehouse_url)
    migrate(engine)
    return engine


def utc(value: datetime) -> datetime:
    """SQLite gives naive datetimes back (stored as UTC); PostgreSQL aware ones."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def rows(engine: Engine, table: sa.Table, *columns: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Every row of `table` by key, with the named columns (datetimes in UTC)."""
    keys = schema.KEYS[table.name]
    with engine.connect() as conn:
        result = conn.execute(sa.select(table)).mappings().all()
    out = {}
    for row in result:
        values = {c: row[c] for c in columns}
        out[tuple(row[k] for k in keys)] = {
            k: utc(v) if isinstance(v, datetime) else v for k, v in values.items()
        }
    return out


def listing(listing_id: str, variation_id: str = "", **kw: Any) -> Listing:
    values: dict[str, Any] = {
        "store_id": STORE,
        "listing_id": listing_id,
        "variation_id": variation_id,
        "title": f"Produto {listing_id}",
        "seller_sku": f"SKU-{listing_id}-{variation_id}",
        "status": "active",
        "raw_status": "active",
        "price": Decimal("129.90"),
        "available_quantity": 5,
        "updated_at": T1,
    }
    return Listing(**{**values, **kw})


def order(order_id: str, lines: int, **kw: Any) -> Order:
    items = tuple(
        OrderItem(
            line_no=n,
            listing_id=f"MLB{n}",
            variation_id="",
            quantity=n,
            unit_price=Decimal("10.50"),
            line_amount=Decimal("10.50") * n,
            fee=Decimal("1.47"),
        )
        for n in range(1, lines + 1)
    )
    values: dict[str, Any] = {
        "store_id": STORE,
        "order_id": order_id,
        "status": OrderStatus.PAID,
        "raw_status": "paid",
        "created_at": T1,
        "updated_at": T1,
        "business_date": date(2026, 3, 1),
        "items_amount": sum((i.line_amount for i in items), Decimal(0)),
        "total_amount": Decimal("99.99"),
        "items": items,
    }
    return Order(**{**values, **kw})


def write_orders(engine: Engine, orders: list[Order], now: datetime) -> dict[str, int]:
    batches, prunes = order_batches(orders)
    return upsert.write(engine, batches, prunes, now=now)


# --- migrations ----------------------------------------------------------------------------


def test_migrate_twice_is_a_no_op(warehouse_url: str) -> None:
    engine = engine_for(warehouse_url)
    assert current_revision(engine) is None
    assert migrate(engine) == head_revision()
    assert current_revision(engine) == head_revision()
    upsert.write(engine, [listing_batch([listing("MLB1")])], now=T1)
    tables_before = set(sa.inspect(engine).get_table_names())

    assert migrate(engine) == head_revision()

    assert set(sa.inspect(engine).get_table_names()) == tables_before
    assert rows(engine, schema.listings, "title") == {
        (STORE, "MLB1", ""): {"title": "Produto MLB1"}
    }
    with engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    assert [v[0] for v in versions] == [head_revision()]


def test_migrated_schema_matches_the_table_definitions(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, schema.metadata)
    # Comments are ignored here on purpose: the initial migration does not carry the table
    # and column comments schema.py declares (PostgreSQL reports them as missing; SQLite
    # has no comments). Everything else — tables, columns, types, nullability, server
    # defaults, indexes — must match.
    flat = [d for group in differences for d in (group if isinstance(group, list) else [group])]
    significant = [d for d in flat if d[0] not in {"add_table_comment", "modify_comment"}]
    assert significant == []
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert {t.name for t in schema.metadata.sorted_tables} <= tables


# --- upserts -------------------------------------------------------------------------------


def test_write_inserts_then_identical_rewrite_changes_nothing(engine: Engine) -> None:
    first = [listing("MLB1", "11"), listing("MLB1", "12"), listing("MLB2")]
    assert upsert.write(engine, [listing_batch(first)], now=T1) == {"listings": 3}
    before = rows(engine, schema.listings, "title", "price", "updated_at", "synced_at")
    assert len(before) == 3
    assert before[(STORE, "MLB1", "11")]["price"] == Decimal("129.90")
    assert before[(STORE, "MLB1", "11")]["updated_at"] == T1
    assert {r["synced_at"] for r in before.values()} == {T1}

    again = [listing("MLB1", "11"), listing("MLB1", "12"), listing("MLB2")]
    assert upsert.write(engine, [listing_batch(again)], now=T2) == {"listings": 0}
    assert rows(engine, schema.listings, "title", "price", "updated_at", "synced_at") == before


def test_a_changed_row_is_updated_and_its_synced_at_bumped(engine: Engine) -> None:
    upsert.write(engine, [listing_batch([listing("MLB1"), listing("MLB2")])], now=T1)
    changed = [listing("MLB1", available_quantity=0), listing("MLB2")]

    assert upsert.write(engine, [listing_batch(changed)], now=T2) == {"listings": 1}

    after = rows(engine, schema.listings, "available_quantity", "synced_at")
    assert after[(STORE, "MLB1", "")] == {"available_quantity": 0, "synced_at": T2}
    assert after[(STORE, "MLB2", "")] == {"available_quantity": 5, "synced_at": T1}


def test_a_change_to_null_counts_as_a_change(engine: Engine) -> None:
    upsert.write(engine, [listing_batch([listing("MLB1")])], now=T1)
    assert upsert.write(engine, [listing_batch([listing("MLB1", seller_sku=None)])], now=T2) == {
        "listings": 1
    }
    assert rows(engine, schema.listings, "seller_sku")[(STORE, "MLB1", "")] == {"seller_sku": None}
    # …and back from NULL to a value.
    assert upsert.write(engine, [listing_batch([listing("MLB1")])], now=T3) == {"listings": 1}


def test_duplicate_keys_in_a_batch_keep_the_last(engine: Engine) -> None:
    batch = listing_batch(
        [listing("MLB1", title="first"), listing("MLB2"), listing("MLB1", title="last")]
    )
    assert upsert.write(engine, [batch], now=T1) == {"listings": 2}
    assert rows(engine, schema.listings, "title")[(STORE, "MLB1", "")] == {"title": "last"}


def test_prune_drops_lines_an_order_no_longer_has_and_keeps_other_orders(engine: Engine) -> None:
    write_orders(engine, [order("A", lines=3), order("B", lines=2)], now=T1)
    assert set(rows(engine, schema.order_items)) == {
        (STORE, "A", 1),
        (STORE, "A", 2),
        (STORE, "A", 3),
        (STORE, "B", 1),
        (STORE, "B", 2),
    }

    changed = write_orders(engine, [order("A", lines=2)], now=T2)

    assert set(rows(engine, schema.order_items)) == {
        (STORE, "A", 1),
        (STORE, "A", 2),
        (STORE, "B", 1),
        (STORE, "B", 2),
    }
    # Lines 1 and 2 are as they were; line 3 is deleted; the order's amount changed.
    assert changed["orders"] == 1 and changed["order_items"] == 1
    assert set(rows(engine, schema.orders)) == {(STORE, "A"), (STORE, "B")}


def test_order_rewrite_is_idempotent(engine: Engine) -> None:
    orders = [order("A", lines=3, shipping_paid_by_buyer=Decimal("19.90")), order("B", lines=1)]
    write_orders(engine, orders, now=T1)
    before = (
        rows(engine, schema.orders, "status", "total_amount", "created_at", "synced_at"),
        rows(engine, schema.order_items, "quantity", "unit_price", "fee", "synced_at"),
    )
    assert not any(write_orders(engine, orders, now=T2).values())
    after = (
        rows(engine, schema.orders, "status", "total_amount", "created_at", "synced_at"),
        rows(engine, schema.order_items, "quantity", "unit_price", "fee", "synced_at"),
    )
    assert after == before
    assert before[0][(STORE, "A")]["created_at"] == T1


def reject(key: str, reason: str) -> Rejected:
    return Rejected(
        source="mercadolivre.orders", store_id=STORE, record_key=key, reason=reason, payload="{}"
    )


def test_preserve_keeps_first_seen_at(engine: Engine) -> None:
    upsert.write(engine, [reject_batch([reject("1", "order_items: missing")], T1)], now=T1)
    upsert.write(
        engine,
        [reject_batch([reject("1", "date_created: invalid"), reject("2", "x")], T2)],
        now=T2,
    )
    got = rows(engine, schema.ingest_errors, "reason", "first_seen_at", "synced_at")
    key = ("mercadolivre.orders", STORE)
    assert got[(*key, "1")] == {
        "reason": "date_created: invalid",
        "first_seen_at": T1,
        "synced_at": T2,
    }
    assert got[(*key, "2")]["first_seen_at"] == T2


def test_a_failure_mid_transaction_writes_nothing(engine: Engine) -> None:
    upsert.write(engine, [listing_batch([listing("MLB0")])], now=T1)
    good = listing_batch([listing("MLB1"), listing("MLB2", title="new")])
    bad = upsert.Batch.for_table(schema.listings)
    row = list(listing_batch([listing("MLB3")]).rows[0])
    row[bad.columns.index("title")] = None  # NOT NULL
    bad.rows.append(tuple(row))

    with pytest.raises(sa.exc.IntegrityError):
        upsert.write(engine, [good, bad], now=T2)

    assert set(rows(engine, schema.listings)) == {(STORE, "MLB0", "")}
    # The warehouse is still usable, and a correct retry converges.
    assert upsert.write(engine, [good], now=T3) == {"listings": 2}


# --- credentials ---------------------------------------------------------------------------


ACCESS = "APP_USR-access-ZYX987-secret"
REFRESH = "TG-refresh-QWE654-secret"


def tokens(**kw: Any) -> TokenSet:
    values: dict[str, Any] = {
        "access_token": SecretStr(ACCESS),
        "refresh_token": SecretStr(REFRESH),
        "access_expires_at": T2,
        "refresh_expires_at": T3,
        "extra": {"shop_cipher": "CIPHER-123"},
    }
    return TokenSet(**{**values, **kw})


def test_tokens_are_encrypted_at_rest_and_read_back(engine: Engine) -> None:
    store = SqlTokenStore(engine, Fernet.generate_key())
    store.save(STORE, tokens())

    with engine.connect() as conn:
        raw = conn.execute(sa.select(schema.store_credentials)).mappings().one()
    text = " ".join(str(v) for v in raw.values())
    for secret in (ACCESS, REFRESH, "CIPHER-123"):
        assert secret not in text
    assert raw["access_token_enc"] and raw["refresh_token_enc"] and raw["extra_enc"]

    loaded = store.load(STORE)
    assert loaded is not None
    assert loaded.access_token.get_secret_value() == ACCESS
    assert loaded.refresh_token is not None
    assert loaded.refresh_token.get_secret_value() == REFRESH
    assert loaded.access_expires_at == T2
    assert loaded.refresh_expires_at == T3
    assert loaded.extra == {"shop_cipher": "CIPHER-123"}
    assert ACCESS not in repr(loaded)
    assert store.load("mercadolivre-unknown") is None


def test_saving_again_replaces_the_row(engine: Engine) -> None:
    store = SqlTokenStore(engine, Fernet.generate_key())
    store.save(STORE, tokens())
    store.save(STORE, tokens(access_token=SecretStr("second"), refresh_token=None, extra={}))
    loaded = store.load(STORE)
    assert loaded is not None
    assert loaded.access_token.get_secret_value() == "second"
    assert loaded.refresh_token is None and loaded.extra == {}
    with engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(schema.store_credentials)
            ).scalar_one()
            == 1
        )


def test_a_wrong_key_is_a_clear_error_without_the_token(engine: Engine) -> None:
    SqlTokenStore(engine, Fernet.generate_key()).save(STORE, tokens())
    with pytest.raises(CredentialsError) as caught:
        SqlTokenStore(engine, Fernet.generate_key()).load(STORE)
    message = str(caught.value)
    assert "SYNCHUB_SECRET_KEY" in message
    for secret in (ACCESS, REFRESH):
        assert secret not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
