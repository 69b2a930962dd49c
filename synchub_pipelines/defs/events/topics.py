"""What a notification asks the pipeline to fetch: an order, a listing, a shipment, a
question, or nothing.

The receiver stores every verified notification; only some name a resource the warehouse
keeps. Topics outside these sets (ML `payments` — whose resource is a payment, not an
order —, TikTok authorization notices…) are marked processed without an API call: nothing
in the warehouse depends on them, and the daily reconciliation catches any order change
they might have hinted at. An order event also re-reads the order's facts (fees,
shipments), so a package update that names its order refreshes the shipment.
"""

from __future__ import annotations

from typing import Literal

ResourceKind = Literal["order", "listing", "shipment", "question"]

# Marketplaces whose events name a connected store's orders or listings. Bling's events
# (catalog and stock of the ERP) belong to the catalog domain and are left to it.
STORE_MARKETPLACES = ("mercadolivre", "shopee", "tiktok", "amazon")

_ORDER_TOPICS: dict[str, frozenset[str]] = {
    "mercadolivre": frozenset({"orders_v2", "orders"}),
    # Shopee push codes: 3 order status, 4 tracking number (both carry data.ordersn).
    "shopee": frozenset({"3", "4"}),
    # TikTok type 1: order status change (data.order_id); type 4: package update, whose
    # package names its orders (the receiver keeps the first one).
    "tiktok": frozenset({"1", "4"}),
    # Amazon's ORDER_CHANGE notifications (SQS/EventBridge, relayed) name AmazonOrderId.
    "amazon": frozenset({"ORDER_CHANGE"}),
}
_LISTING_TOPICS: dict[str, frozenset[str]] = {
    "mercadolivre": frozenset({"items"}),
}


_SHIPMENT_TOPICS: dict[str, frozenset[str]] = {
    "mercadolivre": frozenset({"shipments"}),
}
_QUESTION_TOPICS: dict[str, frozenset[str]] = {
    "mercadolivre": frozenset({"questions"}),
}
_KINDS: tuple[tuple[ResourceKind, dict[str, frozenset[str]]], ...] = (
    ("order", _ORDER_TOPICS),
    ("listing", _LISTING_TOPICS),
    ("shipment", _SHIPMENT_TOPICS),
    ("question", _QUESTION_TOPICS),
)


def resource_kind(marketplace: str, topic: str) -> ResourceKind | None:
    for kind, topics in _KINDS:
        if topic in topics.get(marketplace, frozenset()):
            return kind
    return None
