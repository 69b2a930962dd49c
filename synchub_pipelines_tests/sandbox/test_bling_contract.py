"""Contract tests for the Bling ERP API v3 simulator, over real HTTP on loopback.

The OAuth dance, paging and expectations are written here from the documented API (and the
World's own data), never imported from the simulator, so a mistake on either side shows.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest

from synchub_pipelines.sandbox import server
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.world import Order, World
from synchub_pipelines_tests.conftest import PAYLOADS as ALL_PAYLOADS

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
ANCHOR = datetime(2025, 3, 14, 15, 0, tzinfo=UTC)
SEED = 11
CLIENT_ID = "sandbox-bling-client-id"
CLIENT_SECRET = "sandbox-bling-client-secret"
REDIRECT_URI = "https://localhost:8787/synchub/callback/bling"
PAYLOADS = ALL_PAYLOADS / "bling"

# World status → Bling situação id, as the simulator documents it.
SITUACAO = {
    "pending": 6,
    "paid": 6,
    "shipped": 15,
    "delivered": 9,
    "cancelled": 12,
    "returned": 12,
}


def build_sandbox(rate: float | None) -> Sandbox:
    # Only the Bling simulator: other simulators are not under test here.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(server, "SIMULATOR_MODULES", ("bling",))
        limits = {"bling": rate} if rate is not None else {}
        sandbox = Sandbox(SandboxConfig(seed=SEED, size="tiny", anchor=ANCHOR, rate_limits=limits))
    # Put "now" at the anchor, where orders are still paid, in transit, being delivered.
    sandbox.clock.advance((ANCHOR - datetime.now(UTC)).total_seconds())
    return sandbox


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    with RunningSandbox(build_sandbox(rate=1000.0)) as rs:
        yield rs


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def authorize(client: httpx.Client, state: str = "st-1") -> str:
    response = client.get(
        "/oauth/authorize",
        params={"response_type": "code", "client_id": CLIENT_ID, "state": state},
    )
    assert response.status_code == 302
    location = urlparse(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


def token_request(
    client: httpx.Client, form: dict[str, str], secret: str = CLIENT_SECRET
) -> httpx.Response:
    return client.post("/oauth/token", data=form, headers=basic(CLIENT_ID, secret))


def new_tokens(client: httpx.Client) -> dict[str, Any]:
    code = authorize(client)
    response = token_request(client, {"grant_type": "authorization_code", "code": code})
    assert response.status_code == 200, response.text
    return response.json()


def base_url(rs: RunningSandbox) -> str:
    return f"{rs.base_url('bling')}/Api/v3"


@pytest.fixture
def api(running: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url(running), timeout=10) as client:
        tokens = new_tokens(client)
        client.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        yield client


def drain(client: httpx.Client, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Page until `data` comes back empty: Bling lists carry no total."""
    rows: list[dict[str, Any]] = []
    for pagina in range(1, 1000):
        response = client.get(path, params={**params, "pagina": pagina})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        if not data:
            return rows
        rows.extend(data)
    raise AssertionError("paging never ended")


def missing_keys(sample: Any, actual: Any, path: str = "") -> list[str]:
    """Paths present in the sample payload but absent from the simulator's answer."""
    if isinstance(sample, dict):
        if not isinstance(actual, dict):
            return [path or "."]
        gaps = []
        for key, value in sample.items():
            if key not in actual:
                gaps.append(f"{path}.{key}")
            else:
                gaps += missing_keys(value, actual[key], f"{path}.{key}")
        return gaps
    if isinstance(sample, list) and sample and isinstance(actual, list) and actual:
        return missing_keys(sample[0], actual[0], f"{path}[0]")
    return []


def world(rs: RunningSandbox) -> World:
    return rs.sandbox.world


def now(rs: RunningSandbox) -> datetime:
    return rs.sandbox.clock.now()


# --- OAuth -------------------------------------------------------------------------------


