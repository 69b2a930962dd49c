"""MercadoTudo: a marketplace page with variations, a seller and instalments.

Like Mercado Livre or Magalu, one listing (`/p/MT<n>`) groups variations (colour/size), each
with its own price, stock and GTIN, selected by `?variacao=<id>`. The JSON-LD only gives an
AggregateOffer range across variations; the exact price, seller and instalments are in the
HTML and in the page's preloaded state (a JSON script that is not schema.org), so a recipe is
needed. The sitemap lists one URL per variation; category pages link listings.
"""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import parse_qs, quote

from synchub_pipelines.sandbox.shops.catalog import ShopProduct, reais
from synchub_pipelines.sandbox.shops.site import Shop, esc, sitemap_index, urlset


class MarketplaceShop(Shop):
    site = "marketplace"
    display_name = "MercadoTudo"
    disallow = ("/carrinho", "/conta", "/busca?", "/*?ordem=", "/perguntas/")
    per_page = 3

    def __init__(self, products: list[ShopProduct], crawl_delay: float | None) -> None:
        self.families: dict[str, list[ShopProduct]] = {}
        for p in products:
            self.families.setdefault(p.parent_id or p.product_id, []).append(p)
        super().__init__(products, crawl_delay)

    def product_path(self, product: ShopProduct) -> str:
        return f"/p/{product.parent_id}?variacao={product.variation_id}"

    def listing_path(self, parent_id: str) -> str:
        return f"/p/{parent_id}"

    def category_path(self, slug: str) -> str:
        return f"/lista/{slug}"

    def listed_products(self) -> list[ShopProduct]:
        return [members[0] for members in self.families.values()]

    def default_variation(self, parent_id: str) -> ShopProduct:
        members = self.families[parent_id]
        return next((m for m in members if m.in_stock), members[0])

    def product_for(self, path: str, query: str) -> ShopProduct | None:
        if not path.startswith("/p/"):
            return None
        members = self.families.get(path[len("/p/") :])
        if members is None:
            return None
        wanted = parse_qs(query).get("variacao")
        if not wanted:
            return self.default_variation(path[len("/p/") :])
        return next((m for m in members if str(m.variation_id) == wanted[0]), None)

    def specials(self) -> dict[str, str]:
        return {"/p/MT9990": "login", "/p/MT9991": "soft404", "/p/MT9992": "gone"}

    def redirects(self) -> dict[str, tuple[int, str]]:
        return {f"/produto/{pid}": (301, self.listing_path(pid)) for pid in self.families}

    def sitemaps(self, base: str) -> dict[str, str]:
        products = [base + self.product_path(p) for p in self.products]
        products += [f"{base}/p/MT9990", f"{base}/p/MT9991", f"{base}/p/MT9992"]
        lists = [base + self.category_path(slug) for slug in self.categories]
        return {
            "/sitemap.xml": sitemap_index(
                [f"{base}/sitemap-produtos.xml", f"{base}/sitemap-listas.xml"]
            ),
            "/sitemap-produtos.xml": urlset(products),
            "/sitemap-listas.xml": urlset(lists),
        }

    def _frame(self, title: str, body: str, head: str = "") -> str:
        return (
            '<!DOCTYPE html><html lang="pt-BR"><head><meta charset="utf-8">'
            f"<title>{esc(title)} | {self.display_name}</title>{head}</head><body>"
            f'<header class="nav-header"><a href="/">{self.display_name}</a>'
            '<form action="/busca" method="get"><input name="as_word"></form>'
            '<a href="/conta/entrar">Entre</a> <a href="/carrinho">Carrinho</a></header>'
            f"<main>{body}</main></body></html>"
        )

    def render_home(self, base: str) -> str:
        links = "".join(
            f'<a class="categoria" href="{self.category_path(slug)}">{esc(name)}</a>'
            for slug, (name, _) in self.categories.items()
        )
        return self._frame("Compre e venda", f"<nav>{links}</nav>")

    def render_category(
        self, base: str, slug: str, name: str, items: list[ShopProduct], page: int, pages: int
    ) -> str:
        cards = "".join(
            f'<li class="ui-search-layout__item"><a class="ui-search-link" '
            f'href="{self.listing_path(p.parent_id or p.product_id)}">{esc(p.title)}</a>'
            f'<a href="/perguntas/{p.parent_id}">Perguntas</a></li>'
            for p in items
        )
        path = self.category_path(slug)
        nav = f'<a rel="next" href="{path}?page={page + 1}">Seguinte</a>' if page < pages else ""
        return self._frame(
            name,
            f'<h1>{esc(name)}</h1><a href="{path}?ordem=price_asc">Menor preço</a>'
            f'<ol class="ui-search-layout">{cards}</ol><nav>{nav}</nav>',
        )

    def render_product(self, base: str, product: ShopProduct, day: date) -> str:
        parent = product.parent_id or product.product_id
        members = self.families[parent]
        prices = [m.price_on(day) for m in members]
        price = product.price_on(day)
        list_price = product.list_price_on(day)
        count, each = product.installments_on(day)
        images = [f"{base}/img/{n}.png" for n in product.image_names]
        ld = {
            "@context": "https://schema.org",
            "@type": "Product",
            "name": product.title,
            "brand": {"@type": "Brand", "name": product.brand},
            "image": images,
            "offers": {
                "@type": "AggregateOffer",
                "lowPrice": f"{min(prices):.2f}",
                "highPrice": f"{max(prices):.2f}",
                "offerCount": len(members),
                "priceCurrency": "BRL",
            },
        }
        state = {
            "item": {
                "id": parent,
                "title": product.title,
                "brand": product.brand,
                "seller": {"nickname": product.seller},
                "selected_variation": product.variation_id,
                "variations": [
                    {
                        "id": m.variation_id,
                        "attributes": dict(m.variation_attributes),
                        "gtin": m.gtin,
                        "price": {
                            "amount": float(m.price_on(day)),
                            "original_amount": (
                                float(lp) if (lp := m.list_price_on(day)) is not None else None
                            ),
                            "currency_id": "BRL",
                        },
                        "available_quantity": 7 if m.in_stock else 0,
                        "pictures": [f"{base}/img/{n}.png" for n in m.image_names],
                    }
                    for m in members
                ],
                "installments": {"quantity": count, "amount": float(each), "rate": 0},
            }
        }
        state_json = json.dumps(state, ensure_ascii=False).replace("</", "<\\/")
        ld_json = json.dumps(ld, ensure_ascii=False).replace("</", "<\\/")
        current = ' aria-current="true"'
        variations = "".join(
            f'<a class="ui-pdp-variation" href="{self.product_path(m)}"'
            f"{current if m is product else ''}>"
            f"{esc(' / '.join(v for _, v in m.variation_attributes) or m.title)}</a>"
            for m in members
        )
        original = (
            f'<s class="ui-pdp-price__original">{reais(list_price)}</s>' if (list_price) else ""
        )
        parcel = (
            f'<p class="ui-pdp-installments">em {count}x {reais(each)} sem juros</p>'
            if (count > 1)
            else ""
        )
        specs = f'<tr class="spec-marca"><th>Marca</th><td>{esc(product.brand)}</td></tr>'
        if product.gtin:
            specs += '<tr class="spec-gtin"><th>Código universal de produto</th>'
            specs += f"<td>{product.gtin}</td></tr>"
        specs += "".join(
            f"<tr><th>{esc(k).capitalize()}</th><td>{esc(v)}</td></tr>"
            for k, v in product.variation_attributes + product.attributes
        )
        body = (
            '<div class="ui-pdp">'
            '<div class="ui-pdp-gallery">'
            + "".join(f'<img src="{esc(u)}" alt="">' for u in images)
            + "</div>"
            f'<h1 class="ui-pdp-title">{esc(product.title)}</h1>'
            f'<div class="ui-pdp-variations">{variations}</div>'
            f'<div class="ui-pdp-price">{original}'
            f'<span class="ui-pdp-price__current">{reais(price)}</span>{parcel}</div>'
            f'<p class="ui-pdp-stock">{"Estoque disponível" if product.in_stock else "Sem estoque"}'
            "</p>"
            f'<div class="ui-pdp-seller">Vendido por <a class="ui-pdp-seller__link" '
            f'href="/loja/{quote(product.seller or "")}">{esc(product.seller or "")}</a></div>'
            f'<table class="ui-pdp-specs">{specs}</table>'
            f'<p class="ui-pdp-description">{esc(product.description)}</p></div>'
            f'<script id="__PRELOADED_STATE__" type="application/json">{state_json}</script>'
        )
        head = (
            f'<link rel="canonical" href="{base}{self.product_path(product)}">'
            f'<script type="application/ld+json">{ld_json}</script>'
        )
        return self._frame(product.title, body, head)

    def render_message(self, base: str, kind: str) -> str:
        if kind == "login":
            return self._frame(
                "Entrar",
                "<h1>Entre na sua conta para continuar</h1>"
                '<form class="login-form" action="/conta/entrar" method="post">'
                '<input name="user_id" placeholder="E-mail ou telefone">'
                '<input type="password" name="password"><button>Entrar</button></form>',
            )
        return self._frame(
            "Produto não encontrado",
            "<h1>Produto não encontrado</h1><p>Este anúncio foi finalizado.</p>",
        )
