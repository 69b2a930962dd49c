"""The Bling ERP client: real payload samples, the error envelope, OAuth, and the client
against the sandbox simulator over real HTTP on loopback (catalog, stock, categories,
sales orders, token rotation, faults and the published 3 req/s quota).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from pydantic import SecretStr

from synchub_pipelines.marketplaces.bling import (
    BlingApp,
    BlingCategory,
    BlingClient,
    BlingProduct,
    BlingSalesOrder,
    CatalogEntry,
    UnresolvedComponent,
    category_paths,
    central_product,
    classify,
    grams,
    kit_components,
    parse_variation_name,
    token_key,
)
from synchub_pipelines.marketplaces.errors import (
    AuthError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from synchub_pipelines.marketplaces.http import HttpSettings
from synchub_pipelines.marketplaces.tokens import MemoryTokenStore, iter_secret_values
from synchub_pipelines.models import CentralStock
from synchub_pipelines.sandbox.bling import CLIENT_ID, CLIENT_SECRET, DEPOSITO_ID, REDIRECT_URI
from synchub_pipelines.sandbox.bling_render import loja_id_for
from synchub_pipelines.sandbox.infra import Faults
from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines.sandbox.world import World
from synchub_pipelines_tests.conftest import PAYLOADS as ALL_PAYLOADS

PAYLOADS = ALL_PAYLOADS / "bling"
FAST = HttpSettings(backoff_base_seconds=0.01, backoff_max_seconds=0.2, max_attempts=8)
CENT = Decimal("0.01")
SandboxFactory = Callable[..., RunningSandbox]


def _payload(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return body


# --- real payloads -------------------------------------------------------------------------


def test_product_sample_maps_to_a_central_product_and_its_variation() -> None:
    raw = _payload("produto_GET_produtos_id.json")["data"]
    product = BlingProduct.model_validate(raw)
    paths = {123456789: "Eletrônicos > Celulares"}

    central = central_product(product, paths)
    assert central.sku == "CODE_123"
    assert central.parent_sku is None
    assert central.name == "Produto 1"
    assert central.brand == "Marca"
    assert central.category == "Eletrônicos > Celulares"
    assert central.gtin == "1234567890123"
    assert central.price == Decimal("1")
    assert central.cost == Decimal("55.55")  # fornecedor.precoCusto
    assert central.weight_g == 1000  # pesoLiquido 1 kg
    assert central.is_kit is False  # formato S
    assert central.source == "bling"
    assert central.currency == "BRL"

    variation = BlingProduct.model_validate(product.variacoes[0])
    assert variation.variacao is not None
    assert variation.variacao.produtoPai is not None
    assert variation.variacao.produtoPai.id == 12345678
    child = central_product(variation, paths, parent=product)
    assert child.parent_sku == "CODE_123"
    assert (child.color, child.size) == ("Verde", "G")  # "Tamanho:G;Cor:Verde"
    assert child.category == "Eletrônicos > Celulares"


def test_product_sample_kit_structure_needs_whole_quantities_and_known_components() -> None:
    raw = _payload("produto_GET_produtos_id.json")["data"]
    product = BlingProduct.model_validate(raw)
    # The sample's component quantity is 2.1: not a whole number of units, so unusable.
    with pytest.raises(ValueError, match=r"quantidade 2\.1 is not a whole number"):
        kit_components(product, {1: "COMP-1"}.get)

    whole = copy.deepcopy(raw)
    whole["formato"] = "E"
    whole["estrutura"]["componentes"][0]["quantidade"] = 2
    kit = BlingProduct.model_validate(whole)
    (component,) = kit_components(kit, {1: "COMP-1"}.get)
    assert (component.kit_sku, component.component_sku, component.quantity) == (
        "CODE_123",
        "COMP-1",
        2,
    )
    assert central_product(kit, {}).is_kit is True
    with pytest.raises(UnresolvedComponent, match="component product 1 "):
        kit_components(kit, lambda _product_id: None)


def test_product_without_sku_fails_validation_naming_the_field() -> None:
    raw = _payload("produto_GET_produtos_id.json")["data"]
    raw = {**raw, "codigo": "  "}
    with pytest.raises(Exception, match="codigo"):
        BlingProduct.model_validate(raw)


def test_sales_order_sample_parses_and_keeps_no_personal_data() -> None:
    raw = _payload("pedido_venda_GET_pedidos_vendas_id.json")["data"]
    order = BlingSalesOrder.model_validate(raw)
    assert order.id == 12345678
    assert order.numero == 123
    assert order.numeroLoja == "Loja_123"
    assert str(order.data) == "2023-01-12"
    assert str(order.dataSaida) == "2023-01-12"
    assert order.total == Decimal("12")
    assert order.totalProdutos == Decimal("10")
    assert (order.situacao.id, order.situacao.valor) == (12345678, 1)
    assert order.loja is not None and order.loja.id == 12345678
    (item,) = order.itens
    assert item.codigo == "BLG-5"
    assert item.quantidade == Decimal("1")
    assert item.valor == Decimal("4.9")
    assert item.produto is not None and item.produto.id == 12345678
    assert order.transporte is not None and order.transporte.frete == Decimal("20")
    assert order.taxas is not None and order.taxas.custoFrete == Decimal("9.99")
    kept = order.model_dump_json()
    for personal in ("Contato do Bling", "30188025000121", "Olavo Bilac", "95702-000"):
        assert personal not in kept

    never_shipped = {**raw, "dataSaida": "0000-00-00"}
    assert BlingSalesOrder.model_validate(never_shipped).dataSaida is None


# --- pure helpers ----------------------------------------------------------------------------


def test_variation_names_weights_and_category_paths() -> None:
    assert parse_variation_name("Cor:Preto;Tamanho:M") == ("Preto", "M")
    assert parse_variation_name("Tamanho:G;Cor:Verde") == ("Verde", "G")
    assert parse_variation_name(" cor : Azul ; NUMERAÇÃO:42") == ("Azul", "42")
    assert parse_variation_name("Voltagem:220V") == (None, None)
    assert parse_variation_name("") == (None, None)

    assert grams(Decimal("1.234")) == 1234
    assert grams(Decimal("0.0005")) == 1  # half up
    assert grams(Decimal("0")) is None  # Bling's "not filled in"
    assert grams(None) is None

    tree = [
        BlingCategory(1, "Moda", None),
        BlingCategory(2, "Camisetas", 1),
        BlingCategory(3, "Manga longa", 2),
        BlingCategory(4, "Órfã", 99),  # parent missing from the answer
        BlingCategory(5, "A", 6),  # a loop must not hang
        BlingCategory(6, "B", 5),
    ]
    paths = category_paths(tree)
    assert paths[3] == "Moda > Camisetas > Manga longa"
    assert paths[1] == "Moda"
    assert paths[4] == "Órfã"
    assert paths[5] == "B > A"


# --- error envelope and OAuth ------------------------------------------------------------


def _error(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_error_envelope_becomes_the_right_exception() -> None:
    assert classify(httpx.Response(200, json={"data": []}), "x") is None

    validation = classify(
        _error(
            400,
            {
                "error": {
                    "type": "VALIDATION_ERROR",
                    "message": "Não foi possível salvar",
                    "description": "Não foi possível lançar o estoque.",
                    "fields": [
                        {"code": 10, "msg": "Produto não encontrado.", "element": "produto.id"},
                        {"code": 14, "msg": "Quantidade inválida.", "element": "quantidade"},
                    ],
                }
            },
        ),
        "estoques.create",
    )
    assert type(validation) is InvalidRequestError
    assert validation.code == "VALIDATION_ERROR"
    assert "produto.id: Produto não encontrado." in str(validation)
    assert "quantidade: Quantidade inválida." in str(validation)
    assert not validation.retryable

    expired = classify(
        _error(401, {"error": {"type": "invalid_token", "description": "Token expirado."}}), "g"
    )
    assert isinstance(expired, AuthError)
    dead_refresh = classify(
        _error(400, {"error": {"type": "invalid_grant", "description": "Refresh inválido."}}), "t"
    )
    assert isinstance(dead_refresh, AuthError)

    limited = classify(
        _error(429, {"error": {"type": "TOO_MANY_REQUESTS"}}, {"Retry-After": "2"}), "g"
    )
    assert isinstance(limited, RateLimitedError)
    assert limited.retry_after == 2.0 and limited.retryable

    missing = classify(_error(404, {"error": {"type": "RESOURCE_NOT_FOUND"}}), "produtos.get")
    assert isinstance(missing, NotFoundError)

    broken = classify(httpx.Response(502, text="<html>bad gateway</html>"), "g")
    assert isinstance(broken, TransientError) and broken.retryable


def test_app_secret_goes_in_basic_auth_and_never_in_reprs() -> None:
    app = BlingApp("client", SecretStr("secret"), api_url="https://example.test/Api/v3")
    # base64("client:secret"), worked out by hand.
    assert app.basic_authorization() == "Basic Y2xpZW50OnNlY3JldA=="
    assert "hush-hush" not in repr(BlingApp("client", SecretStr("hush-hush")))

    url, state = app.authorization_url(state="st-42")
    assert state == "st-42"
    parsed = urlparse(url)
    assert f"{parsed.scheme}://{parsed.netloc}{parsed.path}" == (
        "https://example.test/Api/v3/oauth/authorize"
    )
    assert parse_qs(parsed.query) == {
        "response_type": ["code"],
        "client_id": ["client"],
        "state": ["st-42"],
    }
    assert token_key("empresa-1") == "bling-empresa-1"


# --- against the sandbox -------------------------------------------------------------------


class RecordingTransport(httpx.HTTPTransport):
    """Notes when each request leaves, to check the pacing from the outside."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[float, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((time.monotonic(), request.url.path))
        return super().handle_request(request)


