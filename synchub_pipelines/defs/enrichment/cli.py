"""`synchub scrape …`: extract one page, collect sites, review matches and suggestions.

- `extract URL` / `extract --html FILE --url URL`: the canonical offer of one page (the
  scraper's command, through the pipeline's code).
- `run [--site S]`: the `enrichment_job` for one site or every site of the targets file,
  the same job the schedule starts, in the Dagster instance of DAGSTER_HOME.
- `matches [--status pending]`, `accept OFFER_URL SKU`, `reject OFFER_URL SKU`: a person's
  word on a match; the matcher never overrides it.
- `suggestions`, `accept-suggestion ID`, `reject-suggestion ID`: an accepted suggestion is
  written into the catalog file (SYNCHUB_CATALOG_FILE, CSV); Bling is not written to (its
  client has no product update).

Exit codes as `synchub`: 0 done, 1 failed, 2 refused (unknown offer, SKU or suggestion).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from synchub_pipelines import settings

CATALOG_FILE_VARIABLE = "SYNCHUB_CATALOG_FILE"


def register(subparsers: Any) -> None:
    """Add `scrape …` to the `synchub` command (`subparsers` of its parser)."""
    scrape = subparsers.add_parser(
        "scrape", help="competitor prices and catalog enrichment from product pages"
    )
    commands = scrape.add_subparsers(dest="scrape_command", required=True)

    from synchub_pipelines.scraping import cli as scraping_cli

    extract = commands.add_parser("extract", help="print the canonical offer of one page (JSON)")
    scraping_cli.add_extract_arguments(extract)
    extract.set_defaults(func=scraping_cli.run_extract)

    run = commands.add_parser(
        "run", help="collect a site (or every site) and recompute matches and price positions"
    )
    run.add_argument("--site", help="only this site of the targets file")
    run.add_argument(
        "--targets", type=Path, help="the targets file (default: SYNCHUB_SCRAPE_TARGETS)"
    )
    run.set_defaults(func=_run)

    matches = commands.add_parser("matches", help="list offer matches (default: pending)")
    matches.add_argument("--status", default="pending", help=_status_help(MATCH_STATUSES))
    matches.set_defaults(func=_matches)

    for name, status in (("accept", "accepted"), ("reject", "rejected")):
        decide = commands.add_parser(
            name, help=f"{name} that a competitor's page sells a SKU (wins over matching)"
        )
        decide.add_argument("offer_url")
        decide.add_argument("sku")
        decide.add_argument("--tenant", help="the SKU's tenant, when several have it")
        decide.add_argument("--by", help="who decides (default: the user name)")
        decide.set_defaults(func=_decide, status=status)

    suggestions = commands.add_parser("suggestions", help="list enrichment suggestions")
    suggestions.add_argument("--status", default="pending", help=_status_help(SUGGESTION_STATUSES))
    suggestions.add_argument("--sku", help="only this SKU")
    suggestions.set_defaults(func=_suggestions)

    accept = commands.add_parser(
        "accept-suggestion",
        help=f"write a suggestion into the catalog file ({CATALOG_FILE_VARIABLE}, CSV)",
    )
    accept.add_argument("suggestion_id")
    accept.add_argument(
        "--catalog-file", help=f"the CSV to write (default: {CATALOG_FILE_VARIABLE})"
    )
    accept.add_argument("--by", help="who decides (default: the user name)")
    accept.set_defaults(func=_accept_suggestion)

    reject = commands.add_parser("reject-suggestion", help="never propose this value again")
    reject.add_argument("suggestion_id")
    reject.add_argument("--by", help="who decides (default: the user name)")
    reject.set_defaults(func=_reject_suggestion)


def _engine() -> sa.Engine:
    from synchub_pipelines.warehouse.engine import engine_for
    from synchub_pipelines.warehouse.migrate import migrate

    engine = engine_for(settings.warehouse_url())
    migrate(engine)
    return engine


def _who(args: argparse.Namespace) -> str:
    if args.by:
        return str(args.by)
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


# One `--status` option for both lists (the CLI keeps one meaning per option name); each
# command checks the states its rows can be in.
MATCH_STATUSES = ("pending", "auto", "accepted", "rejected", "all")
SUGGESTION_STATUSES = ("pending", "accepted", "rejected", "all")


def _status_help(statuses: tuple[str, ...]) -> str:
    return "which rows: " + ", ".join(statuses) + " (default: pending)"


def _unknown_status(status: str, statuses: tuple[str, ...]) -> int | None:
    if status in statuses:
        return None
    return _refuse(f"--status {status!r} is not one of {', '.join(statuses)}")


def _refuse(message: str) -> int:
    print(f"synchub scrape: {message}", file=sys.stderr)
    return 2


# --- run -------------------------------------------------------------------------------------


def run_sites(sites: list[str] | None = None, say: Any = print) -> dict[str, bool]:
    """Run `enrichment_job` for these sites (default: every site of the targets file)."""
    import dagster as dg

    from synchub_pipelines.definitions import defs
    from synchub_pipelines.defs.enrichment.assets import sync_site_partitions
    from synchub_pipelines.scraping.targets import load_targets

    known = [t.site for t in load_targets()]
    chosen = sites or known
    unknown = [s for s in chosen if s not in known]
    if unknown:
        raise LookupError(
            f"site(s) {', '.join(unknown)} not in the targets file (sites: {', '.join(known)})"
        )
    from synchub_pipelines.dagster_home import prepare_dagster_home

    prepare_dagster_home()
    instance = dg.DagsterInstance.get()
    sync_site_partitions(instance, chosen)
    job = defs.resolve_job_def("enrichment_job")
    results = {}
    for site in chosen:
        result = job.execute_in_process(
            instance=instance,
            partition_key=site,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
        results[site] = result.success
        facts = _crawl_facts(result)
        checks = [
            f"{e.asset_check_evaluation_data.check_name}: "
            f"{'passed' if e.asset_check_evaluation_data.passed else 'FAILED'}"
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
            and e.asset_check_evaluation_data.check_name == "extraction_rate"
        ]
        say(
            f"{site}: {'ok' if result.success else 'FAILED'} "
            + ", ".join(f"{k} {v}" for k, v in facts.items())
            + (f" ({'; '.join(checks)})" if checks else "")
        )
    return results


def _crawl_facts(result: Any) -> dict[str, Any]:
    wanted = (
        "pages_fetched",
        "not_modified_304",
        "offers_extracted",
        "offer_rows_written",
        "quarantined",
        "blocked",
        "disallowed",
    )
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.to_user_string() == "scraped_pages":
            return {
                k: materialization.metadata[k].value
                for k in wanted
                if k in materialization.metadata
            }
    return {}


def _run(args: argparse.Namespace) -> int:
    if args.targets:
        os.environ["SYNCHUB_SCRAPE_TARGETS"] = str(args.targets)
    from synchub_pipelines.scraping.targets import TargetsError

    try:
        results = run_sites([args.site] if args.site else None)
    except (LookupError, TargetsError) as exc:
        return _refuse(str(exc))
    return 0 if all(results.values()) else 1


# --- matches ---------------------------------------------------------------------------------

MATCHES_SQL = (
    "SELECT m.tenant, m.site, m.url, m.sku, m.method, m.score, m.status, m.decided_by, "
    "o.title AS offer_title, o.price, o.currency, p.name AS sku_name "
    "FROM offer_matches m "
    "LEFT JOIN ({current}) o ON o.site = m.site AND o.url = m.url "
    "LEFT JOIN central_products p ON p.tenant = m.tenant AND p.sku = m.sku "
    "{where} ORDER BY m.status, m.site, m.url, m.score DESC, m.sku"
)


def list_matches(engine: sa.Engine, status: str = "pending") -> list[sa.Row[Any]]:
    from synchub_pipelines.defs.enrichment.store import CURRENT_OFFERS

    where = "" if status == "all" else "WHERE m.status = :status"
    sql = sa.text(MATCHES_SQL.format(current=CURRENT_OFFERS, where=where))
    with engine.connect() as conn:
        return list(conn.execute(sql, {"status": status}))


def _matches(args: argparse.Namespace) -> int:
    if (refused := _unknown_status(args.status, MATCH_STATUSES)) is not None:
        return refused
    rows = list_matches(_engine(), args.status)
    if not rows:
        print(f"no {args.status} match" if args.status != "all" else "no match yet")
        return 0
    for r in rows:
        print(
            f"{r.status:<8} {r.method:<6} {r.score:5.1f}  {r.tenant}/{r.sku}  {r.url}\n"
            f"         offer: {r.offer_title} ({r.currency} {r.price})\n"
            f"         sku:   {r.sku_name}"
        )
    if args.status == "pending":
        print(f"{len(rows)} pending: synchub scrape accept|reject OFFER_URL SKU")
    return 0


def _decide(args: argparse.Namespace) -> int:
    from synchub_pipelines.defs.enrichment.store import UnknownMatch, decide_match

    try:
        tenant, site = decide_match(
            _engine(),
            args.offer_url,
            args.sku,
            args.status,
            _who(args),
            datetime.now(UTC),
            tenant=args.tenant,
        )
    except UnknownMatch as exc:
        return _refuse(str(exc))
    print(f"{args.status}: {site} {args.offer_url} → {tenant}/{args.sku}")
    print("price positions follow on the next run (synchub scrape run, or the schedule)")
    return 0


# --- suggestions -----------------------------------------------------------------------------


def _suggestions(args: argparse.Namespace) -> int:
    if (refused := _unknown_status(args.status, SUGGESTION_STATUSES)) is not None:
        return refused
    sql = "SELECT * FROM enrichment_suggestions WHERE 1 = 1"
    params: dict[str, str] = {}
    if args.status != "all":
        sql += " AND status = :status"
        params["status"] = args.status
    if args.sku:
        sql += " AND sku = :sku"
        params["sku"] = args.sku
    with _engine().connect() as conn:
        rows = list(conn.execute(sa.text(sql + " ORDER BY tenant, sku, field, value"), params))
    if not rows:
        print("no suggestion")
        return 0
    for r in rows:
        value = r.value if len(r.value) <= 80 else r.value[:77] + "…"
        where = f"{r.tenant}/{r.sku}"
        print(f"{r.suggestion_id}  {r.status:<8} {where}  {r.field}: {value}  ({r.source_url})")
    print(f"{len(rows)} suggestion(s): synchub scrape accept-suggestion ID (or reject-suggestion)")
    return 0


def _load_suggestion(engine: sa.Engine, suggestion_id: str) -> sa.Row[Any] | None:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT * FROM enrichment_suggestions WHERE suggestion_id = :id"),
            {"id": suggestion_id},
        ).first()


def _set_status(engine: sa.Engine, row: sa.Row[Any], status: str, by: str) -> None:
    from synchub_pipelines.warehouse.schema_enrichment import enrichment_suggestions as t

    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            t.update()
            .where(t.c.tenant == row.tenant, t.c.suggestion_id == row.suggestion_id)
            .values(status=status, decided_by=by, decided_at=now, synced_at=now)
        )


def _accept_suggestion(args: argparse.Namespace) -> int:
    from synchub_pipelines.defs.catalog.source import source_from_env
    from synchub_pipelines.defs.enrichment.catalog_write import CatalogWriteError, write_suggestion

    engine = _engine()
    row = _load_suggestion(engine, args.suggestion_id)
    if row is None:
        return _refuse(f"no suggestion {args.suggestion_id} (see synchub scrape suggestions)")
    if row.status == "accepted":
        print(f"suggestion {row.suggestion_id} was already accepted")
        return 0
    if row.tenant != "default":
        return _refuse(
            f"suggestion {row.suggestion_id} is tenant {row.tenant}'s: write it in that "
            "tenant's catalog by hand (only the default tenant's catalog file is written)"
        )
    if (
        source_from_env(os.environ.get("SYNCHUB_CATALOG_SOURCE")) == "bling"
        and not args.catalog_file
    ):
        return _refuse(
            "the catalog of record is Bling, and the Bling client has no product update: "
            f"set the {row.field} of {row.sku} in Bling by hand ({row.value})"
        )
    configured = args.catalog_file or os.environ.get(CATALOG_FILE_VARIABLE, "").strip()
    if not configured:
        return _refuse(
            f"set {CATALOG_FILE_VARIABLE} (or --catalog-file) to your catalog CSV: accepted "
            "suggestions are written there (the demo catalog inside the package is not yours "
            "to edit)"
        )
    try:
        written = write_suggestion(Path(configured), row.sku, row.field, row.value)
    except CatalogWriteError as exc:
        return _refuse(str(exc))
    _set_status(engine, row, "accepted", _who(args))
    what = f"{row.sku} {written.column} = {written.after!r}"
    print(f"accepted {row.suggestion_id}: {what} in {written.path}")
    print("the catalog picks it up on its next refresh (central_products)")
    return 0


def _reject_suggestion(args: argparse.Namespace) -> int:
    engine = _engine()
    row = _load_suggestion(engine, args.suggestion_id)
    if row is None:
        return _refuse(f"no suggestion {args.suggestion_id} (see synchub scrape suggestions)")
    _set_status(engine, row, "rejected", _who(args))
    print(f"rejected {row.suggestion_id}: {row.sku} {row.field}")
    return 0
