"""The `synchub` command: demo, sandbox, connecting accounts, warehouse chores.

Exit codes: 0 done; 1 failed (the message says why, naming the database or API host it was
about, never a password); 2 refused: an unknown store, listing, variation or SKU, a malformed
setting or a missing option, and no row was written.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from synchub_pipelines import settings
from synchub_pipelines.dashboard import cli as dashboard_cli
from synchub_pipelines.defs.enrichment import cli as scrape_cli
from synchub_pipelines.defs.normalization import cli as categories_cli
from synchub_pipelines.defs.publishing import cli as publish_cli
from synchub_pipelines.warehouse import dictionary_cli
from synchub_pipelines.warehouse.engine import (
    describe_database_error as describe_database_error,
)
from synchub_pipelines.warehouse.engine import scrub as scrub
from synchub_pipelines.warehouse.engine import warehouse_target as warehouse_target
from synchub_pipelines.webhooks import cli as webhooks_cli

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from synchub_pipelines.marketplaces.tokens import TokenStore

WAREHOUSE_VARIABLE = "SYNCHUB_WAREHOUSE_URL"
# Commands that open the warehouse: its URL is checked before any of them starts, so that a
# malformed one is refused with the variable's name instead of a parser's message.
WAREHOUSE_COMMANDS = frozenset({"connect", "stores", "migrate", "link", "categories", "webhooks"})
# The same words in every subcommand that has them (one place, so they cannot drift apart).
WEBHOOK_DROP_HELP = "share of webhooks never sent (0-1)"
WEBHOOK_DUPLICATES_HELP = "share of webhooks sent twice (0-1)"
SALES_PER_MINUTE_HELP = "random sales a minute (0: none)"


class Refused(Exception):
    """Input the command will not act on: exit code 2, no row written."""


def _cmd_demo(args: argparse.Namespace) -> int:
    from synchub_pipelines.demo.run import run_demo

    run_demo(size=args.size, seed=args.seed)
    return 0


def _cmd_live(args: argparse.Namespace) -> int:
    from synchub_pipelines.demo.live import run_live

    return run_live(args.sales_per_minute, args.webhook_drop, args.webhook_duplicates, args.port)


def _cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from synchub_pipelines.sandbox.infra import Faults
    from synchub_pipelines.sandbox.live import LiveSettings
    from synchub_pipelines.sandbox.server import SandboxConfig, serve_forever
    from synchub_pipelines.sandbox.webhooks import WebhookSettings

    limits = {}
    for item in args.rate_limit or []:
        name, _, value = item.partition("=")
        limits[name] = float(value)
    sellers = None
    if args.marketplaces:
        from synchub_pipelines.sandbox.world import default_sellers

        wanted = set(args.marketplaces.split(","))
        sellers = [s for s in default_sellers() if s.marketplace in wanted]
        if args.one_account:
            sellers = [
                s
                for i, s in enumerate(sellers)
                if s.marketplace not in {x.marketplace for x in sellers[:i]}
            ]
    config = SandboxConfig(
        seed=args.seed,
        size=args.size,
        sellers=sellers,
        faults=Faults(
            rate_429=args.rate_429,
            rate_5xx=args.rate_5xx,
            slow_rate=args.slow_rate,
            slow_seconds=args.slow_seconds,
        ),
        rate_limits=limits,
        prewarm=args.prewarm,
        webhooks=WebhookSettings(
            url=args.webhook_url,
            drop_share=args.webhook_drop,
            duplicate_share=args.webhook_duplicates,
            seed=args.seed,
        ),
        live=LiveSettings(rate_per_minute=args.sales_per_minute, seed=args.seed),
    )
    print(f"sandbox on http://{args.host}:{args.port}/<marketplace> (size {args.size})", flush=True)
    serve_forever(config, args.host, args.port)
    return 0


def _cmd_sandbox_catalog(args: argparse.Namespace) -> int:
    import csv

    from synchub_pipelines.sandbox.world import World

    rows = World(seed=args.seed, size=args.size).catalog_rows()
    with open(args.out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} SKUs to {args.out}")
    return 0


def _cmd_sandbox_shops(args: argparse.Namespace) -> int:
    from datetime import date

    from synchub_pipelines.sandbox.shops import SITES, ShopsConfig, serve_forever

    ports = {site: args.port + n for n, site in enumerate(SITES)} if args.port else {}
    config = ShopsConfig(
        seed=args.seed,
        host=args.host,
        ports=ports,
        today=date.fromisoformat(args.date) if args.date else None,
    )
    serve_forever(config, args.write_targets)
    return 0


def _cmd_connect(args: argparse.Namespace) -> int:
    import getpass
    import os

    from pydantic import SecretStr

    from synchub_pipelines import connect
    from synchub_pipelines.defs.stores.tenants import DEFAULT_TENANT
    from synchub_pipelines.warehouse.credentials import SqlTokenStore
    from synchub_pipelines.warehouse.engine import engine_for
    from synchub_pipelines.warehouse.migrate import migrate

    # Missing options are refused before the warehouse is opened (nothing written).
    if args.tenant is not None:
        _check_tenant(args.tenant)
    if args.marketplace == "amazon" and not args.seller_id:
        raise Refused("--seller-id (the selling partner id) is required for Amazon")
    if args.marketplace == "shopee" and args.code and not args.shop_id:
        raise Refused("--shop-id (from the redirect) is required for Shopee")
    apis = connect.marketplaces_from_env()
    engine = engine_for(settings.warehouse_url())
    migrate(engine)
    tokens = SqlTokenStore(engine, settings.secret_key())
    if args.marketplace == "bling":
        return _connect_bling(args, tokens)
    if args.marketplace == "amazon":
        # A private app's refresh token comes from Seller Central; never take it as an
        # argument (shell history, process list).
        secret = os.environ.get("SYNCHUB_AMAZON_REFRESH_TOKEN") or getpass.getpass(
            "Seller Central refresh token (Atzr|…): "
        )
        store = connect.connect_amazon(
            apis.amazon.app(), args.seller_id, SecretStr(secret), engine, tokens, args.tenant
        )
    else:
        app = getattr(apis, args.marketplace).app()
        if not args.code:
            url, state = app.authorization_url()
            print("1. Open this URL as the seller and grant access:\n")
            print(f"   {url}\n")
            print(f"2. Check that the redirect's state is {state}, then run:\n")
            shop = " --shop-id <its shop_id>" if args.marketplace == "shopee" else ""
            print(f"   synchub connect {args.marketplace} --code <the code of the redirect>{shop}")
            return 0
        if args.marketplace == "shopee":
            store = connect.connect_shopee(
                app, args.code, args.shop_id, engine, tokens, args.tenant
            )
        elif args.marketplace == "tiktok":
            store = connect.connect_tiktok(
                app, args.code, engine, tokens, args.tenant, args.shop_id
            )
        else:
            store = connect.connect_mercadolivre(app, args.code, engine, tokens, args.tenant)
    tenant = "" if store.tenant == DEFAULT_TENANT else f", tenant {store.tenant}"
    print(
        f"connected {store.store_id} ({store.name}{tenant}); the stores sensor adds its partition"
    )
    return 0


def _check_tenant(name: str) -> None:
    """Refuse a tenant the configuration does not define (or a tenants file that is wrong)."""
    from synchub_pipelines.defs.stores.tenants import (
        TenantsFileError,
        UnknownTenant,
        require_tenant,
    )

    try:
        require_tenant(name)
    except (UnknownTenant, TenantsFileError) as exc:
        raise Refused(str(exc.args[0] if exc.args else exc)) from None


def _bling_account(tenant: str | None, default: str) -> str:
    """The Bling account a tenant's catalog or stock uses: `default` for the default tenant."""
    from synchub_pipelines.defs.stores.tenants import file_tenant

    chosen = file_tenant(tenant) if tenant else None
    if chosen is None:
        return default
    if not chosen.bling_account:
        raise Refused(f"tenant {tenant} has no bling_account in the tenants file")
    return chosen.bling_account