def test_token_exchange_needs_the_app_secret_and_a_fresh_code(running: RunningSandbox) -> None:
    with httpx.Client(base_url=base_url(running)) as client:
        code = authorize(client)
        wrong = token_request(
            client, {"grant_type": "authorization_code", "code": code}, secret="nope"
        )
        assert wrong.status_code == 401
        assert wrong.json()["error"]["type"] == "invalid_client"

        ok = token_request(client, {"grant_type": "authorization_code", "code": code})
        assert ok.status_code == 200
        body = ok.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 21600
        assert body["access_token"] and body["refresh_token"] and "scope" in body

        reused = token_request(client, {"grant_type": "authorization_code", "code": code})
        assert reused.status_code == 400
        assert reused.json()["error"]["type"] == "invalid_grant"


def test_refresh_token_rotates(running: RunningSandbox) -> None:
    with httpx.Client(base_url=base_url(running)) as client:
        first = new_tokens(client)
        refreshed = token_request(
            client, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        )
        assert refreshed.status_code == 200
        second = refreshed.json()
        assert second["access_token"] != first["access_token"]
        assert second["refresh_token"] != first["refresh_token"]

        replay = token_request(
            client, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        )
        assert replay.status_code == 400
        assert replay.json()["error"]["type"] == "invalid_grant"

        works = client.get(
            "/depositos", headers={"Authorization": f"Bearer {second['access_token']}"}
        )
        assert works.status_code == 200


def test_access_token_expires_after_six_hours(running: RunningSandbox) -> None:
    clock = running.sandbox.clock
    with httpx.Client(base_url=base_url(running)) as client:
        tokens = new_tokens(client)
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert client.get("/depositos", headers=bearer).status_code == 200
        clock.advance(6 * 3600 + 1)
        try:
            expired = client.get("/depositos", headers=bearer)
            assert expired.status_code == 401
            assert expired.json()["error"]["type"] == "invalid_token"
            # The refresh token outlives the access token.
            again = token_request(
                client, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
            )
            assert again.status_code == 200
        finally:
            clock.advance(-(6 * 3600 + 1))


def test_missing_token_and_unknown_resource(running: RunningSandbox, api: httpx.Client) -> None:
    anonymous = httpx.get(f"{base_url(running)}/produtos")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "invalid_token"

    unknown = api.get("/naoexiste")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "RESOURCE_NOT_FOUND"
    assert api.get("/produtos/1").json()["error"]["type"] == "RESOURCE_NOT_FOUND"


# --- produtos ----------------------------------------------------------------------------


def test_produtos_pages_until_empty_and_lists_each_product_once(
    running: RunningSandbox, api: httpx.Client
) -> None:
    rows = drain(api, "/produtos", {"limite": 7})
    codigos = [row["codigo"] for row in rows]
    assert len(codigos) == len(set(codigos))

    products = world(running).products
    parents = {p.parent_sku for p in products if p.sku != p.parent_sku}
    assert set(codigos) == {p.sku for p in products} | parents

    by_codigo = {row["codigo"]: row for row in rows}
    for product in products:
        row = by_codigo[product.sku]
        if product.is_kit:
            assert row["formato"] == "E"
        else:
            assert row["formato"] == "S"
        if product.sku != product.parent_sku:
            assert row["idProdutoPai"] == by_codigo[product.parent_sku]["id"]
    assert all(by_codigo[parent]["formato"] == "V" for parent in parents)

    variations = drain(api, "/produtos", {"limite": 100, "tipo": "V"})
    assert {row["codigo"] for row in variations} == {
        p.sku for p in products if p.sku != p.parent_sku
    }


def test_limite_above_100_is_rejected(api: httpx.Client) -> None:
    response = api.get("/produtos", params={"limite": 101})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "VALIDATION_ERROR"
    assert error["fields"][0]["element"] == "limite"
    assert api.get("/produtos", params={"limite": 100}).status_code == 200


