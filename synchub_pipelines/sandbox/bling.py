"""Bling ERP API v3 simulator: the merchant's ERP, holding the central catalog and stock.

Mounted at `/bling`, it serves the real paths after `https://www.bling.com.br/Api/v3`, so a
client's base URL is `http://HOST:PORT/bling/Api/v3`. It renders the World as Bling would
hold it: every product (variations under their parent, kits as composições), the internal
category tree, one deposit's balances, and every marketplace order imported as a pedido de
venda with the store's `loja.id` (see `loja_id_for`).

Choices where the public material is silent (API-NOTES §5 marks them [U]):
- refresh tokens rotate: using one issues a new pair and the old refresh token is dead;
- an authorization code lives 60 s and is single-use; `state` is required;
- `GET /produtos` lists parents ("V"), simple products, kits ("E") *and* each variation
  (with `idProdutoPai`), as the list's `idProdutoPai` field and the `tipo=V` filter imply;
- `GET /estoques/saldos` takes at most 100 ids; kits with virtual stock and parents derive
  their balance from components / variations and cannot receive stock launches;
- a saída that would make a balance negative is rejected;
- pedidos are listed oldest first; situação ids 6/9/12/15 carry the legacy `valor` codes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import math
import re
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from synchub_pipelines.sandbox.bling_render import (
    LRU,
    SITUACAO_OF_STATUS,
    SITUACOES,
    Catalog,
    IdAllocator,
    Pedido,
    build_pedidos,
    dumps,
    hashed_int,
    loja_id_for,
    pedido_detail,
    pedido_summary,
    product_detail,
    product_summary,
    quantity,
)
from synchub_pipelines.sandbox.world import SAO_PAULO, OrderChange

if TYPE_CHECKING:
    from synchub_pipelines.sandbox.server import Sandbox

CLIENT_ID = "sandbox-bling-client-id"
# Public sandbox credentials, printed in docs and tests on purpose.
CLIENT_SECRET = "sandbox-bling-client-secret"  # noqa: S105
REDIRECT_URI = "https://localhost:8787/synchub/callback/bling"
DEPOSITO_ID = 14886873821
DEPOSITO_NOME = "Geral"
_PEDIDO_IDS = (10_000_000_000, 9_000_000_000)  # (low, span) as build_pedidos draws them

ACCESS_TOKEN_TTL = 21_600
REFRESH_TOKEN_TTL = 30 * 86_400
AUTH_CODE_TTL = 60
SCOPE = "98308 98309 98310 98313 318257556 5990556 6631498"

RATE_PER_SECOND = 3.0
DAILY_LIMIT = 120_000
MAX_LIMITE = 100
MAX_SALDO_IDS = 100
_ACCOUNT = "bling-company"  # one company per Bling account: the quota is the account's

_PRODUTO_TIPOS = {"T", "P", "S", "E", "PS", "C", "V"}
_INDEXED_PARAM = re.compile(r"^(?P<name>[A-Za-z]+)\[\d*\]$")


class BlingError(Exception):
    """An API error rendered in Bling's `{"error":{type,message,description,fields?}}`."""

    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        description: str,
        fields: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {kind}: {description}")
        self.status = status
        self.kind = kind
        self.message = message
        self.description = description
        self.fields = fields
        self.headers = headers or {}

    def response(self) -> Response:
        error: dict[str, Any] = {
            "type": self.kind,
            "message": self.message,
            "description": self.description,
        }
        if self.fields is not None:
            error["fields"] = self.fields
        return _json({"error": error}, self.status, self.headers)


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(payload), status, headers, media_type="application/json")


def _field(code: int, element: str, msg: str, namespace: str) -> dict[str, Any]:
    return {"code": code, "msg": msg, "element": element, "namespace": namespace, "collection": []}


def _validation(description: str, fields: list[dict[str, Any]]) -> BlingError:
    return BlingError(400, "VALIDATION_ERROR", "Não foi possível salvar", description, fields)


def _bad_param(name: str, msg: str) -> BlingError:
    return BlingError(
        400,
        "VALIDATION_ERROR",
        "Parâmetros inválidos",
        f"O parâmetro {name} é inválido.",
        [_field(1, name, msg, "QUERY")],
    )


def _not_found(description: str) -> BlingError:
    return BlingError(404, "RESOURCE_NOT_FOUND", "Recurso não encontrado", description)


def _oauth_error(status: int, kind: str, description: str) -> BlingError:
    return BlingError(status, kind, kind, description)


def _invalid_token(description: str) -> BlingError:
    return BlingError(401, "invalid_token", "invalid_token", description)


def _too_many(description: str, retry_after: float) -> BlingError:
    return BlingError(
        429,
        "TOO_MANY_REQUESTS",
        "Limite de requisições atingido.",
        description,
        headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
    )


# --- query parameters --------------------------------------------------------------------


def _int_param(
    request: Request, name: str, default: int | None = None, low: int = 1, high: int | None = None
) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad_param(name, f"{name} deve ser um número inteiro.") from None
    if value < low or (high is not None and value > high):
        bound = f"entre {low} e {high}" if high is not None else f"maior ou igual a {low}"
        raise _bad_param(name, f"{name} deve estar {bound}.")
    return value


