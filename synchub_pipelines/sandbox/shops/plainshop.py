"""Loja do Bairro: plain HTML with no structured data, so only a CSS-selector recipe reads it.

The price box is the classic Brazilian one — "de R$ 1.499,90 por R$ 1.299,90 à vista" with
"ou 10x de R$ 129,99 sem juros" right beside it, so a parser that grabs the first or the last
amount in the box reads the wrong number. Out-of-stock products say "Esgotado" and keep their
price; the GTIN sits in a spec table. Layout "v2" moves the price box to new classes, as a
theme update would, and leaves the rest alone: a v1 recipe still finds the title but no
price, which is what the extraction-rate check must notice.
"""

from __future__ import annotations

from datetime import date

from synchub_pipelines.sandbox.shops.catalog import ShopProduct, reais
from synchub_pipelines.sandbox.shops.site import Shop, esc, urlset

WALLED = "/produtos/oferta-relampago-secreta"


class PlainShop(Shop):
    site = "plainshop"
    display_name = "Loja do Bairro"
    disallow = ("/carrinho", "/conta", "/busca?", "/*?ordem=")
    layouts = ("v1", "v2")

    def product_path(self, product: ShopProduct) -> str:
        return f"/produtos/{product.slug}"

    def category_path(self, slug: str) -> str:
        return f"/categorias/{slug}"

    def specials(self) -> dict[str, str]:
        return {
            WALLED: "captcha",
            "/produtos/produto-antigo-descontinuado": "soft404",
            "/produtos/link-quebrado": "gone",
        }

    def redirects(self) -> dict[str, tuple[int, str]]:
        moved: dict[str, tuple[int, str]] = {
            f"/produto.asp?id={p.product_id}": (301, self.product_path(p)) for p in self.products
        }
        # A loop: a crawler must give up after its redirect limit.
        moved["/promo/a"] = (302, "/promo/b")
        moved["/promo/b"] = (302, "/promo/a")
        return moved

    def sitemaps(self, base: str) -> dict[str, str]:
        urls = [base + self.category_path(slug) for slug in self.categories]
        urls += [base + self.product_path(p) for p in self.products]
        urls += [
            f"{base}/produto.asp?id={self.products[1].product_id}",
            f"{base}/produtos/produto-antigo-descontinuado",
            f"{base}/produtos/link-quebrado",
        ]
        return {"/sitemap.xml": urlset(urls)}

    def _frame(self, title: str, body: str) -> str:
        return (
            '<!DOCTYPE html><html lang="pt-BR"><head><meta charset="utf-8">'
            f"<title>{esc(title)} - {self.display_name}</title></head><body>"
            f'<div class="topo"><a class="logo" href="/">{self.display_name}</a>'
            '<form class="busca" action="/busca" method="get"><input name="termo"></form>'
            '<a href="/conta/login">Entrar</a> <a href="/carrinho">Meu carrinho</a></div>'
            f'<div class="conteudo">{body}</div>'
            '<div class="rodape">Atendimento: (11) 4002-8922</div></body></html>'
        )

    def render_home(self, base: str) -> str:
        links = "".join(
            f'<li><a href="{self.category_path(slug)}">{esc(name)}</a></li>'
            for slug, (name, _) in self.categories.items()
        )
        return self._frame("Início", f'<ul class="menu">{links}</ul>')

    def render_category(
        self, base: str, slug: str, name: str, items: list[ShopProduct], page: int, pages: int
    ) -> str:
        cards = "".join(
            f'<div class="item"><a class="item-link" href="{self.product_path(p)}">'
            f"{esc(p.title)}</a></div>"
            for p in items
        )
        if page == 1:
            cards += (
                f'<div class="item"><a class="item-link" href="{WALLED}">Oferta relâmpago</a></div>'
                '<div class="item"><a href="/promo/a">Promoção da semana</a></div>'
            )
        path = self.category_path(slug)
        tools = (
            f'<a href="{path}?ordem=preco">Ordenar por preço</a> '
            f'<a href="/busca?termo={slug}">Buscar</a>'
        )
        nav = f'<a class="proxima" rel="next" href="{path}?page={page + 1}">Próxima página</a>'
        return self._frame(
            name,
            f'<h1>{esc(name)}</h1><div class="ferramentas">{tools}</div>'
            f'<div class="lista">{cards}</div>{nav if page < pages else ""}',
        )

    def _price_box(self, product: ShopProduct, day: date) -> str:
        price = product.price_on(day)
        list_price = product.list_price_on(day)
        count, each = product.installments_on(day)
        parcel = f"ou {count}x de {reais(each)} sem juros" if count > 1 else ""
        if self.layout == "v2":
            old = f'<s class="price-box__old">{reais(list_price)}</s>' if list_price else ""
            return (
                f'<div class="price-box">{old}'
                f'<span class="price-box__value">{reais(price)}</span>'
                f'<p class="price-box__installments">{parcel}</p></div>'
            )
        old = (
            f'<span class="preco-antigo">de <del>{reais(list_price)}</del></span> '
            if (list_price)
            else ""
        )
        por = "por " if list_price else ""
        return (
            f'<div class="box-preco">{old}'
            f'<span class="preco-atual">{por}<b>{reais(price)}</b> à vista</span> '
            f'<span class="parcelado">{parcel}</span></div>'
        )

    def render_product(self, base: str, product: ShopProduct, day: date) -> str:
        images = "".join(
            f'<img class="{"foto-principal" if i == 0 else "miniatura"}" '
            f'src="{base}/img/{n}.png" alt="">'
            for i, n in enumerate(product.image_names)
        )
        specs = (
            f'<tr class="spec-ean"><th>EAN</th><td>{product.gtin}</td></tr>'
            if (product.gtin)
            else ""
        )
        specs += f"<tr><th>Marca</th><td>{esc(product.brand)}</td></tr>"
        specs += "".join(
            f"<tr><th>{esc(k).capitalize()}</th><td>{esc(v)}</td></tr>"
            for k, v in product.attributes
        )
        if product.in_stock:
            stock = '<button class="btn-comprar">Comprar</button>'
        else:
            stock = (
                '<div class="selo-esgotado">Esgotado</div>'
                '<button class="btn-comprar" disabled>Indisponível</button>'
            )
        body = (
            f'<div class="produto-detalhe" id="produto-{product.product_id}">'
            f'<div class="galeria">{images}</div>'
            f'<h1 class="produto-nome">{esc(product.title)}</h1>'
            f'<div class="produto-marca">Marca: <a href="/marcas/{esc(product.brand.lower())}">'
            f"{esc(product.brand)}</a></div>"
            f'<div class="produto-codigo">Cód.: <span>{product.shop_sku}</span></div>'
            f"{self._price_box(product, day)}{stock}"
            f'<div class="produto-descricao">{esc(product.description)}</div>'
            f'<table class="ficha-tecnica">{specs}</table></div>'
        )
        return self._frame(product.title, body)

    def render_message(self, base: str, kind: str) -> str:
        if kind == "captcha":
            return (
                "<!DOCTYPE html><html><head><title>Acesso bloqueado</title></head><body>"
                "<h1>Verificação necessária</h1><p>Detectamos tráfego incomum. "
                "Resolva o captcha para continuar.</p>"
                '<div class="g-recaptcha" data-sitekey="6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI">'
                "</div></body></html>"
            )
        return self._frame(
            "Produto não encontrado",
            "<h1>Produto não encontrado</h1><p>Confira outros produtos da loja.</p>",
        )
