"""The sandbox's outbound webhooks: a marketplace notification for every order change.

When an order of the sandbox World appears or changes status (a sale through
`/_sandbox/sales` or the live generator, an operator's `/_sandbox/orders/…/status`, or a
generated order whose planned step the clock reaches), the sandbox POSTs what that
marketplace would send to `{url}/webhooks/<marketplace>`:

- Mercado Livre: an unsigned `orders_v2` notice `{_id, resource:"/orders/<id>", user_id,
  topic, application_id, attempts, sent, received}`; a retry carries the same `_id` with
  `attempts` counted up, as ML's own retries do. When an order ships or is delivered, a
  `shipments` notice for `/shipments/<id>` follows it; a question asked or answered at
  runtime (`/_sandbox/questions`, `POST /answers`) sends a `questions` notice for
  `/questions/<id>`.
- Shopee: push code 3 `{shop_id, code, timestamp, data{ordersn, status, update_time}}`,
  `Authorization: hex HMAC-SHA256(partner_key, callback_url + "|" + body)` where the
  callback URL is exactly the URL posted to.
- TikTok Shop: type 1 `{type, tts_notification_id, shop_id, timestamp, data{order_id,
  order_status, is_on_hold_order, update_time}}`, `Authorization: hex HMAC-SHA256(
  app_secret, app_key + body)`.
- Bling: `{eventId, date, version, event:"order.created"|"order.updated", companyId,
  data{id, numero, numeroLoja, …}}` for every marketplace's order (the ERP imports them
  all), `X-Bling-Signature-256: sha256=<hex HMAC-SHA256(client_secret, body)>`.

Amazon pushes no HTTP webhooks (SP-API notifications go to SQS or EventBridge), so the
sandbox sends none for Amazon orders: the pipeline finds them by polling and
reconciliation. Their Bling `order.*` events are still sent.

Signing is written here on its own, from each marketplace's documented algorithm; the
receiver's verifiers are never imported, so a mistake on one side cannot cancel out.

Delivery behaves like the marketplaces': a non-2xx answer or a network error is retried
with exponential backoff a few times, then the notification is given up (`failed`). The
knobs make the failures a receiver must survive: a share of notifications is never sent
(`drop_share`), a share is sent `duplicate_copies` extra times at once (identical bytes,
concurrently), and every notification can wait `delay_seconds` (+ jitter) first. Every
decision is drawn from a generator seeded by the seed and the event's id, so a run is
reproducible whatever the thread timing.

The sender runs on its own thread and event loop: recording a change only queues it, and
no API request of the sandbox ever waits for a receiver.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import heapq
import hmac
import itertools
import json
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from synchub_pipelines.sandbox import bling as bling_sandbox
from synchub_pipelines.sandbox import mercadolivre as ml_sandbox
from synchub_pipelines.sandbox import shopee as shopee_sandbox
from synchub_pipelines.sandbox import tiktok as tiktok_sandbox
from synchub_pipelines.sandbox.bling_render import pedido_summary
from synchub_pipelines.sandbox.mercadolivre_render import shipment_id as ml_shipment_id
from synchub_pipelines.sandbox.shopee_render import (
    SHOPEE_STATUS,
    order_sn,
    packages_of,
    tracking_number,
)
from synchub_pipelines.sandbox.tiktok_render import OrderSteps, order_id
from synchub_pipelines.sandbox.world import Order, OrderChange, Seller

if TYPE_CHECKING:
    from synchub_pipelines.sandbox.server import Sandbox

# Marketplaces that push HTTP notifications (Amazon does not: see the module docstring).
PUSHING = ("mercadolivre", "shopee", "tiktok", "bling")
# How often the timeline follower looks for generated steps the clock has reached.
FOLLOW_INTERVAL_SECONDS = 0.5
# POSTs in flight at once; more wait, so a storm of changes cannot exhaust sockets.
MAX_IN_FLIGHT = 16
RECENT_KEPT = 2000


class WebhookSettings(BaseModel):
    """Where notifications go and how unreliable their delivery is (all runtime-changeable)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    url: str | None = Field(
        default=None, description="receiver base URL; None sends nothing (the default)"
    )
    drop_share: float = Field(default=0.0, ge=0.0, le=1.0)
    duplicate_share: float = Field(default=0.0, ge=0.0, le=1.0)
    duplicate_copies: int = Field(default=1, ge=1, le=50)
    delay_seconds: float = Field(default=0.0, ge=0.0, le=3600.0)
    delay_jitter_seconds: float = Field(default=0.0, ge=0.0, le=3600.0)
    max_attempts: int = Field(default=4, ge=1, le=20)
    retry_base_seconds: float = Field(default=1.0, ge=0.0, le=600.0)
    timeout_seconds: float = Field(default=5.0, gt=0.0, le=120.0)
    seed: int = 7
    marketplaces: tuple[str, ...] = PUSHING
    follow_timelines: bool = Field(
        default=True,
        description="also notify generated orders' planned steps as the clock reaches them",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("marketplaces")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(PUSHING))
        if unknown:
            raise ValueError(f"no webhooks for {unknown}; marketplaces that push: {PUSHING}")
        return value


