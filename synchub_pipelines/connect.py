"""Connecting a marketplace account: authorization URL, code exchange, store registration."""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy.engine import Engine

from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.marketplaces import amazon, bling, mercadolivre, shopee, tiktok
from synchub_pipelines.marketplaces.tokens import MemoryTokenStore, TokenSet, TokenStore
from synchub_pipelines.models import Marketplace, Store
from synchub_pipelines.warehouse.stores import register_store


def marketplaces_from_env() -> MarketplacesResource:
    """The marketplace settings of the code location, with secrets resolved (CLI use)."""
    return MarketplacesResource.from_environment(resolve=True)


def mercadolivre_app_from_env() -> mercadolivre.MercadoLivreApp:
    return marketplaces_from_env().mercadolivre.app()


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
    return _register(engine, token_store, store, tokens)


def connect_tiktok(
    app: tiktok.TikTokApp,
    code: str,
    engine: Engine,
    token_store: TokenStore,
    tenant: str = "default",
    shop_id: str | None = None,
) -> Store:
    """Exchange a TikTok Shop authorization code; the grant's shop becomes the store."""
    http = app.new_http()
    try:
        shop_id, tokens = app.exchange_code(http, code, shop_id)
        names = {shop.id: shop.name for shop in app.authorized_shops(http, tokens)}
    finally:
        http.close()
    store = Store.of(Marketplace.TIKTOK, shop_id, name=names.get(shop_id) or shop_id, tenant=tenant)
    return _register(engine, token_store, store, tokens)


def connect_shopee(
    app: shopee.ShopeeApp,
    code: str,
    shop_id: str,
    engine: Engine,
    token_store: TokenStore,
    tenant: str = "default",
) -> Store:
    """Exchange the code of Shopee's consent redirect (it names the shop) and register it."""
    shop_id = shop_id.strip()
    if not shop_id.isdigit():
        raise ValueError(f"a Shopee shop_id is a number, not {shop_id!r}")
    http = app.new_http(shop_id=shop_id)
    try:
        tokens = app.exchange_code(http, code, int(shop_id))
    finally:
        http.close()
    store = Store.of(Marketplace.SHOPEE, shop_id, name=f"Shopee {shop_id}", tenant=tenant)
    return _register(engine, token_store, store, tokens)


def connect_amazon(
    app: amazon.AmazonApp,
    selling_partner_id: str,
    refresh_token: SecretStr,
    engine: Engine,
    token_store: TokenStore,
    tenant: str = "default",
) -> Store:
    """Connect a selling partner from the refresh token Seller Central issued (private app)."""
    http = app.new_lwa_http()
    try:
        tokens = app.connect_with_refresh_token(http, refresh_token)
    finally:
        http.close()
    store = Store.of(Marketplace.AMAZON, selling_partner_id, name=selling_partner_id, tenant=tenant)
    return _register(engine, token_store, store, tokens)


def _register(engine: Engine, token_store: TokenStore, store: Store, tokens: TokenSet) -> Store:
    token_store.save(store.store_id, tokens)
    register_store(engine, store)
    return store


def connect_bling(
    app: bling.BlingApp, code: str, token_store: TokenStore, account_id: str
) -> list[bling.BlingDeposit]:
    """Exchange a Bling authorization code and keep the tokens under `account_id`.

    Bling is the catalog of record, not a store: nothing is registered in `stores`. The
    account's deposits are read back as proof that the grant works.
    """
    client = bling.BlingClient(app, token_store, account_id)
    try:
        client.connect(code)
        return client.deposits()
    finally:
        client.close()
