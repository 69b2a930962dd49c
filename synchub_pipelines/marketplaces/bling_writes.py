"""Bling catalog writes: a product's category, brand and custom fields, and its links to
the merchant's stores (produtos/lojas) — methods of `BlingClient`, which inherits this mixin.

Protocol facts (API-NOTES-WRITES §5, the bling-erp-api-js entities and a third-party
summary of Bling's OpenAPI file; what stays open is marked [U] and listed in
/work/notes/bling-catalog-README.md):

- `PATCH /produtos/{idProduto}` changes only the fields it carries ("altera parcialmente um
  produto"); `PUT` replaces the whole product and would blank what it leaves out, so the
  hub never PUTs a product. Body fields used: `categoria{id}`, `marca` (text) and
  `camposCustomizados[{idCampoCustomizado, valor}]`. Whether a PATCH's
  `camposCustomizados` replaces the product's other custom values or merges by field id is
  [U]: every write sends each managed field's value, and the sandbox merges by id.
- Custom fields belong to a module: `GET /campos-customizados/modulos` lists the modules
  (`{id, nome, modulo}`), `GET /campos-customizados/modulos/{idModulo}` a module's fields
  (`{id, nome, situacao}`, paged). The product's values come back in `GET /produtos/{id}`
  as `camposCustomizados[{idCampoCustomizado, idVinculo, valor, item}]`.
- Product–store links ("vínculos de produtos com lojas"): `GET /produtos/lojas?idProduto=
  &idLoja=` (paged), `POST /produtos/lojas {codigo, preco, produto{id}, loja{id}}` →
  `{data:{id}}`, `PUT /produtos/lojas/{idProdutoLoja}` with the same body. `codigo` is the
  product's code in that store (the marketplace listing). One link per product and store
  is assumed [U]: the hub never creates a second one.
- Refusals come in Bling's `error{type, message, description, fields[{code, msg,
  element}]}`; a write's 4xx (a 404 of a product or link deleted meanwhile included) raises
  `WriteRefused` carrying the type and the fields' messages, so the audit names the cause.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synchub_pipelines.marketplaces.errors import (
    AuthError,
    InvalidRequestError,
    MarketplaceError,
)
from synchub_pipelines.marketplaces.publishing import WriteRefused

if TYPE_CHECKING:
    import httpx

SOURCE = "bling"
PRODUCTS_MODULE = "produtos"  # the module whose custom fields belong to products
CENT = Decimal("0.01")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", " ".join(text.split()).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class _Ref(_Shape):
    id: int | None = None


class BlingModule(_Shape):
    id: int
    nome: str = ""
    modulo: str = ""


class BlingCustomField(_Shape):
    """A custom field of the products module; `situacao` 1 active, 0 inactive."""

    id: int
    nome: str
    situacao: int = 1

    @property
    def active(self) -> bool:
        return self.situacao == 1


class BlingCustomValue(_Shape):
    idCampoCustomizado: int
    valor: str | None = None


class BlingProductFields(_Shape):
    """What the catalog write-back compares in `GET /produtos/{id}` (and each variation)."""

    id: int
    codigo: str = ""
    formato: str = "S"
    marca: str | None = None
    categoria: _Ref | None = None
    camposCustomizados: list[BlingCustomValue] = Field(default_factory=list)
    variacoes: list[BlingProductFields] = Field(default_factory=list)

    @property
    def category_id(self) -> int | None:
        return (self.categoria.id if self.categoria else None) or None

    @property
    def custom_values(self) -> dict[int, str]:
        return {
            v.idCampoCustomizado: v.valor
            for v in self.camposCustomizados
            if v.valor is not None and v.valor != ""
        }


class BlingStoreLink(_Shape):
    """A row of `GET /produtos/lojas`: one product's code and price in one store (loja)."""

    id: int
    codigo: str = ""
    preco: Decimal | None = None
    produto: _Ref
    loja: _Ref

    @property
    def product_id(self) -> int | None:
        return self.produto.id

    @property
    def loja_id(self) -> int | None:
        return self.loja.id


@dataclass(frozen=True)
class ProductPatch:
    """The fields one `PATCH /produtos/{id}` changes; None leaves a field as it is."""

    category_id: int | None = None
    brand: str | None = None
    custom_values: Mapping[int, str] | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.category_id is not None:
            body["categoria"] = {"id": self.category_id}
        if self.brand is not None:
            body["marca"] = self.brand
        if self.custom_values:
            body["camposCustomizados"] = [
                {"idCampoCustomizado": field_id, "valor": value}
                for field_id, value in sorted(self.custom_values.items())
            ]
        return body

    @property
    def empty(self) -> bool:
        return not self.body()


def money(value: Decimal) -> float:
    # JSON has no decimal type and Bling takes numbers; a value of at most two decimals
    # below 10^13 survives float's shortest round-trip repr unchanged.
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def link_body(product_id: int, loja_id: int, codigo: str, price: Decimal | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "codigo": codigo,
        "produto": {"id": product_id},
        "loja": {"id": loja_id},
    }
    if price is not None:
        body["preco"] = money(price)
    return body


