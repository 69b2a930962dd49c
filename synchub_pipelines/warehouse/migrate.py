"""Versioned schema migrations (Alembic), applied programmatically on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.warehouse.dictionary import comment_warehouse

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where it is used: every run process loads the code location, and a
# warehouse at head (the common case) needs only the version row read below.
_LOCK_KEY = 0x53594E43  # "SYNC"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> str:
    """Bring the warehouse to the newest schema; a no-op when it is already there."""
    if current_revision(engine) == head_revision():
        # What BI tools read: every table's and column's description (PostgreSQL only).
        comment_warehouse(engine)
        return head_revision()
    from alembic import command

    config = _config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Concurrent runs may start on a fresh warehouse at once; one migrates, the
            # others wait and then find nothing to do.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    comment_warehouse(engine)
    return head_revision()
