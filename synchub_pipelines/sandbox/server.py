"""Assembles the simulators into one ASGI app and runs it on loopback.

Each marketplace is mounted under its own prefix (`/mercadolivre`, `/shopee`, …), so one
port serves them all and a client's base URL is `http://HOST:PORT/<marketplace>`.
`/_sandbox/*` holds the operator knobs (fault injection, clock) that no real API has.
"""

from __future__ import annotations

import importlib
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from synchub_pipelines.sandbox.infra import Faults, SandboxClock
from synchub_pipelines.sandbox.world import Seller, World, WorldSize

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

    def rate_limit(self, marketplace: str, default: float) -> float:
        return self.config.rate_limits.get(marketplace, default)

    def app(self) -> Starlette:
        routes: list[Route | Mount] = [
            Route("/_sandbox/healthz", self._healthz),
            Route("/_sandbox/faults", self._faults, methods=["GET", "POST"]),
            Route("/_sandbox/clock/advance", self._advance_clock, methods=["POST"]),
        ]
        routes += [Mount(f"/{name}", app=sim.app()) for name, sim in self.simulators.items()]
        return Starlette(routes=routes)

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


class RunningSandbox:
    """A sandbox served by uvicorn in a background thread of this process."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(
            sandbox.app(), log_level="warning", access_log=False, lifespan="off"
        )
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

    def __enter__(self) -> RunningSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(config: SandboxConfig, host: str, port: int) -> None:
    """Run the sandbox in the foreground (for `synchub sandbox serve`)."""
    uvicorn.run(Sandbox(config).app(), host=host, port=port, log_level="warning", access_log=False)
