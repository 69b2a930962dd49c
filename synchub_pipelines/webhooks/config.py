"""The receiver's settings, read from the environment once at start-up.

The variable names are the ones the marketplace client resources read, so one environment
configures both the pipelines and the receiver. A marketplace whose secret is missing is
"not configured": its endpoint answers 503 naming the variable, the others work.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from synchub_pipelines import settings
from synchub_pipelines.webhooks.verify import Bling, MercadoLivre, Notification, Shopee, TikTok

MARKETPLACES = ("mercadolivre", "shopee", "tiktok", "bling")
SHOPEE_PATH = "/webhooks/shopee"

DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_DB_TIMEOUT_SECONDS = 5.0
DEFAULT_MAX_BATCH = 500


class Verifier(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def missing_settings(self) -> list[str]: ...

    def verify(self, headers: Mapping[str, str], body: bytes) -> Notification: ...


def _number(environ: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}, got {raw!r}")
    return value


@dataclass(frozen=True)
class ReceiverSettings:
    """Everything the receiver reads from the environment; secrets stay out of repr()."""

    warehouse_url: str = field(repr=False)  # may carry a password
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    db_timeout_seconds: float = DEFAULT_DB_TIMEOUT_SECONDS
    max_batch: int = DEFAULT_MAX_BATCH
    ml_application_id: str = ""
    public_url: str = ""
    shopee_partner_key: str = field(default="", repr=False)
    tiktok_app_key: str = ""
    tiktok_app_secret: str = field(default="", repr=False)
    bling_client_secret: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReceiverSettings:
        env = os.environ if environ is None else environ

        def text(name: str) -> str:
            return env.get(name, "").strip()

        return cls(
            warehouse_url=text("SYNCHUB_WAREHOUSE_URL") or settings.warehouse_url(),
            max_body_bytes=int(
                _number(env, "SYNCHUB_WEBHOOK_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1)
            ),
            db_timeout_seconds=_number(
                env, "SYNCHUB_WEBHOOK_DB_TIMEOUT_SECONDS", DEFAULT_DB_TIMEOUT_SECONDS, 0.1
            ),
            max_batch=int(_number(env, "SYNCHUB_WEBHOOK_MAX_BATCH", DEFAULT_MAX_BATCH, 1)),
            ml_application_id=text("SYNCHUB_ML_CLIENT_ID"),
            public_url=text("SYNCHUB_WEBHOOK_PUBLIC_URL"),
            shopee_partner_key=text("SYNCHUB_SHOPEE_PARTNER_KEY"),
            tiktok_app_key=text("SYNCHUB_TIKTOK_APP_KEY"),
            tiktok_app_secret=text("SYNCHUB_TIKTOK_APP_SECRET"),
            bling_client_secret=text("SYNCHUB_BLING_CLIENT_SECRET"),
        )

    @property
    def shopee_callback_url(self) -> str:
        """The URL registered with Shopee: it is part of what Shopee signs."""
        return self.public_url.rstrip("/") + SHOPEE_PATH if self.public_url else ""

    def verifiers(self) -> dict[str, Verifier]:
        return {
            "mercadolivre": MercadoLivre(application_id=self.ml_application_id),
            "shopee": Shopee(
                partner_key=self.shopee_partner_key, callback_url=self.shopee_callback_url
            ),
            "tiktok": TikTok(app_key=self.tiktok_app_key, app_secret=self.tiktok_app_secret),
            "bling": Bling(client_secret=self.bling_client_secret),
        }
