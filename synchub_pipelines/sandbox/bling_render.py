"""How the Bling ERP simulator sees the World: ids, the catalog as Bling products, pedidos.

Split from `bling.py` so that module keeps to HTTP, auth and mutable state; everything here
is a pure function of the World (plus the stock figures the caller passes in).

Shapes follow the v3 samples in `shared/reference/payloads/bling/` (`GET /produtos/{id}`,
`GET /pedidos/vendas/{id}`). Empty dates are rendered as "0000-00-00", the way Bling's
ERP has always written a date that was never set.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Generic, TypeVar

from synchub_pipelines.sandbox.world import SAO_PAULO, Order, Product, Seller, World

EMPTY_DATE = "0000-00-00"
CENT = Decimal("0.01")

# World status → Bling situação (id, valor). The ids are the default "situações" of the
# Vendas module; `valor` is the code each one inherits from the legacy API
# (0 Em aberto, 1 Atendido, 2 Cancelado, 3 Em andamento).
SITUACAO_OF_STATUS: dict[str, tuple[int, int]] = {
    "pending": (6, 0),
    "paid": (6, 0),
    "shipped": (15, 3),
    "delivered": (9, 1),
    "cancelled": (12, 2),
    "returned": (12, 2),
}
SITUACOES: dict[int, str] = {
    6: "Em aberto",
    9: "Atendido",
    12: "Cancelado",
    15: "Em andamento",
    24: "Verificado",
}

# Per marketplace: carrier shown on the pedido, its service alias, and the commission rate
# Bling records in `taxas`. Rates are plausible sandbox figures, not published tariffs.
_CHANNELS: dict[str, tuple[str, str, Decimal]] = {
    "mercadolivre": ("Mercado Envios", "ME2", Decimal("0.14")),
    "shopee": ("Shopee Xpress", "SPX", Decimal("0.20")),
    "tiktok": ("TikTok Shop Envios", "TTS", Decimal("0.12")),
    "amazon": ("Amazon DBA", "DBA", Decimal("0.15")),
}
_DEFAULT_CHANNEL = ("Correios", "SEDEX", Decimal("0.10"))


# --- ids ---------------------------------------------------------------------------------


def hashed_int(key: str, low: int, span: int) -> int:
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return low + int.from_bytes(digest, "big") % span


class IdAllocator:
    """Deterministic large ids from natural keys; a collision re-hashes with a salt.

    Ids depend on the order keys are allocated in, which is fixed by the World's seed.
    """

    def __init__(self, low: int, span: int) -> None:
        self._low = low
        self._span = span
        self._used: set[int] = set()

    def allocate(self, key: str) -> int:
        salt = 0
        while True:
            candidate = hashed_int(key if salt == 0 else f"{key}#{salt}", self._low, self._span)
            if candidate not in self._used:
                self._used.add(candidate)
                return candidate
            salt += 1


def loja_id_for(store_id: str) -> int:
    """The Bling loja id the sandbox gives a marketplace store (`mercadolivre-241551001`)."""
    return hashed_int(f"loja:{store_id}", 200_000_000, 100_000_000)


# --- numbers and dates -------------------------------------------------------------------


def money(value: Decimal) -> float:
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def quantity(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 4)


def local_date(moment: datetime) -> str:
    return moment.astimezone(SAO_PAULO).date().isoformat()


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


# --- a small LRU for rendered JSON ----------------------------------------------------------

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self._maxsize:
            self._data.popitem(last=False)


# --- catalog -----------------------------------------------------------------------------


@dataclass
class BlingProduct:
    """One Bling produto: a simple product, a variation, a parent with variations or a kit."""

    id: int
    codigo: str
    nome: str
    formato: str  # S simples (also each variation), V com variações, E composição (kit)
    preco: Decimal
    custo: Decimal
    gtin: str
    marca: str
    categoria_id: int
    weight_g: int
    product: Product | None  # None for a "V" parent, which is no stocked SKU of the World
    parent_id: int | None = None
    variacao_nome: str = ""
    ordem: int = 0
    children: list[int] = field(default_factory=list)
    componentes: tuple[tuple[int, int], ...] = ()
    # Custom field id → value, as `PATCH /produtos/{id}` left them (bling_catalog.py).
    campos: dict[int, str] = field(default_factory=dict)

    @property
    def holds_stock(self) -> bool:
        """Only simple products and variations carry their own balance; parents and
        virtual-stock kits derive theirs."""
        return self.formato == "S"

    @property
    def tipo_filtro(self) -> str:
        """The `tipo` list filter this product answers to besides T and P."""
        if self.formato == "E":
            return "E"
        if self.formato == "V":
            return "C"
        return "V" if self.parent_id is not None else "PS"


def _family_title(product: Product) -> str:
    name = product.name
    for part in (product.size, product.color):
        if part and name.endswith(f" {part}"):
            name = name[: -len(part) - 1]
    return name


def _variacao_nome(product: Product) -> str:
    parts = []
    if product.color:
        parts.append(f"Cor:{product.color}")
    if product.size:
        parts.append(f"Tamanho:{product.size}")
    return ";".join(parts)


class Catalog:
    """The World's products as Bling holds them, in the order `GET /produtos` lists them."""

    def __init__(self, world: World, category_of_path: Callable[[str], int]) -> None:
        ids = IdAllocator(10_000_000_000, 9_000_000_000)
        families: dict[str, list[Product]] = {}
        for product in world.products:
            families.setdefault(product.parent_sku, []).append(product)
        self.products: list[BlingProduct] = []
        sku_ids: dict[str, int] = {}
        kits: list[tuple[BlingProduct, Product]] = []
        for parent_sku, members in families.items():
            first = members[0]
            categoria = category_of_path(first.category)
            if len(members) == 1 and first.sku == parent_sku:
                item = self._single(ids.allocate(f"produto:{first.sku}"), first, categoria)
                self.products.append(item)
                sku_ids[first.sku] = item.id
                if first.is_kit:
                    kits.append((item, first))
                continue
            parent = BlingProduct(
                id=ids.allocate(f"produto:{parent_sku}"),
                codigo=parent_sku,
                nome=_family_title(first),
                formato="V",
                preco=first.price,
                custo=first.cost,
                gtin="",
                marca=first.brand,
                categoria_id=categoria,
                weight_g=first.weight_g,
                product=None,
            )
            self.products.append(parent)
            for ordem, member in enumerate(members, start=1):
                child = self._single(ids.allocate(f"produto:{member.sku}"), member, categoria)
                child.parent_id = parent.id
                child.variacao_nome = _variacao_nome(member)
                child.ordem = ordem
                parent.children.append(child.id)
                self.products.append(child)
                sku_ids[member.sku] = child.id
        for item, kit in kits:
            item.componentes = tuple((sku_ids[sku], qty) for sku, qty in kit.components)
        self.by_id = {p.id: p for p in self.products}
        self.by_codigo: dict[str, BlingProduct] = {}
        for p in self.products:
            if p.codigo in self.by_codigo:
                raise ValueError(f"two Bling products would share codigo {p.codigo!r}")
            self.by_codigo[p.codigo] = p

    @staticmethod
    def _single(product_id: int, product: Product, categoria: int) -> BlingProduct:
        return BlingProduct(
            id=product_id,
            codigo=product.sku,
            nome=product.name,
            formato="E" if product.is_kit else "S",
            preco=product.price,
            custo=product.cost,
            gtin=product.gtin,
            marca=product.brand,
            categoria_id=categoria,
            weight_g=product.weight_g,
            product=product,
        )


