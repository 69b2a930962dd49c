"""Every extraction path on saved HTML snippets: structured data first, then the recipe."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from synchub_pipelines.scraping.extract import extract_offer
from synchub_pipelines.scraping.offer import NoOffer, Offer
from synchub_pipelines.scraping.targets import Recipe

URL = "https://loja.example/p/fone-bt-123"
AT = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
GTIN = "7891234567895"


def read(
    html: str | bytes, recipe: Recipe | None = None, content_type: str | None = None
) -> Offer | NoOffer:
    body = html.encode("utf-8") if isinstance(html, str) else html
    return extract_offer(
        body, URL, site="loja", recipe=recipe, content_type=content_type, fetched_at=AT
    )


def offer(
    html: str | bytes, recipe: Recipe | None = None, content_type: str | None = None
) -> Offer:
    result = read(html, recipe, content_type)
    assert isinstance(result, Offer), result
    return result


def page(head: str = "", body: str = "") -> str:
    return f"<!DOCTYPE html><html><head><title>Loja</title>{head}</head><body>{body}</body></html>"


def ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}</script>'


PRODUCT = {
    "@type": "Product",
    "name": "Fone Bluetooth X1",
    "brand": {"@type": "Brand", "name": "Sonora"},
    "gtin13": GTIN,
    "sku": "FX1",
    "image": ["/img/fx1.jpg", {"@type": "ImageObject", "url": "https://cdn.example/fx1-2.jpg"}],
    "description": "Fone <b>sem fio</b> com 30 h de bateria",
    "additionalProperty": [{"@type": "PropertyValue", "name": "Cor", "value": "Preto"}],
    "offers": {
        "@type": "Offer",
        "price": "1299.90",
        "priceCurrency": "BRL",
        "availability": "https://schema.org/InStock",
        "seller": {"@type": "Organization", "name": "Loja Exemplo"},
        "priceSpecification": [
            {
                "@type": "UnitPriceSpecification",
                "priceType": "https://schema.org/ListPrice",
                "price": 1499.9,
            }
        ],
    },
}


def test_json_ld_graph_with_list_price() -> None:
    graph = {
        "@context": "https://schema.org",
        "@graph": [{"@type": "Organization", "name": "Loja"}, PRODUCT],
    }
    got = offer(page(ld(graph)))
    assert got.extracted_by == "json-ld"
    assert (got.price, got.currency, got.list_price) == (
        Decimal("1299.90"),
        "BRL",
        Decimal("1499.9"),
    )
    assert (got.title, got.brand, got.gtin, got.sku) == ("Fone Bluetooth X1", "Sonora", GTIN, "FX1")
    assert got.availability == "in_stock" and got.seller == "Loja Exemplo"
    assert got.images == ["https://loja.example/img/fx1.jpg", "https://cdn.example/fx1-2.jpg"]
    assert got.attributes == {"Cor": "Preto"}
    assert got.description == "Fone sem fio com 30 h de bateria"
    assert got.fetched_at == AT and got.url == URL and got.site == "loja"


def test_json_ld_out_of_stock_and_wrong_gtin_dropped() -> None:
    product = {
        **PRODUCT,
        "gtin13": "7891234567896",
        "offers": {**PRODUCT["offers"], "availability": "OutOfStock"},
    }
    got = offer(page(ld(product)))
    assert got.availability == "out_of_stock"
    assert got.gtin is None


def test_json_ld_aggregate_offer_low_price() -> None:
    product = {
        **PRODUCT,
        "offers": {
            "@type": "AggregateOffer",
            "lowPrice": 899.0,
            "highPrice": "1099.00",
            "offerCount": 3,
            "priceCurrency": "BRL",
        },
    }
    got = offer(page(ld(product)))
    assert got.price == Decimal("899.0") and got.availability == "unknown"


def test_variations_lowest_in_stock_price_wins() -> None:
    def variant(color: str, price: str, availability: str, gtin: str) -> dict[str, object]:
        return {
            "@type": "Product",
            "name": f"Camiseta Básica {color}",
            "color": color,
            "sku": f"CB-{color}",
            "gtin13": gtin,
            "offers": {
                "@type": "Offer",
                "price": price,
                "priceCurrency": "BRL",
                "availability": f"https://schema.org/{availability}",
            },
        }

    group = {
        "@type": "ProductGroup",
        "name": "Camiseta Básica",
        "brand": "Malha",
        "hasVariant": [
            variant("Azul", "39.90", "OutOfStock", "7890000000017"),
            variant("Preta", "49.90", "InStock", "7890000000024"),
            variant("Branca", "44.90", "InStock", "7890000000031"),
        ],
    }
    got = offer(page(ld(group)))
    # Azul is cheapest but sold out: Branca is the canonical offer, with its own SKU and GTIN.
    assert (got.price, got.sku, got.gtin, got.availability) == (
        Decimal("44.90"),
        "CB-Branca",
        "7890000000031",
        "in_stock",
    )
    assert got.title == "Camiseta Básica"
    assert got.attributes["variations"] == "3"
    assert got.attributes["variation Azul"] == "39.90 out_of_stock"
    # Nothing in stock: the lowest price overall, out of stock.
    for v in group["hasVariant"]:  # type: ignore[attr-defined]
        v["offers"]["availability"] = "https://schema.org/OutOfStock"
    sold_out = offer(page(ld(group)))
    assert (sold_out.price, sold_out.availability) == (Decimal("39.90"), "out_of_stock")


def test_marketplace_offers_lowest_in_stock_seller() -> None:
    product = {
        **PRODUCT,
        "offers": [
            {
                "@type": "Offer",
                "price": "1250.00",
                "priceCurrency": "BRL",
                "availability": "OutOfStock",
                "seller": {"name": "A"},
            },
            {
                "@type": "Offer",
                "price": "1280.00",
                "priceCurrency": "BRL",
                "availability": "InStock",
                "seller": {"name": "B"},
            },
            {
                "@type": "Offer",
                "price": "1310.00",
                "priceCurrency": "BRL",
                "availability": "InStock",
                "seller": {"name": "C"},
            },
        ],
    }
    got = offer(page(ld(product)))
    assert (got.price, got.seller) == (Decimal("1280.00"), "B")
    assert got.attributes["offers"] == "3"


MICRODATA = """
<div itemscope itemtype="https://schema.org/Product">
  <h1 itemprop="name">Liquidificador Turbo 900W</h1>
  <span itemprop="brand" itemscope itemtype="https://schema.org/Brand">
    <span itemprop="name">Mixa</span></span>
  <meta itemprop="gtin13" content="7891234567895">
  <img itemprop="image" src="/img/liq.jpg">
  <span itemprop="sku">LQ-900</span>
  <div itemprop="offers" itemscope itemtype="https://schema.org/Offer">
    <span itemprop="price" content="189.90">R$ 189,90</span>
    <meta itemprop="priceCurrency" content="BRL">
    <link itemprop="availability" href="https://schema.org/PreOrder">
  </div>
  <div itemscope itemtype="https://schema.org/Product">
    <span itemprop="name">Relacionado</span></div>
