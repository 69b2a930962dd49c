"""The Amazon SP-API client: real payload samples, LWA and request shapes, error envelopes,
and the client against the sandbox simulator over real HTTP on loopback.

The sandbox clock is set to one hour after the World's anchor, so orders show every status
(recent ones are still pending, paid or shipped). Sandbox quotas and the client's rates are
both raised (`rate_scale`) so the drains run in milliseconds; one test keeps Amazon's
published quotas on both sides.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from synchub_pipelines.marketplaces import amazon
from synchub_pipelines.marketplaces.amazon import (
    QUOTAS,
    AmazonApp,
    AmazonClient,
    LiSearchResults,
    OrdersResponse,
    iso_ms,
    orders_window,
    parse_listing,
    parse_order,
)
from synchub_pipelines.marketplaces.base import TimeField
from synchub_pipelines.marketplaces.errors import (
    AuthError,
    InvalidRequestError,
    MarketplaceError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from synchub_pipelines.marketplaces.http import HttpSettings
from synchub_pipelines.marketplaces.ratelimit import RateLimiter
from synchub_pipelines.marketplaces.tokens import MemoryTokenStore, TokenSet
from synchub_pipelines.models import (
    Listing,
    ListingStatus,
    LogisticMode,
    Order,
    OrderStatus,
    ShipmentStatus,
    StatusEvent,
    Store,
)
from synchub_pipelines.sandbox import amazon as sandbox_amazon
from synchub_pipelines.sandbox import server
from synchub_pipelines.sandbox.amazon import (
    APPLICATION_ID,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    MARKETPLACE_ID,
    REDIRECT_URI,
    initial_refresh_token,
)
from synchub_pipelines.sandbox.amazon_render import (
    AmazonOrder,
    Catalog,
    order_money,
    order_total,
)
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.world import Seller
from synchub_pipelines_tests.conftest import PAYLOADS as ALL_PAYLOADS

PAYLOADS = ALL_PAYLOADS / "amazon"
ANCHOR = datetime(2025, 3, 1, 15, 0, tzinfo=UTC)
CLOCK_AT = ANCHOR + timedelta(hours=1)
CENT = Decimal("0.01")
FAST = HttpSettings(backoff_base_seconds=0.01, backoff_max_seconds=0.2, max_attempts=8)
SCALE = 1000.0
UNTHROTTLED = {
    f"amazon.{name}": 1000.0
    for name in (
        "getOrders",
        "getOrder",
        "getOrderItems",
        "getOrder2026",
        "listFinancialEventsByOrderId",
        "listFinancialEvents",
    )
}
UNTHROTTLED |= {f"amazon.{name}": 1000.0 for name in ("listings", "listings.get", "listings.patch")}
# Everything the World generated was created before the anchor.
WORLD_WINDOW = (ANCHOR - timedelta(days=30), ANCHOR + timedelta(seconds=1))
STATUS_OF_WORLD = {
    "pending": OrderStatus.PENDING,
    "paid": OrderStatus.PAID,
    "shipped": OrderStatus.SHIPPED,
    "delivered": OrderStatus.SHIPPED,  # the Orders API has no Delivered status
    "cancelled": OrderStatus.CANCELLED,
    "returned": OrderStatus.SHIPPED,
}

# ordersV0.json@34dc93f (amzn/selling-partner-api-models), getOrderItems 200 `examples`.
DOC_ORDER_ITEMS: list[dict[str, Any]] = [
    {
        "ASIN": "BT0093TELA",
        "OrderItemId": "68828574383266",
        "SellerSKU": "CBA_OTF_1",
        "Title": "Example item name",
        "QuantityOrdered": 1,
        "QuantityShipped": 1,
        "PointsGranted": {
            "PointsNumber": 10,
            "PointsMonetaryValue": {"CurrencyCode": "JPY", "Amount": "10.00"},
        },
        "ItemPrice": {"CurrencyCode": "JPY", "Amount": "25.99"},
        "ShippingPrice": {"CurrencyCode": "JPY", "Amount": "1.26"},
        "ScheduledDeliveryEndDate": "2013-09-09T01:30:00Z",
        "ScheduledDeliveryStartDate": "2013-09-07T02:00:00Z",
        "CODFee": {"CurrencyCode": "JPY", "Amount": "10.00"},
        "CODFeeDiscount": {"CurrencyCode": "JPY", "Amount": "1.00"},
        "PriceDesignation": "BusinessPrice",
        "BuyerInfo": {
            "BuyerCustomizedInfo": {
                "CustomizedURL": "https://zme-caps.amazon.com/t/bR6qHkzSOxuB/J8nbWhze0Bd3DkajkOdY-XQbWkFralegp2sr_QZiKEE/1"
            },
            "GiftMessageText": "For you!",
            "GiftWrapPrice": {"CurrencyCode": "GBP", "Amount": "41.99"},
            "GiftWrapLevel": "Classic",
        },
        "BuyerRequestedCancel": {
            "IsBuyerRequestedCancel": "true",
            "BuyerCancelReason": "Found cheaper somewhere else.",
        },
        "SerialNumbers": ["854"],
    },
    {
        "ASIN": "BCTU1104UEFB",
        "OrderItemId": "79039765272157",
        "SellerSKU": "CBA_OTF_5",
        "Title": "Example item name",
        "QuantityOrdered": 2,
        "ItemPrice": {"CurrencyCode": "JPY", "Amount": "17.95"},
        "PromotionIds": ["FREESHIP"],
        "ConditionId": "Used",
        "ConditionSubtypeId": "Mint",
        "ConditionNote": "Example ConditionNote",
        "PriceDesignation": "BusinessPrice",
        "BuyerInfo": {
            "BuyerCustomizedInfo": {
                "CustomizedURL": "https://zme-caps.amazon.com/t/bR6qHkzSOxuB/J8nbWhze0Bd3DkajkOdY-XQbWkFralegp2sr_QZiKEE/1"
            },
            "GiftMessageText": "For you!",
            "GiftWrapPrice": {"CurrencyCode": "JPY", "Amount": "1.99"},
            "GiftWrapLevel": "Classic",
        },
        "BuyerRequestedCancel": {
            "IsBuyerRequestedCancel": "true",
            "BuyerCancelReason": "Found cheaper somewhere else.",
        },
    },
]

# Same file, getOrderItems `x-amzn-api-sandbox.static[0]`: the lines of 902-1845936-5435065,
# the first order of getOrders_sandbox_response.json (10.00 + 1.01 tax = OrderTotal 11.01).
SANDBOX_ORDER_ITEMS: list[dict[str, Any]] = [
    {
        "ASIN": "B00551Q3CS",
        "OrderItemId": "05015851154158",
        "SellerSKU": "NABetaASINB00551Q3CS",
        "Title": "B00551Q3CS [Card Book]",
        "QuantityOrdered": 1,
        "QuantityShipped": 0,
        "ProductInfo": {"NumberOfItems": "1"},
        "ItemPrice": {"CurrencyCode": "USD", "Amount": "10.00"},
        "ItemTax": {"CurrencyCode": "USD", "Amount": "1.01"},
        "PromotionDiscount": {"CurrencyCode": "USD", "Amount": "0.00"},
        "IsGift": "false",
        "ConditionId": "New",
        "ConditionSubtypeId": "New",
        "IsTransparency": False,
        "SerialNumberRequired": False,
        "IossNumber": "",
        "DeemedResellerCategory": "IOSS",
        "StoreChainStoreId": "ISPU_StoreId",
        "BuyerRequestedCancel": {
            "IsBuyerRequestedCancel": "true",
            "BuyerCancelReason": "Found cheaper somewhere else.",
        },
    }
]

# listingsItems_2021-08-01.json@34dc93f, searchListingsItems 200 `examples` (attributes cut
# to the ones the client reads plus two it ignores; issues dropped).
DOC_LISTINGS_SEARCH: dict[str, Any] = {
    "numberOfResults": 3,
    "pagination": {
        "nextToken": "xsdflkj324lkjsdlkj3423klkjsdfkljlk2j34klj2l3k4jlksdjl234",
        "previousToken": "ilkjsdflkj234lkjds234234lkjl234lksjdflkj234234lkjsfsdflkj333d",
    },
    "items": [
        {
            "sku": "GM-ZDPI-9B4E",
            "summaries": [
                {
                    "marketplaceId": "ATVPDKIKX0DER",
                    "asin": "B071VG5N9D",
                    "productType": "LUGGAGE",
                    "conditionType": "new_new",
                    "status": ["BUYABLE"],
                    "itemName": "Hardside Carry-On Spinner Suitcase Luggage",
                    "createdDate": "2021-02-01T00:00:00Z",
                    "lastUpdatedDate": "2021-03-01T00:00:00Z",
                    "mainImage": {
                        "link": "https://www.example.com/luggage.png",
                        "height": 500,
                        "width": 500,
                    },
                },
                {
                    "marketplaceId": "A2EUQ1WTGCTBG2",
                    "asin": "B071VG5N9D",
                    "productType": "LUGGAGE",
                    "conditionType": "new_new",
                    "status": [],
                    "itemName": "Hardside Carry-On Spinner Suitcase Luggage",
                    "createdDate": "2021-02-02T01:00:00Z",
                    "lastUpdatedDate": "2021-03-05T00:00:00Z",
                    "mainImage": {
                        "link": "https://www.example.com/luggage.png",
                        "height": 500,
                        "width": 500,
                    },
                },
            ],
            "attributes": {
                "total_hdmi_ports": [
                    {"value": 4, "marketplace_id": "ATVPDKIKX0DER"},
                    {"value": 4, "marketplace_id": "A2EUQ1WTGCTBG2"},
                ],
                "brand": [
                    {
                        "language_tag": "en_US",
                        "value": "SAMSUNG",
                        "marketplace_id": "ATVPDKIKX0DER",
                    },
                    {
                        "language_tag": "fr_CA",
                        "value": "SAMSUNG",
                        "marketplace_id": "A2EUQ1WTGCTBG2",
                    },
                ],
                "item_name": [
                    {
                        "language_tag": "en_US",
                        "value": "Samsung QN82Q60RAFXZA Flat 82-Inch QLED 4K Q60 Series (2019) "
                        "Ultra HD Smart TV with HDR and Alexa Compatibility",
                        "marketplace_id": "ATVPDKIKX0DER",
                    },
                ],
            },
            "offers": [
                {
                    "marketplaceId": "ATVPDKIKX0DER",
                    "offerType": "B2C",
                    "price": {"currencyCode": "USD", "amount": "100.00"},
                },
                {
                    "marketplaceId": "A2EUQ1WTGCTBG2",
                    "offerType": "B2C",
                    "price": {"currencyCode": "CAD", "amount": "130.00"},
                },
            ],
            "fulfillmentAvailability": [{"fulfillmentChannelCode": "DEFAULT", "quantity": 100}],
        }
    ],
}


def _payload(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return body


def _store(seller_id: str = "A1SYNCHUBDEMO01") -> Store:
    return Store.of("amazon", seller_id, "Casa e Moda BR")


# --- real payloads -------------------------------------------------------------------------


def test_doc_example_pending_order_maps_without_buyer_data() -> None:
    body = OrdersResponse.model_validate(_payload("getOrders_doc_example_response.json"))
    assert body.payload.NextToken == "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4"
    assert len(body.payload.Orders) == 1
    order = parse_order(body.payload.Orders[0], DOC_ORDER_ITEMS, _store())

    assert order.order_id == "902-3159896-1390916"
    assert order.store_id == "amazon-A1SYNCHUBDEMO01"
    assert (order.status, order.raw_status) == (OrderStatus.PENDING, "Pending")
    assert order.created_at == datetime(2017, 1, 20, 19, 49, 35, tzinfo=UTC)
    assert order.updated_at == datetime(2017, 1, 20, 19, 49, 35, tzinfo=UTC)
    assert order.business_date == date(2017, 1, 20)
    # A Pending order has no OrderTotal yet: the total comes from the lines.
    assert order.currency == "JPY"
    assert order.items_amount == Decimal("43.94")
    assert order.shipping_paid_by_buyer == Decimal("1.26")
    # No line states a discount or a tax: unknown, not zero.
    assert (order.discount_amount, order.tax_amount) == (None, None)
    assert order.total_amount == Decimal("45.20")
    assert order.fee_amount is None
    assert order.status_events == (
        StatusEvent(status=OrderStatus.PENDING, at=datetime(2017, 1, 20, 19, 49, 35, tzinfo=UTC)),
    )
    (shipment,) = order.shipments
    assert (shipment.shipment_id, shipment.order_id) == ("902-3159896-1390916",) * 2
    assert (shipment.status, shipment.raw_status) == (ShipmentStatus.PENDING, "Pending")
    assert shipment.logistic_mode is LogisticMode.SELLER
    assert shipment.logistic_type == "Standard"  # no ShipServiceLevel: the category
    assert shipment.ship_by == datetime(2017, 1, 25, 19, 49, 35, tzinfo=UTC)
    assert (shipment.buyer_city, shipment.buyer_state) == ("Canton", "MI")
    assert (order.buyer_city, order.buyer_state, order.buyer_hash) == ("Canton", "MI", None)
    first, second = order.items
    assert (first.line_no, first.listing_id, first.variation_id, first.seller_sku) == (
        1,
        "CBA_OTF_1",
        "",
        "CBA_OTF_1",
    )
    assert (first.quantity, first.unit_price, first.title) == (
        1,
        Decimal("25.99"),
        "Example item name",
    )
    assert (first.line_ref, first.line_amount) == ("68828574383266", Decimal("25.99"))
    # ItemPrice is price × quantity: the line stays 17.95 as stated, while the unit shown
    # is 17.95 / 2 = 8.975 rounded half-even (8.98 × 2 would be 17.96).
    assert (second.listing_id, second.quantity, second.unit_price) == (
        "CBA_OTF_5",
        2,
        Decimal("8.98"),
    )
    assert (second.line_ref, second.line_amount) == ("79039765272157", Decimal("17.95"))
    assert order.items_amount == first.line_amount + second.line_amount
    dumped = order.model_dump_json()
    for personal in ("John Doe", "user@example.com", "1 Cross St.", "Michigan address", "48817"):
        assert personal not in dumped


def test_sandbox_static_orders_map_with_their_items() -> None:
    body = OrdersResponse.model_validate(_payload("getOrders_sandbox_response.json"))
    assert body.payload.NextToken is None
    orders = [parse_order(raw, SANDBOX_ORDER_ITEMS, _store()) for raw in body.payload.Orders]
    assert [o.order_id for o in orders] == ["902-1845936-5435065", "902-8745147-1934268"]
    for order in orders:
        assert (order.status, order.raw_status) == (OrderStatus.PAID, "Unshipped")
        assert order.created_at == datetime(1970, 1, 19, 3, 58, 30, tzinfo=UTC)
        assert order.updated_at == datetime(1970, 1, 19, 3, 58, 32, tzinfo=UTC)
        # 00:58:30 in São Paulo (UTC−3): the same local day.
        assert order.business_date == date(1970, 1, 19)
        assert order.currency == "USD"
        # OrderTotal includes the 1.01 tax that ItemPrice leaves out.
        assert (order.items_amount, order.total_amount) == (Decimal("10.00"), Decimal("11.01"))
        assert (order.tax_amount, order.discount_amount) == (Decimal("1.01"), Decimal("0.00"))
        assert order.shipping_paid_by_buyer is None
        assert (order.buyer_city, order.buyer_state) == (None, None)
        assert [
            (i.seller_sku, i.quantity, i.unit_price, i.line_amount, i.tax_amount)
            for i in order.items
        ] == [("NABetaASINB00551Q3CS", 1, Decimal("10.00"), Decimal("10.00"), Decimal("1.01"))]
        # An Easy Ship order: its package status rides on the order.
        (shipment,) = order.shipments
        assert (shipment.status, shipment.raw_status) == (
            ShipmentStatus.READY_TO_SHIP,
            "PendingPickUp",
        )
        assert shipment.logistic_type == "Std US D2D Dom"
        assert shipment.ship_by == datetime(1970, 1, 19, 4, 5, 13, tzinfo=UTC)


def test_business_date_is_the_local_day_of_creation() -> None:
    raw = copy.deepcopy(_payload("getOrders_doc_example_response.json")["payload"]["Orders"][0])
    raw["PurchaseDate"] = "2024-06-11T02:30:00Z"  # 23:30 on the 10th in São Paulo
    order = parse_order(raw, DOC_ORDER_ITEMS, _store())
    assert order.created_at == datetime(2024, 6, 11, 2, 30, tzinfo=UTC)
    assert order.business_date == date(2024, 6, 10)


@pytest.mark.parametrize(
    ("raw_status", "expected"),
    [
        ("Pending", OrderStatus.PENDING),
        ("PendingAvailability", OrderStatus.PENDING),
        ("Unfulfillable", OrderStatus.PENDING),
        ("Unshipped", OrderStatus.PAID),
        ("PartiallyShipped", OrderStatus.PAID),
        ("Shipped", OrderStatus.SHIPPED),
        ("InvoiceUnconfirmed", OrderStatus.SHIPPED),
        ("Canceled", OrderStatus.CANCELLED),
    ],
)
def test_every_order_status_is_normalized(raw_status: str, expected: OrderStatus) -> None:
    raw = copy.deepcopy(_payload("getOrders_sandbox_response.json")["payload"]["Orders"][0])
    raw["OrderStatus"] = raw_status
    order = parse_order(raw, SANDBOX_ORDER_ITEMS, _store())
    assert (order.status, order.raw_status) == (expected, raw_status)


def test_malformed_records_fail_validation_naming_the_field() -> None:
    raw = copy.deepcopy(_payload("getOrders_sandbox_response.json")["payload"]["Orders"][0])
    unknown = dict(raw, OrderStatus="Teleported")
    with pytest.raises(ValidationError, match="OrderStatus"):
        parse_order(unknown, SANDBOX_ORDER_ITEMS, _store())
    bad_items = copy.deepcopy(SANDBOX_ORDER_ITEMS)
    bad_items[0]["ItemPrice"]["Amount"] = "ten"
    with pytest.raises(ValidationError, match=r"OrderItems\.0\.ItemPrice\.Amount"):
        parse_order(raw, bad_items, _store())
    with pytest.raises(ValidationError, match="OrderItems"):
        parse_order(raw, [], _store())


def test_doc_listings_search_maps_one_listing_per_sku_per_marketplace() -> None:
    body = LiSearchResults.model_validate(DOC_LISTINGS_SEARCH)
    assert (body.numberOfResults, len(body.items)) == (3, 1)
    us = parse_listing(body.items[0], "amazon-S1", "ATVPDKIKX0DER")
    assert us == Listing(
        store_id="amazon-S1",
        listing_id="GM-ZDPI-9B4E",
        variation_id="",
        title="Hardside Carry-On Spinner Suitcase Luggage",
        seller_sku="GM-ZDPI-9B4E",
        gtin=None,
        status=ListingStatus.ACTIVE,
        raw_status="BUYABLE",
        price=Decimal("100.00"),
        currency="USD",
        available_quantity=100,
        category_id="LUGGAGE",
        permalink="https://www.amazon.com/dp/B071VG5N9D",
        updated_at=datetime(2021, 3, 1, tzinfo=UTC),
    )
    ca = parse_listing(body.items[0], "amazon-S1", "A2EUQ1WTGCTBG2")
    # Neither buyable nor discoverable, and no issue: the seller took it off sale.
    assert (ca.status, ca.raw_status, ca.status_reason) == (ListingStatus.PAUSED, "NONE", None)
    assert (ca.price, ca.currency) == (Decimal("130.00"), "CAD")
    assert ca.updated_at == datetime(2021, 3, 5, tzinfo=UTC)
    # Without a summary the title falls back to the item_name attribute of the marketplace.
    bare = dict(body.items[0], summaries=[])
    assert parse_listing(bare, "amazon-S1", "ATVPDKIKX0DER").title.startswith("Samsung QN82")
    with pytest.raises(ValueError, match="itemName"):
        parse_listing(bare, "amazon-S1", "A2EUQ1WTGCTBG2")


# --- auth and request shapes, worked by hand ----------------------------------------------


def _app(**kw: Any) -> AmazonApp:
    defaults: dict[str, Any] = {
        "client_id": "amzn1.application-oa2-client.example",
        "client_secret": SecretStr("s3cr3t"),
        "application_id": "amzn1.sp.solution.example",
        "redirect_uri": "https://example.com/cb",
        "http": FAST,
    }
    return AmazonApp(**(defaults | kw))


def test_consent_url_and_callback() -> None:
    url, state = _app(draft=True).authorization_url(state="xyz")
    assert state == "xyz"
    assert url == (
        "https://sellercentral.amazon.com.br/apps/authorize/consent"
        "?application_id=amzn1.sp.solution.example&state=xyz"
        "&redirect_uri=https%3A%2F%2Fexample.com%2Fcb&version=beta"
    )
    app = _app()
    callback = {"spapi_oauth_code": "ANcode", "selling_partner_id": "A1SELLER", "state": "xyz"}
    assert app.read_callback(callback, "xyz") == ("A1SELLER", "ANcode")
    with pytest.raises(AuthError, match="state"):
        app.read_callback(dict(callback, state="forged"), "xyz")


def test_lwa_requests_are_form_posts_to_the_lwa_host() -> None:
    seen: list[httpx.Request] = []

    def lwa(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"access_token": "Atza|new", "token_type": "bearer", "expires_in": 3600}
        if b"grant_type=authorization_code" in request.content:
            body["refresh_token"] = "Atzr|granted"
        return httpx.Response(200, json=body)

    app = _app()
    http = app.new_lwa_http(httpx.MockTransport(lwa))
    before = datetime.now(UTC)
    tokens = app.connect_with_refresh_token(http, SecretStr("Atzr|abc"))
    request = seen[0]
    assert str(request.url) == "https://api.amazon.com/auth/o2/token"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.content == (
        b"grant_type=refresh_token&refresh_token=Atzr%7Cabc"
        b"&client_id=amzn1.application-oa2-client.example&client_secret=s3cr3t"
    )
    assert tokens.access_token.get_secret_value() == "Atza|new"
    # LWA refresh tokens do not rotate: the one we hold is kept when the answer omits it.
    assert tokens.refresh_token is not None
    assert tokens.refresh_token.get_secret_value() == "Atzr|abc"
    assert before + timedelta(seconds=3590) < tokens.access_expires_at
    assert tokens.access_expires_at <= datetime.now(UTC) + timedelta(seconds=3600)

    granted = app.exchange_code(http, "ANcode")
    assert granted.refresh_token is not None
    assert granted.refresh_token.get_secret_value() == "Atzr|granted"
    # A website authorization must be renewed after 365 days.
    assert granted.refresh_expires_at is not None
    assert granted.refresh_expires_at - granted.access_expires_at == timedelta(days=365, hours=-1)
    assert seen[1].content == (
        b"grant_type=authorization_code&code=ANcode&redirect_uri=https%3A%2F%2Fexample.com%2Fcb"
        b"&client_id=amzn1.application-oa2-client.example&client_secret=s3cr3t"
    )


def test_orders_window_bounds_and_two_minute_clamp() -> None:
    start = datetime(2025, 2, 1, 3, 0, tzinfo=UTC)
    end = datetime(2025, 2, 2, 3, 0, tzinfo=UTC)
    window = orders_window(start, end, now=datetime(2025, 3, 1, tzinfo=UTC))
    assert window is not None
    assert (iso_ms(window[0]), iso_ms(window[1])) == (
        "2025-02-01T03:00:00.000Z",
        "2025-02-02T02:59:59.999Z",  # both bounds are inclusive: one ms short of `end`
    )
    # An end in the future is clamped to now − 2 min − 5 s of skew margin.
    now = datetime(2025, 2, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    window = orders_window(start, end, now)
    assert window is not None
    assert iso_ms(window[1]) == "2025-02-01T11:57:55.250Z"
    assert orders_window(now - timedelta(minutes=1), end, now) is None


def test_sp_api_request_carries_the_token_header_and_documented_query() -> None:
    requests: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"payload": {"Orders": []}})

    app = _app()
    store = _store("A1SELLER")
    tokens = MemoryTokenStore()
    tokens.save(
        store.store_id,
        TokenSet(
            access_token=SecretStr("Atza|current"),
            refresh_token=SecretStr("Atzr|abc"),
            access_expires_at=datetime.now(UTC) + timedelta(hours=1),
        ),
    )
    client = AmazonClient(
        app,
        store,
        tokens,
        "salt",
        http=app.new_http(httpx.MockTransport(api)),
        clock=lambda: datetime(2025, 3, 1, tzinfo=UTC),
    )
    start = datetime(2025, 2, 1, tzinfo=UTC)
    pages = list(client.iter_orders(start, start + timedelta(days=7), by="updated"))
    assert [p.records for p in pages] == [[]]
    (request,) = requests
    assert request.headers["x-amz-access-token"] == "Atza|current"
    assert "authorization" not in request.headers  # no SigV4 since 2023
    assert str(request.url) == (
        "https://sellingpartnerapi-na.amazon.com/orders/v0/orders"
        "?MarketplaceIds=A2Q3Y263D00KWC"
        "&LastUpdatedAfter=2025-02-01T00%3A00%3A00.000Z"
        "&LastUpdatedBefore=2025-02-07T23%3A59%3A59.999Z&MaxResultsPerPage=100"
    )
    # A window that lies wholly in the last two minutes costs no call at all.
    now = datetime(2025, 3, 1, tzinfo=UTC)
    assert list(client.iter_orders(now - timedelta(minutes=1), now)) == []
    assert len(requests) == 1
    client.close()


def _response(status: int, body: Any, **headers: str) -> httpx.Response:
    request = httpx.Request("GET", "https://sellingpartnerapi-na.amazon.com/orders/v0/orders")
    return httpx.Response(status, json=body, headers=headers, request=request)


def test_error_envelopes_become_clear_exceptions() -> None:
    app = _app()
    quota = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota."}]}
    limited = app.classify(_response(429, quota), "getOrders")
    assert isinstance(limited, RateLimitedError)
    # No Retry-After from Amazon: wait for the operation's next token, 1 / 0.0167 s.
    assert limited.retry_after == pytest.approx(59.88, abs=0.01)
    hinted = app.classify(_response(429, quota, **{"Retry-After": "3"}), "getOrderItems")
    assert isinstance(hinted, RateLimitedError)
    assert hinted.retry_after == 3
    denied = {"errors": [{"code": "Unauthorized", "message": "Access denied.", "details": "x"}]}
    refused = app.classify(
        _response(403, denied, **{"x-amzn-RequestId": "req-1"}), "searchListingsItems"
    )
    assert isinstance(refused, AuthError)
    assert (refused.code, refused.request_id) == ("Unauthorized", "req-1")
    invalid = {"errors": [{"code": "InvalidInput", "message": "Bad.", "details": "Use X."}]}
    bad = app.classify(_response(400, invalid), "getOrders")
    assert isinstance(bad, InvalidRequestError)
    assert not isinstance(bad, NotFoundError)
    assert "Bad. (Use X.)" in str(bad)
    missing = app.classify(_response(404, {"errors": [{"code": "NotFound", "message": "No."}]}), "")
    assert isinstance(missing, NotFoundError)
    assert isinstance(app.classify(_response(503, {}), "getOrders"), TransientError)
    assert app.classify(_response(200, {"payload": {}}), "getOrders") is None
    lwa_grant = httpx.Response(
        400,
        json={"error": "invalid_grant", "error_description": "bad refresh_token"},
        request=httpx.Request("POST", "https://api.amazon.com/auth/o2/token"),
    )
    assert isinstance(amazon._lwa_classify(lwa_grant, "lwa.refresh_token"), AuthError)


def test_a_429_empties_the_operations_bucket_for_every_caller() -> None:
    app = _app()
    limiter = RateLimiter(rate=100.0, burst=5)
    quota = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota."}]}
    marker = amazon._active_quota.set(limiter)
    try:
        app.classify(_response(429, quota, **{"Retry-After": "0.15"}), "getOrderItems")
    finally:
        amazon._active_quota.reset(marker)
    # The bucket held 5 tokens; now the next caller waits out the hint (0.15 s) instead of
    # spending a call on another 429.
    assert limiter.acquire() == pytest.approx(0.15, abs=0.03)


def test_every_operation_gets_its_published_bucket_scaled() -> None:
    store = _store("A1QUOTAS")
    client = AmazonClient(_app(), store, MemoryTokenStore(), "salt")
    assert {op: (lim.rate, lim.burst) for op, lim in client.limiters.items()} == {
        "getOrders": (0.0167, 20),
        "getOrder": (0.5, 30),
        "getOrderItems": (0.5, 30),
        "getOrder2026": (0.5, 30),
        "listFinancialEventsByOrderId": (0.5, 30),
        "listFinancialEvents": (0.5, 30),
        "searchListingsItems": (5.0, 5),
        "getListingsItem": (5.0, 10),
        "patchListingsItem": (5.0, 5),
        "putListingsItem": (5.0, 10),
        "getDefinitionsProductType": (5.0, 10),
        "searchDefinitionsProductTypes": (5.0, 10),
        "confirmShipment": (2.0, 10),
        "submitInvoice": (1.133, 25),
        "getInvoiceStatus": (1.133, 25),
    }
    scaled = AmazonClient(_app(rate_scale=3.0), store, MemoryTokenStore(), "salt")
    assert scaled.limiters["getOrders"].rate == pytest.approx(0.0501)
    assert scaled.limiters["getOrders"].burst == 20
    assert set(QUOTAS) == set(scaled.limiters)
    client.close()
    scaled.close()


# --- against the sandbox ----------------------------------------------------------------


def _operation(request: httpx.Request) -> str:
    path = request.url.path
    if request.method == "PATCH":
        return "patchListingsItem"
    if path.endswith("/orderItems"):
        return "getOrderItems"
    if path.endswith("/orders/v0/orders"):
        return "getOrders"
    if "/orders/v0/orders/" in path:
        return "getOrder"
    if "/listings/2021-08-01/items/" in path:
        return "getListingsItem" if path.count("/") > 5 else "searchListingsItems"
    return path


class CountingTransport(httpx.BaseTransport):
    """Real HTTP, counting the SP-API operations the client spends."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.calls: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls[_operation(request)] += 1
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def _start(rate_limits: dict[str, float]) -> tuple[Sandbox, RunningSandbox]:
    # Only the simulator under test, so another marketplace's cannot break these tests.
    with mock.patch.object(server, "SIMULATOR_MODULES", ("amazon",)):
        sandbox = Sandbox(
            SandboxConfig(seed=7, size="tiny", anchor=ANCHOR, rate_limits=rate_limits)
        )
    sandbox.clock.advance(CLOCK_AT.timestamp() - time.time())
    return sandbox, RunningSandbox(sandbox).start()


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    _, running = _start(UNTHROTTLED)
    yield running
    running.stop()


