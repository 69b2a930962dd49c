"""Bling ERP API v3 client: the central catalog (products, variations, kits, categories),
its stock, and the sales orders Bling imported from the marketplaces.

Bling is the catalog of record, not a marketplace store, so this client does not implement
`StoreClient`: it returns `CentralProduct`, `ProductComponent` and `CentralStock`.

Protocol facts this module relies on (API-NOTES §5):
- OAuth2 authorization code; `POST /oauth/token` authenticates the app with HTTP Basic
  (client_id:client_secret) and a form body. Access tokens last 6 h. Refresh tokens are
  treated as rotating (each refresh returns a new one and may kill the old), so refresh
  goes through `TokenManager`'s single-flight lease, like Mercado Livre's single-use ones.
- Lists page with `pagina`/`limite` (at most 100) and carry no total: page until `data`
  comes back empty. Array filters are PHP style, `idsProdutos[]=1&idsProdutos[]=2`.
- `GET /produtos` lists simple products, kits, parents *and* each variation (with
  `idProdutoPai`), but only a summary: brand, GTIN, category and weight need the detail
  (`GET /produtos/{id}`), whose `variacoes[]` carries every variation in full.
- Errors come as {"error": {"type", "message", "description", "fields"}}.
- 3 requests per second and 120,000 per day for the whole account: every client of one
  account in this process shares one limiter (burst 3).
- A date that was never set is written "0000-00-00".
"""

from __future__ import annotations

import base64
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from synchub_pipelines.marketplaces.base import (
    Page,
    chunked,
    describe_validation_error,
    reject,
)
from synchub_pipelines.marketplaces.bling_writes import BlingCatalogWrites
from synchub_pipelines.marketplaces.errors import (
    AuthError,
    InvalidRequestError,
    MarketplaceError,
    NotFoundError,
    RateLimitedError,
)
from synchub_pipelines.marketplaces.http import (
    ApiHttp,
    HttpSettings,
    classify_by_status,
    retry_after_seconds,
)
from synchub_pipelines.marketplaces.ratelimit import shared_limiter
from synchub_pipelines.marketplaces.tokens import TokenManager, TokenSet, TokenStore
from synchub_pipelines.models import CentralProduct, CentralStock, ProductComponent, Rejected

SOURCE = "bling"
PRODUCTION_API_URL = "https://www.bling.com.br/Api/v3"
DEFAULT_ACCOUNT = "bling"

RATE_PER_SECOND = 3.0
RATE_BURST = 3.0
PAGE_LIMIT = 100
SALDOS_MAX_IDS = 100
# `criterio` of GET /produtos: 1 últimos incluídos, 2 ativos, 3 inativos, 4 excluídos,
# 5 todos. The catalog of record is what the merchant still sells.
CRITERIO_ATIVOS = 2
# Formatos: S simples (also each variation), V com variações, E composição (kit).
FORMATO_VARIACOES = "V"
FORMATO_KIT = "E"
OPERACAO_BALANCO = "B"
TIPO_SERVICO = "S"
EMPTY_DATE = "0000-00-00"
# Safety net for a list that never comes back empty (a server bug must not loop forever).
MAX_PAGES = 100_000

_COLOR_KEYS = {"cor", "cores", "color", "colour"}
_SIZE_KEYS = {"tamanho", "tam", "size", "numeracao"}
_NO_GTIN = {"", "SEM GTIN"}


def token_key(account_id: str) -> str:
    """The key a Bling account's tokens are stored under."""
    return f"{SOURCE}-{account_id}"


def _fields_text(fields: Any) -> str:
    if not isinstance(fields, list):
        return ""
    parts = []
    for item in fields:
        if isinstance(item, dict):
            element = item.get("element") or item.get("namespace") or "?"
            parts.append(f"{element}: {item.get('msg') or item.get('code') or 'invalid'}")
    return "; ".join(parts)