</div>
"""


def test_microdata() -> None:
    got = offer(page(body=MICRODATA))
    assert got.extracted_by == "microdata"
    assert (got.title, got.brand, got.gtin, got.sku) == (
        "Liquidificador Turbo 900W",
        "Mixa",
        GTIN,
        "LQ-900",
    )
    assert (got.price, got.currency, got.availability) == (Decimal("189.90"), "BRL", "preorder")
    assert got.images == ["https://loja.example/img/liq.jpg"]


RDFA = """
<div vocab="https://schema.org/" typeof="Product">
  <h1 property="name">Cafeteira Elétrica 30 xícaras</h1>
  <span property="brand" typeof="Brand"><span property="name">Cafeína</span></span>
  <span property="gtin13">7891234567895</span>
  <div property="offers" typeof="Offer">
    <span property="priceCurrency" content="BRL">R$</span>
    <span property="price" content="159.00">159,00</span>
    <link property="availability" href="https://schema.org/InStock">
  </div>
</div>
"""


def test_rdfa() -> None:
    got = offer(page('<meta property="og:title" content="not the product">', RDFA))
    assert got.extracted_by == "rdfa"
    assert (got.title, got.brand, got.gtin) == ("Cafeteira Elétrica 30 xícaras", "Cafeína", GTIN)
    assert (got.price, got.currency, got.availability) == (Decimal("159.00"), "BRL", "in_stock")


META = """
<meta property="og:type" content="product">
<meta property="og:title" content="Panela de Pressão 4,5L">
<meta property="og:image" content="https://cdn.example/panela.jpg">
<meta property="product:price:amount" content="219.90">
<meta property="product:sale_price:amount" content="179.90">
<meta property="product:price:currency" content="BRL">
<meta property="product:availability" content="out of stock">
<meta property="product:brand" content="Fogão Feliz">
<meta property="product:ean" content="7891234567895">
<meta property="product:retailer_item_id" content="PP-45">
"""


def test_meta_tags_sale_price() -> None:
    got = offer(page(META))
    assert got.extracted_by == "meta"
    assert (got.price, got.list_price, got.currency) == (
        Decimal("179.90"),
        Decimal("219.90"),
        "BRL",
    )
    assert (got.availability, got.brand, got.gtin, got.sku) == (
        "out_of_stock",
        "Fogão Feliz",
        GTIN,
        "PP-45",
    )


def test_meta_tags_only_on_product_pages() -> None:
    result = read(
        page('<meta property="og:type" content="website"><meta property="og:title" content="Home">')
    )
    assert isinstance(result, NoOffer) and result.outcome == "no_offer"
    assert "meta: no product meta tags" in result.reason


PLAIN = """
<h1 class="nome">Ventilador de Mesa 40cm</h1>
<div class="marca">Brisa</div>
<div class="box-preco">
  <p class="parcelado">10x de R$ 29,99 sem juros</p>
  <p class="antigo">de R$ 349,90</p>
  <p class="atual">por <b>R$ 299,90</b> à vista</p>