def _app(running: RunningSandbox, rate: float) -> BlingApp:
    return BlingApp(
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
        redirect_uri=REDIRECT_URI,
        api_url=f"{running.base_url('bling')}/Api/v3",
        requests_per_second=rate,
        burst=min(rate, 3.0),
        http=FAST,
    )


def _authorization_code(app: BlingApp) -> str:
    url, state = app.authorization_url()
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlparse(answer.headers["location"]).query)
    assert query["state"] == [state]
    return query["code"][0]


def _connected(
    running: RunningSandbox,
    account: str,
    rate: float = 1000.0,
    tokens: MemoryTokenStore | None = None,
    transport: httpx.BaseTransport | None = None,
) -> BlingClient:
    app = _app(running, rate)
    store = tokens or MemoryTokenStore()
    client = BlingClient(app, store, account, http=app.new_http(account, transport))
    if store.load(token_key(account)) is None:
        client.connect(_authorization_code(app))
    return client


def _fast_sandbox(factory: SandboxFactory, **config: Any) -> RunningSandbox:
    return factory(rate_limits={"bling": 1000.0}, **config)


def _drain(client: BlingClient) -> tuple[list[CatalogEntry], list[CentralStock]]:
    entries, stock = [], []
    for page in client.iter_catalog():
        assert page.rejects == []
        entries += page.records
    for stock_page in client.iter_stock():
        assert stock_page.rejects == []
        stock += stock_page.records
    return entries, stock


