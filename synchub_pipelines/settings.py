"""Process-wide settings read from the environment (every variable is listed in the README)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Where the embedded default keeps its files (SQLite warehouse, Dagster home, demo key)."""
    path = Path(os.environ.get("SYNCHUB_DATA_DIR", PROJECT_ROOT / "data"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def warehouse_url() -> str:
    """SYNCHUB_WAREHOUSE_URL (a SQLAlchemy URL), or a SQLite file in the data folder."""
    url = os.environ.get("SYNCHUB_WAREHOUSE_URL", "").strip()
    return url or f"sqlite:///{data_dir() / 'warehouse.sqlite'}"


def secret_key() -> bytes:
    """The Fernet key that encrypts stored tokens: SYNCHUB_SECRET_KEY, else a local key file.

    The key file (created on first use, mode 0600, in the data folder) serves the embedded
    default; production sets SYNCHUB_SECRET_KEY from its secret manager.
    """
    from cryptography.fernet import Fernet

    configured = os.environ.get("SYNCHUB_SECRET_KEY", "").strip()
    if configured:
        return configured.encode()
    path = data_dir() / "secret.key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_bytes(Fernet.generate_key())
    return path.read_bytes().strip()


def tenants_file() -> Path | None:
    """SYNCHUB_TENANTS_FILE: the merchants beyond `default` sharing this deployment (YAML or
    JSON, see synchub_pipelines/defs/stores/tenants.py); None when unset."""
    configured = os.environ.get("SYNCHUB_TENANTS_FILE", "").strip()
    return Path(configured) if configured else None


DEFAULT_ORDERS_START_DATE = "2025-01-01"
ORDERS_START_FILE = "orders_start_date"


def orders_start_date() -> str:
    """The first business date of the order partitions: SYNCHUB_ORDERS_START_DATE, else the
    date recorded in the data folder by whoever first knew where the data starts (the demo
    records its world's first day), else 2025-01-01. Partitions before a store's first sale
    would only ever show as "missing"."""
    configured = os.environ.get("SYNCHUB_ORDERS_START_DATE", "").strip()
    if configured:
        return configured
    recorded = data_dir() / ORDERS_START_FILE
    if recorded.exists():
        text = recorded.read_text().strip()
        if text:
            return text
    return DEFAULT_ORDERS_START_DATE


def record_orders_start_date(first_day: str) -> None:
    """Remember where this deployment's order data starts (see `orders_start_date`)."""
    (data_dir() / ORDERS_START_FILE).write_text(first_day + "\n")