def classify(response: httpx.Response, operation: str) -> MarketplaceError | None:
    """Bling's `error{type, message, description, fields}` as one of our exceptions."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    kind = str(error.get("type") or "") or None
    message = str(
        error.get("description") or error.get("message") or response.reason_phrase or "error"
    )
    detail = _fields_text(error.get("fields"))
    if detail:
        message = f"{message} ({detail})"
    status = response.status_code
    args = (SOURCE, operation, message)
    kw: dict[str, Any] = {"status": status, "code": kind}
    if kind == "TOO_MANY_REQUESTS" or status == 429:
        return RateLimitedError(*args, retry_after=retry_after_seconds(response), **kw)
    # A refresh token that is dead or an app secret that is wrong can only be fixed by
    # reconnecting: that is an authorization failure, whatever the HTTP status.
    if kind in {"invalid_token", "invalid_grant", "invalid_client", "unauthorized_client"}:
        return AuthError(*args, **kw)
    if kind == "RESOURCE_NOT_FOUND":
        return NotFoundError(*args, **kw)
    if kind == "VALIDATION_ERROR":
        return InvalidRequestError(*args, **kw)
    return classify_by_status(SOURCE, response, operation, message, kind)


# --- the API's own shapes (only the fields the pipeline reads) ---------------------------


def _optional_date(value: Any) -> Any:
    if value is None or (isinstance(value, str) and value.strip() in ("", EMPTY_DATE)):
        return None
    return value


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class BlingRef(_Lenient):
    """`{"id": …}`; Bling writes id 0 for "none"."""

    id: int | None = None

    @property
    def value(self) -> int | None:
        return self.id or None


class BlingProductRow(_Lenient):
    """A row of `GET /produtos`."""

    id: int
    idProdutoPai: int | None = None
    nome: str = ""
    codigo: str = ""
    tipo: str = "P"  # P produto, S serviço
    formato: str = "S"
    precoCusto: Decimal | None = None

    @property
    def parent_id(self) -> int | None:
        return self.idProdutoPai or None


class BlingComponent(_Lenient):
    produto: BlingRef
    quantidade: Decimal


class BlingStructure(_Lenient):
    tipoEstoque: str | None = None  # F físico (own balance) or V virtual (from components)
    componentes: list[BlingComponent] = Field(default_factory=list)


class BlingVariationOf(_Lenient):
    nome: str = ""
    ordem: int | None = None
    produtoPai: BlingRef | None = None


class BlingSupplier(_Lenient):
    precoCusto: Decimal | None = None


class BlingProduct(_Lenient):
    """`GET /produtos/{id}` (and each entry of its `variacoes`)."""

    id: int
    nome: str = Field(min_length=1)
    codigo: str = Field(min_length=1)
    preco: Decimal | None = None
    formato: str = "S"
    situacao: str | None = None
    marca: str | None = None
    gtin: str | None = None
    pesoLiquido: Decimal | None = None
    pesoBruto: Decimal | None = None
    categoria: BlingRef | None = None
    fornecedor: BlingSupplier | None = None
    estrutura: BlingStructure | None = None
    variacao: BlingVariationOf | None = None
    # Validated one by one, so that one bad variation does not reject its siblings.
    variacoes: list[dict[str, Any]] = Field(default_factory=list)


class BlingCategoryRow(_Lenient):
    id: int
    descricao: str
    categoriaPai: BlingRef | None = None


class BlingCategory(NamedTuple):
    id: int
    descricao: str
    parent_id: int | None  # None at the root


class BlingDeposit(_Lenient):
    id: int
    descricao: str = ""
    situacao: int | None = None
    padrao: bool = False
    desconsiderarSaldo: bool = False


class BlingDepositBalance(_Lenient):
    id: int
    saldoFisico: Decimal


class BlingBalanceProduct(_Lenient):
    id: int
    codigo: str | None = None


class BlingBalance(_Lenient):
    """A row of `GET /estoques/saldos`."""

    produto: BlingBalanceProduct
    saldoFisicoTotal: Decimal
    depositos: list[BlingDepositBalance] = Field(default_factory=list)


class BlingSituacao(_Lenient):
    id: int
    valor: int | None = None


class BlingOrderItem(_Lenient):
    codigo: str | None = None
    quantidade: Decimal
    valor: Decimal
    desconto: Decimal | None = None
    produto: BlingRef | None = None


class BlingShipping(_Lenient):
    frete: Decimal | None = None


class BlingFees(_Lenient):
    taxaComissao: Decimal | None = None
    custoFrete: Decimal | None = None
    valorBase: Decimal | None = None


class BlingSalesOrder(_Lenient):
    """A pedido de venda: `GET /pedidos/vendas` rows (no `itens`) or the detail.

    The buyer (`contato`) keeps its id only: names, documents and the shipping label are
    personal data the pipeline has no purpose for (LGPD).
    """

    id: int
    numero: int | None = None
    numeroLoja: str | None = None
    data: date | None = None
    dataSaida: date | None = None
    dataPrevista: date | None = None
    totalProdutos: Decimal | None = None
    total: Decimal
    situacao: BlingSituacao
    loja: BlingRef | None = None
    contato: BlingRef | None = None
    itens: list[BlingOrderItem] = Field(default_factory=list)
    transporte: BlingShipping | None = None
    taxas: BlingFees | None = None

    _dates = field_validator("data", "dataSaida", "dataPrevista", mode="before")(_optional_date)

    @field_validator("numeroLoja", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


@dataclass(frozen=True)
class CatalogEntry:
    """One central SKU and, for a kit, what it is made of."""

    product: CentralProduct
    components: tuple[ProductComponent, ...] = ()


# --- mapping to the canonical model ------------------------------------------------------


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def parse_variation_name(name: str) -> tuple[str | None, str | None]:
    """(colour, size) from a variation name such as "Cor:Preto;Tamanho:M"."""
    color = size = None
    for part in name.split(";"):
        key, sep, value = part.partition(":")
        value = value.strip()
        if not sep or not value:
            continue
        folded = _fold(key)
        if folded in _COLOR_KEYS:
            color = value
        elif folded in _SIZE_KEYS:
            size = value
    return color, size


def grams(kilograms: Decimal | None) -> int | None:
    """Bling weighs in kg; 0 means "not filled in"."""
    if kilograms is None or kilograms <= 0:
        return None
    return int((kilograms * 1000).to_integral_value(rounding=ROUND_HALF_UP))


def category_paths(categories: Iterable[BlingCategory]) -> dict[int, str]:
    """Each category's path from the root, "Parent > Child", as the internal tree names it."""
    by_id = {c.id: c for c in categories}
    paths: dict[int, str] = {}
    for category in by_id.values():
        names: list[str] = []
        node: BlingCategory | None = category
        seen: set[int] = set()
        # A parent missing from the answer or a loop ends the path where it breaks.
        while node is not None and node.id not in seen:
            seen.add(node.id)
            names.append(node.descricao)
            node = by_id.get(node.parent_id) if node.parent_id else None
        paths[category.id] = " > ".join(reversed(names))
    return paths