@dataclass
class Counters:
    notifications: int = 0  # notifications produced by order changes
    sent: int = 0  # notifications delivered (a 2xx, after retries if any)
    dropped: int = 0  # never sent, on purpose (drop_share)
    duplicated: int = 0  # extra identical copies delivered
    retried: int = 0  # attempts after a non-2xx answer or a network error
    failed: int = 0  # notifications (or copies) given up after max_attempts
    in_flight: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Outgoing:
    """One notification, ready to sign and send."""

    marketplace: str
    event_id: str  # what the receiver dedupes on (Shopee: the body's digest)
    store_id: str
    resource_id: str
    status: str  # the World status the order moved to
    changed_at: datetime  # sandbox clock time of the change
    render: Callable[[int, datetime], bytes]  # (attempt, sent at) -> body
    # The change, independent of clock time: seeds the drop / duplicate / delay draws.
    change_key: str = ""


def _iso_millis(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _hex_hmac(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def sign(marketplace: str, target: str, body: bytes) -> dict[str, str]:
    """The headers `marketplace` sends with `body` posted to `target`."""
    headers = {"Content-Type": "application/json"}
    if marketplace == "shopee":
        message = target.encode() + b"|" + body
        headers["Authorization"] = _hex_hmac(shopee_sandbox.PARTNER_KEY, message)
    elif marketplace == "tiktok":
        message = tiktok_sandbox.APP_KEY.encode() + body
        headers["Authorization"] = _hex_hmac(tiktok_sandbox.APP_SECRET, message)
    elif marketplace == "bling":
        signature = _hex_hmac(bling_sandbox.CLIENT_SECRET, body)
        headers["X-Bling-Signature-256"] = f"sha256={signature}"
    return headers


def bling_company_id(seed: int) -> str:
    """The sandbox Bling account's companyId (32 hex characters, like Bling's)."""
    return hashlib.sha256(f"{seed}:bling-company".encode()).hexdigest()[:32]


def _same_bytes(body: bytes) -> Callable[[int, datetime], bytes]:
    """A render that sends the same bytes on every attempt (Shopee's pushes carry no id)."""
    return lambda attempt, sent: body


class Notifier:
    """Turns World order changes into each marketplace's notification."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.seed = sandbox.config.seed
        self.company_id = bling_company_id(self.seed)

    def _digest(self, *parts: object) -> bytes:
        return hashlib.sha256(":".join(map(str, (self.seed, *parts))).encode()).digest()

    def outgoing(self, change: OrderChange, marketplaces: tuple[str, ...]) -> list[Outgoing]:
        order = change.order
        key = f"{order.order_number}:{change.step}:{change.status}"
        return [
            dataclasses.replace(o, change_key=f"{o.marketplace}:{o.change_key}{key}")
            for o in self._outgoing(change, marketplaces)
        ]

    def _outgoing(self, change: OrderChange, marketplaces: tuple[str, ...]) -> list[Outgoing]:
        order = change.order
        found: list[Outgoing] = []
        own = order.seller.marketplace
        if own in marketplaces:
            build = {
                "mercadolivre": self._mercadolivre,
                "shopee": self._shopee,
                "tiktok": self._tiktok,
            }.get(own)
            if build is not None:
                found.append(build(change))
            if own == "mercadolivre" and change.status in {"shipped", "delivered"}:
                found.append(self._mercadolivre_shipment(change))
            if own == "shopee" and change.status == "shipped":
                found.extend(self._shopee_tracking(change))
        if "bling" in marketplaces and "bling" in self.sandbox.simulators:
            bling = self._bling(change)
            if bling is not None:
                found.append(bling)
        return found

    def _mercadolivre(self, change: OrderChange) -> Outgoing:
        order = change.order
        return self._ml_notice(
            "orders_v2",
            f"/orders/{order.order_number}",
            order.seller,
            str(order.order_number),
            change.status,
            change.at,
            (order.order_number, change.step, change.status),
        )

    def _mercadolivre_shipment(self, change: OrderChange) -> Outgoing:
        order = change.order
        shipment = ml_shipment_id(order.order_number)
        notice = self._ml_notice(
            "shipments",
            f"/shipments/{shipment}",
            order.seller,
            str(shipment),
            change.status,
            change.at,
            ("shipments", order.order_number, change.step, change.status),
        )
        return dataclasses.replace(notice, change_key="shipments:")

    def mercadolivre_question(
        self, question_id: int, seller: Seller, event: str, at: datetime
    ) -> Outgoing:
        notice = self._ml_notice(
            "questions",
            f"/questions/{question_id}",
            seller,
            str(question_id),
            event,
            at,
            ("questions", question_id, event),
        )
        return dataclasses.replace(
            notice, change_key=f"mercadolivre:questions:{question_id}:{event}"
        )

    def _ml_notice(
        self,
        topic: str,
        resource: str,
        seller: Seller,
        resource_id: str,
        status: str,
        at: datetime,
        key: tuple[object, ...],
    ) -> Outgoing:
        """ML's thin notice: the receiver fetches `resource` itself."""
        digest = self._digest("mercadolivre", *key)
        event_id = str(uuid.UUID(bytes=digest[:16], version=4))
        received = _iso_millis(at)
        base = {
            "_id": event_id,
            "resource": resource,
            "user_id": int(seller.seller_id),
            "topic": topic,
            "application_id": int(ml_sandbox.APP_ID),
        }

        def render(attempt: int, sent: datetime) -> bytes:
            return _dumps(
                {**base, "attempts": attempt, "sent": _iso_millis(sent), "received": received}
            )

        return Outgoing("mercadolivre", event_id, seller.store_id, resource_id, status, at, render)

    def _shopee(self, change: OrderChange) -> Outgoing:
        order = change.order
        sn = order_sn(order)
        moment = int(change.at.timestamp())
        body = _dumps(
            {
                "shop_id": int(order.seller.seller_id),
                "code": 3,
                "timestamp": moment,
                "data": {
                    "ordersn": sn,
                    "status": SHOPEE_STATUS[change.status],
                    "update_time": moment,
                },
            }
        )
        # Shopee sends no event id; a retry or a duplicate is the same bytes.
        event_id = hashlib.sha256(body).hexdigest()
        return Outgoing(
            "shopee",
            event_id,
            order.seller.store_id,
            sn,
            change.status,
            change.at,
            lambda attempt, sent: body,
        )

    def _shopee_tracking(self, change: OrderChange) -> list[Outgoing]:
        """Push code 4 (TrackingNo), one per package once it has its tracking number. Its
        field names are the ones integrators use (Shopee's page for it was not at hand)."""
        order = change.order
        sn = order_sn(order)
        moment = int(change.at.timestamp())
        found = []
        for package in packages_of(order):
            body = _dumps(
                {
                    "shop_id": int(order.seller.seller_id),
                    "code": 4,
                    "timestamp": moment,
                    "data": {
                        "ordersn": sn,
                        "package_number": package.number,
                        "tracking_no": tracking_number(order, package),
                    },
                }
            )
            found.append(
                Outgoing(
                    "shopee",
                    hashlib.sha256(body).hexdigest(),
                    order.seller.store_id,
                    sn,
                    change.status,
                    change.at,
                    _same_bytes(body),
                )
            )
        return found

    def _tiktok(self, change: OrderChange) -> Outgoing:
        order = change.order
        moment = int(change.at.timestamp())
        steps = OrderSteps(order)
        tiktok_status = steps.steps[steps.index_at(moment)].status
        digest = self._digest("tiktok", order.order_number, change.step, change.status)
        notification_id = str(7_000_000_000_000_000_000 + int.from_bytes(digest[:8]) % 10**18)
        body = _dumps(
            {
                "type": 1,
                "tts_notification_id": notification_id,
                "shop_id": order.seller.seller_id,
                "timestamp": moment,
                "data": {
                    "order_id": order_id(order.order_number),
                    "order_status": tiktok_status,
                    "is_on_hold_order": False,
                    "update_time": moment,
                },
            }
        )
        return Outgoing(
            "tiktok",
            notification_id,
            order.seller.store_id,
            order_id(order.order_number),
            change.status,
            change.at,
            lambda attempt, sent: body,
        )

    def _bling(self, change: OrderChange) -> Outgoing | None:
        bling = self.sandbox.simulators["bling"]
        order = change.order
        pedido = bling._pedido_by_numero_loja.get(str(order.order_number))
        if pedido is None:
            return None
        summary = pedido_summary(pedido, change.step)
        digest = self._digest("bling", order.order_number, change.step, change.status)
        event_id = str(uuid.UUID(bytes=digest[:16], version=4))
        body = _dumps(
            {
                "eventId": event_id,
                "date": change.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "version": "v1",
                "event": "order.created" if change.kind == "created" else "order.updated",
                "companyId": self.company_id,
                "data": {
                    "id": summary["id"],
                    "data": summary["data"],
                    "numero": summary["numero"],
                    "numeroLoja": summary["numeroLoja"],
                    "total": summary["total"],
                    "contato": {"id": summary["contato"]["id"]},
                    "vendedor": {"id": 0},
                    "loja": summary["loja"],
                    "situacao": {"id": summary["situacao"]["id"]},
                },
            }
        )
        return Outgoing(
            "bling",
            event_id,
            f"bling-{self.company_id}",
            str(pedido.id),
            change.status,
            change.at,
            lambda attempt, sent: body,
        )


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    order: Order = field(compare=False)
    step: int = field(compare=False)


class WebhookEmitter:
    """Sends the notifications on a background thread; a World listener feeds it."""

    def __init__(self, sandbox: Sandbox, settings: WebhookSettings | None = None) -> None:
        self.sandbox = sandbox
        self.notifier = Notifier(sandbox)
        self._settings = settings or WebhookSettings(seed=sandbox.config.seed)
        self._lock = threading.Lock()
        self._counters: dict[str, Counters] = {name: Counters() for name in PUSHING}
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_KEPT)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._due: list[_Due] = []
        self._due_seq = itertools.count()
        self._follow_task: asyncio.Task[None] | None = None
        # Sandbox clock time after which generated steps are notified (None: not following).
        self.following_since: float | None = None
        self._idle = threading.Condition(self._lock)
        if self._settings.url:
            self._start()

    # --- settings and state ----------------------------------------------------------

    @property
    def settings(self) -> WebhookSettings:
        return self._settings

    def configure(self, **knobs: Any) -> WebhookSettings:
        """Change settings (validated as a whole); a first target URL starts the sender."""
        merged = WebhookSettings.model_validate({**self._settings.model_dump(), **knobs})
        self._settings = merged
        if merged.url and self._thread is None:
            self._start()
        elif self._loop is not None:
            self._loop.call_soon_threadsafe(self._sync_follower)
        return merged

    def snapshot(self, recent: int = 0) -> dict[str, Any]:
        with self._lock:
            by_marketplace = {name: c.as_dict() for name, c in self._counters.items()}
            latest = list(self._recent)[-recent:] if recent > 0 else []
        totals = {key: sum(c[key] for c in by_marketplace.values()) for key in Counters().as_dict()}
        return {
            "settings": self._settings.model_dump(),
            "targets": {
                name: f"{self._settings.url}/webhooks/{name}" if self._settings.url else None
                for name in self._settings.marketplaces
            },
            "bling_company_id": self.notifier.company_id,
            "counters": {"total": totals, **by_marketplace},
            "recent": latest,
            "running": self._thread is not None,
        }

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or in flight (tests, benchmarks, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while any(c.in_flight for c in self._counters.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    # --- the World listener ----------------------------------------------------------

    def notify(self, change: OrderChange) -> None:
        """Queue the notifications for a change; never waits for the network."""
        settings = self._settings
        loop = self._loop
        if not settings.url or loop is None:
            return
        for outgoing in self.notifier.outgoing(change, settings.marketplaces):
            self._queue(loop, outgoing)

    def notify_question(self, question_id: int, seller_id: int, at: datetime, event: str) -> None:
        """Queue ML's `questions` notice for a question asked or answered at runtime."""
        settings = self._settings
        loop = self._loop
        if not settings.url or loop is None or "mercadolivre" not in settings.marketplaces:
            return
        seller = next(
            (
                s
                for s in self.sandbox.world.sellers_of("mercadolivre")
                if s.seller_id == str(seller_id)
            ),
            None,
        )
        if seller is not None:
            self._queue(loop, self.notifier.mercadolivre_question(question_id, seller, event, at))

    def _queue(self, loop: asyncio.AbstractEventLoop, outgoing: Outgoing) -> None:
        with self._lock:
            counters = self._counters[outgoing.marketplace]
            counters.notifications += 1
            counters.in_flight += 1
        loop.call_soon_threadsafe(self._spawn, outgoing)

    # --- the sender thread -----------------------------------------------------------

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=MAX_IN_FLIGHT), trust_env=False
        )
        self._semaphore = asyncio.Semaphore(MAX_IN_FLIGHT)
        loop.call_soon(self._sync_follower)
        loop.call_soon(self._ready.set)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._client.aclose())
            loop.close()

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        def shutdown() -> None:
            for task in list(self._tasks):
                task.cancel()
            if self._follow_task is not None:
                self._follow_task.cancel()
            loop.call_later(0.05, loop.stop)

        loop.call_soon_threadsafe(shutdown)
        thread.join(timeout=10)
        self._loop = None
        self._thread = None
        self._ready.clear()

    def _spawn(self, outgoing: Outgoing) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(outgoing))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, outgoing: Outgoing) -> None:
        settings = self._settings
        try:
            # Seeded by the event, not by arrival order, so decisions are reproducible.
            rng = random.Random(f"{settings.seed}:{outgoing.change_key}")
            drop, duplicate, jitter = rng.random(), rng.random(), rng.random()
            if drop < settings.drop_share:
                self._count(outgoing.marketplace, "dropped")
                self._remember(outgoing, "dropped", 0, None, None)
                return
            copies = 1 + (settings.duplicate_copies if duplicate < settings.duplicate_share else 0)
            wait = settings.delay_seconds + jitter * settings.delay_jitter_seconds
            if wait > 0:
                await asyncio.sleep(wait)
            first_body = outgoing.render(1, datetime.now(UTC))
            results = await asyncio.gather(
                *(self._post(outgoing, first_body, settings) for _ in range(copies))
            )
            delivered = sum(1 for ok in results if ok)
            with self._lock:
                counters = self._counters[outgoing.marketplace]
                counters.failed += copies - delivered
                if delivered:
                    counters.sent += 1
                    counters.duplicated += delivered - 1
        finally:
            with self._idle:
                self._counters[outgoing.marketplace].in_flight -= 1
                self._idle.notify_all()

    async def _post(self, outgoing: Outgoing, first_body: bytes, settings: WebhookSettings) -> bool:
        if not settings.url:
            return False
        target = f"{settings.url}/webhooks/{outgoing.marketplace}"
        started = time.time()
        status: int | None = None
        for attempt in range(1, settings.max_attempts + 1):
            body = first_body if attempt == 1 else outgoing.render(attempt, datetime.now(UTC))
            headers = sign(outgoing.marketplace, target, body)
            try:
                async with self._semaphore:
                    response = await self._client.post(
                        target, content=body, headers=headers, timeout=settings.timeout_seconds
                    )
                status = response.status_code
            except httpx.HTTPError:
                status = None
            if status is not None and 200 <= status < 300:
                self._remember(outgoing, "delivered", attempt, status, started)
                return True
            if attempt < settings.max_attempts:
                self._count(outgoing.marketplace, "retried")
                await asyncio.sleep(settings.retry_base_seconds * 2 ** (attempt - 1))
        self._remember(outgoing, "failed", settings.max_attempts, status, started)
        return False

    def _count(self, marketplace: str, name: str) -> None:
        with self._lock:
            counters = self._counters[marketplace]
            setattr(counters, name, getattr(counters, name) + 1)

    def _remember(
        self,
        outgoing: Outgoing,
        outcome: str,
        attempts: int,
        status: int | None,
        started: float | None,
    ) -> None:
        entry = {
            "marketplace": outgoing.marketplace,
            "event_id": outgoing.event_id,
            "store_id": outgoing.store_id,
            "resource_id": outgoing.resource_id,
            "status": outgoing.status,
            "changed_at": outgoing.changed_at.isoformat(),
            "outcome": outcome,
            "attempts": attempts,
            "http_status": status,
            "first_sent_at": (
                datetime.fromtimestamp(started, UTC).isoformat() if started else None
            ),
            "answered_at": datetime.now(UTC).isoformat() if started else None,
        }
        with self._lock:
            self._recent.append(entry)

    # --- generated timelines reaching the clock --------------------------------------

    def _sync_follower(self) -> None:
        """Start or stop following generated timelines to match the settings."""
        wanted = bool(self._settings.url and self._settings.follow_timelines)
        running = self._follow_task is not None and not self._follow_task.done()
        if wanted and not running:
            self._follow_task = asyncio.get_running_loop().create_task(self._follow())
        elif not wanted and running and self._follow_task is not None:
            self._follow_task.cancel()

    def _plan(self, after: float) -> None:
        """Index every generated step planned after `after` (history is not notified)."""
        due: list[_Due] = []
        for order in list(self.sandbox.world.orders):
            for step, (_, when) in enumerate(order.timeline):
                at = when.timestamp()
                if at > after:
                    due.append(_Due(at, next(self._due_seq), order, step))
        heapq.heapify(due)
        self._due = due

    async def _follow(self) -> None:
        clock = self.sandbox.clock
        since = clock.time()
        self._plan(since)
        self.following_since = since
        while True:
            await asyncio.sleep(FOLLOW_INTERVAL_SECONDS)
            now = clock.time()
            loop = asyncio.get_running_loop()
            while self._due and self._due[0].at <= now:
                entry = heapq.heappop(self._due)
                timeline = entry.order.timeline
                # A runtime change may have replaced the planned step: then it never happens.
                if entry.step >= len(timeline) or timeline[entry.step][1].timestamp() != entry.at:
                    continue
                kind = "created" if entry.step == 0 else "status"
                change = OrderChange(entry.order, kind, entry.step)
                for outgoing in self.notifier.outgoing(change, self._settings.marketplaces):
                    self._queue(loop, outgoing)
