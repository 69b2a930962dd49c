"""`synchub dictionary [--check]`: render docs/dictionary.md from the data dictionary.

Without options it rewrites the file; `--check` changes nothing and fails when the file is
stale or a table, column or mart column lacks a description (for CI and pre-commit). Either
way the problems are listed, one per line, with what to do.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add `dictionary` to the `synchub` command (`subparsers` of its parser)."""
    command = subparsers.add_parser(
        "dictionary",
        help="render docs/dictionary.md, every table's and mart's columns described",
    )
    command.add_argument(
        "--check",
        action="store_true",
        help="write nothing; fail when the file is stale or a column lacks a description",
    )
    command.add_argument("--out", help="where to write it (default: docs/dictionary.md)")
    command.set_defaults(func=run)


def markdown() -> str:
    """docs/dictionary.md as the dictionary and the marts' schema.yml say it should be."""
    from synchub_pipelines.defs.checks import TABLE_ASSET
    from synchub_pipelines.warehouse import dictionary

    return dictionary.render(writers=TABLE_ASSET, marts=dictionary.load_marts())


def all_problems() -> list[str]:
    from synchub_pipelines.warehouse import dictionary

    return dictionary.problems() + dictionary.mart_problems(dictionary.load_marts())


def run(args: argparse.Namespace) -> int:
    from synchub_pipelines.warehouse.dictionary import DICTIONARY_MD

    path = Path(args.out) if args.out else DICTIONARY_MD
    wanted = markdown()
    problems = all_problems()
    for problem in problems:
        print(f"dictionary: {problem}", file=sys.stderr)
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if args.check:
        if current != wanted:
            print(f"{path} is stale: run `synchub dictionary`", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 1 if problems else 0
    if current != wanted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted, encoding="utf-8")
        print(f"wrote {path}")
    else:
        print(f"{path} is up to date")
    return 1 if problems else 0
