"""Notifications signed the way each marketplace signs, and a receiver served on loopback.

Signing here is written from the marketplaces' rules (API-NOTES.md), not imported from
verify.py, so a mistake on either side fails a test instead of cancelling out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import uvicorn

from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines.warehouse.schema import stores, webhook_events
from synchub_pipelines.webhooks.app import create_app
from synchub_pipelines.webhooks.config import ReceiverSettings

ML_APP_ID = "5503910054141466"
PUBLIC_URL = "https://hooks.example.com"
SHOPEE_KEY = "shopee-partner-key"
TIKTOK_KEY = "tt-app-key"
TIKTOK_SECRET = "tt-app-secret"
BLING_SECRET = "bling-client-secret"
MAX_BODY = 4096

KNOWN_STORES = {
    "mercadolivre": "1001",
    "shopee": "600001",
    "tiktok": "7494049642642441621",
}


def free_port() -> int:
    """A loopback port with nothing listening on it (at the moment of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hex_hmac(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Sent:
    """One HTTP request a marketplace would send."""

    marketplace: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"/webhooks/{self.marketplace}"


def _dump(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def mercadolivre(event_id: str, user_id: str = "1001", app_id: str = ML_APP_ID) -> Sent:
    body = _dump(
        {
            "_id": event_id,
            "resource": f"/orders/200000{event_id[-6:]}",
            "user_id": int(user_id),
            "topic": "orders_v2",
            "application_id": int(app_id),
            "attempts": 1,
            "sent": "2026-03-14T15:00:00.000Z",
            "received": "2026-03-14T15:00:00.000Z",
        }
    )
    return Sent("mercadolivre", body, {"content-type": "application/json"})


def shopee_signed(body: bytes, key: str = SHOPEE_KEY) -> Sent:
    signature = hex_hmac(key, f"{PUBLIC_URL}/webhooks/shopee|".encode() + body)
    return Sent("shopee", body, {"authorization": signature, "content-type": "application/json"})


def shopee(ordersn: str, shop_id: str = "600001") -> Sent:
    payload = {
        "shop_id": int(shop_id),
        "code": 3,
        "data": {"ordersn": ordersn, "status": "READY_TO_SHIP", "update_time": 1773500000},
        "timestamp": 1773500000,
    }
    return shopee_signed(_dump(payload))


def tiktok_signed(body: bytes, secret: str = TIKTOK_SECRET) -> Sent:
    signature = hex_hmac(secret, TIKTOK_KEY.encode() + body)
    return Sent("tiktok", body, {"authorization": signature, "content-type": "application/json"})


def tiktok(notification_id: str, shop_id: str = "7494049642642441621") -> Sent:
    payload = {
        "type": 1,
        "tts_notification_id": notification_id,
        "shop_id": shop_id,
        "timestamp": 1773500000,
        "data": {"order_id": f"5764{notification_id}", "order_status": "AWAITING_SHIPMENT"},
    }
    return tiktok_signed(_dump(payload))


def bling_signed(body: bytes, secret: str = BLING_SECRET) -> Sent:
    headers = {"x-bling-signature-256": f"sha256={hex_hmac(secret, body)}"}
    return Sent("bling", body, {**headers, "content-type": "application/json"})


def bling(event_id: str) -> Sent:
    payload = {
        "eventId": event_id,
        "date": "2026-03-14T15:00:00Z",
        "version": "v1",
        "event": "order.updated",
        "companyId": "c0ffee",
        "data": {"id": 16000000 + len(event_id)},
    }
    return bling_signed(_dump(payload))


def signed(marketplace: str, body: bytes) -> Sent:
    """`body` as `marketplace` sends it: signed where it signs (Mercado Livre does not)."""
    signers = {"shopee": shopee_signed, "tiktok": tiktok_signed, "bling": bling_signed}
    if marketplace in signers:
        return signers[marketplace](body)
    return Sent(marketplace, body, {"content-type": "application/json"})


def payload(marketplace: str, event_id: str, seller: str | None = None) -> dict[str, Any]:
    """A valid notification of `marketplace` naming `event_id` (Shopee, which sends no event
    id, names it as the order), from a known store unless `seller` says otherwise."""
    seller = seller or KNOWN_STORES.get(marketplace, "c0ffee")
    if marketplace == "mercadolivre":
        return {
            "_id": event_id,
            "resource": "/orders/2000003508897196",
            "user_id": int(seller),
            "topic": "orders_v2",
            "application_id": int(ML_APP_ID),
        }
    if marketplace == "shopee":
        return {"shop_id": int(seller), "code": 3, "data": {"ordersn": event_id}}
    if marketplace == "tiktok":
        return {
            "type": 1,
            "tts_notification_id": event_id,
            "shop_id": seller,
            "data": {"order_id": "576486316948490001"},
        }
    return {"eventId": event_id, "event": "order.updated", "companyId": seller, "data": {"id": 7}}


def receiver_settings(warehouse_url: str, **overrides: Any) -> ReceiverSettings:
    values: dict[str, Any] = {
        "warehouse_url": warehouse_url,
        "max_body_bytes": MAX_BODY,
        "db_timeout_seconds": 3.0,
        "ml_application_id": ML_APP_ID,
        "public_url": PUBLIC_URL,
        "shopee_partner_key": SHOPEE_KEY,
        "tiktok_app_key": TIKTOK_KEY,
        "tiktok_app_secret": TIKTOK_SECRET,
        "bling_client_secret": BLING_SECRET,
    }
    values.update(overrides)
    return ReceiverSettings(**values)


def prepare_warehouse(url: str) -> sa.Engine:
    """Migrated, with one active store per marketplace in KNOWN_STORES."""
    engine = engine_for(url)
    migrate(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(stores),
            [
                {
                    "store_id": f"{marketplace}-{seller}",
                    "marketplace": marketplace,
                    "seller_id": seller,
                    "name": f"{marketplace} test store",
                    "connected_at": now,
                    "synced_at": now,
                }
                for marketplace, seller in KNOWN_STORES.items()
            ],
        )
    return engine


def event_rows(engine: sa.Engine) -> list[sa.Row[Any]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(webhook_events).order_by(webhook_events.c.seq)))


class ServedReceiver:
    """The receiver app under uvicorn in a background thread, on a free loopback port."""

    def __init__(self, settings: ReceiverSettings) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(settings), log_level="warning", access_log=False, lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServedReceiver:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("receiver did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
