"""What a notification asks the pipeline to fetch: an order, a listing, or nothing.

The receiver stores every verified notification; only some name a resource the warehouse
keeps. Topics outside these sets (ML `questions`, `payments` — whose resource is a payment,
not an order —, TikTok authorization notices…) are marked processed without an API call:
nothing in the warehouse depends on them, and the daily reconciliation catches any order
change they might have hinted at.
"""

from __future__ import annotations

from typing import Literal

ResourceKind = Literal["order", "listing"]

# Marketplaces whose events name a connected store's orders or listings. Bling's events
# (catalog and stock of the ERP) belong to the catalog domain and are left to it.
STORE_MARKETPLACES = ("mercadolivre", "shopee", "tiktok", "amazon")

_ORDER_TOPICS: dict[str, frozenset[str]] = {
    "mercadolivre": frozenset({"orders_v2", "orders"}),
    # Shopee push codes: 3 order status, 4 tracking number (both carry data.ordersn).
    "shopee": frozenset({"3", "4"}),
    # TikTok type 1: order status change (data.order_id).
    "tiktok": frozenset({"1"}),
    # Amazon's ORDER_CHANGE notifications (SQS/EventBridge, relayed) name AmazonOrderId.
    "amazon": frozenset({"ORDER_CHANGE"}),
}
_LISTING_TOPICS: dict[str, frozenset[str]] = {
    "mercadolivre": frozenset({"items"}),
}


def resource_kind(marketplace: str, topic: str) -> ResourceKind | None:
    if topic in _ORDER_TOPICS.get(marketplace, frozenset()):
        return "order"
    if topic in _LISTING_TOPICS.get(marketplace, frozenset()):
        return "listing"
    return None