def _text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def central_product(
    item: BlingProduct,
    paths: Mapping[int, str],
    parent: BlingProduct | None = None,
    listed_cost: Decimal | None = None,
) -> CentralProduct:
    """A Bling product (or a variation of `parent`) as a central SKU."""
    color = size = None
    if parent is not None and item.variacao is not None:
        color, size = parse_variation_name(item.variacao.nome)
    category_ref = item.categoria or (parent.categoria if parent else None)
    category_id = category_ref.value if category_ref else None
    cost = item.fornecedor.precoCusto if item.fornecedor else None
    if cost is None:
        cost = listed_cost
    gtin = _text(item.gtin)
    return CentralProduct(
        sku=item.codigo,
        parent_sku=parent.codigo if parent is not None else None,
        name=item.nome,
        brand=_text(item.marca) or (_text(parent.marca) if parent else None),
        category=paths.get(category_id) if category_id else None,
        color=color,
        size=size,
        gtin=None if gtin is None or gtin.upper() in _NO_GTIN else gtin,
        price=item.preco,
        # Bling writes 0 for a cost never filled in; an unknown cost beats a fake margin.
        cost=cost if cost else None,
        currency="BRL",
        # weight_g is the item's own weight (as a catalog file states it); the gross
        # weight, packaging included, stands in only when the net one is not filled in.
        weight_g=grams(item.pesoLiquido) or grams(item.pesoBruto),
        is_kit=item.formato == FORMATO_KIT,
        source=SOURCE,
    )


class UnresolvedComponent(LookupError):
    def __init__(self, product_id: int) -> None:
        super().__init__(f"component product {product_id} is not in the Bling catalog")
        self.product_id = product_id


def kit_components(
    kit: BlingProduct, sku_of: Callable[[int], str | None]
) -> tuple[ProductComponent, ...]:
    """The kit's composition with SKUs; raises ValueError for one we cannot use."""
    structure = kit.estrutura
    if structure is None or not structure.componentes:
        raise ValueError("kit lists no components (estrutura.componentes is empty)")
    components = []
    for index, part in enumerate(structure.componentes):
        product_id = part.produto.value
        if product_id is None:
            raise ValueError(f"estrutura.componentes.{index}.produto.id is missing")
        quantity = part.quantidade
        if quantity <= 0 or quantity != quantity.to_integral_value():
            raise ValueError(
                f"estrutura.componentes.{index}.quantidade {quantity} is not a whole "
                "number of units"
            )
        sku = sku_of(product_id)
        if sku is None:
            raise UnresolvedComponent(product_id)
        components.append(
            ProductComponent(kit_sku=kit.codigo, component_sku=sku, quantity=int(quantity))
        )
    return tuple(components)


def _record_key(raw: Any) -> object:
    if isinstance(raw, dict):
        return raw.get("codigo") or raw.get("id")
    return None


