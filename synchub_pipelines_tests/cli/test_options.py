"""One name per option across every `synchub` subcommand, one meaning per name.

The whole command tree is walked, including the subcommands other modules register
(`categories`, `webhooks`), so a new option that drifts from the vocabulary fails here.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Iterator

import pytest

from synchub_pipelines.cli import build_parser

# The names in use, against the other spellings the same thing once had or could have.
SYNONYMS = {
    "--variation-id": {"--variation", "--var", "--variation_id"},
    "--sales-per-minute": {"--live-rate", "--rate-per-minute", "--sales-rate"},
    "--marketplace": {"--only-marketplace", "--mp"},
    "--shop-id": {"--shop"},
    "--seller-id": {"--seller"},
}


def _parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield " ".join(("synchub", *path)), parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def _visible_options() -> dict[str, list[tuple[str, argparse.Action]]]:
    """Long option → [(command, action)] for every option a user sees in --help."""
    found: dict[str, list[tuple[str, argparse.Action]]] = defaultdict(list)
    for command, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
                continue
            for option in action.option_strings:
                if option.startswith("--"):
                    found[option].append((command, action))
    return found


OPTIONS = _visible_options()


def test_the_walk_sees_every_subcommand() -> None:
    commands = {command for command, _ in _parsers(build_parser())}
    assert {"synchub link", "synchub sandbox serve", "synchub webhooks serve"} <= commands
    assert {"--variation-id", "--sales-per-minute", "--port", "--seed"} <= set(OPTIONS)


@pytest.mark.parametrize("option", sorted(o for o, uses in OPTIONS.items() if len(uses) > 1))
def test_an_option_in_several_commands_means_the_same_in_each(option: str) -> None:
    uses = OPTIONS[option]
    shapes = {(a.dest, a.type, tuple(a.choices or ()), type(a).__name__) for _, a in uses}
    assert len(shapes) == 1, {command: shapes for command, _ in uses}


def test_ids_are_named_dash_id() -> None:
    for option, uses in OPTIONS.items():
        for command, action in uses:
            assert option.endswith("-id") == action.dest.endswith("_id"), (command, option)


@pytest.mark.parametrize("name", sorted(SYNONYMS))
def test_no_command_spells_an_option_another_way(name: str) -> None:
    other = SYNONYMS[name] & set(OPTIONS)
    assert not other, {o: OPTIONS[o] for o in other}


def test_the_earlier_names_still_parse() -> None:
    parser = build_parser()
    link = parser.parse_args(["link", "mercadolivre-1", "MLB1", "SKU", "--variation", "7"])
    assert link.variation_id == "7"
    serve = parser.parse_args(["sandbox", "serve", "--live-rate", "12"])
    assert serve.sales_per_minute == 12.0
    assert parser.parse_args(["sandbox", "serve"]).sales_per_minute == 0.0
    assert parser.parse_args(["link", "s-1", "L", "SKU"]).variation_id == ""


def test_shared_options_say_the_same_in_help() -> None:
    for option in ("--webhook-drop", "--webhook-duplicates", "--sales-per-minute"):
        helps = {action.help for _, action in OPTIONS[option]}
        assert len(helps) == 1, (option, helps)