@pytest.fixture
def sandbox(running: RunningSandbox) -> Sandbox:
    return running.sandbox


@pytest.fixture
def seller(sandbox: Sandbox) -> Seller:
    (seller,) = sandbox.world.sellers_of("amazon")
    return seller


def _sandbox_app(running: RunningSandbox, rate_scale: float = SCALE) -> AmazonApp:
    url = running.base_url("amazon")
    return AmazonApp(
        client_id=LWA_CLIENT_ID,
        client_secret=SecretStr(LWA_CLIENT_SECRET),
        application_id=APPLICATION_ID,
        redirect_uri=REDIRECT_URI,
        marketplace_id=MARKETPLACE_ID,
        api_url=url,
        lwa_url=url,
        seller_central_url=url,
        rate_scale=rate_scale,
        http=FAST,
    )


def _connect(
    running: RunningSandbox, seller: Seller, rate_scale: float = SCALE
) -> tuple[AmazonClient, CountingTransport]:
    """A private app's usual connection: the refresh token from Seller Central."""
    app = _sandbox_app(running, rate_scale)
    store = Store.of("amazon", seller.seller_id, seller.nickname)
    lwa = app.new_lwa_http()
    tokens = app.connect_with_refresh_token(lwa, SecretStr(initial_refresh_token(seller.seller_id)))
    lwa.close()
    token_store = MemoryTokenStore()
    token_store.save(store.store_id, tokens)
    transport = CountingTransport()
    client = AmazonClient(
        app,
        store,
        token_store,
        "salt",
        http=app.new_http(transport),
        clock=running.sandbox.clock.now,
    )
    return client, transport


