"""The webhook receiver: an ASGI app (Starlette) that turns notifications into rows.

Routes: `POST /webhooks/{mercadolivre,shopee,tiktok,bling}` and `GET /healthz`.

Each notification goes through, in this order:

1. the body fits in SYNCHUB_WEBHOOK_MAX_BODY_BYTES, else **413**: judged on the declared
   Content-Length before a byte of the body is read, else counted while reading, so a
   huge body is never held in memory. It comes first, before the configuration check,
   because it is the only check that needs nothing but the headers; uvicorn discards
   the unread rest of the body and keeps the connection, so the sender reads the 413
   instead of a reset;
2. the marketplace is configured (its secret is set), else **503** naming the variable —
   the fault is ours, not the sender's, and a 401 would read as "forged";
3. the marketplace's own check (`verify.py`): **401** for a missing or wrong signature
   (Mercado Livre: a foreign `application_id`), **400** for malformed or too deeply
   nested JSON, a missing field, or an id, topic or resource outside its documented
   limits;
4. the store is known (an active row in `stores`; Bling is the ERP account and needs none);
5. the row is committed (`store.EventWriter`, group commit), and only then **200** with an
   empty body (what Shopee requires). A duplicate event id is stored once and also gets
   200: the sender did its job, and a 4xx would make it retry or count a failure.
   If the database cannot take the write: **503** with Retry-After, so the marketplace
   retries and nothing is lost. If it refuses this event's values (verify.py's limits
   exist so that it never does): **400**, and only this event — its batch peers are
   stored.

An unknown store gets **202 and is quarantined** (state `quarantined`, `last_error` saying
why), not 404. Marketplaces start notifying the moment a seller grants access, which is
before `synchub connect` has written the store's row; they retry a 404 for a while (Mercado
Livre about an hour) and then drop it, and Shopee disables a callback whose success rate
falls under 30 %. Quarantine keeps those events, and `store.release_quarantined` turns them
into pending ones when the store connects. A quarantined row is never `pending`, so the
sensors never act on it. The cost: Mercado Livre signs nothing, so anyone who knows our
(public) application id can add quarantined rows; each is bounded by the body limit,
stored once per event id, and visible to an operator by store id.

The receiver never calls a marketplace API and imports no Dagster: the answer waits for
one database commit and nothing else. Secrets never reach logs or answers.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from synchub_pipelines.webhooks.config import MARKETPLACES, ReceiverSettings
from synchub_pipelines.webhooks.store import (
    EventRow,
    EventWriter,
    KnownStores,
    RowRefused,
    StorageUnavailable,
    load_active_store_ids,
    ping,
    receiver_engine,
)
from synchub_pipelines.webhooks.verify import Rejected

log = logging.getLogger(__name__)

# Marketplaces whose events need no row in `stores` (see verify.Bling).
STORELESS = frozenset({"bling"})
RETRY_AFTER_SECONDS = "5"

Endpoint = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


# More digits than this is over any limit; int() of a 5,000-digit string would raise.
_MAX_LENGTH_DIGITS = 18


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        digits = declared.strip()
        if not (digits.isascii() and digits.isdigit()):
            raise Rejected(400, "Content-Length is not a number")
        if len(digits) > _MAX_LENGTH_DIGITS or int(digits) > limit:
            raise Rejected(413, f"body of {digits[:20]} bytes is over the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class Receiver:
    """The app's state: verifiers, the event writer and the known-stores cache."""

    def __init__(self, settings: ReceiverSettings) -> None:
        self.settings = settings
        self.verifiers = settings.verifiers()
        self._engine = receiver_engine(settings.warehouse_url, settings.db_timeout_seconds)
        self._writer = EventWriter(
            self._engine, max_batch=settings.max_batch, timeout_seconds=settings.db_timeout_seconds
        )
        self._stores = KnownStores(lambda: load_active_store_ids(self._engine))

    async def start(self) -> None:
        await self._writer.start()

    async def stop(self) -> None:
        await self._stores.close()
        await self._writer.stop()
        self._engine.dispose()

    def endpoint(self, marketplace: str) -> Endpoint:
        verifier = self.verifiers[marketplace]
        missing = verifier.missing_settings
        unconfigured = (
            f"{marketplace} webhooks are not configured: set {', '.join(missing)}"
            if missing
            else None
        )
        limit = self.settings.max_body_bytes

        async def receive(request: Request) -> Response:
            try:
                body = await _read_body(request, limit)
                if unconfigured is not None:
                    return _error(503, unconfigured)
                notification = verifier.verify(request.headers, body)
            except Rejected as rejected:
                log.info("%s webhook rejected (%d): %s", marketplace, rejected.status, rejected)
                return _error(rejected.status, rejected.message)
            except ClientDisconnect:
                # Gone before the body ended: nothing to store, and no one to answer.
                return Response(status_code=400)
            try:
                if marketplace in STORELESS or await self._stores.contains(notification.store_id):
                    row = EventRow(notification, datetime.now(UTC))
                    status = 200
                else:
                    row = EventRow(
                        notification,
                        datetime.now(UTC),
                        state="quarantined",
                        reason=f"store {notification.store_id} is not a connected, active store",
                    )
                    status = 202
                await self._writer.write(row)
            except StorageUnavailable:
                return _error(
                    503,
                    "the event could not be stored; retry later",
                    {"Retry-After": RETRY_AFTER_SECONDS},
                )
            except RowRefused as refused:
                # A retry would be refused the same way: a 5xx would have the sender
                # repeat it until it gives up.
                return _error(400, f"the warehouse cannot store this event: {refused}")
            except Exception:
                log.exception("%s webhook not stored", marketplace)
                return _error(500, "the event could not be stored; retry later")
            return Response(status_code=status)

        receive.__name__ = f"receive_{marketplace}"
        return receive

    async def healthz(self, request: Request) -> Response:
        marketplaces = {
            name: "configured" if not verifier.missing_settings else "not configured"
            for name, verifier in self.verifiers.items()
        }
        try:
            await run_in_threadpool(ping, self._engine)
        except StorageUnavailable as exc:
            log.warning("health check: warehouse unreachable: %s", exc)
            return JSONResponse(
                {"status": "unavailable", "warehouse": "unreachable", "marketplaces": marketplaces},
                status_code=503,
            )
        return JSONResponse({"status": "ok", "warehouse": "ok", "marketplaces": marketplaces})


def create_app(settings: ReceiverSettings | None = None, freeze_gc: bool = False) -> Starlette:
    """The ASGI app; settings default to the environment.

    `freeze_gc` (for a process that serves only this app): once started, move every object
    alive then — modules, engine, settings — out of the garbage collector's reach. A full
    collection then scans only what requests create; without it, each one walks the whole
    import graph and stalls every request in flight for tens of milliseconds.
    """
    receiver = Receiver(settings or ReceiverSettings.from_env())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await receiver.start()
        if freeze_gc:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await receiver.stop()

    routes = [
        Route(f"/webhooks/{name}", receiver.endpoint(name), methods=["POST"])
        for name in MARKETPLACES
    ]
    routes.append(Route("/healthz", receiver.healthz, methods=["GET"]))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.receiver = receiver
    return app


def create_served_app() -> Starlette:
    """What `synchub webhooks serve` runs (uvicorn `--factory`): settings from the environment."""
    return create_app(freeze_gc=True)