def _assert_catalog_matches_world(entries: list[CatalogEntry], world: World) -> None:
    skus = [e.product.sku for e in entries]
    assert sorted(skus) == sorted(p.sku for p in world.products)  # every SKU, once
    assert len(skus) == len(set(skus))
    by_sku = {e.product.sku: e for e in entries}
    for expected in world.products:
        entry = by_sku[expected.sku]
        got = entry.product
        assert got.name == expected.name
        assert got.brand == expected.brand
        assert got.category == expected.category
        assert (got.color, got.size) == (expected.color, expected.size)
        assert got.gtin == expected.gtin
        assert got.price == expected.price.quantize(CENT)
        assert got.cost == expected.cost
        assert got.weight_g == expected.weight_g
        assert got.is_kit == expected.is_kit
        assert got.source == "bling"
        variation = expected.parent_sku != expected.sku
        assert got.parent_sku == (expected.parent_sku if variation else None)
        assert [(c.component_sku, c.quantity) for c in entry.components] == list(
            expected.components
        )
        assert all(c.kit_sku == expected.sku for c in entry.components)
    assert any(e.components for e in entries)
    assert any(e.product.parent_sku for e in entries)


def _assert_stock_matches_world(stock: list[CentralStock], world: World) -> None:
    expected = {p.sku: p.on_hand for p in world.products if not p.is_kit}
    assert {s.sku: s.on_hand for s in stock} == expected
    assert len(stock) == len(expected)
    assert {s.warehouse for s in stock} == {str(DEPOSITO_ID)}


