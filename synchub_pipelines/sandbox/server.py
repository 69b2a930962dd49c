"""Assembles the simulators into one ASGI app and runs it on loopback.

Each marketplace is mounted under its own prefix (`/mercadolivre`, `/shopee`, …), so one
port serves them all and a client's base URL is `http://HOST:PORT/<marketplace>`.
`/_sandbox/*` holds the operator knobs that no real API has: fault injection, the quotas'
counts (`/_sandbox/quotas`: calls served and refused per quota, POST restarts them), the clock,
outbound webhooks (`/_sandbox/webhooks`, see webhooks.py), order status changes
(`/_sandbox/orders/{marketplace}/{order_id}/status`) and live sales (`/_sandbox/live`).
"""

from __future__ import annotations

import contextlib
import importlib
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from synchub_pipelines.sandbox.amazon_render import amazon_order_id
from synchub_pipelines.sandbox.infra import Faults, SandboxClock, TokenBucket
from synchub_pipelines.sandbox.live import LiveSales, LiveSettings
from synchub_pipelines.sandbox.pictures import routes as picture_routes
from synchub_pipelines.sandbox.shopee_render import order_number_candidates, order_sn
from synchub_pipelines.sandbox.tiktok_render import order_number_of as tiktok_order_number
from synchub_pipelines.sandbox.webhooks import WebhookEmitter, WebhookSettings
from synchub_pipelines.sandbox.world import InvalidTransition, Order, Seller, World, WorldSize

# One module per marketplace; each defines `Simulator(sandbox)` with `.name` and `.app()`.
SIMULATOR_MODULES: tuple[str, ...] = ("mercadolivre", "bling", "tiktok", "amazon", "shopee")


class Simulator(Protocol):
    name: str

    def app(self) -> Starlette: ...


@dataclass
class SandboxConfig:
    seed: int = 7
    size: str | WorldSize = "demo"
    anchor: datetime | None = None
    sellers: list[Seller] | None = None
    faults: Faults = field(default_factory=Faults)
    # Requests per second each simulator allows a caller, overriding its default quota.
    rate_limits: dict[str, float] = field(default_factory=dict)
    # Pre-render responses at start-up (benchmarks measure the client, not the simulator).
    prewarm: bool = False
    # Outbound webhooks (no URL: none sent) and live sales started with the server.
    webhooks: WebhookSettings | None = None
    live: LiveSettings | None = None


