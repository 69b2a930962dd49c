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