def _connect_bling(args: argparse.Namespace, tokens: TokenStore) -> int:
    from synchub_pipelines.connect import connect_bling
    from synchub_pipelines.defs.marketplaces import BlingResource

    resource = BlingResource.from_environment(resolve=True)
    account = _bling_account(args.tenant, resource.account_id)
    app = resource.app()
    if not args.code:
        url, state = app.authorization_url()
        print("1. Open this URL as the Bling company's admin and authorize the app:\n")
        print(f"   {url}\n")
        print(f"2. Check that the redirect's state is {state}, then run:\n")
        tenant = f" --tenant {args.tenant}" if args.tenant else ""
        print(f"   synchub connect bling --code <the code of the redirect>{tenant}")
        if account == resource.account_id:
            print("\nThen set SYNCHUB_CATALOG_SOURCE=bling to take the catalog from Bling.")
        return 0
    deposits = connect_bling(app, args.code, tokens, account)
    names = ", ".join(f"{d.descricao} ({d.id})" for d in deposits) or "none"
    print(f"connected Bling account {account!r}; deposits: {names}")
    return 0


STORES_HEADER = ("store_id", "marketplace", "name", "status", "timezone", "tenant")


def _cmd_stores(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from synchub_pipelines.warehouse.schema import stores

    engine = _migrated_engine()
    columns = [stores.c[name] for name in STORES_HEADER]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*columns).order_by(stores.c.store_id)).all()
    # Tab-separated under a header named like the table's columns: readable, and `cut -f`
    # or a spreadsheet take it as it is.
    print("\t".join(STORES_HEADER))
    for row in rows:
        print("\t".join(_cell(value) for value in row))
    if not rows:
        print("no store is connected yet: synchub connect <marketplace>", file=sys.stderr)
    return 0