@pytest.fixture
def connected(
    running: RunningSandbox, seller: Seller
) -> Iterator[tuple[AmazonClient, CountingTransport]]:
    client, transport = _connect(running, seller)
    yield client, transport
    client.close()


def _drain_orders(
    client: AmazonClient, start: datetime, end: datetime, by: TimeField = "created"
) -> tuple[list[Order], int]:
    orders: list[Order] = []
    rejects = 0
    for page in client.iter_orders(start, end, by):
        orders += page.records
        rejects += len(page.rejects)
    return sorted(orders, key=lambda o: o.order_id), rejects


def _drain_listings(client: AmazonClient) -> list[Listing]:
    listings: list[Listing] = []
    for page in client.iter_listings():
        assert page.rejects == []
        listings += page.records
    return listings


def _expected_listings(sandbox: Sandbox, seller: Seller) -> dict[str, tuple[Any, ...]]:
    world = sandbox.world
    products = {(p.parent_sku, p.color, p.size): p for p in world.products}
    # What the simulator holds against each SKU (its issues), from its own derivation.
    problems = {item.sku: item.problem for item in Catalog(world, seller).items}
    expected: dict[str, tuple[Any, ...]] = {}
    for listing in world.listings_of(seller):
        for variation in listing.variations:
            if variation.sku is None or variation.sku in expected:
                continue
            attrs = dict(variation.attributes)
            product = products.get((listing.parent_sku, attrs.get("COLOR"), attrs.get("SIZE")))
            quantity = variation.available_quantity
            if listing.status != "active":
                status = ListingStatus.PAUSED
            elif problems[variation.sku] in ("incomplete", "search_suppressed"):
                status = ListingStatus.SUPPRESSED
            else:
                status = ListingStatus.ACTIVE if quantity > 0 else ListingStatus.PAUSED
            expected[variation.sku] = (
                variation.price,
                quantity,
                status,
                product.name if product else None,
                product.gtin if product else None,
            )
    return expected


