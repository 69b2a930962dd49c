"""`synchub categories suggestions|accept`: review the predictor's suggestions, keep the good
ones as manual mappings in the category tree file."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from synchub_pipelines import settings

TREE_FILE_VARIABLE = "SYNCHUB_CATEGORY_TREE_FILE"


def register(subparsers: Any) -> None:
    """Add `categories …` to the `synchub` command (`subparsers` of its parser)."""
    categories = subparsers.add_parser(
        "categories", help="marketplace category mappings of the internal tree"
    )
    commands = categories.add_subparsers(dest="categories_command", required=True)

    suggestions = commands.add_parser(
        "suggestions", help="list suggested mappings waiting to be accepted"
    )
    suggestions.add_argument("--marketplace", help="only this marketplace")
    suggestions.set_defaults(func=_suggestions)

    accept = commands.add_parser(
        "accept",
        help=f"write mappings into the tree file ({TREE_FILE_VARIABLE}) as manual ones",
    )
    accept.add_argument("category", nargs="?", help="internal category id")
    accept.add_argument(
        "target",
        nargs="?",
        metavar="MARKETPLACE",
        help="mercadolivre, shopee, tiktok or amazon",
    )
    accept.add_argument(
        "--category-id", help="the marketplace category to map to (default: the suggestion)"
    )
    accept.add_argument(
        "--all", action="store_true", help="accept every pending suggestion (of --marketplace)"
    )
    accept.add_argument("--marketplace", help="only this marketplace")
    # The earlier spelling still parses, hidden from --help.
    accept.add_argument("--only-marketplace", dest="marketplace", help=argparse.SUPPRESS)
    accept.set_defaults(func=_accept)


def _engine() -> Any:
    from synchub_pipelines.warehouse.engine import engine_for
    from synchub_pipelines.warehouse.migrate import migrate

    engine = engine_for(settings.warehouse_url())
    migrate(engine)
    return engine


def _suggestions(args: argparse.Namespace) -> int:
    from synchub_pipelines.defs.normalization.accept import pending_suggestions

    found = pending_suggestions(_engine(), args.marketplace)
    if not found:
        print("no suggestion is waiting (materialize category_mappings to ask for new ones)")
        return 0
    for s in found:
        path = f" ({s.marketplace_category_path})" if s.marketplace_category_path else ""
        print(f"{s.marketplace}\t{s.category_id}\t{s.marketplace_category_id}{path}\t{s.based_on}")
    print(f"{len(found)} suggestion(s): synchub categories accept CATEGORY MARKETPLACE (or --all)")
    return 0


def _tree_path() -> Path:
    configured = os.environ.get(TREE_FILE_VARIABLE, "").strip()
    if not configured:
        # The default tree is the demo's, shipped inside the package: not the merchant's to edit.
        raise SystemExit(
            f"set {TREE_FILE_VARIABLE} to your category tree file: accepted mappings are "
            "written there (the built-in demo tree is not edited)"
        )
    return Path(configured)


def _accept(args: argparse.Namespace) -> int:
    from synchub_pipelines.defs.normalization.accept import pending_suggestions, write_mappings
    from synchub_pipelines.defs.normalization.tree_file import CategoryTreeError

    if args.all == bool(args.category or args.target):
        raise SystemExit("give either CATEGORY MARKETPLACE, or --all")
    tree = _tree_path()
    wanted: dict[tuple[str, str], str] = {}
    if args.all:
        if args.category_id:
            raise SystemExit("--category-id names one mapping; it cannot go with --all")
        wanted = {
            (s.category_id, s.marketplace): s.marketplace_category_id
            for s in pending_suggestions(_engine(), args.marketplace)
        }
    else:
        if not args.target:
            raise SystemExit("give the marketplace after the category")
        chosen = args.category_id
        if not chosen:
            matching = [
                s
                for s in pending_suggestions(_engine(), args.target)
                if s.category_id == args.category
            ]
            if not matching:
                raise SystemExit(
                    f"no pending suggestion for {args.category} on {args.target}: "
                    "give --category-id, or materialize category_mappings first"
                )
            chosen = matching[0].marketplace_category_id
        wanted = {(args.category, args.target): chosen}
    if not wanted:
        print("no suggestion is waiting: nothing to accept")
        return 0
    try:
        before = write_mappings(tree, wanted)
    except CategoryTreeError as exc:
        raise SystemExit(f"nothing written: {exc}") from None
    for (category, marketplace), value in sorted(wanted.items()):
        key = f"{category}/{marketplace}"
        if key in before:
            was = f" (was {before[key]})" if before[key] else ""
            print(f"{category}\t{marketplace}\t→ {value}{was}")
    print(
        f"{len(before)} mapping(s) written to {tree}"
        + ("" if before else " (they were already there)")
        + "; the next category_mappings run marks them manual"
    )
    return 0
