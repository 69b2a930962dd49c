"""Accepting suggested categories: the tree file gains manual mappings, nothing else moves."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from synchub_pipelines.cli import main
from synchub_pipelines.defs.normalization.accept import pending_suggestions, write_mappings
from synchub_pipelines.defs.normalization.tree_file import CategoryTreeError, load_tree
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines.warehouse.schema_normalization import category_mappings

TREE = (
    "id,name,parent,mercadolivre\n"
    "moda,Moda,,\n"
    "moda.camisetas,Camisetas,moda,MLB31447\n"
    "moda.meias,Meias,moda,\n"
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    path = tmp_path / "categories.csv"
    path.write_text(TREE, encoding="utf-8")
    return path


def test_mappings_are_written_keeping_rows_and_column_order(tree: Path) -> None:
    before = write_mappings(
        tree,
        {
            ("moda.meias", "mercadolivre"): "MLB31450",
            ("moda.meias", "shopee"): "100017",  # a column the file did not have
            ("moda.camisetas", "mercadolivre"): "MLB31447",  # already so: not a change
        },
    )
    assert before == {"moda.meias/mercadolivre": "", "moda.meias/shopee": ""}
    written = tree.read_bytes().decode("utf-8")
    assert "\r" not in written  # the file's own line endings
    lines = written.splitlines()
    assert lines[0] == "id,name,parent,mercadolivre,shopee"
    assert [line.split(",")[0] for line in lines[1:]] == ["moda", "moda.camisetas", "moda.meias"]
    nodes = load_tree(tree).by_id
    assert nodes["moda.meias"].mappings == {"mercadolivre": "MLB31450", "shopee": "100017"}
    assert nodes["moda.camisetas"].mappings == {"mercadolivre": "MLB31447"}
    assert nodes["moda"].mappings == {}


def test_a_spreadsheet_file_keeps_its_byte_order_mark_and_crlf(tree: Path) -> None:
    tree.write_bytes(b"\xef\xbb\xbf" + TREE.replace("\n", "\r\n").encode("utf-8"))
    write_mappings(tree, {("moda.meias", "mercadolivre"): "MLB31450"})
    written = tree.read_bytes()
    assert written.startswith(b"\xef\xbb\xbfid,name,parent,mercadolivre\r\n")
    assert written.count(b"\r\n") == 4 and b"moda.meias,Meias,moda,MLB31450\r\n" in written


def test_an_unknown_category_or_marketplace_writes_nothing(tree: Path) -> None:
    original = tree.read_bytes()
    with pytest.raises(CategoryTreeError) as raised:
        write_mappings(
            tree,
            {
                ("moda.meias", "mercadolivre"): "MLB31450",
                ("moda.bones", "mercadolivre"): "MLB1",
                ("moda.meias", "magalu"): "X",
            },
        )
    assert "moda.bones" in str(raised.value) and "magalu" in str(raised.value)
    assert tree.read_bytes() == original
    assert not [p for p in tree.parent.iterdir() if p.name.startswith(".categories.csv")]


def _suggest(url: str) -> None:
    engine = engine_for(url)
    migrate(engine)
    now = datetime.now(UTC)
    rows = [
        ("moda.meias", "mercadolivre", "MLB31450", "Moda > Meias", "suggested"),
        ("moda.meias", "shopee", "100017", "Moda > Meias", "suggested"),
        ("moda.camisetas", "mercadolivre", "MLB31447", "Moda > Camisetas", "manual"),
        ("moda", "shopee", None, None, "none"),
    ]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(category_mappings),
            [
                {
                    "category_id": c,
                    "marketplace": m,
                    "marketplace_category_id": mid,
                    "marketplace_category_path": path,
                    "status": status,
                    "based_on": "predictor" if status == "suggested" else "tree file",
                    "synced_at": now,
                }
                for c, m, mid, path, status in rows
            ],
        )


def test_cli_lists_and_accepts_suggestions(
    tree: Path,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNCHUB_WAREHOUSE_URL", sqlite_url)
    _suggest(sqlite_url)
    pending = pending_suggestions(engine_for(sqlite_url))
    assert [(s.category_id, s.marketplace) for s in pending] == [
        ("moda.meias", "mercadolivre"),
        ("moda.meias", "shopee"),
    ]

    assert main(["categories", "suggestions"]) == 0
    listed = capsys.readouterr().out
    assert "MLB31450 (Moda > Meias)" in listed and "100017" in listed
    assert "MLB31447" not in listed  # already manual

    # Without a tree file of their own, nothing is written (the demo tree is the package's).
    monkeypatch.delenv("SYNCHUB_CATEGORY_TREE_FILE", raising=False)
    with pytest.raises(SystemExit, match="SYNCHUB_CATEGORY_TREE_FILE"):
        main(["categories", "accept", "moda.meias", "shopee"])

    monkeypatch.setenv("SYNCHUB_CATEGORY_TREE_FILE", str(tree))
    assert main(["categories", "accept", "moda.meias", "shopee"]) == 0
    assert load_tree(tree).by_id["moda.meias"].mappings == {"shopee": "100017"}
    with pytest.raises(SystemExit, match="no pending suggestion for moda on shopee"):
        main(["categories", "accept", "moda", "shopee"])
    assert main(["categories", "accept", "moda", "shopee", "--category-id", "100001"]) == 0
    assert main(["categories", "accept", "--all", "--marketplace", "mercadolivre"]) == 0
    out = capsys.readouterr().out
    assert "moda.meias\tmercadolivre\t→ MLB31450" in out
    nodes = load_tree(tree).by_id
    assert nodes["moda.meias"].mappings == {"mercadolivre": "MLB31450", "shopee": "100017"}
    assert nodes["moda"].mappings == {"shopee": "100001"}
    assert nodes["moda.camisetas"].mappings == {"mercadolivre": "MLB31447"}