def test_product_detail_has_variations_and_kit_components(
    running: RunningSandbox, api: httpx.Client
) -> None:
    rows = drain(api, "/produtos", {"limite": 100})
    ids = {row["codigo"]: row["id"] for row in rows}
    products = world(running).products

    parent_sku = next(p.parent_sku for p in products if p.sku != p.parent_sku)
    parent = api.get(f"/produtos/{ids[parent_sku]}").json()["data"]
    assert parent["formato"] == "V"
    members = [p for p in products if p.parent_sku == parent_sku]
    assert [v["codigo"] for v in parent["variacoes"]] == [p.sku for p in members]
    for variation, product in zip(parent["variacoes"], members, strict=True):
        expected = ";".join(
            part
            for part in (
                f"Cor:{product.color}" if product.color else "",
                f"Tamanho:{product.size}" if product.size else "",
            )
            if part
        )
        assert variation["variacao"]["nome"] == expected
        assert variation["variacao"]["produtoPai"]["id"] == parent["id"]
        assert variation["gtin"] == product.gtin

    kit = next(p for p in products if p.is_kit)
    detail = api.get(f"/produtos/{ids[kit.sku]}").json()["data"]
    assert detail["formato"] == "E"
    assert detail["estrutura"]["tipoEstoque"] == "V"
    assert [(c["produto"]["id"], c["quantidade"]) for c in detail["estrutura"]["componentes"]] == [
        (ids[sku], qty) for sku, qty in kit.components
    ]

    sample = json.loads((PAYLOADS / "produto_GET_produtos_id.json").read_text())["data"]
    estrutura = sample.pop("estrutura")
    for variation in sample["variacoes"]:
        variation.pop("estrutura")
    assert missing_keys(sample, parent) == []
    assert missing_keys({"estrutura": estrutura}, detail) == []


# --- categorias --------------------------------------------------------------------------


def test_categories_mirror_the_internal_tree_and_accept_writes(
    running: RunningSandbox, api: httpx.Client
) -> None:
    def tree() -> dict[int, dict[str, Any]]:
        return {c["id"]: c for c in drain(api, "/categorias/produtos", {"limite": 5})}

    def path_of(cats: dict[int, dict[str, Any]], cat_id: int) -> str:
        parts = []
        while cat_id:
            parts.append(cats[cat_id]["descricao"])
            cat_id = cats[cat_id]["categoriaPai"]["id"]
        return " > ".join(reversed(parts))

    cats = tree()
    paths = {path_of(cats, cat_id): cat_id for cat_id in cats}
    assert {p.category for p in world(running).products} <= set(paths)

    moda = paths["Moda"]
    created = api.post(
        "/categorias/produtos", json={"descricao": "Bermudas", "categoriaPai": {"id": moda}}
    )
    assert created.status_code == 201
    new_id = created.json()["data"]["id"]
    assert path_of(tree(), new_id) == "Moda > Bermudas"

    duplicate = api.post(
        "/categorias/produtos", json={"descricao": "bermudas", "categoriaPai": {"id": moda}}
    )
    assert duplicate.status_code == 400
    error = duplicate.json()["error"]
    assert error["type"] == "VALIDATION_ERROR"
    assert error["fields"][0]["element"] == "descricao"

    renamed = api.put(f"/categorias/produtos/{new_id}", json={"descricao": "Shorts"})
    assert renamed.status_code == 204
    assert path_of(tree(), new_id) == "Moda > Shorts"

    clash = api.put(f"/categorias/produtos/{new_id}", json={"descricao": "Camisetas"})
    assert clash.status_code == 400

    casa = paths["Casa"] if "Casa" in paths else paths["Calçados"]
    moved = api.put(
        f"/categorias/produtos/{new_id}",
        json={"descricao": "Shorts", "categoriaPai": {"id": casa}},
    )
    assert moved.status_code == 204
    assert tree()[new_id]["categoriaPai"]["id"] == casa

    assert api.delete(f"/categorias/produtos/{new_id}").status_code == 204
    assert api.get(f"/categorias/produtos/{new_id}").status_code == 404


# --- estoques ----------------------------------------------------------------------------


def reserved_now(w: World, at: datetime) -> dict[str, int]:
    """Units held by orders paid but not shipped, per SKU; kit lines hold their components."""
    held: dict[str, int] = {}
    for order in w.orders:
        if order.created_at > at or order.status_at(at)[0] != "paid":
            continue
        for line in order.lines:
            product = w.products_by_sku.get(line.sku or "")
            if product is None:
                continue
            for sku, qty in product.components or ((product.sku, 1),):
                held[sku] = held.get(sku, 0) + qty * line.quantity
    return held


