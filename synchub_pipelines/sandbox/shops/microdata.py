"""Empório Latino: an old-school shop with schema.org microdata, served in ISO-8859-1.

Its pages predate UTF-8 on the server: the charset is declared in the Content-Type header
and in a meta http-equiv, and accented titles travel as single Latin-1 bytes. It asks for a
`Crawl-delay` in robots.txt and answers 429 to anyone who ignores it.
"""

from __future__ import annotations

from datetime import date

from synchub_pipelines.sandbox.shops.catalog import ShopProduct, reais
from synchub_pipelines.sandbox.shops.site import Shop, esc, urlset


class MicrodataShop(Shop):
    site = "microdata"
    display_name = "Empório Latino"
    charset = "iso-8859-1"
    disallow = ("/carrinho", "/conta", "/busca?")

    def product_path(self, product: ShopProduct) -> str:
        return f"/produto/{product.slug}.html"

    def category_path(self, slug: str) -> str:
        return f"/categoria/{slug}"

    def specials(self) -> dict[str, str]:
        return {"/produto/fora-de-linha.html": "soft404", "/produto/nao-existe.html": "gone"}

    def redirects(self) -> dict[str, tuple[int, str]]:
        return {f"/p/{p.product_id}": (301, self.product_path(p)) for p in self.products}

    def sitemaps(self, base: str) -> dict[str, str]:
        urls = [base + self.category_path(slug) for slug in self.categories]
        urls += [base + self.product_path(p) for p in self.products]
        urls += [f"{base}/p/{self.products[0].product_id}", f"{base}/produto/fora-de-linha.html"]
        urls.append(f"{base}/produto/nao-existe.html")
        return {"/sitemap.xml": urlset(urls)}

    def _frame(self, title: str, body: str) -> str:
        return (
            '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n<html><head>'
            '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
            f"<title>{esc(title)} - {self.display_name}</title></head><body>"
            f'<table width="100%"><tr><td><a href="/">{self.display_name}</a></td>'
            '<td><a href="/conta">Minha conta</a> | <a href="/carrinho">Carrinho</a> | '
            '<a href="/busca?q=promoção">Promoções</a></td></tr></table>'
            f"{body}<p>Empório Latino Ltda. — São João del-Rei, MG</p></body></html>"
        )

    def render_home(self, base: str) -> str:
        links = "<br>".join(
            f'<a href="{self.category_path(slug)}">{esc(name)}</a>'
            for slug, (name, _) in self.categories.items()
        )
        return self._frame("Bem-vindo", f"<h2>Seções</h2>{links}")

    def render_category(
        self, base: str, slug: str, name: str, items: list[ShopProduct], page: int, pages: int
    ) -> str:
        rows = "".join(
            f'<tr><td><a href="{self.product_path(p)}">{esc(p.title)}</a></td></tr>' for p in items
        )
        pager = " ".join(
            f"<b>{n}</b>" if n == page else f'<a href="{self.category_path(slug)}?page={n}">{n}</a>'
            for n in range(1, pages + 1)
        )
        if page < pages:
            pager += f' <a rel="next" href="{self.category_path(slug)}?page={page + 1}">»</a>'
        return self._frame(name, f"<h1>{esc(name)}</h1><table>{rows}</table><p>{pager}</p>")

    def render_product(self, base: str, product: ShopProduct, day: date) -> str:
        price = product.price_on(day)
        availability = "InStock" if product.in_stock else "OutOfStock"
        gtin = f'<meta itemprop="gtin13" content="{product.gtin}">' if product.gtin else ""
        images = "".join(
            f'<img itemprop="image" src="{base}/img/{n}.png" alt="{esc(product.title)}">'
            for n in product.image_names
        )
        attrs = "".join(
            f'<tr itemprop="additionalProperty" itemscope '
            f'itemtype="https://schema.org/PropertyValue"><td itemprop="name">{esc(k)}</td>'
            f'<td itemprop="value">{esc(v)}</td></tr>'
            for k, v in product.attributes
        )
        list_price = product.list_price_on(day)
        was = f"<strike>De {reais(list_price)}</strike><br>" if list_price else ""
        body = (
            '<div itemscope itemtype="https://schema.org/Product">'
            f'<h1 itemprop="name">{esc(product.title)}</h1>{images}'
            '<p>Marca: <span itemprop="brand" itemscope itemtype="https://schema.org/Brand">'
            f'<span itemprop="name">{esc(product.brand)}</span></span></p>'
            f'<p>Ref.: <span itemprop="sku">{product.shop_sku}</span></p>{gtin}'
            '<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
            f'{was}<font size="+2"><span itemprop="price" content="{price:.2f}">'
            f"{reais(price)}</span></font>"
            '<meta itemprop="priceCurrency" content="BRL">'
            f'<link itemprop="availability" href="https://schema.org/{availability}">'
            f"{'Disponível' if product.in_stock else 'Indisponível'}</div>"
            f'<p itemprop="description">{esc(product.description)}</p>'
            f"<table>{attrs}</table></div>"
        )
        return self._frame(product.title, body)

    def render_message(self, base: str, kind: str) -> str:
        return self._frame(
            "Produto não encontrado",
            "<h1>Produto não encontrado</h1><p>Este item saiu de linha. Veja outras seções.</p>",
        )