def _balance_rows(balance: BlingBalance, sku: str, updated_at: datetime) -> list[CentralStock]:
    """One row per deposit (the deposit id as the warehouse); the total when none is given."""
    pairs = [(str(d.id), d.saldoFisico) for d in balance.depositos] or [
        ("total", balance.saldoFisicoTotal)
    ]
    for where, amount in pairs:
        if amount != amount.to_integral_value():
            raise ValueError(f"saldoFisico {amount} of deposit {where} is not a whole number")
    return [
        CentralStock(sku=sku, warehouse=where, on_hand=int(amount), updated_at=updated_at)
        for where, amount in pairs
    ]


# --- OAuth ---------------------------------------------------------------------------------


class _TokenAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    access_token: str = Field(min_length=1)
    expires_in: int
    refresh_token: str | None = None


@dataclass(frozen=True)
class BlingApp:
    """The registered Bling application, and where its API lives (production or sandbox)."""

    client_id: str
    client_secret: SecretStr
    redirect_uri: str | None = None  # Bling uses the one registered with the app
    api_url: str = PRODUCTION_API_URL
    auth_url: str | None = None  # where /oauth/authorize is served; api_url when None
    requests_per_second: float = RATE_PER_SECOND
    burst: float = RATE_BURST
    http: HttpSettings = field(default_factory=HttpSettings)

    def new_http(
        self, account_id: str = DEFAULT_ACCOUNT, transport: httpx.BaseTransport | None = None
    ) -> ApiHttp:
        # Bling's quota belongs to the account, whichever app or thread is calling.
        limiter = shared_limiter(f"{SOURCE}:{account_id}", self.requests_per_second, self.burst)
        return ApiHttp(SOURCE, self.api_url, classify, limiter, self.http, transport)

    def authorization_url(self, state: str | None = None) -> tuple[str, str]:
        """Where to send the merchant to grant access, and the `state` to check on return."""
        state = state or secrets.token_urlsafe(16)
        params = {"response_type": "code", "client_id": self.client_id, "state": state}
        if self.redirect_uri:
            params["redirect_uri"] = self.redirect_uri
        base = (self.auth_url or self.api_url).rstrip("/")
        return f"{base}/oauth/authorize?{urlencode(params)}", state

    def basic_authorization(self) -> str:
        """The `Authorization` header value of token calls (HTTP Basic with the app secret)."""
        pair = f"{self.client_id}:{self.client_secret.get_secret_value()}"
        return "Basic " + base64.b64encode(pair.encode()).decode("ascii")

    def _token_call(self, http: ApiHttp, form: dict[str, str]) -> TokenSet:
        def build() -> httpx.Request:
            headers = {"authorization": self.basic_authorization(), "accept": "application/json"}
            # httpx form-encodes `data` with application/x-www-form-urlencoded.
            return http.build("POST", "/oauth/token", data=form, headers=headers)

        response = http.send("oauth.token", build)
        try:
            answer = _TokenAnswer.model_validate(response.json())
        except (ValueError, ValidationError):
            raise MarketplaceError(
                SOURCE, "oauth.token", "token answer is not the documented JSON"
            ) from None
        return TokenSet(
            access_token=SecretStr(answer.access_token),
            refresh_token=SecretStr(answer.refresh_token) if answer.refresh_token else None,
            access_expires_at=datetime.now(UTC) + timedelta(seconds=answer.expires_in),
        )

    def exchange_code(self, http: ApiHttp, code: str) -> TokenSet:
        """Trade the authorization code the merchant came back with for tokens."""
        return self._token_call(http, {"grant_type": "authorization_code", "code": code})

    def refresh(self, http: ApiHttp, tokens: TokenSet) -> TokenSet:
        if tokens.refresh_token is None:
            raise AuthError(SOURCE, "oauth.refresh", "no refresh token stored; reconnect")
        fresh = self._token_call(
            http,
            {
                "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token.get_secret_value(),
            },
        )
        if fresh.refresh_token is None:
            # Without a new one the old refresh token still works: keep it.
            fresh = fresh.model_copy(update={"refresh_token": tokens.refresh_token})
        return fresh


# --- the client ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Known:
    """What the product list told us about one product id."""

    codigo: str
    formato: str
    parent_id: int | None