def test_saldos_agree_with_world_on_hand(running: RunningSandbox, api: httpx.Client) -> None:
    deposito = api.get("/depositos").json()["data"][0]
    assert deposito["descricao"] == "Geral"
    rows = drain(api, "/produtos", {"limite": 100})
    ids = {row["codigo"]: row["id"] for row in rows}
    stocked = [p for p in world(running).products if not p.is_kit]
    balances: dict[int, dict[str, Any]] = {}
    for start in range(0, len(stocked), 50):
        chunk = stocked[start : start + 50]
        response = api.get(
            "/estoques/saldos", params={"idsProdutos[]": [ids[p.sku] for p in chunk]}
        )
        assert response.status_code == 200
        balances.update({b["produto"]["id"]: b for b in response.json()["data"]})
    held = reserved_now(world(running), now(running))
    assert any(held.values()), "the anchor should leave some paid orders awaiting shipment"
    for product in stocked:
        balance = balances[ids[product.sku]]
        assert balance["saldoFisicoTotal"] == product.on_hand
        assert balance["saldoVirtualTotal"] == product.on_hand - held.get(product.sku, 0)
        assert balance["depositos"] == [
            {
                "id": deposito["id"],
                "saldoFisico": product.on_hand,
                "saldoVirtual": product.on_hand - held.get(product.sku, 0),
            }
        ]

    too_many = api.get("/estoques/saldos", params={"idsProdutos[]": list(range(1, 102))})
    assert too_many.status_code == 400


def test_stock_launches_balance_entry_and_exit(running: RunningSandbox, api: httpx.Client) -> None:
    product = next(p for p in world(running).products if not p.is_kit)
    product_id = api.get("/produtos", params={"codigos[]": product.sku}).json()["data"][0]["id"]
    deposito_id = api.get("/depositos").json()["data"][0]["id"]
    simulator = running.sandbox.simulators["bling"]
    writes_before = len(simulator.stock_writes)

    def launch(operacao: str, quantidade: float) -> httpx.Response:
        return api.post(
            "/estoques",
            json={
                "produto": {"id": product_id},
                "deposito": {"id": deposito_id},
                "operacao": operacao,
                "quantidade": quantidade,
                "observacoes": "contract test",
            },
        )

    def fisico() -> int:
        response = api.get("/estoques/saldos", params={"idsProdutos[]": [product_id]})
        return response.json()["data"][0]["saldoFisicoTotal"]

    try:
        created = launch("B", 40)
        assert created.status_code == 201
        assert isinstance(created.json()["data"]["id"], int)
        assert fisico() == 40
        assert launch("E", 5).status_code == 201
        assert fisico() == 45
        assert launch("S", 12).status_code == 201
        assert fisico() == 33

        overdraw = launch("S", 1000)
        assert overdraw.status_code == 400
        invalid = launch("X", 1)
        assert invalid.status_code == 400
        error = invalid.json()["error"]
        assert error["type"] == "VALIDATION_ERROR"
        assert {"code", "msg", "element", "namespace"} <= set(error["fields"][0])
        assert error["fields"][0]["element"] == "operacao"
        assert fisico() == 33
        assert [w["operacao"] for w in simulator.stock_writes[writes_before:]] == ["B", "E", "S"]
    finally:
        assert launch("B", product.on_hand).status_code == 201
    assert fisico() == product.on_hand


# --- pedidos de venda --------------------------------------------------------------------


def local_day(order: Order) -> str:
    return order.created_at.astimezone(SAO_PAULO).date().isoformat()


def test_pedidos_filter_by_creation_date_and_store(
    running: RunningSandbox, api: httpx.Client
) -> None:
    w = world(running)
    day = (ANCHOR.astimezone(SAO_PAULO) - timedelta(days=3)).date().isoformat()
    expected = {str(o.order_number) for o in w.orders if local_day(o) == day}
    assert expected
    rows = drain(api, "/pedidos/vendas", {"limite": 25, "dataInicial": day, "dataFinal": day})
    assert {r["numeroLoja"] for r in rows} == expected
    assert len(rows) == len(expected)
    assert {r["data"] for r in rows} == {day}

    by_number = {str(o.order_number): o for o in w.orders}
    loja_id = rows[0]["loja"]["id"]
    seller = by_number[rows[0]["numeroLoja"]].seller
    same_store = drain(
        api,
        "/pedidos/vendas",
        {"limite": 100, "dataInicial": day, "dataFinal": day, "idLoja": loja_id},
    )
    assert {r["numeroLoja"] for r in same_store} == {
        n for n in expected if by_number[n].seller == seller
    }

    everything = drain(api, "/pedidos/vendas", {"limite": 100})
    assert len(everything) == len(w.orders)
    assert api.get("/pedidos/vendas", params={"dataInicial": "14/03/2025"}).status_code == 400


