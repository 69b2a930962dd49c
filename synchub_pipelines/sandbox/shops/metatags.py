"""Bazar do Zé: OpenGraph/product meta tags only, served in windows-1252.

No JSON-LD and no microdata: what a machine can read is in `<meta property=…>` tags, as
Facebook catalogue integrations leave a page. Its texts use the typographic characters that
windows-1252 puts in 0x80–0x9F (– “ ” …), which a page decoded as Latin-1 would garble.
"""

from __future__ import annotations

from datetime import date

from synchub_pipelines.sandbox.shops.catalog import ShopProduct, reais
from synchub_pipelines.sandbox.shops.site import Shop, esc, urlset


class MetaTagsShop(Shop):
    site = "metatags"
    display_name = "Bazar do Zé"
    charset = "windows-1252"
    page_param = "pagina"
    disallow = ("/carrinho", "/minha-conta", "/busca", "/*?ordem=")

    def product_path(self, product: ShopProduct) -> str:
        return f"/item/{product.product_id}/{product.slug}"

    def category_path(self, slug: str) -> str:
        return f"/departamento/{slug}"

    def specials(self) -> dict[str, str]:
        return {"/item/0/removido": "gone"}

    def redirects(self) -> dict[str, tuple[int, str]]:
        return {
            f"/produto.php?id={p.product_id}": (301, self.product_path(p)) for p in self.products
        }

    def sitemaps(self, base: str) -> dict[str, str]:
        urls = [base + self.category_path(slug) for slug in self.categories]
        urls += [base + self.product_path(p) for p in self.products]
        urls += [f"{base}/produto.php?id={self.products[-1].product_id}", f"{base}/item/0/removido"]
        return {"/sitemap.xml": urlset(urls)}

    def _frame(self, title: str, body: str, meta: str = "") -> str:
        return (
            '<!DOCTYPE html><html lang="pt-br"><head><meta charset="windows-1252">'
            f"<title>{esc(title)} – {self.display_name}</title>{meta}</head><body>"
            f'<div id="topo"><a href="/">{self.display_name}</a> '
            '<a href="/minha-conta">Minha conta</a> <a href="/carrinho">Sacola</a></div>'
            f'{body}<div id="rodape">“Preço bom é aqui” … desde 1987</div></body></html>'
        )

    def render_home(self, base: str) -> str:
        links = "".join(
            f'<a class="depto" href="{self.category_path(slug)}">{esc(name)}</a> '
            for slug, (name, _) in self.categories.items()
        )
        return self._frame("Início", f"<nav>{links}</nav>")

    def render_category(
        self, base: str, slug: str, name: str, items: list[ShopProduct], page: int, pages: int
    ) -> str:
        cards = "".join(
            f'<div class="vitrine-item"><a href="{self.product_path(p)}">{esc(p.title)}</a></div>'
            for p in items
        )
        sort = f'<a href="{self.category_path(slug)}?ordem=menor-preco">Menor preço</a>'
        more = ""
        if page < pages:
            more = (
                f'<a rel="next" class="mais" href="{self.category_path(slug)}?'
                f'{self.page_param}={page + 1}">Mais produtos</a>'
            )
        return self._frame(name, f"<h1>{esc(name)}</h1>{sort}{cards}{more}")

    def render_product(self, base: str, product: ShopProduct, day: date) -> str:
        price = product.price_on(day)
        url = base + self.product_path(product)
        title = product.title
        description = f"“{product.title}” – {product.description} Confira…"
        tags = [
            ("og:type", "product"),
            ("og:site_name", self.display_name),
            ("og:title", title),
            ("og:description", description),
            ("og:url", url),
        ]
        tags += [("og:image", f"{base}/img/{n}.png") for n in product.image_names]
        tags += [
            ("product:brand", product.brand),
            ("product:price:amount", f"{price:.2f}"),
            ("product:price:currency", "BRL"),
            ("product:availability", "in stock" if product.in_stock else "out of stock"),
            ("product:condition", "new"),
            ("product:retailer_item_id", product.shop_sku),
        ]
        list_price = product.list_price_on(day)
        if list_price is not None:
            tags.append(("product:original_price:amount", f"{list_price:.2f}"))
        if product.gtin:
            tags.append(("product:ean", product.gtin))
        meta = "".join(f'<meta property="{k}" content="{esc(v)}">' for k, v in tags)
        attrs = "".join(f"<li>{esc(k)}: {esc(v)}</li>" for k, v in product.attributes)
        body = (
            f'<div class="produto"><h1>{esc(title)}</h1>'
            f'<div class="preco">{reais(price)}</div>'
            f"<p>{esc(description)}</p><ul>{attrs}</ul></div>"
        )
        return self._frame(title, body, meta)

    def render_message(self, base: str, kind: str) -> str:
        return self._frame("Produto não encontrado", "<h1>Produto não encontrado</h1>")
