"""Casa Vitrine: a modern storefront whose product data is schema.org JSON-LD (UTF-8).

The Product sits in an `@graph` beside an Organization and a BreadcrumbList, as platforms
such as VTEX and Shopify themes emit it; the visible HTML repeats the price for people.
"""

from __future__ import annotations

import json
from datetime import date

from synchub_pipelines.sandbox.shops.catalog import ShopProduct, reais
from synchub_pipelines.sandbox.shops.site import Shop, esc, sitemap_index, urlset


class JsonLdShop(Shop):
    site = "jsonld"
    display_name = "Casa Vitrine"
    disallow = ("/carrinho", "/conta/", "/busca", "/checkout/")
    captcha_forbidden = True

    def product_path(self, product: ShopProduct) -> str:
        return f"/p/{product.slug}-{product.product_id}"

    def category_path(self, slug: str) -> str:
        return f"/c/{slug}"

    def specials(self) -> dict[str, str]:
        return {
            "/ofertas-do-dia": "captcha",
            "/p/produto-descontinuado-9001": "soft404",
            "/p/item-removido-9002": "gone",
        }

    def redirects(self) -> dict[str, tuple[int, str]]:
        return {f"/produto/{p.product_id}": (301, self.product_path(p)) for p in self.products}

    def sitemaps(self, base: str) -> dict[str, str]:
        paths = [self.product_path(p) for p in self.products]
        half = (len(paths) + 1) // 2
        # A stale sitemap, as real ones are: some old URLs (301), a discontinued product
        # (soft 404) and a removed one (404).
        first = paths[:half] + [f"/produto/{p.product_id}" for p in self.products[:3]]
        second = [*paths[half:], "/p/produto-descontinuado-9001", "/p/item-removido-9002"]
        categories = [self.category_path(slug) for slug in self.categories]
        return {
            "/sitemap.xml": sitemap_index(
                [
                    f"{base}/sitemaps/produtos-1.xml",
                    f"{base}/sitemaps/produtos-2.xml",
                    f"{base}/sitemaps/categorias.xml",
                ]
            ),
            "/sitemaps/produtos-1.xml": urlset([base + p for p in first]),
            "/sitemaps/produtos-2.xml": urlset([base + p for p in second]),
            "/sitemaps/categorias.xml": urlset([base + c for c in categories]),
        }

    def _frame(self, title: str, body: str, head: str = "") -> str:
        return (
            '<!DOCTYPE html>\n<html lang="pt-BR"><head><meta charset="utf-8">'
            f"<title>{esc(title)} | {self.display_name}</title>{head}</head><body>"
            f'<header><a href="/">{self.display_name}</a>'
            '<form action="/busca" method="get"><input name="q"></form>'
            '<a href="/conta/entrar">Entrar</a> <a href="/carrinho">Carrinho</a></header>'
            f"<main>{body}</main><footer>CNPJ 12.345.678/0001-90</footer></body></html>"
        )

    def render_home(self, base: str) -> str:
        links = "".join(
            f'<li><a href="{self.category_path(slug)}">{esc(name)}</a></li>'
            for slug, (name, _) in self.categories.items()
        )
        return self._frame(
            "Início",
            f'<ul class="departamentos">{links}</ul>'
            '<a class="banner" href="/ofertas-do-dia">Ofertas do dia</a>',
        )

    def render_category(
        self, base: str, slug: str, name: str, items: list[ShopProduct], page: int, pages: int
    ) -> str:
        cards = "".join(
            f'<li class="card"><a href="{self.product_path(p)}">{esc(p.title)}</a>'
            f'<a href="/carrinho/adicionar?sku={p.shop_sku}">Comprar</a></li>'
            for p in items
        )
        nav = ""
        if page > 1:
            nav += f'<a rel="prev" href="{self.category_path(slug)}?page={page - 1}">Anterior</a>'
        if page < pages:
            nav += f'<a rel="next" href="{self.category_path(slug)}?page={page + 1}">Próxima</a>'
        return self._frame(
            name,
            f'<h1>{esc(name)}</h1><ul class="vitrine">{cards}</ul><nav>{nav}</nav>',
        )

    def render_product(self, base: str, product: ShopProduct, day: date) -> str:
        price = product.price_on(day)
        url = base + self.product_path(product)
        availability = "InStock" if product.in_stock else "OutOfStock"
        item: dict[str, object] = {
            "@type": "Product",
            "@id": f"{url}#product",
            "name": product.title,
            "description": product.description,
            "image": [f"{base}/img/{n}.png" for n in product.image_names],
            "sku": product.shop_sku,
            "brand": {"@type": "Brand", "name": product.brand},
            "category": product.category_name,
            "offers": {
                "@type": "Offer",
                "url": url,
                "price": f"{price:.2f}",
                "priceCurrency": "BRL",
                "availability": f"https://schema.org/{availability}",
                "itemCondition": "https://schema.org/NewCondition",
                "seller": {"@type": "Organization", "name": self.display_name},
            },
        }
        if product.gtin:
            item["gtin13"] = product.gtin
        if product.attributes:
            item["additionalProperty"] = [
                {"@type": "PropertyValue", "name": k, "value": v} for k, v in product.attributes
            ]
        graph = {
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "Organization", "name": self.display_name, "url": base + "/"},
                {
                    "@type": "BreadcrumbList",
                    "itemListElement": [
                        {"@type": "ListItem", "position": 1, "name": "Início", "item": base + "/"},
                        {
                            "@type": "ListItem",
                            "position": 2,
                            "name": product.category_name,
                            "item": base + self.category_path(product.category_slug),
                        },
                    ],
                },
                item,
            ],
        }
        data = json.dumps(graph, ensure_ascii=False, indent=1).replace("</", "<\\/")
        list_price = product.list_price_on(day)
        was = f'<s class="de">{reais(list_price)}</s> ' if list_price else ""
        stock = "Em estoque" if product.in_stock else "Esgotado"
        body = (
            f'<article><h1>{esc(product.title)}</h1><p class="preco">{was}'
            f"<strong>{reais(price)}</strong></p><p>{stock}</p>"
            f"<p>{esc(product.description)}</p></article>"
        )
        return self._frame(
            product.title,
            body,
            f'<link rel="canonical" href="{esc(url)}">'
            f'<script type="application/ld+json">{data}</script>',
        )

    def render_message(self, base: str, kind: str) -> str:
        if kind == "captcha":
            return (
                "<!DOCTYPE html><html><head><title>Verificação de segurança</title></head><body>"
                "<h1>Confirme que você não é um robô</h1>"
                '<form action="/captcha/verify" method="post"><div class="h-captcha captcha" '
                'data-sitekey="10000000-ffff-ffff-ffff-000000000001"></div></form></body></html>'
            )
        return self._frame(
            "Produto não encontrado",
            "<h1>Produto não encontrado</h1>"
            "<p>O produto que você procura não está mais disponível.</p>",
        )