def _cell(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _cmd_migrate(args: argparse.Namespace) -> int:
    from synchub_pipelines.warehouse.engine import engine_for, redacted
    from synchub_pipelines.warehouse.migrate import migrate

    url = settings.warehouse_url()
    print(f"{redacted(url)} at schema revision {migrate(engine_for(url))}")
    return 0


def _cmd_link(args: argparse.Namespace) -> int:
    from synchub_pipelines.warehouse.links import set_manual_link

    engine = _migrated_engine()
    problem = link_target_problem(engine, args.store_id, args.listing_id, args.variation_id)
    if problem:
        raise Refused(f"{problem}; nothing written")
    try:
        set_manual_link(engine, args.store_id, args.listing_id, args.variation_id, args.sku)
    except LookupError as exc:  # the SKU is not in the central catalog
        raise Refused(f"{exc}; nothing written") from None
    variation = args.variation_id or "—"
    print(f"{args.store_id} {args.listing_id} {variation} → {args.sku} (manual)")
    return 0


def link_target_problem(
    engine: Engine, store_id: str, listing_id: str, variation_id: str
) -> str | None:
    """Why a manual link cannot name this listing variation, or None when it can.

    A manual link wins over matching forever, so a typo would bind nothing real and hide
    the listing's true state: the store, the listing and the variation must all exist.
    """
    import sqlalchemy as sa

    from synchub_pipelines.warehouse.schema import listings, stores

    with engine.connect() as conn:
        store = conn.execute(
            sa.select(stores.c.store_id).where(stores.c.store_id == store_id)
        ).first()
        if store is None:
            return f"unknown store {store_id!r} (`synchub stores` lists the connected ones)"
        variations = list(
            conn.execute(
                sa.select(listings.c.variation_id)
                .where(listings.c.store_id == store_id, listings.c.listing_id == listing_id)
                .order_by(listings.c.variation_id)
            ).scalars()
        )
    if not variations:
        return (
            f"store {store_id} has no listing {listing_id!r} in the warehouse "
            "(materialize `listings` for the store if the listing is new)"
        )
    if variation_id in variations:
        return None
    named = [v for v in variations if v]
    if not named:
        return f"listing {listing_id} of {store_id} has no variations: leave out --variation-id"
    if not variation_id:
        return (
            f"listing {listing_id} of {store_id} has variations ({_few(named)}): "
            "give --variation-id"
        )
    return (
        f"listing {listing_id} of {store_id} has no variation {variation_id!r} "
        f"(it has {_few(named)})"
    )


def _few(values: list[str], shown: int = 10) -> str:
    head = ", ".join(values[:shown])
    return head if len(values) <= shown else f"{head} and {len(values) - shown} more"


def _migrated_engine() -> Engine:
    from synchub_pipelines.warehouse.engine import engine_for
    from synchub_pipelines.warehouse.migrate import migrate

    engine = engine_for(settings.warehouse_url())
    migrate(engine)
    return engine


# Driver errors: the warehouse's host and port (or SQLite path), never its password.

_BAD_PORT = re.compile(r"invalid literal for int\(\) with base 10: (.+)")


def checked_warehouse_url() -> str:
    """SYNCHUB_WAREHOUSE_URL (or the default), refused with the variable's name if unusable."""
    from synchub_pipelines.warehouse.engine import normalize_url

    url = settings.warehouse_url()
    try:
        normalize_url(url)
    except Exception as exc:  # sqlalchemy's ArgumentError, or ValueError for a bad port
        reason = str(exc)
        bad_port = _BAD_PORT.search(reason)
        if bad_port:
            reason = f"its port {bad_port.group(1)} is not a number"
        if "supported are" not in reason:
            reason += (
                " (expected postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"
                " or sqlite:///PATH)"
            )
        raise Refused(
            f"{WAREHOUSE_VARIABLE} is not a usable warehouse URL: {scrub(reason, url)}"
        ) from None
    return url


def describe_error(exc: BaseException) -> str:
    import sqlalchemy as sa

    url = settings.warehouse_url()
    if isinstance(exc, sa.exc.DBAPIError):
        return describe_database_error(exc, url)
    return scrub(str(exc) or type(exc).__name__, url)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synchub", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the whole pipeline against the sandbox")
    demo.add_argument("--size", default="demo", choices=["tiny", "demo", "large"])
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=_cmd_demo)

    live = commands.add_parser(
        "live", help="sandbox sales → webhooks → receiver → sensors, in the Dagster UI"
    )
    live.add_argument("--sales-per-minute", type=float, default=30.0, help=SALES_PER_MINUTE_HELP)
    live.add_argument("--webhook-drop", type=float, default=0.0, help=WEBHOOK_DROP_HELP)
    live.add_argument("--webhook-duplicates", type=float, default=0.1, help=WEBHOOK_DUPLICATES_HELP)
    live.add_argument("--port", type=int, default=3000, help="the Dagster UI's port")
    live.set_defaults(func=_cmd_live)

    sandbox = commands.add_parser("sandbox", help="the marketplace API simulators")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    serve = sandbox_commands.add_parser("serve", help="serve every simulator on one port")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8788)
    serve.add_argument("--size", default="demo", choices=["tiny", "demo", "large"])
    serve.add_argument("--seed", type=int, default=7)
    serve.add_argument(
        "--marketplaces", help="comma-separated: only these marketplaces' sellers (default: all)"
    )
    serve.add_argument(
        "--one-account", action="store_true", help="one seller per marketplace (benchmarks)"
    )
    serve.add_argument(
        "--prewarm", action="store_true", help="pre-render responses before serving (benchmarks)"
    )
    serve.add_argument("--rate-429", type=float, default=0.0, help="share of requests answered 429")
    serve.add_argument("--rate-5xx", type=float, default=0.0, help="share answered 5xx")
    serve.add_argument("--slow-rate", type=float, default=0.0, help="share answered slowly")
    serve.add_argument("--slow-seconds", type=float, default=0.5)
    serve.add_argument(
        "--rate-limit",
        action="append",
        metavar="NAME=PER_SECOND",
        help="override a simulator quota, e.g. mercadolivre=1000",
    )
    serve.add_argument("--webhook-url", help="receiver base URL: POST {url}/webhooks/<marketplace>")
    serve.add_argument("--webhook-drop", type=float, default=0.0, help=WEBHOOK_DROP_HELP)
    serve.add_argument(
        "--webhook-duplicates", type=float, default=0.0, help=WEBHOOK_DUPLICATES_HELP
    )
    serve.add_argument("--sales-per-minute", type=float, default=0.0, help=SALES_PER_MINUTE_HELP)
    # The earlier name of --sales-per-minute (`synchub live` always said it this way).
    serve.add_argument(
        "--live-rate",
        type=float,
        dest="sales_per_minute",
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )
    serve.set_defaults(func=_cmd_sandbox_serve)
    catalog = sandbox_commands.add_parser("catalog", help="write the sandbox world's catalog CSV")
    catalog.add_argument("--out", required=True)
    catalog.add_argument("--size", default="demo", choices=["tiny", "demo", "large"])
    catalog.add_argument("--seed", type=int, default=7)
    catalog.set_defaults(func=_cmd_sandbox_catalog)
    shops = sandbox_commands.add_parser(
        "shops", help="serve the five sandbox shops the scraper crawls, one port each"
    )
    shops.add_argument("--host", default="127.0.0.1")
    shops.add_argument(
        "--port", type=int, default=0, help="first port (shops take PORT…PORT+4; 0: any free)"
    )
    shops.add_argument("--seed", type=int, default=7)
    shops.add_argument("--date", help="the shops' today, YYYY-MM-DD (prices follow it)")
    shops.add_argument(
        "--write-targets",
        type=Path,
        metavar="FILE",
        help="write a scrape-targets TOML for these shops' ports to FILE",
    )
    shops.set_defaults(func=_cmd_sandbox_shops)

    connect = commands.add_parser("connect", help="connect a marketplace account (OAuth)")
    connect.add_argument(
        "marketplace", choices=["mercadolivre", "tiktok", "shopee", "amazon", "bling"]
    )
    connect.add_argument("--code", help="the authorization code from the redirect")
    connect.add_argument(
        "--shop-id", help="Shopee: the redirect's shop_id; TikTok: the shop, if several"
    )
    connect.add_argument("--seller-id", help="Amazon: the selling partner id")
    connect.add_argument(
        "--tenant",
        help="the merchant the store belongs to: `default` or a tenant of SYNCHUB_TENANTS_FILE "
        "(default: a reconnected store keeps its tenant, a new one goes to `default`); "
        "with bling: whose Bling account to connect",
    )
    connect.set_defaults(func=_cmd_connect)

    commands.add_parser("stores", help="list connected stores").set_defaults(func=_cmd_stores)
    commands.add_parser("migrate", help="upgrade the warehouse schema").set_defaults(
        func=_cmd_migrate
    )

    link = commands.add_parser("link", help="bind a listing to a SKU by hand (wins over matching)")
    link.add_argument("store_id")
    link.add_argument("listing_id")
    link.add_argument("sku")
    link.add_argument(
        "--variation-id", default="", help="the listing's variation, if it has variations"
    )
    # The earlier name of --variation-id (ids are `--<thing>-id` everywhere else).
    link.add_argument(
        "--variation", dest="variation_id", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    link.set_defaults(func=_cmd_link)
    categories_cli.register(commands)
    webhooks_cli.register(commands)
    dictionary_cli.register(commands)
    dashboard_cli.register(commands)
    publish_cli.register(commands)
    scrape_cli.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command in WAREHOUSE_COMMANDS:
            checked_warehouse_url()
        return int(args.func(args))
    except Refused as exc:
        print(f"synchub {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # one readable line for people; -v shows the traceback
        if args.verbose:
            raise
        print(f"synchub {args.command}: {describe_error(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
