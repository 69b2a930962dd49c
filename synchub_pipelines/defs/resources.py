"""Dagster resources: the warehouse and one resource per marketplace API.

Secrets come through `dg.EnvVar`, so they are resolved at run time and never shown in
the UI or stored in run configuration. The marketplace APIs' resources are in
`defs/marketplaces.py`.
"""

import threading

import dagster as dg
import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Engine

from synchub_pipelines import settings
from synchub_pipelines.marketplaces.tokens import TokenStore
from synchub_pipelines.warehouse.budgets import share_budgets
from synchub_pipelines.warehouse.credentials import SqlTokenStore
from synchub_pipelines.warehouse.engine import describe_database_error, engine_for, redacted
from synchub_pipelines.warehouse.migrate import migrate

_migrated: set[str] = set()
_migrate_lock = threading.Lock()


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the warehouse lives (a SQLAlchemy URL) and the keys that protect what it holds."""

    url: str = Field(description="SQLAlchemy URL; postgresql+psycopg://… or sqlite:///path")
    secret_key: str | None = Field(
        default=None, description="Fernet key for stored tokens (SYNCHUB_SECRET_KEY)"
    )
    buyer_salt: str = Field(
        default="synchub", description="Salt for pseudonymous buyer ids (SYNCHUB_BUYER_SALT)"
    )

    def engine(self) -> Engine:
        """The engine, with the schema migrated to the newest version once per process."""
        engine = engine_for(self.url)
        with _migrate_lock:
            if self.url not in _migrated:
                try:
                    migrate(engine)
                except sa.exc.DBAPIError as exc:
                    # Name the database (host and port, or the file), never its password.
                    raise dg.Failure(describe_database_error(exc, self.url)) from None
                _migrated.add(self.url)
        # Every API call of this process now draws from the deployment's shared budgets.
        share_budgets(engine)
        return engine

    def fernet_key(self) -> bytes:
        return self.secret_key.encode() if self.secret_key else settings.secret_key()

    def token_store(self) -> TokenStore:
        return SqlTokenStore(self.engine(), self.fernet_key())

    @property
    def display_url(self) -> str:
        return redacted(self.url)