def test_website_authorization_then_listings_match_the_world(
    running: RunningSandbox, sandbox: Sandbox, seller: Seller
) -> None:
    app = _sandbox_app(running)
    url, state = app.authorization_url()
    # Seller Central's consent page (already accepted) redirects to our callback.
    consent = httpx.get(url, follow_redirects=False)
    assert consent.status_code == 302
    location = urlsplit(consent.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    seller_id, code = app.read_callback(params, state)
    assert seller_id == seller.seller_id
    lwa = app.new_lwa_http()
    tokens = app.exchange_code(lwa, code)
    lwa.close()
    assert tokens.refresh_token is not None
    assert tokens.refresh_expires_at is not None
    store = Store.of("amazon", seller_id, seller.nickname)
    token_store = MemoryTokenStore()
    token_store.save(store.store_id, tokens)
    transport = CountingTransport()
    client = AmazonClient(app, store, token_store, "salt", http=app.new_http(transport))

    listings = _drain_listings(client)
    expected = _expected_listings(sandbox, seller)
    assert len(listings) == len(expected) == 28
    assert sorted(x.listing_id for x in listings) == sorted(expected)
    for listing in listings:
        price, quantity, status, name, gtin = expected[listing.listing_id]
        assert listing.variation_id == ""
        assert listing.seller_sku == listing.listing_id
        assert (listing.price, listing.currency) == (price, "BRL")
        assert (listing.available_quantity, listing.status) == (quantity, status)
        # A suppressed listing says why, in Amazon's words; an active one needs no reason.
        assert (listing.status_reason is not None) == (status is ListingStatus.SUPPRESSED)
        assert listing.gtin == gtin
        if name is not None:
            assert listing.title == name
        assert listing.category_id
        assert listing.permalink is not None
        assert listing.permalink.startswith("https://www.amazon.com.br/dp/B0")
    # 28 SKUs at 20 per page.
    assert transport.calls["searchListingsItems"] == 2
    client.close()


def test_listings_beyond_the_search_reach_are_walked_by_creation_date(
    connected: tuple[AmazonClient, CountingTransport], sandbox: Sandbox, seller: Seller
) -> None:
    client, transport = connected
    # Shrink the simulator's 1000-SKU reach (and our page) so the small catalog overflows
    # it; the largest listing holds 15 SKUs created in the same second, below the reach.
    with (
        mock.patch.object(sandbox_amazon, "LISTINGS_PAGEABLE", 16),
        mock.patch.object(amazon, "LISTINGS_PAGE", 5),
    ):
        listings = _drain_listings(client)
    ids = [x.listing_id for x in listings]
    assert len(ids) == len(set(ids)) == 28
    assert set(ids) == set(_expected_listings(sandbox, seller))
    # 4 pages of 5 reach 20 SKUs (the last one created on 01-14); the restart from one
    # second before that date finds the 9 SKUs left plus that one again: 2 more pages.
    assert transport.calls["searchListingsItems"] == 6


def test_listings_that_cannot_be_resumed_fail_loudly(
    connected: tuple[AmazonClient, CountingTransport],
) -> None:
    client, _ = connected
    # 15 SKUs share one creation second and the reach is 10: no keyset can get past them.
    with (
        mock.patch.object(sandbox_amazon, "LISTINGS_PAGEABLE", 10),
        mock.patch.object(amazon, "LISTINGS_PAGE", 5),
        pytest.raises(MarketplaceError, match="stopped after 10 of"),
    ):
        _drain_listings(client)


def test_orders_match_the_world_with_one_paged_query(
    connected: tuple[AmazonClient, CountingTransport], sandbox: Sandbox, seller: Seller
) -> None:
    client, transport = connected
    orders, rejects = _drain_orders(client, *WORLD_WINDOW)
    now = sandbox.clock.now()
    world = {
        sandbox_amazon.Simulator.amazon_order_id(o): o
        for o in sandbox.world.orders_of(seller)
        if WORLD_WINDOW[0] <= o.created_at < WORLD_WINDOW[1]
    }
    assert rejects == 0
    assert [o.order_id for o in orders] == sorted(world) and len(orders) == 120
    statuses: Counter[OrderStatus] = Counter()
    uneven = 0
    for order in orders:
        source = world[order.order_id]
        status, _ = source.status_at(now)
        statuses[order.status] += 1
        assert order.status == STATUS_OF_WORLD[status], order.order_id
        view = AmazonOrder.of(source)
        assert order.updated_at == datetime.fromtimestamp(
            view.steps[view.step_at(now.timestamp())][1], UTC
        )
        assert order.created_at == source.created_at
        assert order.business_date == client.store.business_date(source.created_at)
        cash = order_money(source)
        assert order.items_amount == sum(c.item_price for c in cash)
        assert order.discount_amount == sum(c.promotion for c in cash)
        assert order.tax_amount == sum(c.item_tax + c.shipping_tax for c in cash)
        assert order.shipping_paid_by_buyer == source.shipping_cost - cash[0].shipping_discount
        assert order.total_amount == order_total(source)
        assert order.total_amount == (
            order.items_amount
            - order.discount_amount
            + order.shipping_paid_by_buyer
            + order.tax_amount
        )
        assert order.currency == "BRL"
        assert order.buyer_hash is None
        paid = any(step == "paid" for step, when in source.timeline if when <= now)
        assert order.buyer_city == (source.buyer.city if paid else None)
        assert order.buyer_state == (source.buyer.state if paid else None)
        assert [(i.seller_sku, i.listing_id, i.quantity, i.line_amount) for i in order.items] == [
            (line.sku, line.sku, line.quantity, c.item_price)
            for line, c in zip(source.lines, cash, strict=True)
        ]
        for item, line in zip(order.items, source.lines, strict=True):
            if item.line_amount != line.unit_price * line.quantity:
                uneven += 1  # a quantity price: the line is kept, the unit is rounded
                assert item.unit_price == (item.line_amount / item.quantity).quantize(CENT)
            else:
                assert item.unit_price == line.unit_price
        (shipment,) = order.shipments
        assert shipment.shipment_id == order.order_id
        assert shipment.logistic_mode is (
            LogisticMode.MARKETPLACE if view.afn else LogisticMode.SELLER
        )
        assert (shipment.ship_by is None) == view.afn  # a ship-by is the seller's promise
    assert uneven > 0
    # The clock sits an hour after the newest orders: every normalized status shows up.
    assert {OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.SHIPPED} <= set(statuses)
    assert statuses[OrderStatus.CANCELLED] > 0
    # One query over the 30 days: 120 orders in two pages of 100, one getOrderItems each.
    assert transport.calls["getOrders"] == 2
    assert transport.calls["getOrderItems"] == 120

    # The same orders again (an overlapping poll): unchanged orders cost no getOrderItems.
    again, _ = _drain_orders(client, *WORLD_WINDOW)
    assert again == orders
    assert transport.calls["getOrderItems"] == 120
    by_update, _ = _drain_orders(client, *WORLD_WINDOW, by="updated")
    assert {o.order_id for o in by_update} == {
        o.order_id for o in orders if o.updated_at < WORLD_WINDOW[1]
    }
    assert 0 < len(by_update) < len(orders)
    assert transport.calls["getOrders"] == 4 + -(-len(by_update) // 100)
    assert transport.calls["getOrderItems"] == 120


def test_get_orders_by_id_rejects_unknown_ids(
    connected: tuple[AmazonClient, CountingTransport], sandbox: Sandbox, seller: Seller
) -> None:
    client, transport = connected
    picked = [sandbox_amazon.Simulator.amazon_order_id(o) for o in sandbox.world.orders_of(seller)]
    unknown = "701-0000000-0000001"
    page = client.get_orders([picked[0], picked[5], picked[0], unknown])
    assert [o.order_id for o in page.records] == [picked[0], picked[5]]
    assert [(r.record_key, r.source) for r in page.rejects] == [(unknown, "amazon.orders")]
    assert "not found" in page.rejects[0].reason
    # The duplicate id cost nothing; the quota-rich getOrder was used, never getOrders.
    assert transport.calls["getOrder"] == 3
    assert transport.calls["getOrders"] == 0


def test_recent_orders_wait_out_the_two_minute_margin(
    connected: tuple[AmazonClient, CountingTransport], sandbox: Sandbox, seller: Seller
) -> None:
    client, _ = connected
    simulator = sandbox.simulators["amazon"]
    sku = next(
        v.sku
        for listing in sandbox.world.listings_of(seller)
        for v in listing.variations
        if v.sku and v.available_quantity > 2
    )
    sale = simulator.record_sale(sku, 1, seller.seller_id)
    sale_id = simulator.amazon_order_id(sale)
    now = sandbox.clock.now()
    # The window reaches into the future: the API would refuse it, the client clamps it.
    window = (now - timedelta(minutes=10), now + timedelta(minutes=10))
    orders, _ = _drain_orders(client, *window)
    assert sale_id not in {o.order_id for o in orders}
    sandbox.clock.advance(180)
    orders, _ = _drain_orders(client, *window)
    (order,) = [o for o in orders if o.order_id == sale_id]
    assert (order.status, order.raw_status) == (OrderStatus.PAID, "Unshipped")
    assert order.total_amount == order_total(sale)
    assert (order.buyer_city, order.buyer_state) == ("São Paulo", "SP")


def test_expired_access_token_is_refreshed_transparently(
    connected: tuple[AmazonClient, CountingTransport], sandbox: Sandbox, seller: Seller
) -> None:
    client, _ = connected
    first = client.tokens.access_token()
    order_id = sandbox_amazon.Simulator.amazon_order_id(next(sandbox.world.orders_of(seller)))
    assert [o.order_id for o in client.get_orders([order_id]).records] == [order_id]
    sandbox.clock.advance(3601)  # the sandbox now refuses the token as expired
    assert [o.order_id for o in client.get_orders([order_id]).records] == [order_id]
    assert client.tokens.access_token() != first
    assert client.http.stats["errors.AuthError"] == 1


def test_revoked_refresh_token_fails_loudly_without_leaking_secrets(
    running: RunningSandbox, seller: Seller, caplog: pytest.LogCaptureFixture
) -> None:
    app = _sandbox_app(running)
    store = Store.of("amazon", seller.seller_id, seller.nickname)
    token_store = MemoryTokenStore()
    token_store.save(
        store.store_id,
        TokenSet(
            access_token=SecretStr("Atza|revoked-access"),
            refresh_token=SecretStr("Atzr|revoked-refresh"),
            access_expires_at=datetime.now(UTC) + timedelta(hours=1),
        ),
    )
    client = AmazonClient(app, store, token_store, "salt")
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as raised:
        next(client.iter_listings())
    assert raised.value.code == "invalid_grant"
    shown = str(raised.value) + caplog.text
    for secret in ("Atza|revoked-access", "Atzr|revoked-refresh", LWA_CLIENT_SECRET):
        assert secret not in shown
    client.close()


def test_faults_do_not_change_what_is_read(
    running: RunningSandbox, sandbox: Sandbox, seller: Seller, caplog: pytest.LogCaptureFixture
) -> None:
    window = (ANCHOR - timedelta(days=4), ANCHOR + timedelta(seconds=1))
    clean, _ = _connect(running, seller)
    clean_orders, _ = _drain_orders(clean, *window)
    clean_listings = _drain_listings(clean)
    clean.close()
    assert len(clean_orders) > 10
    sandbox.faults.update(rate_429=0.2, rate_5xx=0.1)
    try:
        with caplog.at_level(logging.DEBUG):
            faulty, _ = _connect(running, seller)
            faulty_orders, rejects = _drain_orders(faulty, *window)
            faulty_listings = _drain_listings(faulty)
    finally:
        sandbox.faults.update(rate_429=0.0, rate_5xx=0.0)
    assert rejects == 0
    assert faulty_orders == clean_orders
    assert sorted(faulty_listings, key=lambda x: x.listing_id) == sorted(
        clean_listings, key=lambda x: x.listing_id
    )
    assert faulty.http.stats["retries"] > 0
    token = faulty.tokens.access_token()
    assert token not in caplog.text
    assert initial_refresh_token(seller.seller_id) not in caplog.text
    faulty.close()


def test_stock_write_is_applied_by_the_sandbox(
    connected: tuple[AmazonClient, CountingTransport], sandbox: Sandbox, seller: Seller
) -> None:
    client, transport = connected
    simulator = sandbox.simulators["amazon"]
    variation = next(
        v for listing in sandbox.world.listings_of(seller) for v in listing.variations if v.sku
    )
    assert variation.sku is not None
    target = variation.available_quantity + 7
    answer = client.set_available_quantity(variation.sku, "", target)
    assert answer["status"] == "ACCEPTED"
    assert variation.available_quantity == target
    write = simulator.writes[-1]
    assert (write.sku, write.quantity, write.applied, write.mode) == (
        variation.sku,
        target,
        True,
        "APPLY",
    )
    # The product type was unknown to this client: one getListingsItem, then the PATCH.
    assert (transport.calls["getListingsItem"], transport.calls["patchListingsItem"]) == (1, 1)
    listed = {x.listing_id: x for x in _drain_listings(client)}
    assert listed[variation.sku].available_quantity == target

    # Known from the drain now: the next write is a single PATCH.
    client.set_available_quantity(variation.sku, "", 0)
    assert variation.available_quantity == 0
    assert (transport.calls["getListingsItem"], transport.calls["patchListingsItem"]) == (1, 2)

    with pytest.raises(InvalidRequestError, match="4000003") as invalid:
        client.set_available_quantity(variation.sku, "", 5, product_type="LUGGAGE")
    assert invalid.value.code == "INVALID"
    assert variation.available_quantity == 0
    with pytest.raises(InvalidRequestError, match="no variations"):
        client.set_available_quantity(variation.sku, "123", 5)
    assert transport.calls["patchListingsItem"] == 3


def test_published_quotas_on_both_sides_drain_a_window_without_429(seller: Seller) -> None:
    # A fresh sandbox at Amazon's own quotas, and the client at the published rates: a
    # few days of orders fit in the getOrders and getOrderItems bursts.
    sandbox, running = _start({})
    try:
        client, transport = _connect(running, seller, rate_scale=1.0)
        window = (ANCHOR - timedelta(days=3), ANCHOR + timedelta(seconds=1))
        orders, rejects = _drain_orders(client, *window)
        expected = [
            o for o in sandbox.world.orders_of(seller) if window[0] <= o.created_at < window[1]
        ]
        assert 0 < len(orders) == len(expected) <= QUOTAS["getOrderItems"].burst
        assert rejects == 0
        assert transport.calls["getOrders"] == 1
        assert client.http.stats["errors.RateLimitedError"] == 0
        assert client.http.throttled_seconds == 0
        client.close()
    finally:
        running.stop()