class BlingCatalogWrites:
    """Mixed into `BlingClient`, whose `_call`, `_get` and `_pages` it uses."""

    if TYPE_CHECKING:

        def _call(self, operation: str, method: str, path: str, **kw: Any) -> httpx.Response: ...

        def _get(self, operation: str, path: str, params: Any = None) -> Any: ...

        def _pages(
            self, operation: str, path: str, params: list[tuple[str, Any]]
        ) -> Iterator[list[Any]]: ...

    @contextmanager
    def _refusals(self) -> Iterator[None]:
        """A content refusal (any 4xx but auth) becomes WriteRefused, code and all."""
        try:
            yield
        except (AuthError, WriteRefused):
            raise
        except InvalidRequestError as exc:
            raise WriteRefused(
                exc.marketplace,
                exc.operation,
                exc.detail,
                status=exc.status,
                code=exc.code,
                request_id=exc.request_id,
            ) from None

    # --- custom fields -------------------------------------------------------------------

    def product_custom_fields(self) -> list[BlingCustomField]:
        """The products module's custom fields (active and inactive); [] when the account
        has no products module with custom fields."""
        modules = self._get("campos.modulos", "/campos-customizados/modulos").get("data") or []
        module = None
        for raw in modules:
            try:
                candidate = BlingModule.model_validate(raw)
            except ValidationError:
                continue
            if PRODUCTS_MODULE in (_fold(candidate.modulo), _fold(candidate.nome)):
                module = candidate
                break
        if module is None:
            return []
        fields: list[BlingCustomField] = []
        for rows in self._pages("campos.list", f"/campos-customizados/modulos/{module.id}", []):
            for raw in rows:
                try:
                    fields.append(BlingCustomField.model_validate(raw))
                except ValidationError as exc:
                    raise MarketplaceError(
                        SOURCE, "campos.list", f"custom field {raw!r:.80}: {exc.errors()[0]}"
                    ) from None
        return fields

    # --- products ------------------------------------------------------------------------

    def product_fields(self, product_id: int) -> BlingProductFields:
        """A product's category, brand and custom values (its variations' too)."""
        data = self._get("produtos.get", f"/produtos/{product_id}").get("data")
        try:
            return BlingProductFields.model_validate(data)
        except ValidationError as exc:
            raise MarketplaceError(
                SOURCE, "produtos.get", f"product {product_id}: {exc.errors()[0]['msg']}"
            ) from None

    def patch_product(self, product_id: int, patch: ProductPatch) -> None:
        """Change only the fields the patch names (PATCH; idempotent)."""
        body = patch.body()
        if not body:
            return
        with self._refusals():
            self._call("produtos.patch", "PATCH", f"/produtos/{product_id}", json=body)

    # --- product–store links -------------------------------------------------------------

    def store_links(
        self, loja_id: int | None = None, product_id: int | None = None
    ) -> list[BlingStoreLink]:
        """Links of a store (loja) and/or a product, every page."""
        params: list[tuple[str, Any]] = []
        if loja_id is not None:
            params.append(("idLoja", loja_id))
        if product_id is not None:
            params.append(("idProduto", product_id))
        links: list[BlingStoreLink] = []
        for rows in self._pages("produtos_lojas.list", "/produtos/lojas", params):
            for raw in rows:
                try:
                    links.append(BlingStoreLink.model_validate(raw))
                except ValidationError as exc:
                    raise MarketplaceError(
                        SOURCE,
                        "produtos_lojas.list",
                        f"link {raw.get('id') if isinstance(raw, dict) else raw!r:.40}: "
                        f"{exc.errors()[0]['msg']}",
                    ) from None
        return links

    def create_store_link(
        self, product_id: int, loja_id: int, codigo: str, price: Decimal | None = None
    ) -> int:
        """Link a product to a store under the listing's code; returns the link id.

        Not idempotent: read `store_links` first (Bling refuses a second link of the same
        product to the same store, and the planner never sends one)."""
        with self._refusals():
            answer = self._call(
                "produtos_lojas.create",
                "POST",
                "/produtos/lojas",
                json=link_body(product_id, loja_id, codigo, price),
            )
        return int(answer.json()["data"]["id"])

    def update_store_link(
        self,
        link_id: int,
        product_id: int,
        loja_id: int,
        codigo: str,
        price: Decimal | None = None,
    ) -> None:
        """Replace a link's code and price (PUT; idempotent)."""
        with self._refusals():
            self._call(
                "produtos_lojas.update",
                "PUT",
                f"/produtos/lojas/{link_id}",
                json=link_body(product_id, loja_id, codigo, price),
            )


def fold(text: str) -> str:
    """Case, accents and spacing folded: how custom field names are matched."""
    return _fold(text)
