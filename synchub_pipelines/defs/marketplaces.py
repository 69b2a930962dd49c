"""One Dagster resource per marketplace API, and the registry that hands out store clients.

Each resource reads its settings from the environment in one place, `from_environment()`:
the code location gets `dg.EnvVar`s for secrets (resolved at run time, never shown in the
UI), the `synchub` CLI gets the values themselves. A marketplace whose credentials are not
set is "not configured": its stores fail with a message saying which variable to set,
and the other marketplaces run normally.
"""

import os
from typing import Any, Self

import dagster as dg
from pydantic import Field, PrivateAttr, SecretStr

from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.marketplaces import amazon, bling, mercadolivre, shopee, tiktok
from synchub_pipelines.marketplaces.base import StoreClient
from synchub_pipelines.marketplaces.http import HttpSettings
from synchub_pipelines.models import Marketplace, Store


def _setting(name: str, default: str = "") -> str:
    """The variable's value; an empty one (a bare `NAME=` line in a .env) means the default."""
    return os.environ.get(name, "").strip() or default


def _burst(name: str) -> float | None:
    """A granted burst (requests at once), or None: the client then bursts one second's worth."""
    raw = _setting(name)
    return float(raw) if raw else None


def _secret(name: str, resolve: bool) -> Any:
    """An EnvVar for the code location, the value for the CLI; '' when unset."""
    if not os.environ.get(name):
        return ""
    return os.environ[name] if resolve else dg.EnvVar(name)


class MercadoLivreResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Mercado Livre application (production or sandbox, by base URL)."""

    client_id: str = Field(default="", description="Application id (SYNCHUB_ML_CLIENT_ID)")
    client_secret: str = Field(default="", description="Secret (SYNCHUB_ML_CLIENT_SECRET)")
    redirect_uri: str = Field(default="", description="Redirect URI (SYNCHUB_ML_REDIRECT_URI)")
    api_url: str = mercadolivre.PRODUCTION_API_URL
    auth_url: str = mercadolivre.PRODUCTION_AUTH_URL
    requests_per_second: float = Field(
        default=50.0, description="Client-side pace; ML publishes no number, 429s slow it further"
    )
    burst: float | None = Field(
        default=None, description="Burst the app is granted (SYNCHUB_ML_BURST; default: 1 s)"
    )
    max_attempts: int = Field(
        default=HttpSettings.max_attempts,
        ge=1,
        description="Tries per call on 429, 5xx and timeouts before the run fails",
    )

    @classmethod
    def from_environment(cls, resolve: bool = False) -> Self:
        return cls(
            client_id=_setting("SYNCHUB_ML_CLIENT_ID"),
            client_secret=_secret("SYNCHUB_ML_CLIENT_SECRET", resolve),
            redirect_uri=_setting(
                "SYNCHUB_ML_REDIRECT_URI", "https://localhost:8787/synchub/callback/mercadolivre"
            ),
            api_url=_setting("SYNCHUB_ML_API_URL", mercadolivre.PRODUCTION_API_URL),
            auth_url=_setting("SYNCHUB_ML_AUTH_URL", mercadolivre.PRODUCTION_AUTH_URL),
            requests_per_second=float(_setting("SYNCHUB_ML_REQUESTS_PER_SECOND", "50")),
            burst=_burst("SYNCHUB_ML_BURST"),
        )

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def app(self) -> mercadolivre.MercadoLivreApp:
        if not self.configured:
            raise dg.Failure(
                "Mercado Livre is not configured: set SYNCHUB_ML_CLIENT_ID and _SECRET"
            )
        return mercadolivre.MercadoLivreApp(
            client_id=self.client_id,
            client_secret=SecretStr(self.client_secret),
            redirect_uri=self.redirect_uri,
            api_url=self.api_url,
            auth_url=self.auth_url,
            requests_per_second=self.requests_per_second,
            burst=self.burst,
            http=HttpSettings(max_attempts=self.max_attempts),
        )


class TikTokResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """TikTok Shop Partner application (202309 API versions)."""

    app_key: str = Field(default="", description="App key (SYNCHUB_TIKTOK_APP_KEY)")
    app_secret: str = Field(default="", description="App secret (SYNCHUB_TIKTOK_APP_SECRET)")
    service_id: str = Field(default="", description="Service id (SYNCHUB_TIKTOK_SERVICE_ID)")
    api_url: str = tiktok.PRODUCTION_API_URL
    auth_url: str = tiktok.PRODUCTION_AUTH_URL
    requests_per_second: float = tiktok.DEFAULT_REQUESTS_PER_SECOND
    burst: float | None = Field(
        default=None, description="Burst the app is granted (SYNCHUB_TIKTOK_BURST; default: 1 s)"
    )

    @classmethod
    def from_environment(cls, resolve: bool = False) -> Self:
        return cls(
            app_key=_setting("SYNCHUB_TIKTOK_APP_KEY"),
            app_secret=_secret("SYNCHUB_TIKTOK_APP_SECRET", resolve),
            service_id=_setting("SYNCHUB_TIKTOK_SERVICE_ID"),
            api_url=_setting("SYNCHUB_TIKTOK_API_URL", tiktok.PRODUCTION_API_URL),
            auth_url=_setting("SYNCHUB_TIKTOK_AUTH_URL", tiktok.PRODUCTION_AUTH_URL),
            requests_per_second=float(
                _setting(
                    "SYNCHUB_TIKTOK_REQUESTS_PER_SECOND", str(tiktok.DEFAULT_REQUESTS_PER_SECOND)
                )
            ),
            burst=_burst("SYNCHUB_TIKTOK_BURST"),
        )

    @property
    def configured(self) -> bool:
        return bool(self.app_key and self.app_secret)

    def app(self) -> tiktok.TikTokApp:
        if not self.configured:
            raise dg.Failure(
                "TikTok Shop is not configured: set SYNCHUB_TIKTOK_APP_KEY and _SECRET"
            )
        return tiktok.TikTokApp(
            app_key=self.app_key,
            app_secret=SecretStr(self.app_secret),
            service_id=self.service_id or None,
            api_url=self.api_url,
            auth_url=self.auth_url,
            requests_per_second=self.requests_per_second,
            burst=self.burst,
        )


class ShopeeResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Shopee Open Platform v2 partner app (one app, any number of authorized shops)."""

    partner_id: str = Field(default="", description="Partner id (SYNCHUB_SHOPEE_PARTNER_ID)")
    partner_key: str = Field(
        default="", description="Partner key (SYNCHUB_SHOPEE_PARTNER_KEY), signs every call"
    )
    redirect_uri: str = Field(
        default="", description="Where Shopee returns after consent (SYNCHUB_SHOPEE_REDIRECT_URI)"
    )
    api_url: str = Field(
        default=shopee.PRODUCTION_API_URL,
        description="API host (SYNCHUB_SHOPEE_API_URL), e.g. https://openplatform.shopee.com.br",
    )
    requests_per_second: float = Field(
        default=shopee.DEFAULT_REQUESTS_PER_SECOND,
        description="Client-side pace per shop; Shopee publishes no number, 429s slow it further",
    )
    burst: float | None = Field(
        default=None, description="Burst the app is granted (SYNCHUB_SHOPEE_BURST; default: 1 s)"
    )

    @classmethod
    def from_environment(cls, resolve: bool = False) -> Self:
        return cls(
            partner_id=_setting("SYNCHUB_SHOPEE_PARTNER_ID"),
            partner_key=_secret("SYNCHUB_SHOPEE_PARTNER_KEY", resolve),
            redirect_uri=_setting(
                "SYNCHUB_SHOPEE_REDIRECT_URI", "https://localhost:8787/synchub/callback/shopee"
            ),
            api_url=_setting("SYNCHUB_SHOPEE_API_URL", shopee.PRODUCTION_API_URL),
            requests_per_second=float(
                _setting(
                    "SYNCHUB_SHOPEE_REQUESTS_PER_SECOND", str(shopee.DEFAULT_REQUESTS_PER_SECOND)
                )
            ),
            burst=_burst("SYNCHUB_SHOPEE_BURST"),
        )

    @property
    def configured(self) -> bool:
        return bool(self.partner_id and self.partner_key)

    def app(self) -> shopee.ShopeeApp:
        if not self.configured:
            raise dg.Failure(
                "Shopee is not configured: set SYNCHUB_SHOPEE_PARTNER_ID and _PARTNER_KEY"
            )
        if not self.partner_id.isdigit():
            raise dg.Failure("SYNCHUB_SHOPEE_PARTNER_ID must be the numeric partner id")
        return shopee.ShopeeApp(
            partner_id=int(self.partner_id),
            partner_key=SecretStr(self.partner_key),
            redirect_uri=self.redirect_uri,
            api_url=self.api_url,
            requests_per_second=self.requests_per_second,
            burst=self.burst,
        )


class AmazonResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Amazon Selling Partner API application (LWA credentials)."""

    lwa_client_id: str = Field(
        default="", description="LWA client id (SYNCHUB_AMAZON_LWA_CLIENT_ID)"
    )
    lwa_client_secret: str = Field(default="", description="SYNCHUB_AMAZON_LWA_CLIENT_SECRET")
    application_id: str = Field(default="", description="SYNCHUB_AMAZON_APPLICATION_ID")
    redirect_uri: str = ""
    marketplace_id: str = amazon.BRAZIL_MARKETPLACE_ID
    api_url: str = amazon.PRODUCTION_API_URL
    lwa_url: str = amazon.PRODUCTION_LWA_URL
    rate_scale: float = Field(
        default=1.0, description="Multiplies Amazon's default per-operation rates (raised quotas)"
    )

    @classmethod
    def from_environment(cls, resolve: bool = False) -> Self:
        return cls(
            lwa_client_id=_setting("SYNCHUB_AMAZON_LWA_CLIENT_ID"),
            lwa_client_secret=_secret("SYNCHUB_AMAZON_LWA_CLIENT_SECRET", resolve),
            application_id=_setting("SYNCHUB_AMAZON_APPLICATION_ID"),
            redirect_uri=_setting("SYNCHUB_AMAZON_REDIRECT_URI"),
            marketplace_id=_setting("SYNCHUB_AMAZON_MARKETPLACE_ID", amazon.BRAZIL_MARKETPLACE_ID),
            api_url=_setting("SYNCHUB_AMAZON_API_URL", amazon.PRODUCTION_API_URL),
            lwa_url=_setting("SYNCHUB_AMAZON_LWA_URL", amazon.PRODUCTION_LWA_URL),
            rate_scale=float(_setting("SYNCHUB_AMAZON_RATE_SCALE", "1")),
        )

    @property
    def configured(self) -> bool:
        return bool(self.lwa_client_id and self.lwa_client_secret)

    def app(self) -> amazon.AmazonApp:
        if not self.configured:
            raise dg.Failure(
                "Amazon is not configured: set SYNCHUB_AMAZON_LWA_CLIENT_ID and _SECRET"
            )
        return amazon.AmazonApp(
            client_id=self.lwa_client_id,
            client_secret=SecretStr(self.lwa_client_secret),
            application_id=self.application_id,
            redirect_uri=self.redirect_uri,
            marketplace_id=self.marketplace_id,
            api_url=self.api_url,
            lwa_url=self.lwa_url,
            rate_scale=self.rate_scale,
        )


class MarketplacesResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Every marketplace API; hands out a client for a connected store."""

    mercadolivre: MercadoLivreResource
    tiktok: TikTokResource
    amazon: AmazonResource
    # Optional so that code building the resource by hand for other marketplaces keeps
    # working; unset means "not configured", like an empty ShopeeResource.
    shopee: ShopeeResource | None = None
    _apps: dict[str, Any] = PrivateAttr(default_factory=dict)

    @classmethod
    def from_environment(cls, resolve: bool = False) -> Self:
        return cls(
            mercadolivre=MercadoLivreResource.from_environment(resolve),
            tiktok=TikTokResource.from_environment(resolve),
            amazon=AmazonResource.from_environment(resolve),
            shopee=ShopeeResource.from_environment(resolve),
        )

    def _app(self, marketplace: Marketplace) -> Any:
        if marketplace.value not in self._apps:
            resource = getattr(self, marketplace.value)
            if resource is None:  # Shopee left out of a hand-built configuration
                resource = ShopeeResource()
            self._apps[marketplace.value] = resource.app()
        return self._apps[marketplace.value]

    def is_configured(self, marketplace: Marketplace | str) -> bool:
        """Whether the marketplace's application credentials are set (else its stores'
        scheduled work is skipped, with the reason, instead of failing every tick)."""
        resource = getattr(self, Marketplace(marketplace).value, None)
        return bool(resource is not None and resource.configured)

    def client_parts(self, store: Store) -> tuple[type[StoreClient], Any]:
        """The client class and app for a store: plain, picklable parts (worker processes)."""
        classes = CLIENT_CLASSES
        if store.marketplace not in classes:
            raise dg.Failure(
                f"store {store.store_id}: marketplace {store.marketplace.value} has no client here"
            )
        return classes[store.marketplace], self._app(store.marketplace)

    def client_for(self, store: Store, warehouse: WarehouseResource) -> StoreClient:
        client_class, app = self.client_parts(store)
        return client_class(app, store, warehouse.token_store(), warehouse.buyer_salt)  # type: ignore[call-arg]


