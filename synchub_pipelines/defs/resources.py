"""Dagster resources: the warehouse and one resource per marketplace API.

Secrets come through `dg.EnvVar`, so they are resolved at run time and never shown in
the UI or stored in run configuration. The marketplace resources only assemble clients
from `synchub_pipelines.marketplaces`; every protocol detail lives there.
"""

import threading
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr, SecretStr
from sqlalchemy.engine import Engine

from synchub_pipelines import settings
from synchub_pipelines.marketplaces import mercadolivre
from synchub_pipelines.marketplaces.base import StoreClient
from synchub_pipelines.marketplaces.tokens import TokenStore
from synchub_pipelines.models import Marketplace, Store
from synchub_pipelines.warehouse.credentials import SqlTokenStore
from synchub_pipelines.warehouse.engine import engine_for, redacted
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
                migrate(engine)
                _migrated.add(self.url)
        return engine

    def token_store(self) -> TokenStore:
        key = self.secret_key.encode() if self.secret_key else settings.secret_key()
        return SqlTokenStore(self.engine(), key)

    @property
    def display_url(self) -> str:
        return redacted(self.url)


class MercadoLivreResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Mercado Livre API application (production or sandbox, by base URL)."""

    client_id: str = Field(description="Application id (SYNCHUB_ML_CLIENT_ID)")
    client_secret: str = Field(description="Application secret (SYNCHUB_ML_CLIENT_SECRET)")
    redirect_uri: str = Field(description="Registered redirect URI (SYNCHUB_ML_REDIRECT_URI)")
    api_url: str = mercadolivre.PRODUCTION_API_URL
    auth_url: str = mercadolivre.PRODUCTION_AUTH_URL
    requests_per_second: float = Field(
        default=50.0, description="Client-side pace; ML publishes no number, 429s slow it further"
    )

    def app(self) -> mercadolivre.MercadoLivreApp:
        return mercadolivre.MercadoLivreApp(
            client_id=self.client_id,
            client_secret=SecretStr(self.client_secret),
            redirect_uri=self.redirect_uri,
            api_url=self.api_url,
            auth_url=self.auth_url,
            requests_per_second=self.requests_per_second,
        )


class MarketplacesResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Every configured marketplace API; hands out a client for a connected store."""

    mercadolivre: MercadoLivreResource
    _apps: dict[str, Any] = PrivateAttr(default_factory=dict)

    def client_for(self, store: Store, warehouse: WarehouseResource) -> StoreClient:
        token_store = warehouse.token_store()
        if store.marketplace is Marketplace.MERCADOLIVRE:
            app = self._apps.setdefault("mercadolivre", self.mercadolivre.app())
            return mercadolivre.MercadoLivreClient(app, store, token_store, warehouse.buyer_salt)
        raise dg.Failure(
            f"store {store.store_id}: marketplace {store.marketplace.value} is not configured "
            "in this code location"
        )


class CatalogFileResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The merchant's catalog file (CSV or JSON), when the catalog is not kept in an ERP."""

    path: str = Field(description="Path to the catalog file (SYNCHUB_CATALOG_FILE)")