def test_catalog_and_stock_drained_within_three_requests_per_second(
    sandbox_factory: SandboxFactory,
) -> None:
    running = sandbox_factory()  # the simulator's own quota: 3 req/s, burst 3
    transport = RecordingTransport()
    client = _connected(running, "paced", rate=3.0, transport=transport)
    world = running.sandbox.world
    simulator = running.sandbox.simulators["bling"]
    try:
        entries, stock = _drain(client)
    finally:
        client.close()
    _assert_catalog_matches_world(entries, world)
    _assert_stock_matches_world(stock, world)

    # No 429 was ever answered, so none could reach the caller either.
    assert client.http.stats["errors.RateLimitedError"] == 0
    # What the docstring promises: 2 list pages (51 rows, then the empty one), one detail
    # per parent and kit only (variations ride in their parent's detail), 2 category
    # pages, 1 balance call for 42 stocked SKUs.
    top_level = len({p.parent_sku for p in world.products})
    listed = len(simulator.catalog.products)
    api_calls = [path for _, path in transport.sent if not path.endswith("/oauth/token")]
    assert len(api_calls) == (math.ceil(listed / 100) + 1) + top_level + 2 + 1
    assert sum("/produtos/" in path for path in api_calls) == top_level
    # Token bucket of 3/s with burst 3, seen from outside: n calls span ≥ (n - 3) / 3 s.
    times = [at for at, _ in transport.sent]
    for i in range(len(times)):
        for j in range(i + 3, len(times)):
            assert times[j] - times[i] >= (j - i + 1 - 3) / 3.0 - 0.02


def test_faults_change_nothing_in_what_is_read(sandbox_factory: SandboxFactory) -> None:
    # Seeded faults: the same requests fail on every run (a few 429s and 5xx). Each 429
    # empties the shared limiter for its Retry-After (1 s), most of this test's time.
    running = _fast_sandbox(sandbox_factory, faults=Faults(seed=15))
    tokens = MemoryTokenStore()
    calm = _connected(running, "faults", tokens=tokens)
    try:
        baseline = _drain(calm)
    finally:
        calm.close()
    running.sandbox.faults.update(rate_429=0.2, rate_5xx=0.1)
    stormy = _connected(running, "faults", tokens=tokens)
    try:
        stormy_entries, stormy_stock = _drain(stormy)
    finally:
        stormy.close()
        running.sandbox.faults.update(rate_429=0, rate_5xx=0)
    assert stormy.http.stats["retries"] > 0
    assert stormy.http.stats["errors.RateLimitedError"] > 0
    assert stormy.http.stats["errors.TransientError"] > 0
    assert stormy_entries == baseline[0]
    assert [(s.sku, s.warehouse, s.on_hand) for s in stormy_stock] == [
        (s.sku, s.warehouse, s.on_hand) for s in baseline[1]
    ]
    _assert_catalog_matches_world(stormy_entries, running.sandbox.world)


