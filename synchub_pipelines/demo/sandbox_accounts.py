"""Points the code location at a running sandbox and connects its sellers, as a merchant would.

Every account goes through the marketplace's own connection flow (OAuth consent page and
code exchange, or Amazon's Seller Central refresh token); only the seller's browser is
played by this module. Demo-only: production code never imports the sandbox.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from synchub_pipelines.connect import (
    connect_amazon,
    connect_mercadolivre,
    connect_shopee,
    connect_tiktok,
    marketplaces_from_env,
)
from synchub_pipelines.marketplaces.tokens import TokenStore
from synchub_pipelines.models import Store
from synchub_pipelines.sandbox import amazon as amazon_sandbox
from synchub_pipelines.sandbox import bling as bling_sandbox
from synchub_pipelines.sandbox import mercadolivre as ml_sandbox
from synchub_pipelines.sandbox import shopee as shopee_sandbox
from synchub_pipelines.sandbox import tiktok as tiktok_sandbox
from synchub_pipelines.sandbox.world import Seller

# Amazon's published quotas (getOrderItems: one call every 2 s) would make the demo's
# 1,500 Amazon orders take 50 minutes; the demo scales the sandbox's quotas and the
# client's pacing by the same factor, so the client still paces itself to the quota.
AMAZON_QUOTA_SCALE = 200.0
# Bling allows 3 requests/s per account: the demo's catalog write-back (hundreds of
# product-store links) would take minutes at that pace, so the demo account gets 20×.
BLING_QUOTA_SCALE = 20.0
BLING_RATE_PER_SECOND = 3.0


def sandbox_rate_limits() -> dict[str, float]:
    # Every Amazon quota, or the client (scaled as a whole) outruns the ones left out.
    limits = {
        name: rate * AMAZON_QUOTA_SCALE
        for name, (rate, _) in amazon_sandbox.PUBLISHED_QUOTAS.items()
    }
    limits["bling"] = BLING_RATE_PER_SECOND * BLING_QUOTA_SCALE
    return limits


def configure_sandbox_env(base_url: str) -> None:
    """Set the variables a merchant would set, with the sandbox's hosts and credentials."""
    env = {
        "SYNCHUB_ML_CLIENT_ID": ml_sandbox.APP_ID,
        "SYNCHUB_ML_CLIENT_SECRET": ml_sandbox.APP_SECRET,
        "SYNCHUB_ML_REDIRECT_URI": ml_sandbox.REDIRECT_URI,
        "SYNCHUB_ML_API_URL": f"{base_url}/mercadolivre",
        "SYNCHUB_ML_AUTH_URL": f"{base_url}/mercadolivre",
        "SYNCHUB_TIKTOK_APP_KEY": tiktok_sandbox.APP_KEY,
        "SYNCHUB_TIKTOK_APP_SECRET": tiktok_sandbox.APP_SECRET,
        "SYNCHUB_TIKTOK_API_URL": f"{base_url}/tiktok",
        "SYNCHUB_TIKTOK_AUTH_URL": f"{base_url}/tiktok",
        "SYNCHUB_SHOPEE_PARTNER_ID": str(shopee_sandbox.PARTNER_ID),
        "SYNCHUB_SHOPEE_PARTNER_KEY": shopee_sandbox.PARTNER_KEY,
        "SYNCHUB_SHOPEE_REDIRECT_URI": shopee_sandbox.REDIRECT_URL,
        "SYNCHUB_SHOPEE_API_URL": f"{base_url}/shopee",
        "SYNCHUB_AMAZON_LWA_CLIENT_ID": amazon_sandbox.LWA_CLIENT_ID,
        "SYNCHUB_AMAZON_LWA_CLIENT_SECRET": amazon_sandbox.LWA_CLIENT_SECRET,
        "SYNCHUB_AMAZON_APPLICATION_ID": amazon_sandbox.APPLICATION_ID,
        "SYNCHUB_AMAZON_REDIRECT_URI": amazon_sandbox.REDIRECT_URI,
        "SYNCHUB_AMAZON_API_URL": f"{base_url}/amazon",
        "SYNCHUB_AMAZON_LWA_URL": f"{base_url}/amazon",
        "SYNCHUB_AMAZON_RATE_SCALE": str(AMAZON_QUOTA_SCALE),
    }
    env.update(
        {
            "SYNCHUB_BLING_CLIENT_ID": bling_sandbox.CLIENT_ID,
            "SYNCHUB_BLING_CLIENT_SECRET": bling_sandbox.CLIENT_SECRET,
            "SYNCHUB_BLING_REDIRECT_URI": bling_sandbox.REDIRECT_URI,
            "SYNCHUB_BLING_API_URL": f"{base_url}/bling/Api/v3",
        }
    )
    os.environ.update(env)
    # The demo merchant keeps its catalog in Bling (the file stays the fallback).
    os.environ.setdefault("SYNCHUB_CATALOG_SOURCE", "bling")
    os.environ.setdefault("SYNCHUB_ML_REQUESTS_PER_SECOND", "400")
    os.environ.setdefault(
        "SYNCHUB_BLING_REQUESTS_PER_SECOND", str(BLING_RATE_PER_SECOND * BLING_QUOTA_SCALE)
    )
    os.environ.setdefault("SYNCHUB_TIKTOK_REQUESTS_PER_SECOND", "40")
    os.environ.setdefault("SYNCHUB_SHOPEE_REQUESTS_PER_SECOND", "40")