class BlingClient(BlingCatalogWrites):
    """One Bling account (one company): the catalog source and its stock.

    Call budget (3 req/s, 120k/day): a full catalog walk costs one `GET /produtos` per 100
    listed rows plus one more (the empty page that ends the list), one `GET /produtos/{id}`
    per simple product, kit and parent (variations come inside their parent's detail, so
    they cost nothing more), and two `GET /categorias/produtos` for up to 100 categories.
    For N top-level products with V variations in all: ⌈(N+V)/100⌉ + 1 + N + 2 calls,
    e.g. 1,000 families of 5 variations ≈ 1,063 calls ≈ 6 minutes, under 1% of the day.
    A kit component missing from the active list (an inactive product) costs one more
    detail. Stock costs one `GET /estoques/saldos` per 100 SKUs, plus one list walk when
    SKUs must be resolved to ids and this client has not listed the products yet.

    The client keeps what the list told it (SKU ↔ id) for its lifetime: use one client per
    run and per thread. Catalog writes (category, brand, custom fields, store links) come
    from `BlingCatalogWrites` (bling_writes.py).
    """

    def __init__(
        self,
        app: BlingApp,
        token_store: TokenStore,
        account_id: str = DEFAULT_ACCOUNT,
        http: ApiHttp | None = None,
    ) -> None:
        self.app = app
        self.account_id = account_id
        self.store_key = token_key(account_id)
        self.http = http or app.new_http(account_id)
        self._token_store = token_store
        self.tokens = TokenManager(
            token_store, self.store_key, lambda stale: app.refresh(self.http, stale)
        )
        self._known: dict[int, _Known] = {}
        self._ids_by_sku: dict[str, int] = {}
        self._own_stock: set[int] = set()  # kits seen with físico stock (tipoEstoque F)
        self._listed = False

    def close(self) -> None:
        self.http.close()

    def connect(self, code: str) -> TokenSet:
        """Exchange an authorization code and store the tokens under this account."""
        tokens = self.app.exchange_code(self.http, code)
        self._token_store.save(self.store_key, tokens)
        return tokens

    def _call(self, operation: str, method: str, path: str, **kw: Any) -> httpx.Response:
        current: dict[str, str] = {}

        def build() -> httpx.Request:
            current["token"] = self.tokens.access_token()
            headers = {"authorization": f"Bearer {current['token']}"}
            return self.http.build(method, path, headers=headers, **kw)

        return self.http.send(
            operation,
            build,
            reauthenticate=lambda: self.tokens.invalidate(current.get("token", "")),
        )

    def _get(self, operation: str, path: str, params: Any = None) -> Any:
        return self._call(operation, "GET", path, params=params).json()

    def _pages(
        self, operation: str, path: str, params: list[tuple[str, Any]]
    ) -> Iterator[list[Any]]:
        """Every page's `data` until an empty one (Bling lists carry no total)."""
        for pagina in range(1, MAX_PAGES + 1):
            query = [*params, ("pagina", pagina), ("limite", PAGE_LIMIT)]
            data = self._get(operation, path, query).get("data") or []
            if not data:
                return
            yield list(data)
        raise MarketplaceError(SOURCE, operation, f"the list did not end after {MAX_PAGES} pages")

    def _reject(self, source: str, key: object, reason: str, raw: Any) -> Rejected:
        return reject(f"{SOURCE}.{source}", self.store_key, key, reason, raw)

    # --- categories --------------------------------------------------------------------

    def categories(self) -> list[BlingCategory]:
        """The whole product category tree as (id, descricao, parent id).

        A category that fails validation fails the call: a tree with a hole would put
        products under wrong paths and make the category sync recreate what exists.
        """
        tree: list[BlingCategory] = []
        for rows in self._pages("categorias.list", "/categorias/produtos", []):
            for raw in rows:
                try:
                    row = BlingCategoryRow.model_validate(raw)
                except ValidationError as exc:
                    reason = describe_validation_error(exc)
                    raise MarketplaceError(
                        SOURCE, "categorias.list", f"category {_record_key(raw)}: {reason}"
                    ) from None
                parent = row.categoriaPai.value if row.categoriaPai else None
                tree.append(BlingCategory(row.id, row.descricao, parent))
        return tree

    def category_paths(self) -> dict[int, str]:
        return category_paths(self.categories())

    def create_category(self, descricao: str, parent_id: int | None = None) -> int:
        """Create a category (under `parent_id`, or at the root); returns its id.

        Not idempotent: re-read `categories()` before creating, rather than retrying blind.
        """
        body = {"descricao": descricao, "categoriaPai": {"id": parent_id or 0}}
        answer = self._call("categorias.create", "POST", "/categorias/produtos", json=body)
        return int(answer.json()["data"]["id"])

    def update_category(
        self, category_id: int, descricao: str, parent_id: int | None = None
    ) -> None:
        """Rename or move a category (PUT replaces both fields; idempotent)."""
        body = {"descricao": descricao, "categoriaPai": {"id": parent_id or 0}}
        self._call("categorias.update", "PUT", f"/categorias/produtos/{category_id}", json=body)

    # --- products ----------------------------------------------------------------------

    def _product_rows(self) -> Iterator[Page[BlingProductRow]]:
        params: list[tuple[str, Any]] = [("criterio", CRITERIO_ATIVOS), ("tipo", "T")]
        for rows in self._pages("produtos.list", "/produtos", params):
            page: Page[BlingProductRow] = Page()
            for raw in rows:
                try:
                    row = BlingProductRow.model_validate(raw)
                except ValidationError as exc:
                    reason = describe_validation_error(exc)
                    page.rejects.append(self._reject("products", _record_key(raw), reason, raw))
                    continue
                if row.tipo == TIPO_SERVICO:
                    continue  # a service is neither stocked nor sold on a marketplace
                page.records.append(row)
                self._remember(row.id, row.codigo, row.formato, row.parent_id)
            yield page
        self._listed = True

    def _remember(self, product_id: int, codigo: str, formato: str, parent: int | None) -> None:
        self._known[product_id] = _Known(codigo, formato, parent)
        if codigo:
            self._ids_by_sku[codigo] = product_id

    def product_index(self) -> dict[str, int]:
        """SKU → Bling product id for every listed product (walks the list once per client)."""
        if not self._listed:
            for _ in self._product_rows():
                pass
        return dict(self._ids_by_sku)

    def parent_of(self, product_id: int) -> int | None:
        """The parent (formato V) of a listed variation; None for any other product."""
        known = self._known.get(product_id)
        return known.parent_id if known else None

    def _sku_of(self, product_id: int) -> str | None:
        known = self._known.get(product_id)
        return known.codigo if known and known.codigo else None

    def _detail(self, product_id: int) -> Any:
        return self._get("produtos.get", f"/produtos/{product_id}").get("data")

    def iter_catalog(self) -> Iterator[Page[CatalogEntry]]:
        """Every SKU once, a list page at a time: simple products, each variation (with
        its parent's SKU), and kits with their components. Parents of variations are no
        SKU themselves. See the class docstring for what a walk costs."""
        walk = _CatalogWalk(self, self.category_paths())
        for rows in self._product_rows():
            page: Page[CatalogEntry] = Page(rejects=list(rows.rejects))
            for row in rows.records:
                walk.visit(row, page)
            yield page
        last: Page[CatalogEntry] = Page()
        walk.finish(last)
        if last.records or last.rejects:
            yield last

    def iter_products(self) -> Iterator[Page[CentralProduct]]:
        """The catalog's SKUs; use `iter_catalog()` when components are needed too."""
        for page in self.iter_catalog():
            yield Page([entry.product for entry in page.records], page.rejects)

    def iter_components(self) -> Iterator[Page[ProductComponent]]:
        """Kit compositions (costs a whole catalog walk; `iter_catalog()` gives both)."""
        for page in self.iter_catalog():
            yield Page([c for entry in page.records for c in entry.components], page.rejects)

    # --- stock -------------------------------------------------------------------------

    def _holds_stock(self, product_id: int, known: _Known) -> bool:
        if known.formato == FORMATO_VARIACOES:
            return False  # the sum of its variations
        if known.formato == FORMATO_KIT:
            return product_id in self._own_stock
        return True

    def iter_stock(
        self,
        skus: Iterable[str] | None = None,
        *,
        product_ids: Iterable[int] | None = None,
    ) -> Iterator[Page[CentralStock]]:
        """Physical balance (saldo físico) per SKU and deposit (the deposit id as text).

        With neither argument: every SKU that holds its own stock (simple products and
        variations; kits only when a catalog walk saw them with físico stock, since a
        virtual kit's balance derives from its components and parents sum their
        variations). SKUs are resolved to product ids through the product list.
        """
        rejects: list[Rejected] = []
        if product_ids is not None:
            ids = list(dict.fromkeys(product_ids))
        else:
            wanted = None if skus is None else list(dict.fromkeys(skus))
            if not self._listed and (wanted is None or set(wanted) - set(self._ids_by_sku)):
                self.product_index()
            if wanted is None:
                ids = [pid for pid, known in self._known.items() if self._holds_stock(pid, known)]
            else:
                ids = []
                for sku in wanted:
                    if sku in self._ids_by_sku:
                        ids.append(self._ids_by_sku[sku])
                    else:
                        reason = "SKU is not in the Bling product list"
                        rejects.append(self._reject("stock", sku, reason, {"codigo": sku}))
        if rejects:
            yield Page(rejects=rejects)
        for chunk in chunked(ids, SALDOS_MAX_IDS):
            yield self._balances(chunk)

    def _balances(self, ids: Sequence[int]) -> Page[CentralStock]:
        params = [("idsProdutos[]", product_id) for product_id in ids]
        answer = self._get("estoques.saldos", "/estoques/saldos", params)
        updated_at = datetime.now(UTC)
        page: Page[CentralStock] = Page()
        answered: set[int] = set()
        for raw in answer.get("data") or []:
            key = raw.get("produto", {}).get("id") if isinstance(raw, dict) else None
            try:
                balance = BlingBalance.model_validate(raw)
            except ValidationError as exc:
                reason = describe_validation_error(exc)
                page.rejects.append(self._reject("stock", key, reason, raw))
                continue
            answered.add(balance.produto.id)
            sku = _text(balance.produto.codigo) or self._sku_of(balance.produto.id)
            if sku is None:
                reason = "produto.codigo: the product has no SKU"
                page.rejects.append(self._reject("stock", balance.produto.id, reason, raw))
                continue
            try:
                page.records.extend(_balance_rows(balance, sku, updated_at))
            except ValueError as exc:
                page.rejects.append(self._reject("stock", sku, str(exc), raw))
        for missing in (i for i in ids if i not in answered):
            reason = "no balance returned (product deleted or not stocked)"
            page.rejects.append(
                self._reject("stock", missing, reason, {"produto": {"id": missing}})
            )
        return page

    def deposits(self) -> list[BlingDeposit]:
        """The account's deposits (warehouses); `padrao` marks the default one."""
        rows = self._get("depositos.list", "/depositos").get("data") or []
        return [BlingDeposit.model_validate(row) for row in rows]

    def set_stock(
        self,
        product_id: int,
        deposit_id: int,
        quantity: int | Decimal,
        note: str | None = "SyncHub",
    ) -> int:
        """Set a product's physical balance in a deposit (a balanço, operação "B");
        returns the stock launch id. A balanço states the absolute figure, so a retry after
        a lost answer lands on the same balance instead of adding twice."""
        if quantity < 0:
            raise ValueError("a stock balance cannot be negative")
        amount: int | float = int(quantity) if quantity == int(quantity) else float(quantity)
        body: dict[str, Any] = {
            "produto": {"id": product_id},
            "deposito": {"id": deposit_id},
            "operacao": OPERACAO_BALANCO,
            "quantidade": amount,
        }
        if note:
            body["observacoes"] = note
        answer = self._call("estoques.create", "POST", "/estoques", json=body)
        return int(answer.json()["data"]["id"])

    # --- sales orders (pedidos de venda) -----------------------------------------------

    def _parse_orders(self, raws: Iterable[Any]) -> Page[BlingSalesOrder]:
        page: Page[BlingSalesOrder] = Page()
        for raw in raws:
            try:
                page.records.append(BlingSalesOrder.model_validate(raw))
            except ValidationError as exc:
                key = raw.get("id") if isinstance(raw, dict) else None
                reason = describe_validation_error(exc)
                page.rejects.append(self._reject("orders", key, reason, raw))
        return page

    def iter_sales_orders(
        self, first_day: date, last_day: date, loja_id: int | None = None
    ) -> Iterator[Page[BlingSalesOrder]]:
        """Pedidos dated first_day..last_day (inclusive, the account's local dates), as
        list rows (no `itens`; `get_sales_order` has them). `loja_id` narrows to one store."""
        params: list[tuple[str, Any]] = [
            ("dataInicial", first_day.isoformat()),
            ("dataFinal", last_day.isoformat()),
        ]
        if loja_id is not None:
            params.append(("idLoja", loja_id))
        for rows in self._pages("pedidos.list", "/pedidos/vendas", params):
            yield self._parse_orders(rows)

    def get_sales_order(self, order_id: int) -> Page[BlingSalesOrder]:
        data = self._get("pedidos.get", f"/pedidos/vendas/{order_id}").get("data")
        return self._parse_orders([data])


