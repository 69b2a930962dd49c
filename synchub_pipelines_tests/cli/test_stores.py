"""`synchub stores` prints a header and each store's marketplace and status."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from synchub_pipelines.cli import main
from synchub_pipelines.models import Marketplace, Store
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines.warehouse.schema import stores
from synchub_pipelines.warehouse.stores import register_store

HEADER = ["store_id", "marketplace", "name", "status", "timezone", "tenant"]


def test_stores_lists_marketplace_and_status_under_a_header(
    warehouse_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNCHUB_WAREHOUSE_URL", warehouse_url)
    engine = engine_for(warehouse_url)
    migrate(engine)
    register_store(engine, Store.of(Marketplace.SHOPEE, "555", name="Loja\tShopee"))
    register_store(engine, Store.of(Marketplace.MERCADOLIVRE, "100", name="Loja ML"))
    with engine.begin() as conn:
        conn.execute(
            sa.update(stores).where(stores.c.store_id == "shopee-555").values(status="disconnected")
        )

    assert main(["stores"]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == HEADER
    assert lines[1:] == [
        ["mercadolivre-100", "mercadolivre", "Loja ML", "active", "America/Sao_Paulo", "default"],
        # A tab in a name would shift every column after it: it prints as a space.
        ["shopee-555", "shopee", "Loja Shopee", "disconnected", "America/Sao_Paulo", "default"],
    ]


def test_no_store_yet_prints_the_header_and_says_what_to_do(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNCHUB_WAREHOUSE_URL", sqlite_url)
    assert main(["stores"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["\t".join(HEADER)]
    assert "synchub connect" in captured.err
