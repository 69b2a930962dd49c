"""`synchub publish plan|run`: publish the catalog (listings, prices, fulfilment, answers)
from the command line, dry-run unless `--apply`; `synchub publish bling-catalog`: write the
normalized catalog and the product–store links back to Bling, dry-run unless `--apply`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from synchub_pipelines import settings

if TYPE_CHECKING:
    from synchub_pipelines.defs.publishing.bling_catalog import WriteBack

ONLY = ("listings", "prices", "fulfilment", "answers")


def register(subparsers: Any) -> None:
    """Add `publish …` to the `synchub` command (`subparsers` of its parser)."""
    publish = subparsers.add_parser(
        "publish", help="write the catalog to the marketplaces (dry-run unless --apply)"
    )
    commands = publish.add_subparsers(dest="publish_command", required=True)
    for name, text in (
        ("plan", "print what would be written (a dry run, audited as planned)"),
        ("run", "write it (dry-run unless --apply)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--store", action="append", help="only this store (repeatable)")
        command.add_argument("--only", choices=ONLY, action="append", help="only this part")
        command.add_argument(
            "--force",
            action="store_true",
            help="waive the damage limits (mass pauses, large price changes)",
        )
        command.add_argument("--rules", help="price rules file (default SYNCHUB_PRICE_RULES_FILE)")
        if name == "run":
            mode = command.add_mutually_exclusive_group()
            mode.add_argument("--dry-run", dest="apply", action="store_false", default=False)
            mode.add_argument("--apply", dest="apply", action="store_true", help="really write")
        command.set_defaults(func=_run, publish_apply=name == "run")
    bling = commands.add_parser(
        "bling-catalog",
        help="write categories, brands, attributes and store links back to Bling "
        "(dry-run unless --apply)",
    )
    bling.add_argument("--tenant", help="only this tenant (default: every tenant)")
    bling.add_argument(
        "--loja",
        action="append",
        metavar="STORE=LOJA_ID",
        help="a store's Bling loja id, over SYNCHUB_BLING_LOJAS (repeatable)",
    )
    bling.add_argument(
        "--max-writes",
        type=int,
        default=None,
        help="damage limit: a tenant planning more writes writes nothing (default 2000)",
    )
    bling.add_argument("--apply", action="store_true", help="really write (default: dry run)")
    bling.set_defaults(func=_run_bling_catalog)


def _run(args: argparse.Namespace) -> int:
    from synchub_pipelines.defs.marketplaces import MarketplacesResource
    from synchub_pipelines.defs.publishing.assets import client_factory
    from synchub_pipelines.defs.publishing.run import describe, problems, publish
    from synchub_pipelines.defs.resources import WarehouseResource

    warehouse = WarehouseResource(url=settings.warehouse_url())
    marketplaces = MarketplacesResource.from_environment(resolve=True)
    apply = bool(getattr(args, "apply", False)) and args.publish_apply
    try:
        report = publish(
            warehouse.engine(),
            client_factory(warehouse, marketplaces),
            dry_run=not apply,
            force=args.force,
            stores=args.store,
            only=args.only or ONLY,
            rules_file=args.rules,
        )
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    for line in describe(report):
        print(line)
    return 1 if problems(report) else 0


def _run_bling_catalog(args: argparse.Namespace) -> int:
    import os
    import uuid

    import dagster as dg

    from synchub_pipelines.defs.catalog.source import CatalogResource, source_from_env
    from synchub_pipelines.defs.marketplaces import BlingResource
    from synchub_pipelines.defs.publishing import bling_catalog
    from synchub_pipelines.defs.resources import WarehouseResource

    try:
        lojas = bling_catalog.parse_lojas(",".join(args.loja or []))
        catalog = CatalogResource(
            source=source_from_env(os.environ.get("SYNCHUB_CATALOG_SOURCE")),
            file_path=os.environ.get("SYNCHUB_CATALOG_FILE", "").strip()
            or str(settings.PROJECT_ROOT / "synchub_pipelines" / "demo" / "catalog.csv"),
            bling=BlingResource.from_environment(resolve=True),
        )
        result = bling_catalog.write_back(
            WarehouseResource(url=settings.warehouse_url()),
            catalog,
            f"cli-{uuid.uuid4().hex[:12]}",
            dry_run=not args.apply,
            tenants=[args.tenant] if args.tenant else None,
            lojas=lojas,
            max_writes=(
                bling_catalog.DEFAULT_MAX_WRITES if args.max_writes is None else args.max_writes
            ),
        )
    except ValueError as exc:  # a bad SYNCHUB_BLING_LOJAS / --loja or catalog source
        raise SystemExit(str(exc)) from None
    except dg.Failure as exc:  # e.g. the category tree cannot be read
        raise SystemExit(str(exc.description or exc)) from None
    for line in describe_bling(result):
        print(line)
    if args.tenant and not result.reports:
        return 1
    return 1 if result.problems() else 0


def describe_bling(result: WriteBack) -> list[str]:
    """A Bling write-back run in lines an operator reads."""
    mode = "DRY RUN (nothing sent)" if result.dry_run else "REAL"
    lines = [f"bling catalog run {result.run_id}: {mode}"]
    for report in result.reports:
        lines.append(f"tenant {report.tenant}: {len(report.outcomes)} write(s)")
        for write, outcome in report.outcomes:
            where = f" {write.store_id}" if write.store_id else ""
            why = (
                f" [{outcome.code or ''}] {outcome.message or ''}"
                if outcome.status in ("refused", "failed")
                else ""
            )
            lines.append(
                f"  {outcome.status:<8} {write.action:<15} {write.sku}{where}{why}".rstrip()
            )
    for skip in result.skipped()[:30]:
        lines.append(
            f"  skipped  {skip.tenant} {skip.sku or '—'} {skip.store_id or ''}: {skip.reason}"
        )
    unmapped = result.unmapped()
    if unmapped:
        names = ", ".join(f"{name} ({n})" for name, n in sorted(unmapped.items()))
        lines.append(f"attributes without a Bling custom field: {names}")
    for tenant, why in sorted(result.not_written.items()):
        lines.append(f"tenant {tenant} not written: {why}")
    return lines