def test_expired_token_is_refreshed_once_and_the_refresh_token_rotates(
    sandbox_factory: SandboxFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    running = _fast_sandbox(sandbox_factory)
    tokens = MemoryTokenStore()
    first_client = _connected(running, "rotating", tokens=tokens)
    second_client = _connected(running, "rotating", tokens=tokens)
    key = token_key("rotating")
    first = tokens.load(key)
    assert first is not None and first.refresh_token is not None
    expected_tree = first_client.categories()

    running.sandbox.clock.advance_delta(timedelta(hours=6, seconds=1))
    # Both clients hit the expired token at once; a second refresh with the same
    # (rotated, now dead) refresh token would fail, so both succeeding means one refresh.
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def read(name: str, client: BlingClient) -> None:
        barrier.wait()
        try:
            results[name] = client.categories()
        except Exception as exc:
            results[name] = exc

    threads = [
        threading.Thread(target=read, args=(name, c))
        for name, c in (("a", first_client), ("b", second_client))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == {"a": expected_tree, "b": expected_tree}

    second = tokens.load(key)
    assert second is not None and second.refresh_token is not None
    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token
    with pytest.raises(AuthError):  # the old refresh token died when it was used
        first_client.app.refresh(first_client.http, first)

    # And the rotated one carries on six hours later.
    running.sandbox.clock.advance_delta(timedelta(hours=6, seconds=1))
    assert first_client.categories() == expected_tree
    third = tokens.load(key)
    assert third is not None and third.refresh_token != second.refresh_token

    for client in (first_client, second_client):
        client.close()
    for grant in (first, second, third):
        for secret in iter_secret_values(grant):
            assert secret not in caplog.text
    assert CLIENT_SECRET not in caplog.text


def test_stock_write_is_a_balance_the_sandbox_reflects(sandbox_factory: SandboxFactory) -> None:
    running = _fast_sandbox(sandbox_factory)
    simulator = running.sandbox.simulators["bling"]
    client = _connected(running, "stock-writer")
    try:
        (deposit,) = client.deposits()
        assert (deposit.id, deposit.padrao) == (DEPOSITO_ID, True)

        index = client.product_index()
        variation = next(p for p in running.sandbox.world.products if p.parent_sku != p.sku)
        launch = client.set_stock(index[variation.sku], deposit.id, 17)
        assert isinstance(launch, int)
        assert simulator.saldo_fisico(variation.sku) == 17
        write = simulator.stock_writes[-1]
        assert (write["operacao"], write["quantidade"], write["codigo"]) == (
            "B",
            17,
            variation.sku,
        )
        # A balanço is absolute: sending it again leaves the same balance.
        client.set_stock(index[variation.sku], deposit.id, 17)
        assert simulator.saldo_fisico(variation.sku) == 17

        pages = list(client.iter_stock([variation.sku, "NO-SUCH-SKU"]))
        rows = [s for p in pages for s in p.records]
        rejects = [r for p in pages for r in p.rejects]
        assert [(s.sku, s.on_hand) for s in rows] == [(variation.sku, 17)]
        assert [(r.source, r.record_key) for r in rejects] == [("bling.stock", "NO-SUCH-SKU")]

        # A parent (formato V) holds no balance of its own: Bling refuses, naming the field.
        with pytest.raises(InvalidRequestError, match=r"produto\.id"):
            client.set_stock(index[variation.parent_sku], deposit.id, 5)
        with pytest.raises(ValueError, match="negative"):
            client.set_stock(index[variation.sku], deposit.id, -1)
    finally:
        client.close()


def test_category_tree_reads_and_writes(sandbox_factory: SandboxFactory) -> None:
    running = _fast_sandbox(sandbox_factory)
    simulator = running.sandbox.simulators["bling"]
    client = _connected(running, "categories")
    try:
        paths = client.category_paths()
        assert set(paths.values()) >= {p.category for p in running.sandbox.world.products}
        assert "Moda" in paths.values()

        root = client.create_category("Acessórios")
        child = client.create_category("Bonés", parent_id=root)
        tree = {c.id: c for c in client.categories()}
        assert tree[root] == BlingCategory(root, "Acessórios", None)
        assert tree[child] == BlingCategory(child, "Bonés", root)
        assert client.category_paths()[child] == "Acessórios > Bonés"

        client.update_category(child, "Chapéus e Bonés", parent_id=root)
        assert client.category_paths()[child] == "Acessórios > Chapéus e Bonés"
        assert [w["method"] for w in simulator.category_writes] == ["POST", "POST", "PUT"]

        with pytest.raises(InvalidRequestError, match="descricao"):
            client.create_category("acessórios")  # same name, same level
        with pytest.raises(NotFoundError):
            client.update_category(1, "Nada")
    finally:
        client.close()


def test_sales_orders_of_one_store(sandbox_factory: SandboxFactory) -> None:
    running = _fast_sandbox(sandbox_factory)
    world = running.sandbox.world
    seller = world.sellers[0]
    client = _connected(running, "orders")
    try:
        last_day = world.anchor.date()
        first_day = last_day - timedelta(days=world.size.days + 2)
        orders = [
            o
            for page in client.iter_sales_orders(first_day, last_day, loja_id_for(seller.store_id))
            for o in page.records
        ]
        expected = {str(o.order_number): o for o in world.orders_of(seller)}
        assert sorted(o.numeroLoja or "" for o in orders) == sorted(expected)
        assert all(o.itens == [] for o in orders)  # list rows carry no items

        sample = orders[0]
        (detail,) = client.get_sales_order(sample.id).records
        world_order = expected[str(detail.numeroLoja)]
        assert [i.codigo or None for i in detail.itens] == [line.sku for line in world_order.lines]
        assert detail.total == (world_order.total + world_order.shipping_cost).quantize(CENT)
        with pytest.raises(NotFoundError):
            client.get_sales_order(1)
    finally:
        client.close()