class _CatalogWalk:
    """The state of one catalog walk: which ids are done, which wait for a parent or for
    the SKUs of their kit components."""

    def __init__(self, client: BlingClient, paths: Mapping[int, str]) -> None:
        self.client = client
        self.paths = paths
        self.done: set[int] = set()
        self.skus: dict[str, object] = {}  # SKU → the Bling id that claimed it
        self.orphans: dict[int, list[BlingProductRow]] = {}
        self.kits: list[tuple[BlingProduct, Any]] = []
        self.listed_cost: dict[int, Decimal | None] = {}

    def visit(self, row: BlingProductRow, page: Page[CatalogEntry]) -> None:
        self.listed_cost[row.id] = row.precoCusto
        if row.id in self.done:
            return
        if row.parent_id is not None:
            # Its parent's detail carries it in full; wait for the parent.
            self.orphans.setdefault(row.parent_id, []).append(row)
            return
        self._expand(row.id, row, page)

    def finish(self, page: Page[CatalogEntry]) -> None:
        for parent_id, rows in self.orphans.items():
            waiting = [r for r in rows if r.id not in self.done]
            if not waiting:
                continue
            if parent_id not in self.done:
                self._expand(parent_id, waiting[0], page)
            for row in waiting:
                if row.id not in self.done:
                    self.done.add(row.id)
                    reason = f"variation is not among the variations of product {parent_id}"
                    page.rejects.append(
                        self.client._reject(
                            "products", row.codigo or row.id, reason, row.model_dump()
                        )
                    )
        for kit, raw in self.kits:
            self._kit(kit, raw, page, final=True)

    def _expand(self, product_id: int, row: BlingProductRow, page: Page[CatalogEntry]) -> None:
        self.done.add(product_id)
        try:
            raw = self.client._detail(product_id)
        except NotFoundError:
            reason = f"listed, but GET /produtos/{product_id} answered 404 (deleted since?)"
            page.rejects.append(
                self.client._reject("products", row.codigo or product_id, reason, row.model_dump())
            )
            return
        try:
            item = BlingProduct.model_validate(raw)
        except ValidationError as exc:
            reason = describe_validation_error(exc)
            page.rejects.append(self.client._reject("products", _record_key(raw), reason, raw))
            return
        self.client._remember(item.id, item.codigo, item.formato, None)
        if item.variacoes or item.formato == FORMATO_VARIACOES:
            self._family(item, raw, page)
        elif item.formato == FORMATO_KIT:
            if item.estrutura is not None and item.estrutura.tipoEstoque == "F":
                self.client._own_stock.add(item.id)
            self._kit(item, raw, page, final=False)
        else:
            self._emit(
                central_product(item, self.paths, None, self.listed_cost.get(item.id)),
                (),
                raw,
                page,
            )

    def _family(self, parent: BlingProduct, raw: Any, page: Page[CatalogEntry]) -> None:
        if not parent.variacoes:
            reason = "product with variations (formato V) lists none"
            page.rejects.append(self.client._reject("products", parent.codigo, reason, raw))
            return
        for index, raw_variation in enumerate(parent.variacoes):
            try:
                variation = BlingProduct.model_validate(raw_variation)
            except ValidationError as exc:
                reason = f"variacoes.{index}: {describe_validation_error(exc)}"
                key = _record_key(raw_variation) or parent.codigo
                page.rejects.append(self.client._reject("products", key, reason, raw_variation))
                continue
            self.done.add(variation.id)
            self.client._remember(variation.id, variation.codigo, variation.formato, parent.id)
            product = central_product(
                variation, self.paths, parent, self.listed_cost.get(variation.id)
            )
            self._emit(product, (), raw_variation, page)

    def _kit(self, kit: BlingProduct, raw: Any, page: Page[CatalogEntry], final: bool) -> None:
        try:
            components = kit_components(kit, self._sku_or_fetch if final else self.client._sku_of)
        except UnresolvedComponent as exc:
            if final:
                page.rejects.append(self.client._reject("products", kit.codigo, str(exc), raw))
            else:
                # The component may sit on a later list page: decide once the list is read.
                self.kits.append((kit, raw))
            return
        except ValueError as exc:
            page.rejects.append(self.client._reject("products", kit.codigo, str(exc), raw))
            return
        product = central_product(kit, self.paths, None, self.listed_cost.get(kit.id))
        self._emit(product, components, raw, page)

    def _sku_or_fetch(self, product_id: int) -> str | None:
        sku = self.client._sku_of(product_id)
        if sku is not None:
            return sku
        # Not in the active list (an inactive component, say): ask for it by id.
        try:
            item = BlingProduct.model_validate(self.client._detail(product_id))
        except (NotFoundError, ValidationError):
            return None
        self.client._remember(item.id, item.codigo, item.formato, None)
        return item.codigo

    def _emit(
        self,
        product: CentralProduct,
        components: tuple[ProductComponent, ...],
        raw: Any,
        page: Page[CatalogEntry],
    ) -> None:
        if product.sku in self.skus:
            reason = f"SKU repeats Bling product {self.skus[product.sku]}"
            page.rejects.append(self.client._reject("products", product.sku, reason, raw))
            return
        self.skus[product.sku] = raw.get("id") if isinstance(raw, dict) else 0
        page.records.append(CatalogEntry(product, components))