</div>
<span class="selo">Esgotado</span>
<table class="ficha"><tr><th>EAN</th><td>789 1234 56789 5</td></tr>
<tr><th>Voltagem</th><td>220V</td></tr></table>
<div class="galeria"><img data-src="/img/v1.jpg"><img src="/img/v2.jpg"></div>
"""
RECIPE = Recipe(
    title="h1.nome",
    brand=".marca",
    # The price selector also matches the installment line, first: it must be skipped.
    price=".box-preco p.parcelado, .box-preco p.atual",
    list_price=".box-preco .antigo",
    installments=".box-preco .parcelado",
    out_of_stock=".selo",
    gtin="table.ficha tr:first-child td",
    attributes="table.ficha",
    images=".galeria img",
)


def test_recipe_on_plain_html() -> None:
    got = offer(page(body=PLAIN), RECIPE)
    assert got.extracted_by == "recipe"
    assert (got.price, got.list_price, got.currency) == (
        Decimal("299.90"),
        Decimal("349.90"),
        "BRL",
    )
    assert got.installments is not None
    assert (got.installments.count, got.installments.amount, got.installments.interest_free) == (
        10,
        Decimal("29.99"),
        True,
    )
    assert (got.title, got.brand, got.gtin, got.availability) == (
        "Ventilador de Mesa 40cm",
        "Brisa",
        GTIN,
        "out_of_stock",
    )
    assert got.attributes == {"EAN": "789 1234 56789 5", "Voltagem": "220V"}
    assert got.images == ["https://loja.example/img/v1.jpg", "https://loja.example/img/v2.jpg"]


def test_installment_only_price_box_is_no_offer() -> None:
    html = page(
        body='<h1 class="nome">X</h1><div class="box-preco">'
        '<p class="parcelado">10x de R$ 29,99 sem juros</p></div>'
    )
    result = read(html, Recipe(title="h1.nome", price=".box-preco p"))
    assert isinstance(result, NoOffer) and result.outcome == "no_offer"
    assert "recipe: no price in" in result.reason


def test_availability_text_markers() -> None:
    recipe = Recipe(title="h1", price=".p", availability="button.comprar")
    html = '<h1>Item</h1><span class="p">R$ 10,00</span><button class="comprar">{}</button>'
    assert offer(page(body=html.format("Indisponível")), recipe).availability == "out_of_stock"
    assert offer(page(body=html.format("Comprar")), recipe).availability == "in_stock"
    assert offer(page(body=html.format("Pré-venda")), recipe).availability == "preorder"


def test_recipe_fills_gaps_and_overrides_where_told() -> None:
    structured = page(
        ld(
            {
                **PRODUCT,
                "gtin13": None,
                "offers": {"@type": "AggregateOffer", "lowPrice": "999.00", "priceCurrency": "BRL"},
            }
        ),
        '<span class="atual">R$ 1.099,00</span><td class="ean">7891234567895</td>'
        '<p class="stock">Sem estoque</p>',
    )
    fill = Recipe(price=".atual", gtin="td.ean", availability="p.stock")
    got = offer(structured, fill)
    assert (got.price, got.extracted_by) == (Decimal("999.00"), "json-ld")
    assert got.gtin == GTIN and got.sources["gtin"] == "recipe"
    assert got.availability == "out_of_stock" and got.sources["availability"] == "recipe"
    overriding = Recipe(price=".atual", gtin="td.ean", availability="p.stock", override=("price",))
    got = offer(structured, overriding)
    assert (got.price, got.extracted_by, got.title) == (
        Decimal("1099.00"),
        "recipe",
        "Fone Bluetooth X1",
    )
    assert got.sources["title"] == "json-ld"


def test_attribute_selector_reads_machine_price() -> None:
    recipe = Recipe(title="h1", price="[data-price]@data-price")
    got = offer(page(body='<h1>Item</h1><div data-price="1299.90">R$ 1.299,90</div>'), recipe)
    assert got.price == Decimal("1299.90")


LATIN = (
    "<html><head><title>Promoção</title>{meta}</head><body>"
    "<h1 class=n>Câmera Digital – “Pro”</h1><b class=p>R$ 1.299,90</b></body></html>"
)
PLAIN_RECIPE = Recipe(title="h1.n", price="b.p")


def test_iso_8859_1_from_header() -> None:
    body = LATIN.format(meta="").replace("– “Pro”", "Pro").encode("iso-8859-1")
    got = offer(body, PLAIN_RECIPE, "text/html; charset=ISO-8859-1")
    assert got.title == "Câmera Digital Pro"


def test_iso_8859_1_from_meta_without_header() -> None:
    body = (
        LATIN.format(
            meta='<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
        )
        .replace("– “Pro”", "Pro")
        .encode("latin-1")
    )
    assert offer(body, PLAIN_RECIPE).title == "Câmera Digital Pro"


def test_windows_1252_bytes() -> None:
    body = LATIN.format(meta='<meta charset="windows-1252">').encode("cp1252")
    assert b"\x96" in body and b"\x93" in body
    assert offer(body, PLAIN_RECIPE).title == "Câmera Digital – “Pro”"
    # Declared Latin-1 but cp1252 bytes: read as browsers do (windows-1252).
    assert (
        offer(body, PLAIN_RECIPE, "text/html; charset=iso-8859-1").title == "Câmera Digital – “Pro”"
    )
    # Declared UTF-8 by a misconfigured server, bytes plainly single-byte.
    assert offer(body, PLAIN_RECIPE, "text/html; charset=utf-8").title == "Câmera Digital – “Pro”"
    # Nothing declared at all.
    assert (
        offer(LATIN.format(meta="").encode("cp1252"), PLAIN_RECIPE).title
        == "Câmera Digital – “Pro”"
    )


def test_blocked_pages() -> None:
    captcha = page(
        body="<h1>Confirme que você não é um robô</h1>"
        '<div class="g-recaptcha" data-sitekey="x"></div>'
    )
    result = read(captcha)
    assert (
        isinstance(result, NoOffer) and result.outcome == "blocked" and "CAPTCHA" in result.reason
    )
    wall = page(body="<h1>Access denied</h1><p>Your request was blocked.</p>")
    assert read(wall).outcome == "blocked"  # type: ignore[union-attr]
    login = page(
        body="<h1>Entre na sua conta para continuar</h1>"
        '<form><input name="u"><input type="password" name="p"></form>'
    )
    result = read(login)
    assert isinstance(result, NoOffer) and result.outcome == "blocked" and "login" in result.reason


def test_newsletter_captcha_does_not_hide_an_offer() -> None:
    got = offer(
        page(ld(PRODUCT), '<form class="newsletter"><div class="g-recaptcha"></div></form>')
    )
    assert got.price == Decimal("1299.90")


def test_soft_404() -> None:
    result = read(page(body="<h1>Produto não encontrado</h1><p>Veja outras ofertas</p>"))
    assert isinstance(result, NoOffer) and result.outcome == "not_found"


def test_broken_json_ld_is_skipped_not_fatal() -> None:
    html = page('<script type="application/ld+json">{"@type": "Product", "name": </script>' + META)
    assert offer(html).extracted_by == "meta"


def test_fetched_at_is_utc() -> None:
    local = datetime(2026, 3, 14, 12, 0, tzinfo=timezone(timedelta(hours=-3)))
    got = extract_offer(
        page(ld(PRODUCT)).encode(),
        URL,
        site="loja",
        recipe=None,
        content_type=None,
        fetched_at=local,
    )
    assert isinstance(got, Offer) and got.fetched_at == AT and got.fetched_at.tzinfo == UTC


def test_offer_json_keeps_money_exact() -> None:
    data = offer(page(ld(PRODUCT))).model_dump(mode="json")
    assert data["price"] == "1299.90" and data["list_price"] == "1499.9"
