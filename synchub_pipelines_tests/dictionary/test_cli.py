"""`synchub dictionary [--check]` renders docs/dictionary.md, and tells when it is stale."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from synchub_pipelines.warehouse import dictionary_cli


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="synchub")
    dictionary_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["dictionary", *argv])
    return int(args.func(args))


def test_writes_then_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "docs" / "dictionary.md"
    assert run("--check", "--out", str(out)) == 1
    assert "is stale: run `synchub dictionary`" in capsys.readouterr().err
    assert not out.exists()

    assert run("--out", str(out)) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == dictionary_cli.markdown()

    assert run("--check", "--out", str(out)) == 0
    assert "is up to date" in capsys.readouterr().out

    out.write_text(out.read_text(encoding="utf-8") + "hand edit\n", encoding="utf-8")
    assert run("--check", "--out", str(out)) == 1
    assert out.read_text(encoding="utf-8").endswith("hand edit\n")  # --check writes nothing
