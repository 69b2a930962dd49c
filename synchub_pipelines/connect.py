"""Connecting a marketplace account: authorization URL, code exchange, store registration.

A store belongs to one tenant. Connecting names it (`tenant`), or, left out, keeps the
tenant a reconnected store already has (a new store goes to `default`): renewing a
consent must not move a merchant's store into another merchant's catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from pydantic import SecretStr
from sqlalchemy.engine import Engine

from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.stores.tenants import DEFAULT_TENANT, require_tenant
from synchub_pipelines.marketplaces import amazon, bling, mercadolivre, shopee, tiktok
from synchub_pipelines.marketplaces.errors import MarketplaceError
from synchub_pipelines.marketplaces.tokens import MemoryTokenStore, TokenSet, TokenStore
from synchub_pipelines.models import Marketplace, Store
from synchub_pipelines.warehouse.stores import load_store, register_store


def marketplaces_from_env() -> MarketplacesResource:
    """The marketplace settings of the code location, with secrets resolved (CLI use)."""
    return MarketplacesResource.from_environment(resolve=True)


def mercadolivre_app_from_env() -> mercadolivre.MercadoLivreApp:
    return marketplaces_from_env().mercadolivre.app()


# (operation prefix, what, base URL, the variable that sets it): the first whose prefix
# starts the failed operation's name is where that call went.
Route = tuple[str, str, str, str]


def host_of(url: str) -> str:
    """host[:port] of a base URL: never its user, password, path or query."""
    parts = urlsplit(url)
    if not parts.hostname:
        return url.split("?", 1)[0]
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


@contextmanager
def naming_hosts(*routes: Route) -> Iterator[None]:
    """Add where a failed call went to its error.

    The HTTP layer names the marketplace and the operation but not the host, and connecting
    an account is when a wrong SYNCHUB_*_URL, a proxy or a firewall shows up: the operator
    needs the host and the variable to check. The error keeps its type and fields (callers
    may retry on them); only its message grows.
    """
    try:
        yield
    except MarketplaceError as exc:
        _, what, url, variable = next(
            (route for route in routes if exc.operation.startswith(route[0])), routes[-1]
        )
        where = f"{what} at {host_of(url)} ({variable})"
        said = str(exc.args[0]) if exc.args else exc.detail
        exc.args = (f"{said}; {'could not reach ' if exc.status is None else ''}{where}",)
        raise


def connect_mercadolivre(
    app: mercadolivre.MercadoLivreApp,
    code: str,
    engine: Engine,
    token_store: TokenStore,
    tenant: str | None = None,
) -> Store:
    """Exchange an authorization code, identify the seller, store tokens and register the store."""
    http = app.new_http()
    try:
        with naming_hosts(("", "the Mercado Livre API", app.api_url, "SYNCHUB_ML_API_URL")):
            seller_id, tokens = app.exchange_code(http, code)
            probe = Store.of(Marketplace.MERCADOLIVRE, seller_id, name=seller_id)
            scratch = MemoryTokenStore()
            scratch.save(probe.store_id, tokens)
            client = mercadolivre.MercadoLivreClient(app, probe, scratch, buyer_salt="", http=http)
            me = client.me()
    finally:
        http.close()
    store = Store.of(Marketplace.MERCADOLIVRE, seller_id, name=str(me.get("nickname") or seller_id))
    return _register(engine, token_store, store, tokens, tenant)


def connect_tiktok(
    app: tiktok.TikTokApp,
    code: str,
    engine: Engine,
    token_store: TokenStore,
    tenant: str | None = None,
    shop_id: str | None = None,
) -> Store:
    """Exchange a TikTok Shop authorization code; the grant's shop becomes the store."""
    http = app.new_http()
    try:
        with naming_hosts(
            ("oauth.", "TikTok Shop's authorization host", app.auth_url, "SYNCHUB_TIKTOK_AUTH_URL"),
            ("", "the TikTok Shop API", app.api_url, "SYNCHUB_TIKTOK_API_URL"),
        ):
            shop_id, tokens = app.exchange_code(http, code, shop_id)
            names = {shop.id: shop.name for shop in app.authorized_shops(http, tokens)}
    finally:
        http.close()
    store = Store.of(Marketplace.TIKTOK, shop_id, name=names.get(shop_id) or shop_id)
    return _register(engine, token_store, store, tokens, tenant)


def connect_shopee(
    app: shopee.ShopeeApp,
    code: str,
    shop_id: str,
    engine: Engine,
    token_store: TokenStore,
    tenant: str | None = None,
) -> Store:
    """Exchange the code of Shopee's consent redirect (it names the shop) and register it."""
    shop_id = shop_id.strip()
    if not shop_id.isdigit():
        raise ValueError(f"a Shopee shop_id is a number, not {shop_id!r}")
    http = app.new_http(shop_id=shop_id)
    try:
        with naming_hosts(("", "the Shopee API", app.api_url, "SYNCHUB_SHOPEE_API_URL")):
            tokens = app.exchange_code(http, code, int(shop_id))
    finally:
        http.close()
    store = Store.of(Marketplace.SHOPEE, shop_id, name=f"Shopee {shop_id}")
    return _register(engine, token_store, store, tokens, tenant)


def connect_amazon(
    app: amazon.AmazonApp,
    selling_partner_id: str,
    refresh_token: SecretStr,
    engine: Engine,
    token_store: TokenStore,
    tenant: str | None = None,
) -> Store:
    """Connect a selling partner from the refresh token Seller Central issued (private app)."""
    http = app.new_lwa_http()
    try:
        with naming_hosts(("", "Login with Amazon", app.lwa_url, "SYNCHUB_AMAZON_LWA_URL")):
            tokens = app.connect_with_refresh_token(http, refresh_token)
    finally:
        http.close()
    store = Store.of(Marketplace.AMAZON, selling_partner_id, name=selling_partner_id)
    return _register(engine, token_store, store, tokens, tenant)


def store_tenant(engine: Engine, store_id: str, tenant: str | None) -> str:
    """The tenant a store is registered under: the one asked for, checked against the
    configuration, else the one it has, else `default`."""
    if tenant is None:
        existing = load_store(engine, store_id, missing_ok=True)
        return existing.tenant if existing is not None else DEFAULT_TENANT
    return require_tenant(tenant)


def _register(
    engine: Engine, token_store: TokenStore, store: Store, tokens: TokenSet, tenant: str | None
) -> Store:
    # Checked before anything is kept: an unknown tenant leaves no tokens behind.
    store = store.model_copy(update={"tenant": store_tenant(engine, store.store_id, tenant)})
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
        with naming_hosts(("", "the Bling API", app.api_url, "SYNCHUB_BLING_API_URL")):
            client.connect(code)
            return client.deposits()
    finally:
        client.close()
