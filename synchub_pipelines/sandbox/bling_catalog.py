"""The Bling simulator's catalog writes: custom fields, partial product updates and the
product–store links (produtos/lojas).

State lives here and on the simulator's `Catalog` products (category, brand and custom
values), so what a write changes shows in `GET /produtos/{id}` and `GET /produtos/lojas`.
Every accepted write is logged in `writes` (tests count them to prove a dry run sent
nothing).

Choices where the public material is silent ([U], see bling-catalog-README.md):
- `PATCH /produtos/{id}` applies `categoria`, `marca` and `camposCustomizados` (merged by
  field id; an empty `valor` clears one) and ignores the product's other fields; it is
  all-or-nothing and answers 204. A parent's new category is its variations' too (they
  clone the parent's information).
- Custom fields are text with a maximum length; an inactive field takes no value.
- A product has at most one link per store (loja); `codigo` is 1–60 characters.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from synchub_pipelines.sandbox.bling import (
    _field,
    _int_param,
    _json,
    _json_body,
    _nested_id,
    _not_found,
    _validation,
)
from synchub_pipelines.sandbox.bling_render import IdAllocator, hashed_int

if TYPE_CHECKING:
    from synchub_pipelines.sandbox.bling import Simulator

MAX_CODIGO = 60
MAX_MARCA = 100
PRODUCTS_MODULE_ID = 98310  # the products module's id in the OAuth scope list


@dataclass
class CampoCustomizado:
    id: int
    nome: str
    maximo: int
    situacao: int = 1  # 1 ativo, 0 inativo

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "nome": self.nome, "situacao": self.situacao}


# The merchant's product custom fields: what a Brazilian apparel/home catalog keeps beyond
# Bling's own fields. "Garantia (antigo)" is inactive, as a field a merchant retired.
_CAMPOS: tuple[tuple[str, int, int], ...] = (
    ("Material", 30, 1),
    ("Gênero", 20, 1),
    ("País de origem", 40, 1),
    ("Voltagem", 10, 1),
    ("Garantia (antigo)", 40, 0),
)


@dataclass
class Vinculo:
    id: int
    codigo: str
    preco: float | None
    preco_promocional: float | None
    produto: int
    loja: int

    def render(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "codigo": self.codigo}
        if self.preco is not None:
            body["preco"] = self.preco
        if self.preco_promocional is not None:
            body["precoPromocional"] = self.preco_promocional
        body.update(
            {
                "produto": {"id": self.produto},
                "loja": {"id": self.loja},
                "fornecedorLoja": {"id": 0},
                "marcaLoja": {"id": 0},
                "categoriasProdutos": [],
            }
        )
        return body


def _number(body: dict[str, Any], name: str, fields: list[dict[str, Any]]) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        fields.append(
            _field(24, name, f"{name} deve ser um número maior ou igual a zero.", "PRODUTO_LOJA")
        )
        return None
    return float(value)


class CatalogWrites:
    """Custom fields, product patches and store links of one Bling company."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.campos: dict[int, CampoCustomizado] = {}
        for nome, maximo, situacao in _CAMPOS:
            campo_id = hashed_int(f"campo:{nome}", 1_000_000, 9_000_000)
            self.campos[campo_id] = CampoCustomizado(campo_id, nome, maximo, situacao)
        self._vinculo_ids = IdAllocator(10_000_000_000, 9_000_000_000)
        self._serial = itertools.count(1)
        self.vinculos: dict[int, Vinculo] = {}
        self.writes: list[dict[str, Any]] = []

    def campo_id(self, nome: str) -> int:
        """A custom field's id by name (for tests)."""
        return next(c.id for c in self.campos.values() if c.nome == nome)

    def _log(self, method: str, path: str, body: dict[str, Any]) -> None:
        self.writes.append(
            {"at": self.sim.clock.now().isoformat(), "method": method, "path": path, "body": body}
        )

    # --- campos customizados -------------------------------------------------------------

    async def modulos(self, request: Request) -> Response:
        return _json(
            {
                "data": [
                    {
                        "id": PRODUCTS_MODULE_ID,
                        "nome": "Produtos",
                        "modulo": "Produtos",
                        "agrupador": "",
                        "permissoes": [
                            {"nome": "Produtos", "modulo": "Produtos", "autorizado": True}
                        ],
                    },
                    {
                        "id": 98309,
                        "nome": "Clientes e Fornecedores",
                        "modulo": "Contatos",
                        "agrupador": "Tipo de contato",
                        "permissoes": [
                            {
                                "nome": "Clientes e Fornecedores",
                                "modulo": "Contatos",
                                "autorizado": True,
                            }
                        ],
                    },
                ]
            }
        )

    async def campos_do_modulo(self, request: Request) -> Response:
        offset, limite = self.sim._page(request)
        if request.path_params["id"] != PRODUCTS_MODULE_ID:
            # The contacts module has no custom fields in this company.
            return _json({"data": []})
        page = list(self.campos.values())[offset : offset + limite]
        return _json({"data": [c.summary() for c in page]})

    async def campo(self, request: Request) -> Response:
        campo = self.campos.get(request.path_params["id"])
        if campo is None:
            raise _not_found("Campo customizado não encontrado.")
        return _json(
            {
                "data": {
                    **campo.summary(),
                    "placeholder": "",
                    "obrigatorio": False,
                    "opcoes": [],
                    "tamanho": {"minimo": 0, "maximo": campo.maximo},
                    "agrupadores": [],
                    "modulo": {"id": PRODUCTS_MODULE_ID},
                    "tipoCampo": {"id": 1},
                }
            }
        )

    # --- PATCH /produtos/{id} ------------------------------------------------------------

    async def patch_produto(self, request: Request) -> Response:
        item = self.sim.catalog.by_id.get(request.path_params["id"])
        if item is None:
            raise _not_found("Produto não encontrado.")
        body = await _json_body(request)
        fields: list[dict[str, Any]] = []
        categoria: int | None = None
        if "categoria" in body:
            found = _nested_id(body, "categoria")
            if found is None or (found != 0 and found not in self.sim.categorias):
                fields.append(_field(30, "categoria.id", "Categoria não encontrada.", "PRODUTO"))
            else:
                categoria = found
        marca: str | None = None
        if "marca" in body:
            raw = body["marca"]
            if not isinstance(raw, str):
                fields.append(_field(31, "marca", "marca deve ser texto.", "PRODUTO"))
            elif len(raw.strip()) > MAX_MARCA:
                fields.append(_field(31, "marca", f"Máximo de {MAX_MARCA} caracteres.", "PRODUTO"))
            else:
                marca = raw.strip()
        valores = self._campos(body.get("camposCustomizados"), fields)
        if fields:
            raise _validation("Não foi possível salvar o produto.", fields)
        targets = [item, *(self.sim.catalog.by_id[c] for c in item.children)]
        if categoria is not None:
            for target in targets:
                target.categoria_id = categoria
        if marca is not None:
            item.marca = marca
        for campo_id, valor in valores.items():
            if valor:
                item.campos[campo_id] = valor
            else:
                item.campos.pop(campo_id, None)
        self._log("PATCH", f"/produtos/{item.id}", body)
        return Response(status_code=204)

    def _campos(self, raw: Any, fields: list[dict[str, Any]]) -> dict[int, str]:
        if raw is None:
            return {}
        if not isinstance(raw, list):
            fields.append(_field(32, "camposCustomizados", "Envie uma lista de campos.", "PRODUTO"))
            return {}
        valores: dict[int, str] = {}
        for index, entry in enumerate(raw):
            where = f"camposCustomizados[{index}]"
            campo_id = entry.get("idCampoCustomizado") if isinstance(entry, dict) else None
            campo = self.campos.get(campo_id) if isinstance(campo_id, int) else None
            if campo is None:
                fields.append(
                    _field(
                        33,
                        f"{where}.idCampoCustomizado",
                        f"Campo customizado {campo_id} não encontrado no módulo Produtos.",
                        "PRODUTO",
                    )
                )
                continue
            valor = entry.get("valor", "")
            if valor is None:
                valor = ""
            if not isinstance(valor, str):
                fields.append(_field(34, f"{where}.valor", "valor deve ser texto.", "PRODUTO"))
            elif campo.situacao != 1 and valor:
                fields.append(
                    _field(
                        35,
                        f"{where}.idCampoCustomizado",
                        f"O campo customizado {campo.nome} está inativo.",
                        "PRODUTO",
                    )
                )
            elif len(valor) > campo.maximo:
                fields.append(
                    _field(
                        36,
                        f"{where}.valor",
                        f"O campo {campo.nome} aceita no máximo {campo.maximo} caracteres.",
                        "PRODUTO",
                    )
                )
            else:
                valores[campo.id] = valor.strip()
        return valores

    # --- produtos/lojas ------------------------------------------------------------------

    async def vinculos_list(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._criar(request)
        offset, limite = self.sim._page(request)
        produto = _int_param(request, "idProduto")
        loja = _int_param(request, "idLoja")
        selected = [
            v
            for v in self.vinculos.values()
            if (produto is None or v.produto == produto) and (loja is None or v.loja == loja)
        ]
        page = selected[offset : offset + limite]
        return _json({"data": [v.render() for v in page]})

    async def vinculo(self, request: Request) -> Response:
        vinculo = self.vinculos.get(request.path_params["id"])
        if vinculo is None:
            raise _not_found("Vínculo do produto com a loja não encontrado.")
        if request.method == "GET":
            return _json({"data": vinculo.render()})
        if request.method == "DELETE":
            del self.vinculos[vinculo.id]
            self._log("DELETE", f"/produtos/lojas/{vinculo.id}", {})
            return Response(status_code=204)
        body = await _json_body(request)
        fresh = self._vinculo_fields(body, except_id=vinculo.id)
        vinculo.codigo, vinculo.preco, vinculo.preco_promocional = fresh[:3]
        vinculo.produto, vinculo.loja = fresh[3], fresh[4]
        self._log("PUT", f"/produtos/lojas/{vinculo.id}", body)
        return _json({"data": {"id": vinculo.id, "categoriasProdutos": []}})

    async def _criar(self, request: Request) -> Response:
        body = await _json_body(request)
        codigo, preco, promocional, produto, loja = self._vinculo_fields(body, except_id=None)
        vinculo_id = self._vinculo_ids.allocate(f"produto-loja:{next(self._serial)}")
        self.vinculos[vinculo_id] = Vinculo(vinculo_id, codigo, preco, promocional, produto, loja)
        self._log("POST", "/produtos/lojas", body)
        return _json({"data": {"id": vinculo_id, "categoriasProdutos": []}}, 201)

    def _vinculo_fields(
        self, body: dict[str, Any], except_id: int | None
    ) -> tuple[str, float | None, float | None, int, int]:
        fields: list[dict[str, Any]] = []
        codigo = body.get("codigo")
        if not isinstance(codigo, str) or not codigo.strip():
            fields.append(
                _field(20, "codigo", "O código do produto na loja é obrigatório.", "PRODUTO_LOJA")
            )
        elif len(codigo.strip()) > MAX_CODIGO:
            fields.append(
                _field(21, "codigo", f"Máximo de {MAX_CODIGO} caracteres.", "PRODUTO_LOJA")
            )
        produto = _nested_id(body, "produto")
        if produto is None or produto not in self.sim.catalog.by_id:
            fields.append(_field(22, "produto.id", "Produto não encontrado.", "PRODUTO_LOJA"))
        loja = _nested_id(body, "loja")
        if loja is None or loja not in self.sim.lojas:
            fields.append(_field(23, "loja.id", "Loja não encontrada.", "PRODUTO_LOJA"))
        preco = _number(body, "preco", fields)
        promocional = _number(body, "precoPromocional", fields)
        if not fields:
            twin = next(
                (
                    v
                    for v in self.vinculos.values()
                    if v.id != except_id and v.produto == produto and v.loja == loja
                ),
                None,
            )
            if twin is not None:
                fields.append(
                    _field(
                        25,
                        "produto.id",
                        f"O produto já está vinculado a esta loja (vínculo {twin.id}).",
                        "PRODUTO_LOJA",
                    )
                )
        if fields:
            raise _validation("Não foi possível salvar o vínculo do produto com a loja.", fields)
        assert isinstance(codigo, str) and produto is not None and loja is not None
        return codigo.strip(), preco, promocional, produto, loja

    def link_of(self, produto: int, loja: int) -> Vinculo | None:
        """The link of a product to a store (for tests)."""
        return next(
            (v for v in self.vinculos.values() if v.produto == produto and v.loja == loja), None
        )