class Sandbox:
    """The simulated world plus every marketplace simulator that renders it."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.world = World(
            seed=self.config.seed,
            size=self.config.size,
            sellers=self.config.sellers,
            anchor=self.config.anchor,
        )
        self.clock = SandboxClock()
        self.faults = self.config.faults
        self.quotas: dict[str, TokenBucket] = {}
        self.simulators: dict[str, Any] = {}
        for module_name in SIMULATOR_MODULES:
            module = importlib.import_module(f"synchub_pipelines.sandbox.{module_name}")
            simulator = module.Simulator(self)
            self.simulators[simulator.name] = simulator
        if self.config.prewarm:
            for simulator in self.simulators.values():
                warm = getattr(simulator, "warm", None)
                if warm is not None:
                    warm()
        # Simulators re-index a changed order before the emitter tells anyone about it.
        for simulator in self.simulators.values():
            listener = getattr(simulator, "on_order_changed", None)
            if listener is not None:
                self.world.subscribe(listener)
        self.webhooks = WebhookEmitter(
            self, self.config.webhooks or WebhookSettings(seed=self.config.seed)
        )
        self.world.subscribe(self.webhooks.notify)
        self.live = LiveSales(self)

    def rate_limit(self, marketplace: str, default: float) -> float:
        return self.config.rate_limits.get(marketplace, default)

    def quota(self, name: str, rate: float, burst: float) -> TokenBucket:
        """A quota's bucket, listed by `GET /_sandbox/quotas` under `name`."""
        bucket = self.quotas[name] = TokenBucket(rate, burst, self.clock)
        return bucket

    def app(self) -> Starlette:
        routes: list[Route | Mount] = [
            Route("/_sandbox/healthz", self._healthz),
            Route("/_sandbox/faults", self._faults, methods=["GET", "POST"]),
            Route("/_sandbox/quotas", self._quotas, methods=["GET", "POST"]),
            Route("/_sandbox/clock/advance", self._advance_clock, methods=["POST"]),
            Route("/_sandbox/webhooks", self._webhooks, methods=["GET", "POST"]),
            Route("/_sandbox/live", self._live, methods=["GET", "POST"]),
            Route(
                "/_sandbox/orders/{marketplace}/{order_id}/status",
                self._order_status,
                methods=["POST"],
            ),
            *picture_routes(),  # the picture host Shopee/TikTok publishing downloads from
        ]
        routes += [Mount(f"/{name}", app=sim.app()) for name, sim in self.simulators.items()]
        return Starlette(routes=routes, lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        if self.config.live is not None and self.config.live.rate_per_minute > 0:
            self.live.configure(**self.config.live.model_dump())
        try:
            yield
        finally:
            self.live.stop()
            self.webhooks.close()

    def close(self) -> None:
        """Stop the background work (live sales stop with the server's event loop)."""
        self.live.stop()
        self.webhooks.close()

    async def _quotas(self, request: Request) -> JSONResponse:
        """Each quota's rate and burst, the calls it served and refused, and when it served
        the first and the last (epoch seconds); a POST restarts the counts."""
        if request.method == "POST":
            for bucket in self.quotas.values():
                bucket.restart_counts()
        return JSONResponse({name: bucket.counts() for name, bucket in self.quotas.items()})

    # --- webhooks, live sales and order changes --------------------------------------

    async def _webhooks(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("expected a JSON object of settings")
                self.webhooks.configure(**body)
            except ValidationError as exc:
                return _invalid(exc)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        recent = request.query_params.get("recent", "0")
        return JSONResponse(self.webhooks.snapshot(int(recent) if recent.isdigit() else 0))

    async def _live(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("expected a JSON object of settings")
                self.live.configure(**body)
            except ValidationError as exc:
                return _invalid(exc)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(self.live.snapshot())

    async def _order_status(self, request: Request) -> JSONResponse:
        marketplace = request.path_params["marketplace"]
        raw_id = request.path_params["order_id"]
        try:
            body = await request.json()
            status = body["status"]
            if not isinstance(status, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return JSONResponse(
                {"error": 'expected {"status": "pay|ship|deliver|cancel|return"}'},
                status_code=400,
            )
        order = self.find_order(marketplace, raw_id)
        if order is None:
            return JSONResponse({"error": f"no {marketplace} order {raw_id}"}, status_code=404)
        try:
            change = self.world.advance_order(order, status, self.clock.now())
        except InvalidTransition as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(
            {
                "marketplace": marketplace,
                "order_id": raw_id,
                "order_number": order.order_number,
                "status": change.status,
                "at": change.at.isoformat(),
            }
        )

    def find_order(self, marketplace: str, raw_id: str) -> Order | None:
        """An order by the id its marketplace shows (Bling: the pedido id)."""
        world = self.world
        candidates: list[Order | None] = []
        if marketplace == "mercadolivre" and raw_id.isdigit():
            candidates = [world.orders_by_number.get(int(raw_id))]
        elif marketplace == "shopee":
            found = (world.orders_by_number.get(n) for n in order_number_candidates(raw_id))
            candidates = [o for o in found if o is not None and order_sn(o) == raw_id]
        elif marketplace == "tiktok":
            number = tiktok_order_number(raw_id)
            candidates = [world.orders_by_number.get(number) if number is not None else None]
        elif marketplace == "amazon":
            candidates = [
                o
                for o in world.orders
                if o.seller.marketplace == "amazon" and amazon_order_id(o.order_number) == raw_id
            ]
        elif marketplace == "bling" and raw_id.isdigit() and "bling" in self.simulators:
            pedido = self.simulators["bling"]._pedido_by_id.get(int(raw_id))
            return pedido.order if pedido is not None else None
        for order in candidates:
            if order is not None and order.seller.marketplace == marketplace:
                return order
        return None

    async def _healthz(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "ok": True,
                "marketplaces": sorted(self.simulators),
                "orders": len(self.world.orders),
                "listings": len(self.world.listings),
            }
        )

    async def _faults(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            try:
                self.faults.update(**(await request.json()))
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        f = self.faults
        return JSONResponse(
            {
                "rate_429": f.rate_429,
                "rate_5xx": f.rate_5xx,
                "slow_rate": f.slow_rate,
                "slow_seconds": f.slow_seconds,
            }
        )

    async def _advance_clock(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.clock.advance(float(body["seconds"]))
        return JSONResponse({"now": self.clock.now().isoformat()})


def _invalid(exc: ValidationError) -> JSONResponse:
    problems = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()]
    return JSONResponse({"error": "; ".join(problems)}, status_code=400)


class RunningSandbox:
    """A sandbox served by uvicorn in a background thread of this process."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(sandbox.app(), log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def base_url(self, marketplace: str) -> str:
        return f"{self.url}/{marketplace}"

    def start(self) -> RunningSandbox:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("sandbox server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
        self.sandbox.close()

    def __enter__(self) -> RunningSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(config: SandboxConfig, host: str, port: int) -> None:
    """Run the sandbox in the foreground (for `synchub sandbox serve`)."""
    uvicorn.run(Sandbox(config).app(), host=host, port=port, log_level="warning", access_log=False)