def _array_param(request: Request, name: str) -> list[str]:
    """`name[]=a&name[]=b` (or `name[0]=a`), the PHP-style arrays Bling reads."""
    values = []
    for key, value in request.query_params.multi_items():
        match = _INDEXED_PARAM.match(key)
        if match and match.group("name") == name:
            values.append(value)
    if name in request.query_params:
        raise _bad_param(name, f"Envie {name} como lista: {name}[]=valor.")
    return values


def _int_array(request: Request, name: str) -> list[int]:
    try:
        return [int(v) for v in _array_param(request, name)]
    except ValueError:
        raise _bad_param(f"{name}[]", f"{name}[] deve conter números inteiros.") from None


def _local_instant(day: date, at: time = time.min) -> float:
    return datetime.combine(day, at, tzinfo=SAO_PAULO).timestamp()


def _date_bound(request: Request, name: str, *, end: bool, with_time: bool) -> float | None:
    """A São Paulo date ("YYYY-MM-DD") or, where allowed, "YYYY-MM-DD HH:MM:SS" as a
    UTC timestamp; an end bound is exclusive (the next day, or the next second)."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        if with_time and len(raw) > 10:
            moment = datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SAO_PAULO)
            return moment.timestamp() + (1 if end else 0)
        day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=SAO_PAULO).date()
    except ValueError:
        fmt = "YYYY-MM-DD ou YYYY-MM-DD HH:MM:SS" if with_time else "YYYY-MM-DD"
        raise _bad_param(name, f"{name} deve estar no formato {fmt}.") from None
    return _local_instant(day + timedelta(days=1) if end else day)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise _validation(
            "O corpo da requisição não é um JSON válido.",
            [_field(1, "body", "JSON inválido.", "REQUEST")],
        ) from None
    if not isinstance(body, dict):
        raise _validation(
            "O corpo da requisição deve ser um objeto JSON.",
            [_field(1, "body", "Objeto JSON esperado.", "REQUEST")],
        )
    return body


def _nested_id(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    inner = value.get("id") if isinstance(value, dict) else None
    return inner if isinstance(inner, int) and not isinstance(inner, bool) else None


# --- state -------------------------------------------------------------------------------


@dataclass
class Categoria:
    id: int
    descricao: str
    pai: int  # 0 at the root

    def render(self) -> dict[str, Any]:
        return {"id": self.id, "descricao": self.descricao, "categoriaPai": {"id": self.pai}}


@dataclass(frozen=True)
class PedidoQuery:
    loja: int | None
    created_from: float | None
    created_to: float | None  # exclusive
    altered_from: float | None
    altered_to: float | None  # exclusive
    situacoes: frozenset[int] | None
    contato: int | None
    numero: int | None
    numeros_loja: tuple[str, ...] | None

    @property
    def needs_scan(self) -> bool:
        """Filters on what an order looks like *now* cannot use the creation index alone."""
        return (
            self.situacoes is not None
            or self.altered_from is not None
            or self.altered_to is not None
            or self.contato is not None
        )


Handler = Callable[[Request], Awaitable[Response]]


def _paid_spans(pedido: Pedido) -> list[tuple[float, float, Pedido]]:
    """(paid since, until the next step or forever, pedido): when its units are reserved."""
    spans = []
    for i, (status, _) in enumerate(pedido.order.timeline):
        if status == "paid":
            end = pedido.step_ts[i + 1] if i + 1 < len(pedido.step_ts) else math.inf
            spans.append((pedido.step_ts[i], end, pedido))
    return spans


class Simulator:
    """Bling API v3 for one company account, rendering the sandbox World."""

    name = "bling"

    def __init__(self, sandbox: Sandbox) -> None:
        self.world = sandbox.world
        self.clock = sandbox.clock
        self.faults = sandbox.faults
        rate = sandbox.rate_limit(self.name, RATE_PER_SECOND)
        # An overridden (benchmark) rate gets a matching burst; the real quota bursts 3.
        self.bucket = sandbox.quota(self.name, rate, max(RATE_PER_SECOND, rate))
        self.daily_limit = DAILY_LIMIT
        self._daily: tuple[date, int] = (date.min, 0)
        self._token_serial = itertools.count(1)

        self._codes: dict[str, float] = {}
        self._access: dict[str, float] = {}
        self._refresh: dict[str, float] = {}

        self._category_ids = IdAllocator(1_000_000, 9_000_000)
        self._category_serial = itertools.count(1)
        self.categorias: dict[int, Categoria] = {}
        by_path: dict[str, int] = {}
        for product in self.world.products:
            self._ensure_path(product.category, by_path)
        self.catalog = Catalog(self.world, lambda path: by_path[path])

        self._fisico: dict[int, float] = {
            p.id: float(p.product.on_hand)
            for p in self.catalog.products
            if p.holds_stock and p.product is not None
        }
        self._lancamento_ids = IdAllocator(10_000_000_000, 9_000_000_000)
        self.stock_writes: list[dict[str, Any]] = []
        self.category_writes: list[dict[str, Any]] = []
        # Imported here: bling_catalog builds on this module's error helpers.
        from synchub_pipelines.sandbox.bling_catalog import CatalogWrites

        self.catalog_writes = CatalogWrites(self)

        self._index_pedidos()

    # --- catalog state -------------------------------------------------------------------

    def _ensure_path(self, path: str, by_path: dict[str, int]) -> int:
        parent = 0
        prefix: list[str] = []
        for part in (p.strip() for p in path.split(">")):
            prefix.append(part)
            key = " > ".join(prefix)
            if key not in by_path:
                cat_id = self._category_ids.allocate(f"categoria:{key}")
                self.categorias[cat_id] = Categoria(cat_id, part, parent)
                by_path[key] = cat_id
            parent = by_path[key]
        return parent

    # --- pedidos index -------------------------------------------------------------------

    def _index_pedidos(self) -> None:
        self.pedidos = build_pedidos(self.world)
        self._created = array("d", (p.created_ts for p in self.pedidos))
        self._pedido_by_id = {p.id: p for p in self.pedidos}
        self._pedido_by_numero = {p.numero: p for p in self.pedidos}
        self._pedido_by_numero_loja = {p.numero_loja: p for p in self.pedidos}
        self.lojas = {loja_id_for(s.store_id): s for s in self.world.sellers}
        by_loja: dict[int, list[Pedido]] = {}
        for pedido in self.pedidos:
            by_loja.setdefault(pedido.loja_id, []).append(pedido)
        self._by_loja = {
            loja: (members, array("d", (p.created_ts for p in members)))
            for loja, members in by_loja.items()
        }
        # Every moment any order changes; how many have passed identifies the whole state
        # of the order book, which keys the caches below.
        self._events = array("d", sorted(ts for p in self.pedidos for ts in p.step_ts))
        spans = [span for pedido in self.pedidos for span in _paid_spans(pedido)]
        spans.sort(key=lambda s: s[0])
        self._paid_spans = spans
        self._paid_starts = array("d", (s[0] for s in spans))
        finite = [end - start for start, end, _ in spans if end != math.inf]
        self._paid_max_span = max(finite, default=0.0)
        self._open_paid = [s for s in spans if s[1] == math.inf]
        self._reserved_cache: tuple[int, dict[int, float]] | None = None
        self._filter_cache: LRU[tuple[PedidoQuery, int], list[Pedido]] = LRU(32)
        self._summary_cache: LRU[tuple[int, int], str] = LRU(100_000)
        self._detail_cache: LRU[tuple[int, int], str] = LRU(20_000)

    def on_order_changed(self, change: OrderChange) -> None:
        """World listener: the ERP imports every marketplace sale and follows its status.

        Rendered pedidos stay cached: they are keyed by timeline step, and a change only
        ever replaces steps that had not happened yet.
        """
        order = change.order
        pedido = self._pedido_by_numero_loja.get(str(order.order_number))
        if pedido is None:
            key, salt = f"pedido:{order.order_number}", 0
            pedido_id = hashed_int(key, *_PEDIDO_IDS)
            while pedido_id in self._pedido_by_id:  # the same re-hash as IdAllocator
                salt += 1
                pedido_id = hashed_int(f"{key}#{salt}", *_PEDIDO_IDS)
            contato = hashed_int(f"contato:{order.buyer.buyer_id}", 10**10, 9 * 10**10)
            numero = max((p.numero for p in self.pedidos), default=0) + 1
            loja = loja_id_for(order.seller.store_id)
            pedido = Pedido(order, pedido_id, numero, loja, contato)
            at = bisect_right(self._created, pedido.created_ts)
            self.pedidos.insert(at, pedido)
            self._created.insert(at, pedido.created_ts)
            self._pedido_by_id[pedido.id] = pedido
            self._pedido_by_numero[pedido.numero] = pedido
            self._pedido_by_numero_loja[pedido.numero_loja] = pedido
            members, created = self._by_loja.setdefault(pedido.loja_id, ([], array("d")))
            at = bisect_right(created, pedido.created_ts)
            members.insert(at, pedido)
            created.insert(at, pedido.created_ts)
        else:
            for moment in pedido.step_ts:
                del self._events[bisect_left(self._events, moment)]
            kept = [s for s in self._paid_spans if s[2] is not pedido]
            self._paid_spans = kept
            self._paid_starts = array("d", (s[0] for s in kept))
            self._open_paid = [s for s in self._open_paid if s[2] is not pedido]
            pedido.step_ts = tuple(when.timestamp() for _, when in order.timeline)
        for moment in pedido.step_ts:
            self._events.insert(bisect_right(self._events, moment), moment)
        for span in _paid_spans(pedido):
            at = bisect_right(self._paid_starts, span[0])
            self._paid_spans.insert(at, span)
            self._paid_starts.insert(at, span[0])
            if span[1] == math.inf:
                self._open_paid.append(span)
            else:
                self._paid_max_span = max(self._paid_max_span, span[1] - span[0])
        self._reserved_cache = None
        self._filter_cache = LRU(32)

    def _state(self, now: float) -> int:
        return bisect_right(self._events, now)

    @staticmethod
    def _step(pedido: Pedido, now: float) -> int:
        return bisect_right(pedido.step_ts, now) - 1

    # --- stock ---------------------------------------------------------------------------

    def reserved(self, now: float) -> dict[int, float]:
        """Units held by orders paid but not yet shipped, per stocked product id."""
        state = self._state(now)
        if self._reserved_cache is not None and self._reserved_cache[0] == state:
            return self._reserved_cache[1]
        lo = bisect_left(self._paid_starts, now - self._paid_max_span)
        hi = bisect_right(self._paid_starts, now)
        reserved: dict[int, float] = {}
        active = [s for s in self._paid_spans[lo:hi] if s[1] > now]
        active += [s for s in self._open_paid if s[0] <= now]
        for _, _, pedido in active:
            for line in pedido.order.lines:
                item = self.catalog.by_codigo.get(line.sku) if line.sku else None
                if item is None:
                    continue
                # A kit sold holds its components: the kit itself has no stock of its own.
                parts = item.componentes or ((item.id, 1),)
                for part_id, qty in parts:
                    reserved[part_id] = reserved.get(part_id, 0.0) + qty * line.quantity
        self._reserved_cache = (state, reserved)
        return reserved

    def saldo(self, product_id: int, reserved: dict[int, float]) -> tuple[float, float]:
        """(físico, virtual) of a product in the one deposit."""
        item = self.catalog.by_id[product_id]
        if item.holds_stock:
            fisico = self._fisico[item.id]
            return fisico, fisico - reserved.get(item.id, 0.0)
        if item.formato == "V":
            parts = [self.saldo(child, reserved) for child in item.children]
            return sum(p[0] for p in parts), sum(p[1] for p in parts)
        fisicos, virtuais = [], []
        for part_id, qty in item.componentes:
            f, v = self.saldo(part_id, reserved)
            fisicos.append(max(0, math.floor(f / qty)))
            virtuais.append(max(0, math.floor(v / qty)))
        return float(min(fisicos, default=0)), float(min(virtuais, default=0))

    # --- app -----------------------------------------------------------------------------

    def app(self) -> Starlette:
        api = "/Api/v3"
        routes = [
            Route(f"{api}/oauth/authorize", self._wrap(self._authorize, auth=False)),
            Route(f"{api}/oauth/token", self._wrap(self._token, auth=False), methods=["POST"]),
            Route(f"{api}/produtos", self._wrap(self._produtos)),
            Route(
                f"{api}/produtos/lojas",
                self._wrap(self.catalog_writes.vinculos_list),
                methods=["GET", "POST"],
            ),
            Route(
                f"{api}/produtos/lojas/{{id:int}}",
                self._wrap(self.catalog_writes.vinculo),
                methods=["GET", "PUT", "DELETE"],
            ),
            Route(
                f"{api}/produtos/{{id:int}}", self._wrap(self._produto), methods=["GET", "PATCH"]
            ),
            Route(f"{api}/campos-customizados/modulos", self._wrap(self.catalog_writes.modulos)),
            Route(
                f"{api}/campos-customizados/modulos/{{id:int}}",
                self._wrap(self.catalog_writes.campos_do_modulo),
            ),
            Route(f"{api}/campos-customizados/{{id:int}}", self._wrap(self.catalog_writes.campo)),
            Route(
                f"{api}/categorias/produtos",
                self._wrap(self._categorias),
                methods=["GET", "POST"],
            ),
            Route(
                f"{api}/categorias/produtos/{{id:int}}",
                self._wrap(self._categoria),
                methods=["GET", "PUT", "DELETE"],
            ),
            Route(f"{api}/depositos", self._wrap(self._depositos)),
            Route(f"{api}/estoques/saldos", self._wrap(self._saldos)),
            Route(f"{api}/estoques/saldos/{{id:int}}", self._wrap(self._saldos_deposito)),
            Route(f"{api}/estoques", self._wrap(self._lancar_estoque), methods=["POST"]),
            Route(f"{api}/pedidos/vendas", self._wrap(self._pedidos)),
            Route(f"{api}/pedidos/vendas/{{id:int}}", self._wrap(self._pedido)),
            Route(
                "/{path:path}",
                self._wrap(self._unknown, auth=False),
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            ),
        ]
        return Starlette(routes=routes)

    def _wrap(self, handler: Handler, *, auth: bool = True) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                await self._admit(request, auth)
                return await handler(request)
            except BlingError as exc:
                return exc.response()

        return endpoint

    async def _admit(self, request: Request, auth: bool) -> None:
        fault = self.faults.roll()
        if fault == "5xx":
            raise BlingError(
                500,
                "SERVER_ERROR",
                "Erro interno do servidor",
                "Ocorreu um erro inesperado. Tente novamente mais tarde.",
            )
        if fault == "429":
            raise _too_many("Limite de requisições por segundo atingido.", 1)
        if fault == "slow":
            await asyncio.sleep(self.faults.slow_seconds)
        if not auth:
            return
        self._check_token(request)
        wait = self.bucket.take(_ACCOUNT)
        if wait is not None:
            raise _too_many(f"Limite de {self.bucket.rate:g} requisições por segundo.", wait)
        now = self.clock.time()
        today = datetime.fromtimestamp(now, SAO_PAULO).date()
        day, count = self._daily
        count = count if day == today else 0
        if count >= self.daily_limit:
            midnight = _local_instant(today + timedelta(days=1))
            raise _too_many(f"Limite de {self.daily_limit} requisições diárias.", midnight - now)
        self._daily = (today, count + 1)

    @property
    def requests_today(self) -> int:
        return self._daily[1]

    async def _unknown(self, request: Request) -> Response:
        raise _not_found(f"O recurso /{request.path_params['path']} não existe.")

    # --- OAuth ---------------------------------------------------------------------------

    def _new_secret(self, kind: str) -> str:
        seed = f"{self.world.seed}:{kind}:{next(self._token_serial)}"
        return hashlib.sha256(seed.encode()).hexdigest()[:40]

    async def _authorize(self, request: Request) -> Response:
        params = request.query_params
        if params.get("response_type") != "code":
            raise _oauth_error(400, "unsupported_response_type", "response_type deve ser code.")
        if params.get("client_id") != CLIENT_ID:
            raise _oauth_error(400, "invalid_client", "client_id desconhecido.")
        if params.get("redirect_uri") not in (None, REDIRECT_URI):
            raise _oauth_error(400, "invalid_request", "redirect_uri difere do cadastrado.")
        state = params.get("state")
        if not state:
            raise _oauth_error(400, "invalid_request", "O parâmetro state é obrigatório.")
        code = self._new_secret("code")
        self._codes[code] = self.clock.time() + AUTH_CODE_TTL
        location = f"{REDIRECT_URI}?{urlencode({'code': code, 'state': state})}"
        return RedirectResponse(location, status_code=302)

    async def _token(self, request: Request) -> Response:
        if self._basic_credentials(request) != (CLIENT_ID, CLIENT_SECRET):
            raise _oauth_error(401, "invalid_client", "Credenciais do aplicativo inválidas.")
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            raise _oauth_error(
                400, "invalid_request", "Use Content-Type application/x-www-form-urlencoded."
            )
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        grant = form.get("grant_type", [""])[0]
        now = self.clock.time()
        if grant == "authorization_code":
            code = form.get("code", [""])[0]
            expires = self._codes.pop(code, None)
            if expires is None or expires < now:
                raise _oauth_error(400, "invalid_grant", "Authorization code inválido ou expirado.")
        elif grant == "refresh_token":
            refresh = form.get("refresh_token", [""])[0]
            expires = self._refresh.pop(refresh, None)
            if expires is None or expires < now:
                raise _oauth_error(400, "invalid_grant", "Refresh token inválido ou expirado.")
        else:
            raise _oauth_error(400, "unsupported_grant_type", f"grant_type {grant!r} inválido.")
        access, refresh = self._new_secret("access"), self._new_secret("refresh")
        self._access[access] = now + ACCESS_TOKEN_TTL
        self._refresh[refresh] = now + REFRESH_TOKEN_TTL
        return _json(
            {
                "access_token": access,
                "expires_in": ACCESS_TOKEN_TTL,
                "token_type": "Bearer",
                "scope": SCOPE,
                "refresh_token": refresh,
            }
        )

    @staticmethod
    def _basic_credentials(request: Request) -> tuple[str, str] | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except ValueError:
            return None
        return (user, password) if sep else None

    def _check_token(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _invalid_token("Token de acesso não informado.")
        expires = self._access.get(token.strip())
        if expires is None:
            raise _invalid_token("Token de acesso inválido.")
        if expires <= self.clock.time():
            raise _invalid_token("Token de acesso expirado.")

    # --- produtos ------------------------------------------------------------------------

    def _page(self, request: Request) -> tuple[int, int]:
        pagina = _int_param(request, "pagina", 1) or 1
        limite = _int_param(request, "limite", MAX_LIMITE, high=MAX_LIMITE) or MAX_LIMITE
        return (pagina - 1) * limite, limite

    async def _produtos(self, request: Request) -> Response:
        offset, limite = self._page(request)
        criterio = _int_param(request, "criterio", 1, high=5)
        tipo = request.query_params.get("tipo") or "T"
        if tipo not in _PRODUTO_TIPOS:
            raise _bad_param("tipo", f"tipo deve ser um de {sorted(_PRODUTO_TIPOS)}.")
        codigos = set(_array_param(request, "codigos"))
        if codigo := request.query_params.get("codigo"):
            codigos.add(codigo)
        ids = set(_int_array(request, "idsProdutos"))
        categoria = _int_param(request, "idCategoria")
        # Every product is active: "inativos" (3) and "excluídos" (4) are empty lists.
        items = [] if criterio in (3, 4) or tipo == "S" else self.catalog.products
        selected = [
            p
            for p in items
            if (tipo in ("T", "P") or p.tipo_filtro == tipo)
            and (not codigos or p.codigo in codigos)
            and (not ids or p.id in ids)
            and (categoria is None or p.categoria_id == categoria)
        ]
        reserved = self.reserved(self.clock.time())
        page = selected[offset : offset + limite]
        return _json({"data": [product_summary(p, self.saldo(p.id, reserved)[1]) for p in page]})

    async def _produto(self, request: Request) -> Response:
        if request.method == "PATCH":
            return await self.catalog_writes.patch_produto(request)
        item = self.catalog.by_id.get(request.path_params["id"])
        if item is None:
            raise _not_found("Produto não encontrado.")
        reserved = self.reserved(self.clock.time())
        body = product_detail(item, self.catalog, lambda p: self.saldo(p.id, reserved)[1])
        return _json({"data": body})

    # --- categorias ----------------------------------------------------------------------

    async def _categorias(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._criar_categoria(request)
        offset, limite = self._page(request)
        page = list(self.categorias.values())[offset : offset + limite]
        return _json({"data": [c.render() for c in page]})

    async def _categoria(self, request: Request) -> Response:
        categoria = self.categorias.get(request.path_params["id"])
        if categoria is None:
            raise _not_found("Categoria não encontrada.")
        if request.method == "GET":
            return _json({"data": categoria.render()})
        if request.method == "DELETE":
            return self._remover_categoria(categoria)
        body = await _json_body(request)
        descricao, pai = self._categoria_fields(body, default_pai=categoria.pai)
        node: int = pai
        while node:
            if node == categoria.id:
                raise _validation(
                    "Uma categoria não pode ficar abaixo de si mesma.",
                    [_field(3, "categoriaPai.id", "Categoria pai inválida.", "CATEGORIA")],
                )
            node = self.categorias[node].pai
        self._reject_duplicate(descricao, pai, except_id=categoria.id)
        before = categoria.render()
        categoria.descricao, categoria.pai = descricao, pai
        self._log_category("PUT", before, categoria.render())
        return Response(status_code=204)

    async def _criar_categoria(self, request: Request) -> Response:
        body = await _json_body(request)
        descricao, pai = self._categoria_fields(body, default_pai=0)
        self._reject_duplicate(descricao, pai, except_id=None)
        cat_id = self._category_ids.allocate(
            f"categoria-nova:{next(self._category_serial)}:{pai}:{descricao}"
        )
        self.categorias[cat_id] = Categoria(cat_id, descricao, pai)
        self._log_category("POST", None, self.categorias[cat_id].render())
        return _json({"data": {"id": cat_id}}, 201)

    def _remover_categoria(self, categoria: Categoria) -> Response:
        if any(c.pai == categoria.id for c in self.categorias.values()):
            raise _validation(
                "A categoria possui subcategorias.",
                [_field(4, "id", "Remova as subcategorias antes.", "CATEGORIA")],
            )
        if any(p.categoria_id == categoria.id for p in self.catalog.products):
            raise _validation(
                "A categoria está vinculada a produtos.",
                [_field(5, "id", "Categoria em uso por produtos.", "CATEGORIA")],
            )
        del self.categorias[categoria.id]
        self._log_category("DELETE", categoria.render(), None)
        return Response(status_code=204)

    def _categoria_fields(self, body: dict[str, Any], default_pai: int) -> tuple[str, int]:
        descricao = body.get("descricao")
        fields = []
        if not isinstance(descricao, str) or not descricao.strip():
            fields.append(_field(1, "descricao", "A descrição é obrigatória.", "CATEGORIA"))
        elif len(descricao.strip()) > 120:
            fields.append(_field(2, "descricao", "Máximo de 120 caracteres.", "CATEGORIA"))
        pai = default_pai
        if "categoriaPai" in body:
            found = _nested_id(body, "categoriaPai")
            if found is None or (found != 0 and found not in self.categorias):
                fields.append(
                    _field(3, "categoriaPai.id", "Categoria pai não encontrada.", "CATEGORIA")
                )
            else:
                pai = found
        if fields:
            raise _validation("Não foi possível salvar a categoria.", fields)
        assert isinstance(descricao, str)
        return descricao.strip(), pai

    def _reject_duplicate(self, descricao: str, pai: int, except_id: int | None) -> None:
        folded = descricao.casefold()
        for other in self.categorias.values():
            if other.id != except_id and other.pai == pai and other.descricao.casefold() == folded:
                raise _validation(
                    "Não foi possível salvar a categoria.",
                    [
                        _field(
                            6,
                            "descricao",
                            f"Já existe a categoria {other.descricao!r} neste nível.",
                            "CATEGORIA",
                        )
                    ],
                )

    def _log_category(
        self, method: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        self.category_writes.append(
            {"at": self.clock.now().isoformat(), "method": method, "before": before, "after": after}
        )

    # --- estoques ------------------------------------------------------------------------

    async def _depositos(self, request: Request) -> Response:
        deposito = {
            "id": DEPOSITO_ID,
            "descricao": DEPOSITO_NOME,
            "situacao": 1,
            "padrao": True,
            "desconsiderarSaldo": False,
        }
        return _json({"data": [deposito]})

    def _saldo_targets(self, request: Request) -> list[int]:
        ids = _int_array(request, "idsProdutos")
        codigos = _array_param(request, "codigos")
        if not ids and not codigos:
            raise _bad_param("idsProdutos", "Informe idsProdutos[] ou codigos[].")
        if len(ids) + len(codigos) > MAX_SALDO_IDS:
            raise _bad_param("idsProdutos", f"Informe no máximo {MAX_SALDO_IDS} produtos.")
        found = [i for i in ids if i in self.catalog.by_id]
        found += [self.catalog.by_codigo[c].id for c in codigos if c in self.catalog.by_codigo]
        return list(dict.fromkeys(found))

    async def _saldos(self, request: Request) -> Response:
        reserved = self.reserved(self.clock.time())
        data = []
        for product_id in self._saldo_targets(request):
            fisico, virtual = self.saldo(product_id, reserved)
            data.append(
                {
                    "produto": {"id": product_id, "codigo": self.catalog.by_id[product_id].codigo},
                    "saldoFisicoTotal": quantity(fisico),
                    "saldoVirtualTotal": quantity(virtual),
                    "depositos": [
                        {
                            "id": DEPOSITO_ID,
                            "saldoFisico": quantity(fisico),
                            "saldoVirtual": quantity(virtual),
                        }
                    ],
                }
            )
        return _json({"data": data})

    async def _saldos_deposito(self, request: Request) -> Response:
        if request.path_params["id"] != DEPOSITO_ID:
            raise _not_found("Depósito não encontrado.")
        reserved = self.reserved(self.clock.time())
        data = []
        for product_id in self._saldo_targets(request):
            fisico, virtual = self.saldo(product_id, reserved)
            data.append(
                {
                    "produto": {"id": product_id},
                    "saldoFisicoTotal": quantity(fisico),
                    "saldoVirtualTotal": quantity(virtual),
                }
            )
        return _json({"data": data})

    async def _lancar_estoque(self, request: Request) -> Response:
        body = await _json_body(request)
        fields = []
        product_id = _nested_id(body, "produto")
        item = self.catalog.by_id.get(product_id) if product_id is not None else None
        if item is None:
            fields.append(_field(10, "produto.id", "Produto não encontrado.", "ESTOQUE"))
        elif not item.holds_stock:
            fields.append(
                _field(
                    11,
                    "produto.id",
                    "Produto com variações ou composição com estoque virtual não "
                    "recebe lançamentos; lance nas variações ou componentes.",
                    "ESTOQUE",
                )
            )
        if _nested_id(body, "deposito") != DEPOSITO_ID:
            fields.append(_field(12, "deposito.id", "Depósito não encontrado.", "ESTOQUE"))
        operacao = body.get("operacao")
        if operacao not in ("B", "E", "S"):
            fields.append(_field(13, "operacao", "Operação deve ser B, E ou S.", "ESTOQUE"))
        raw_qty = body.get("quantidade")
        qty = (
            float(raw_qty)
            if isinstance(raw_qty, int | float) and not isinstance(raw_qty, bool)
            else None
        )
        if qty is None or not math.isfinite(qty) or qty < 0 or (operacao != "B" and qty == 0):
            fields.append(_field(14, "quantidade", "Quantidade inválida.", "ESTOQUE"))
        for name in ("preco", "custo"):
            value = body.get(name)
            if value is not None and (
                not isinstance(value, int | float) or isinstance(value, bool) or value < 0
            ):
                fields.append(_field(15, name, f"{name} inválido.", "ESTOQUE"))
        observacoes = body.get("observacoes")
        if observacoes is not None and not isinstance(observacoes, str):
            fields.append(_field(16, "observacoes", "observacoes deve ser texto.", "ESTOQUE"))
        if fields or item is None or qty is None:
            raise _validation("Não foi possível lançar o estoque.", fields)
        before = self._fisico[item.id]
        after = qty if operacao == "B" else before + qty if operacao == "E" else before - qty
        if after < 0:
            raise _validation(
                "Não foi possível lançar o estoque.",
                [_field(17, "quantidade", "Saldo insuficiente para a saída.", "ESTOQUE")],
            )
        lancamento = self._lancamento_ids.allocate(f"lancamento:{len(self.stock_writes) + 1}")
        self._fisico[item.id] = after
        self.stock_writes.append(
            {
                "id": lancamento,
                "at": self.clock.now().isoformat(),
                "produto_id": item.id,
                "codigo": item.codigo,
                "deposito_id": DEPOSITO_ID,
                "operacao": operacao,
                "quantidade": qty,
                "saldo_antes": before,
                "saldo_depois": after,
                "preco": body.get("preco"),
                "custo": body.get("custo"),
                "observacoes": observacoes,
            }
        )
        return _json({"data": {"id": lancamento}}, 201)

    def saldo_fisico(self, codigo: str) -> float:
        """The físico balance the ERP holds for a stocked SKU (for tests and benchmarks)."""
        return self._fisico[self.catalog.by_codigo[codigo].id]

    # --- pedidos de venda ----------------------------------------------------------------

    def _pedido_query(self, request: Request) -> PedidoQuery:
        situacoes = _int_array(request, "idsSituacoes")
        unknown = [s for s in situacoes if s not in SITUACOES]
        if unknown:
            raise _bad_param("idsSituacoes[]", f"Situações desconhecidas: {unknown}.")
        numeros_loja = _array_param(request, "numerosLojas")
        return PedidoQuery(
            loja=_int_param(request, "idLoja"),
            created_from=_date_bound(request, "dataInicial", end=False, with_time=False),
            created_to=_date_bound(request, "dataFinal", end=True, with_time=False),
            altered_from=_date_bound(request, "dataAlteracaoInicial", end=False, with_time=True),
            altered_to=_date_bound(request, "dataAlteracaoFinal", end=True, with_time=True),
            situacoes=frozenset(situacoes) if situacoes else None,
            contato=_int_param(request, "idContato"),
            numero=_int_param(request, "numero"),
            numeros_loja=tuple(numeros_loja) if numeros_loja else None,
        )

    def _passes(self, pedido: Pedido, query: PedidoQuery, now: float) -> bool:
        step = self._step(pedido, now)
        if step < 0:
            return False
        if query.loja is not None and pedido.loja_id != query.loja:
            return False
        if query.created_from is not None and pedido.created_ts < query.created_from:
            return False
        if query.created_to is not None and pedido.created_ts >= query.created_to:
            return False
        altered = pedido.step_ts[step]
        if query.altered_from is not None and altered < query.altered_from:
            return False
        if query.altered_to is not None and altered >= query.altered_to:
            return False
        if query.contato is not None and pedido.contato_id != query.contato:
            return False
        if query.situacoes is not None:
            situacao_id, _ = SITUACAO_OF_STATUS[pedido.order.timeline[step][0]]
            if situacao_id not in query.situacoes:
                return False
        return True

    def _matching(self, query: PedidoQuery, now: float) -> tuple[Sequence[Pedido], int, int]:
        """The matching pedidos as `seq[lo:hi]`, without copying when the index suffices."""
        if query.numero is not None or query.numeros_loja is not None:
            candidates = []
            if query.numero is not None and query.numero in self._pedido_by_numero:
                candidates.append(self._pedido_by_numero[query.numero])
            for numero_loja in query.numeros_loja or ():
                if numero_loja in self._pedido_by_numero_loja:
                    candidates.append(self._pedido_by_numero_loja[numero_loja])
            picked = [p for p in dict.fromkeys(candidates) if self._passes(p, query, now)]
            picked.sort(key=lambda p: p.numero)
            return picked, 0, len(picked)
        if query.loja is not None:
            if query.loja not in self._by_loja:
                return [], 0, 0
            seq, created = self._by_loja[query.loja]
        else:
            seq, created = self.pedidos, self._created
        lo = 0 if query.created_from is None else bisect_left(created, query.created_from)
        hi = bisect_right(created, now)
        for bound in (query.created_to, query.altered_to):
            if bound is not None:
                hi = min(hi, bisect_left(created, bound))
        if not query.needs_scan:
            return seq, lo, max(lo, hi)
        key = (query, self._state(now))
        cached = self._filter_cache.get(key)
        if cached is None:
            cached = [seq[i] for i in range(lo, hi) if self._passes(seq[i], query, now)]
            self._filter_cache.put(key, cached)
        return cached, 0, len(cached)

    async def _pedidos(self, request: Request) -> Response:
        offset, limite = self._page(request)
        query = self._pedido_query(request)
        now = self.clock.time()
        seq, lo, hi = self._matching(query, now)
        start = lo + offset
        end = min(hi, start + limite)
        parts = [self._summary_json(seq[i], now) for i in range(start, end)]
        body = '{"data":[' + ",".join(parts) + "]}"
        return Response(body, media_type="application/json")

    def _summary_json(self, pedido: Pedido, now: float) -> str:
        key = (pedido.numero, self._step(pedido, now))
        text = self._summary_cache.get(key)
        if text is None:
            text = dumps(pedido_summary(pedido, key[1]))
            self._summary_cache.put(key, text)
        return text

    async def _pedido(self, request: Request) -> Response:
        pedido = self._pedido_by_id.get(request.path_params["id"])
        now = self.clock.time()
        step = self._step(pedido, now) if pedido is not None else -1
        if pedido is None or step < 0:
            raise _not_found("Pedido de venda não encontrado.")
        key = (pedido.numero, step)
        text = self._detail_cache.get(key)
        if text is None:
            text = dumps({"data": pedido_detail(pedido, step, self.catalog)})
            self._detail_cache.put(key, text)
        return Response(text, media_type="application/json")