def test_pedidos_filter_by_situacao(running: RunningSandbox, api: httpx.Client) -> None:
    w = world(running)
    rows = drain(api, "/pedidos/vendas", {"limite": 100, "idsSituacoes[]": [15, 6]})
    at = now(running)
    expected = {str(o.order_number) for o in w.orders if SITUACAO[o.status_at(at)[0]] in (15, 6)}
    assert expected
    assert {r["numeroLoja"] for r in rows} == expected
    assert {r["situacao"]["id"] for r in rows} <= {15, 6}


def test_pedido_detail_matches_the_sample_and_the_world(
    running: RunningSandbox, api: httpx.Client
) -> None:
    w = world(running)
    at = now(running)
    order = next(
        o
        for o in w.orders
        if o.status_at(at)[0] == "delivered" and any(line.sku for line in o.lines)
    )
    listed = api.get(
        "/pedidos/vendas", params={"numerosLojas[]": [str(order.order_number)]}
    ).json()["data"]
    assert len(listed) == 1
    detail = api.get(f"/pedidos/vendas/{listed[0]['id']}").json()["data"]

    assert detail["situacao"]["id"] == 9
    assert detail["data"] == local_day(order)
    assert [(item["codigo"], item["quantidade"]) for item in detail["itens"]] == [
        (line.sku or "", line.quantity) for line in order.lines
    ]
    assert detail["totalProdutos"] == pytest.approx(float(order.total))
    assert detail["total"] == pytest.approx(float(order.total + order.shipping_cost))
    assert detail["transporte"]["frete"] == pytest.approx(float(order.shipping_cost))
    assert detail["transporte"]["volumes"], "a delivered order has a tracked volume"
    assert "*" in detail["contato"]["numeroDocumento"]

    sample = json.loads((PAYLOADS / "pedido_venda_GET_pedidos_vendas_id.json").read_text())
    assert missing_keys(sample["data"], detail) == []


# --- limits and faults -------------------------------------------------------------------


def test_fourth_request_within_a_second_is_throttled() -> None:
    with (
        RunningSandbox(build_sandbox(rate=None)) as rs,
        httpx.Client(base_url=base_url(rs), timeout=10) as client,
    ):
        tokens = new_tokens(client)
        client.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        statuses = [client.get("/depositos") for _ in range(4)]
        assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
        throttled = statuses[3]
        assert throttled.status_code == 429
        assert throttled.json()["error"]["type"] == "TOO_MANY_REQUESTS"
        assert int(throttled.headers["Retry-After"]) >= 1

        time.sleep(1.05)
        simulator = rs.sandbox.simulators["bling"]
        simulator.daily_limit = simulator.requests_today
        daily = client.get("/depositos")
        assert daily.status_code == 429
        assert daily.json()["error"]["type"] == "TOO_MANY_REQUESTS"
        # The daily quota resets at midnight in São Paulo.
        local_now = rs.sandbox.clock.now().astimezone(SAO_PAULO)
        midnight = datetime.combine(
            local_now.date() + timedelta(days=1), datetime.min.time(), tzinfo=SAO_PAULO
        )
        retry = int(daily.headers["Retry-After"])
        assert abs(retry - (midnight - local_now).total_seconds()) < 5


def test_injected_faults_use_the_bling_envelope(running: RunningSandbox, api: httpx.Client) -> None:
    faults = running.sandbox.faults
    try:
        faults.update(rate_5xx=1.0)
        failed = api.get("/produtos")
        assert failed.status_code == 500
        assert failed.json()["error"]["type"] == "SERVER_ERROR"

        faults.update(rate_5xx=0.0, rate_429=1.0)
        throttled = api.get("/produtos")
        assert throttled.status_code == 429
        assert throttled.json()["error"]["type"] == "TOO_MANY_REQUESTS"
        assert "Retry-After" in throttled.headers
    finally:
        faults.update(rate_5xx=0.0, rate_429=0.0)
    assert api.get("/produtos").status_code == 200