def _image_url(product_id: int) -> str:
    return f"https://www.bling.com.br/imagens/imagens-produtos/{product_id}.jpg"


def product_summary(item: BlingProduct, saldo_virtual: float) -> dict[str, Any]:
    summary: dict[str, Any] = {"id": item.id}
    if item.parent_id is not None:
        summary["idProdutoPai"] = item.parent_id
    summary.update(
        {
            "nome": item.nome,
            "codigo": item.codigo,
            "preco": money(item.preco),
            "precoCusto": money(item.custo),
            "estoque": {"saldoVirtualTotal": quantity(saldo_virtual)},
            "tipo": "P",
            "situacao": "A",
            "formato": item.formato,
            "descricaoCurta": f"{item.nome} - {item.marca}",
            "imagemURL": _image_url(item.id),
        }
    )
    return summary


def _dimensions(weight_g: int) -> dict[str, Any]:
    # A box that grows with the weight, so the dimensions look plausible per product.
    side = 8 + weight_g // 100
    return {
        "largura": side + 4,
        "altura": max(2, side // 2),
        "profundidade": side,
        "unidadeMedida": 1,
    }


_TRIBUTACAO: dict[str, Any] = {
    "origem": 0,
    "nFCI": "",
    "ncm": "",
    "cest": "",
    "codigoListaServicos": "",
    "spedTipoItem": "",
    "codigoItem": "",
    "percentualTributos": 0,
    "valorBaseStRetencao": 0,
    "valorStRetencao": 0,
    "valorICMSSubstituto": 0,
    "codigoExcecaoTipi": "",
    "classeEnquadramentoIpi": "",
    "valorIpiFixo": 0,
    "codigoSeloIpi": "",
    "valorPisFixo": 0,
    "valorCofinsFixo": 0,
    "codigoANP": "",
    "descricaoANP": "",
    "percentualGLP": 0,
    "percentualGasNacional": 0,
    "percentualGasImportado": 0,
    "valorPartida": 0,
    "tipoArmamento": 0,
    "descricaoCompletaArmamento": "",
    "dadosAdicionais": "",
    "grupoProduto": {"id": 0},
}


def _product_body(item: BlingProduct, saldo_virtual: float) -> dict[str, Any]:
    kg = round(item.weight_g / 1000, 3)
    body: dict[str, Any] = {
        "id": item.id,
        "nome": item.nome,
        "codigo": item.codigo,
        "preco": money(item.preco),
        "tipo": "P",
        "situacao": "A",
        "formato": item.formato,
        "descricaoCurta": f"{item.nome} - {item.marca}",
        "imagemURL": _image_url(item.id),
        "dataValidade": EMPTY_DATE,
        "unidade": "UN",
        "pesoLiquido": kg,
        "pesoBruto": round(kg * 1.1, 3),
        "volumes": 1,
        "itensPorCaixa": 1,
        "gtin": item.gtin,
        "gtinEmbalagem": "",
        "tipoProducao": "T",
        "condicao": 1,
        "freteGratis": False,
        "marca": item.marca,
        "descricaoComplementar": "",
        "linkExterno": "",
        "observacoes": "",
        "descricaoEmbalagemDiscreta": "",
        "categoria": {"id": item.categoria_id},
        "estoque": {
            "minimo": 0,
            "maximo": 0,
            "crossdocking": 0,
            "localizacao": "",
            "saldoVirtualTotal": quantity(saldo_virtual),
        },
        "fornecedor": {
            "id": 0,
            "contato": {"id": 0, "nome": ""},
            "codigo": "",
            "precoCusto": money(item.custo),
            "precoCompra": money(item.custo),
        },
        "dimensoes": _dimensions(item.weight_g),
        "tributacao": dict(_TRIBUTACAO),
        "midia": {
            "video": {"url": ""},
            "imagens": {"externas": [{"link": _image_url(item.id)}], "internas": []},
        },
        "linhaProduto": {"id": 0},
        "camposCustomizados": [
            {
                "idCampoCustomizado": campo_id,
                "idVinculo": hashed_int(f"campo-vinculo:{item.id}:{campo_id}", 10**9, 9 * 10**9),
                "valor": valor,
                "item": "",
            }
            for campo_id, valor in sorted(item.campos.items())
        ],
    }
    if item.formato == "E":
        body["estrutura"] = {
            "tipoEstoque": "V",
            "lancamentoEstoque": "A",
            "componentes": [
                {"produto": {"id": pid}, "quantidade": qty} for pid, qty in item.componentes
            ],
        }
    return body


def product_detail(
    item: BlingProduct, catalog: Catalog, saldo_virtual: Callable[[BlingProduct], float]
) -> dict[str, Any]:
    body = _product_body(item, saldo_virtual(item))
    if item.parent_id is not None:
        body["variacao"] = _variacao(item)
    variacoes = []
    for child_id in item.children:
        child = catalog.by_id[child_id]
        child_body = _product_body(child, saldo_virtual(child))
        child_body["variacao"] = _variacao(child)
        variacoes.append(child_body)
    body["variacoes"] = variacoes
    return body


def _variacao(item: BlingProduct) -> dict[str, Any]:
    return {
        "nome": item.variacao_nome,
        "ordem": item.ordem,
        "produtoPai": {"id": item.parent_id, "cloneInfo": True},
    }


# --- pedidos de venda --------------------------------------------------------------------


class Pedido:
    """A World order as a Bling pedido de venda, with what paging and filtering need."""

    __slots__ = ("contato_id", "created_ts", "id", "loja_id", "numero", "order", "step_ts")

    def __init__(self, order: Order, pedido_id: int, numero: int, loja_id: int, contato_id: int):
        self.order = order
        self.id = pedido_id
        self.numero = numero
        self.loja_id = loja_id
        self.contato_id = contato_id
        self.step_ts = tuple(when.timestamp() for _, when in order.timeline)
        self.created_ts = self.step_ts[0]

    @property
    def numero_loja(self) -> str:
        return str(self.order.order_number)


def masked_cpf(buyer_id: int) -> str:
    # Bling would show the buyer's CPF; the sandbox never emits a whole personal document.
    digits = f"{buyer_id % 10**9:09d}"
    return f"***.{digits[3:6]}.{digits[6:9]}-**"


def _contato(pedido: Pedido) -> dict[str, Any]:
    buyer = pedido.order.buyer
    return {
        "id": pedido.contato_id,
        "nome": f"{buyer.first_name} {buyer.last_name}",
        "tipoPessoa": "F",
        "numeroDocumento": masked_cpf(buyer.buyer_id),
    }


def _prazo_entrega(order: Order) -> int:
    return 3 + order.order_number % 8


def _dates(pedido: Pedido, step: int) -> tuple[str, str, str]:
    order = pedido.order
    shipped = next(
        (when for status, when in order.timeline[: step + 1] if status == "shipped"), None
    )
    prevista = order.created_at + timedelta(days=_prazo_entrega(order))
    return (
        local_date(order.created_at),
        local_date(shipped) if shipped else EMPTY_DATE,
        local_date(prevista),
    )


def _situacao(pedido: Pedido, step: int) -> dict[str, int]:
    situacao_id, valor = SITUACAO_OF_STATUS[pedido.order.timeline[step][0]]
    return {"id": situacao_id, "valor": valor}


def pedido_summary(pedido: Pedido, step: int) -> dict[str, Any]:
    order = pedido.order
    data, saida, prevista = _dates(pedido, step)
    return {
        "id": pedido.id,
        "numero": pedido.numero,
        "numeroLoja": pedido.numero_loja,
        "data": data,
        "dataSaida": saida,
        "dataPrevista": prevista,
        "totalProdutos": money(order.total),
        "total": money(order.total + order.shipping_cost),
        "contato": _contato(pedido),
        "situacao": _situacao(pedido, step),
        "loja": {"id": pedido.loja_id},
    }


def _channel(seller: Seller) -> tuple[str, str, Decimal]:
    return _CHANNELS.get(seller.marketplace, _DEFAULT_CHANNEL)


def pedido_detail(pedido: Pedido, step: int, catalog: Catalog) -> dict[str, Any]:
    order = pedido.order
    carrier, service, rate = _channel(order.seller)
    body = pedido_summary(pedido, step)
    itens = []
    weight_g = 0
    for index, line in enumerate(order.lines):
        linked = catalog.by_codigo.get(line.sku) if line.sku else None
        if linked is not None:
            weight_g += linked.weight_g * line.quantity
        base = line.unit_price * line.quantity
        itens.append(
            {
                "id": hashed_int(f"item:{order.order_number}:{index}", 10**10, 9 * 10**10),
                "codigo": line.sku or "",
                "unidade": "UN",
                "quantidade": line.quantity,
                "desconto": 0,
                "valor": money(line.unit_price),
                "aliquotaIPI": 0,
                "descricao": line.title,
                "descricaoDetalhada": "",
                # Bling keeps an item it could not link to a product by SKU with id 0.
                "produto": {"id": linked.id if linked else 0},
                "comissao": {
                    "base": money(base),
                    "aliquota": float(rate * 100),
                    "valor": money(base * rate),
                },
            }
        )
    pedido_date = body["data"]
    tracked = body["dataSaida"] != EMPTY_DATE
    body.update(
        {
            "numeroPedidoCompra": "",
            "outrasDespesas": 0,
            "observacoes": "",
            "observacoesInternas": "",
            "desconto": {"valor": 0, "unidade": "REAL"},
            "categoria": {"id": 0},
            "notaFiscal": {"id": 0},
            "tributacao": {"totalICMS": 0, "totalIPI": 0},
            "itens": itens,
            "parcelas": [
                {
                    "id": hashed_int(f"parcela:{order.order_number}", 10**10, 9 * 10**10),
                    "dataVencimento": pedido_date,
                    "valor": money(order.total + order.shipping_cost),
                    "observacoes": "",
                    "formaPagamento": {"id": hashed_int(f"forma:{carrier}", 10**6, 9 * 10**6)},
                }
            ],
            "transporte": {
                "fretePorConta": 0,
                "frete": money(order.shipping_cost),
                "quantidadeVolumes": 1,
                "pesoBruto": round(weight_g / 1000, 3),
                "prazoEntrega": _prazo_entrega(order),
                "contato": {"id": 0, "nome": carrier},
                "etiqueta": {
                    "nome": f"{order.buyer.first_name} {order.buyer.last_name}",
                    "endereco": "",
                    "numero": "",
                    "complemento": "",
                    "municipio": order.buyer.city,
                    "uf": order.buyer.state,
                    "cep": "",
                    "bairro": "",
                    "nomePais": "BRASIL",
                },
                "volumes": (
                    [
                        {
                            "id": hashed_int(f"volume:{order.order_number}", 10**10, 9 * 10**10),
                            "servico": service,
                            "codigoRastreamento": f"{service}{order.order_number % 10**9:09d}BR",
                        }
                    ]
                    if tracked
                    else []
                ),
            },
            "vendedor": {"id": 0},
            "intermediador": {"cnpj": "", "nomeUsuario": order.buyer.nickname},
            "taxas": {
                "taxaComissao": money(order.total * rate),
                "custoFrete": money(order.shipping_cost),
                "valorBase": money(order.total),
            },
        }
    )
    return body


def build_pedidos(world: World) -> list[Pedido]:
    """Every World order as Bling imported it, sorted by creation; `numero` follows that order."""
    ids = IdAllocator(10_000_000_000, 9_000_000_000)
    contatos: dict[int, int] = {}
    lojas = {seller.store_id: loja_id_for(seller.store_id) for seller in world.sellers}
    pedidos = []
    ordered: Iterable[Order] = sorted(world.orders, key=lambda o: (o.created_at, o.order_number))
    for numero, order in enumerate(ordered, start=1):
        buyer_id = order.buyer.buyer_id
        if buyer_id not in contatos:
            contatos[buyer_id] = hashed_int(f"contato:{buyer_id}", 10**10, 9 * 10**10)
        pedidos.append(
            Pedido(
                order,
                ids.allocate(f"pedido:{order.order_number}"),
                numero,
                lojas[order.seller.store_id],
                contatos[buyer_id],
            )
        )
    return pedidos
