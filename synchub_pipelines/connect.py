"""Connecting a marketplace account: authorization URL, code exchange, store registration."""

from __future__ import annotations

import os

from pydantic import SecretStr
from sqlalchemy.engine import Engine

from synchub_pipelines.marketplaces import mercadolivre
from synchub_pipelines.marketplaces.tokens import MemoryTokenStore, TokenStore
from synchub_pipelines.models import Marketplace, Store
from synchub_pipelines.warehouse.stores import register_store


class ConfigurationError(RuntimeError):
    pass


def require_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set (see README, 'Configuration')")
    return value


def mercadolivre_app_from_env() -> mercadolivre.MercadoLivreApp:
    return mercadolivre.MercadoLivreApp(
        client_id=require_env("SYNCHUB_ML_CLIENT_ID"),
        client_secret=SecretStr(require_env("SYNCHUB_ML_CLIENT_SECRET")),
        redirect_uri=os.environ.get(
            "SYNCHUB_ML_REDIRECT_URI", "https://localhost:8787/synchub/callback/mercadolivre"
        ),
        api_url=os.environ.get("SYNCHUB_ML_API_URL", mercadolivre.PRODUCTION_API_URL),
        auth_url=os.environ.get("SYNCHUB_ML_AUTH_URL", mercadolivre.PRODUCTION_AUTH_URL),
    )


def connect_mercadolivre(
    app: mercadolivre.MercadoLivreApp,
    code: str,
    engine: Engine,
    token_store: TokenStore,
    tenant: str = "default",
) -> Store:
    """Exchange an authorization code, identify the seller, store tokens and register the store."""
    http = app.new_http()
    try:
        seller_id, tokens = app.exchange_code(http, code)
        probe = Store.of(Marketplace.MERCADOLIVRE, seller_id, name=seller_id, tenant=tenant)
        scratch = MemoryTokenStore()
        scratch.save(probe.store_id, tokens)
        client = mercadolivre.MercadoLivreClient(app, probe, scratch, buyer_salt="", http=http)
        me = client.me()
    finally:
        http.close()
    store = Store.of(
        Marketplace.MERCADOLIVRE,
        seller_id,
        name=str(me.get("nickname") or seller_id),
        tenant=tenant,
    )
    token_store.save(store.store_id, tokens)
    register_store(engine, store)
    return store