CLIENT_CLASSES: dict[Marketplace, type[StoreClient]] = {
    Marketplace.MERCADOLIVRE: mercadolivre.MercadoLivreClient,
    Marketplace.TIKTOK: tiktok.TikTokClient,
    Marketplace.AMAZON: amazon.AmazonClient,
    Marketplace.SHOPEE: shopee.ShopeeClient,
}


def settlement_days(marketplace: Marketplace | str) -> int:
    """How long after a sale the marketplace's money may still change (its client says)."""
    client_class = CLIENT_CLASSES.get(Marketplace(marketplace))
    return int(getattr(client_class, "settlement_days", 30))


class BlingResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Bling ERP application (API v3): the catalog of record and its stock, when used."""

    client_id: str = Field(default="", description="Client id (SYNCHUB_BLING_CLIENT_ID)")
    client_secret: str = Field(default="", description="SYNCHUB_BLING_CLIENT_SECRET")
    redirect_uri: str = Field(default="", description="SYNCHUB_BLING_REDIRECT_URI (optional)")
    api_url: str = bling.PRODUCTION_API_URL
    account_id: str = Field(
        default=bling.DEFAULT_ACCOUNT,
        description="Names the connected Bling company's stored tokens (SYNCHUB_BLING_ACCOUNT)",
    )
    requests_per_second: float = Field(
        default=bling.RATE_PER_SECOND, description="Bling allows 3 requests/s per account"
    )

    @classmethod
    def from_environment(cls, resolve: bool = False) -> Self:
        return cls(
            client_id=_setting("SYNCHUB_BLING_CLIENT_ID"),
            client_secret=_secret("SYNCHUB_BLING_CLIENT_SECRET", resolve),
            redirect_uri=_setting("SYNCHUB_BLING_REDIRECT_URI"),
            api_url=_setting("SYNCHUB_BLING_API_URL", bling.PRODUCTION_API_URL),
            account_id=_setting("SYNCHUB_BLING_ACCOUNT", bling.DEFAULT_ACCOUNT),
            requests_per_second=float(
                _setting("SYNCHUB_BLING_REQUESTS_PER_SECOND", str(bling.RATE_PER_SECOND))
            ),
        )

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def app(self) -> bling.BlingApp:
        if not self.configured:
            raise dg.Failure("Bling is not configured: set SYNCHUB_BLING_CLIENT_ID and _SECRET")
        return bling.BlingApp(
            client_id=self.client_id,
            client_secret=SecretStr(self.client_secret),
            redirect_uri=self.redirect_uri or None,
            api_url=self.api_url,
            requests_per_second=self.requests_per_second,
            burst=min(self.requests_per_second, bling.RATE_BURST),
        )

    def client(self, warehouse: WarehouseResource) -> bling.BlingClient:
        """A client for the connected Bling company; fails clearly when none is connected."""
        tokens = warehouse.token_store()
        if tokens.load(bling.token_key(self.account_id)) is None:
            raise dg.Failure(
                f"no Bling account {self.account_id!r} is connected: run `synchub connect bling`"
            )
        return bling.BlingClient(self.app(), tokens, self.account_id)
