"""`synchub webhooks serve`: the receiver under uvicorn."""

from __future__ import annotations

import argparse
import logging
from typing import Any

log = logging.getLogger(__name__)

APP_FACTORY = "synchub_pipelines.webhooks.app:create_served_app"


def register(subparsers: Any) -> None:
    """Add `webhooks serve` to the `synchub` command (`subparsers` of its parser)."""
    webhooks = subparsers.add_parser("webhooks", help="the marketplace notification receiver")
    commands = webhooks.add_subparsers(dest="webhooks_command", required=True)
    serve = commands.add_parser("serve", help="receive webhooks into the warehouse")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8790)
    serve.add_argument(
        "--workers", type=int, default=1, help="processes (each batches its own commits)"
    )
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    # Imported here: every `synchub` command builds this parser, few serve webhooks.
    import uvicorn

    from synchub_pipelines.warehouse.engine import redacted
    from synchub_pipelines.webhooks.config import ReceiverSettings

    settings = ReceiverSettings.from_env()  # a bad value fails here, before binding a port
    _prepare_warehouse(settings.warehouse_url)
    for name, verifier in settings.verifiers().items():
        missing = verifier.missing_settings
        state = f"not configured (503): set {', '.join(missing)}" if missing else "configured"
        print(f"  /webhooks/{name}: {state}", flush=True)
    print(
        f"webhook receiver on http://{args.host}:{args.port} → {redacted(settings.warehouse_url)}",
        flush=True,
    )
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=args.access_log,
        log_level="info" if args.access_log else "warning",
        # Marketplaces keep connections open between notifications.
        timeout_keep_alive=30,
    )
    return 0


def _prepare_warehouse(url: str) -> None:
    """Bring the schema up to date; a database that is down now is not fatal.

    The receiver answers 503 until the database is back (and the marketplaces retry), which
    is better than a receiver that refuses to start and answers nothing at all.
    """
    import sqlalchemy as sa

    from synchub_pipelines.warehouse.engine import engine_for
    from synchub_pipelines.warehouse.migrate import migrate

    try:
        migrate(engine_for(url))
    except sa.exc.OperationalError as exc:
        log.warning("warehouse not reachable at start-up; answering 503 until it is: %s", exc)
        print("warning: warehouse not reachable yet; webhooks get 503 until it is", flush=True)