def _consent_redirect(url: str, extra: dict[str, str]) -> dict[str, str]:
    """Play the seller's browser: open the consent page, read the redirect's parameters."""
    separator = "&" if "?" in url else "?"
    response = httpx.get(f"{url}{separator}{urlencode(extra)}", follow_redirects=False)
    if response.status_code != 302:
        raise RuntimeError(f"sandbox consent page answered {response.status_code}")
    return {k: v[0] for k, v in parse_qs(urlparse(response.headers["location"]).query).items()}


def _code_from_consent(url: str, extra: dict[str, str], key: str = "code") -> str:
    return _consent_redirect(url, extra)[key]


def connect_sellers(
    sellers: Sequence[Seller], engine: Engine, token_store: TokenStore
) -> list[Store]:
    apis = marketplaces_from_env()
    connectors: dict[str, Callable[[Seller], Store]] = {}
    ml = apis.mercadolivre.app()
    connectors["mercadolivre"] = lambda seller: connect_mercadolivre(
        ml,
        _code_from_consent(ml.authorization_url()[0], {"user_id": seller.seller_id}),
        engine,
        token_store,
    )
    tt = apis.tiktok.app()
    connectors["tiktok"] = lambda seller: connect_tiktok(
        tt,
        _code_from_consent(tt.authorization_url()[0], {"shop_id": seller.seller_id}),
        engine,
        token_store,
        shop_id=seller.seller_id,
    )
    connectors["shopee"] = lambda seller: _connect_shopee_shop(seller, engine, token_store)
    az = apis.amazon.app()
    connectors["amazon"] = lambda seller: connect_amazon(
        az,
        seller.seller_id,
        SecretStr(amazon_sandbox.initial_refresh_token(seller.seller_id)),
        engine,
        token_store,
    )
    return [connectors[s.marketplace](s) for s in sellers if s.marketplace in connectors]


def _connect_shopee_shop(seller: Seller, engine: Engine, token_store: TokenStore) -> Store:
    """Consent as the seller (the sandbox's `shop_id` extra picks the shop), then exchange."""
    shopee = marketplaces_from_env().shopee
    if shopee is None:
        raise RuntimeError("Shopee is not configured: call configure_sandbox_env first")
    app = shopee.app()
    redirect = _consent_redirect(app.authorization_url()[0], {"shop_id": seller.seller_id})
    return connect_shopee(app, redirect["code"], redirect["shop_id"], engine, token_store)


def connect_bling_account(token_store: TokenStore) -> str:
    """Authorize the sandbox's Bling company through its consent redirect; its account id."""
    from synchub_pipelines.connect import connect_bling
    from synchub_pipelines.defs.marketplaces import BlingResource

    resource = BlingResource.from_environment(resolve=True)
    app = resource.app()
    connect_bling(
        app, _code_from_consent(app.authorization_url()[0], {}), token_store, resource.account_id
    )
    return resource.account_id
