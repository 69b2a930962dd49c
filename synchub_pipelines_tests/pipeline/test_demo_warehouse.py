"""A second `make demo` starts from an empty embedded warehouse, the first one kept beside it:
the sandbox starts from its seed each run, so listings the last demo published are gone."""

from __future__ import annotations

from pathlib import Path

import pytest

from synchub_pipelines.demo.run import set_aside_previous_demo_warehouse


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYNCHUB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SYNCHUB_WAREHOUSE_URL", raising=False)
    return tmp_path


def test_the_last_demo_warehouse_is_kept_and_the_run_starts_empty(data_dir: Path) -> None:
    (data_dir / "warehouse.sqlite").write_bytes(b"first run")
    (data_dir / "warehouse.sqlite-wal").write_bytes(b"its log")
    said: list[str] = []
    kept = set_aside_previous_demo_warehouse(said.append)
    assert kept == data_dir / "warehouse.previous.sqlite"
    assert kept.read_bytes() == b"first run"
    assert (data_dir / "warehouse.previous.sqlite-wal").read_bytes() == b"its log"
    assert not (data_dir / "warehouse.sqlite").exists()
    assert not (data_dir / "warehouse.sqlite-wal").exists()
    assert "kept as" in said[0]
    # the next run keeps only the one before it
    (data_dir / "warehouse.sqlite").write_bytes(b"second run")
    set_aside_previous_demo_warehouse(said.append)
    assert kept.read_bytes() == b"second run"


def test_a_first_demo_has_nothing_to_set_aside(data_dir: Path) -> None:
    assert set_aside_previous_demo_warehouse(pytest.fail) is None


def test_a_configured_warehouse_is_never_touched(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = data_dir / "warehouse.sqlite"
    own.write_bytes(b"an operator's")
    monkeypatch.setenv("SYNCHUB_WAREHOUSE_URL", f"sqlite:///{data_dir / 'mine.sqlite'}")
    assert set_aside_previous_demo_warehouse(pytest.fail) is None
    assert own.read_bytes() == b"an operator's"
