"""One way to write stock, whatever the marketplace: adapters over each API's client.

Each marketplace client has its own stock call — Mercado Livre `PUT /items/{id}` (item or
variation), TikTok's inventory update, Amazon's listings PATCH (all through
`set_available_quantity`), Shopee's `update_stock(item_id, [(model_id, qty)])` — and its
own rate limiter. The push speaks only `StockWriter`: write some quantities, read back
what a store publishes, say how many calls each operation took.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from synchub_pipelines.marketplaces.errors import MarketplaceError, NotFoundError

# The answer kept in the audit is cut to this many characters.
ANSWER_LIMIT = 500


@dataclass(frozen=True)
class StockWrite:
    listing_id: str
    variation_id: str
    quantity: int


@dataclass(frozen=True)
class WriteOutcome:
    write: StockWrite
    ok: bool
    answer: str  # the marketplace's answer (accepted) or the error (refused)
    # The marketplace does not know the listing (deleted since the last listings sync).
    gone: bool = False


class StockWriter(Protocol):
    def write_many(self, writes: Sequence[StockWrite]) -> list[WriteOutcome]: ...

    def read_published(self) -> dict[tuple[str, str], int]: ...

    def calls(self) -> dict[str, int]: ...

    def close(self) -> None: ...


def _answer(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text[:ANSWER_LIMIT]


def _refusal(exc: Exception) -> str:
    # MarketplaceError messages carry no URL query, header or body (see errors.py).
    return _answer(
        str(exc) if isinstance(exc, MarketplaceError) else f"{type(exc).__name__}: {exc}"
    )


class _ClientWriter:
    """Shared parts: read-back through the client's listings drain, call counts, close."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def read_published(self) -> dict[tuple[str, str], int]:
        published: dict[tuple[str, str], int] = {}
        for page in self.client.iter_listings():
            for listing in page.records:
                if listing.available_quantity is not None:
                    published[(listing.listing_id, listing.variation_id)] = (
                        listing.available_quantity
                    )
        return published

    def calls(self) -> dict[str, int]:
        stats = getattr(getattr(self.client, "http", None), "stats", {})
        return {k.removeprefix("calls."): v for k, v in stats.items() if k.startswith("calls.")}

    def close(self) -> None:
        self.client.close()


class QuantityWriter(_ClientWriter):
    """Clients with `set_available_quantity(listing, variation, qty)`: ML, TikTok, Amazon."""

    def write_many(self, writes: Sequence[StockWrite]) -> list[WriteOutcome]:
        outcomes = []
        for write in writes:
            try:
                answer = self.client.set_available_quantity(
                    write.listing_id, write.variation_id, write.quantity
                )
            except NotFoundError as exc:
                outcomes.append(WriteOutcome(write, False, _refusal(exc), gone=True))
            except (MarketplaceError, ValueError) as exc:
                outcomes.append(WriteOutcome(write, False, _refusal(exc)))
            else:
                outcomes.append(WriteOutcome(write, True, _answer(answer)))
        return outcomes


class AmazonWriter(QuantityWriter):
    """Amazon has no variations: each child SKU of a family is a listing of its own. A
    family the hub published is linked as (parent SKU, child SKU) until the next listings
    sync relinks it as (child SKU, ''); either way the quantity belongs to the child SKU."""

    def write_many(self, writes: Sequence[StockWrite]) -> list[WriteOutcome]:
        outcomes = super().write_many(
            [StockWrite(w.variation_id or w.listing_id, "", w.quantity) for w in writes]
        )
        return [
            WriteOutcome(w, o.ok, o.answer, o.gone) for w, o in zip(writes, outcomes, strict=True)
        ]


class ShopeeWriter(_ClientWriter):
    """Shopee's `update_stock` takes every model of one item in one call, and answers per
    model: one call per item, each model's own verdict kept."""

    def write_many(self, writes: Sequence[StockWrite]) -> list[WriteOutcome]:
        by_item: dict[str, list[StockWrite]] = defaultdict(list)
        for write in writes:
            by_item[write.listing_id].append(write)
        outcomes = []
        for item_id, group in by_item.items():
            try:
                answers = self.client.update_stock(
                    item_id, [(w.variation_id, w.quantity) for w in group]
                )
            except NotFoundError as exc:
                outcomes += [WriteOutcome(w, False, _refusal(exc), gone=True) for w in group]
                continue
            except (MarketplaceError, ValueError) as exc:
                outcomes += [WriteOutcome(w, False, _refusal(exc)) for w in group]
                continue
            by_model = {int(a.model_id): a for a in answers}
            for write in group:
                # The canonical id of an item without models is ''; Shopee calls it model 0.
                answer = by_model.get(int(write.variation_id or 0))
                if answer is None:
                    outcomes.append(WriteOutcome(write, False, "Shopee gave no answer for it"))
                elif answer.ok:
                    outcomes.append(WriteOutcome(write, True, _answer(answer.model_dump())))
                else:
                    reason = f"refused: {answer.failed_reason}"
                    outcomes.append(WriteOutcome(write, False, _answer(reason)))
        return outcomes


def writer_for_client(client: Any) -> StockWriter:
    """The adapter that fits a marketplace client."""
    store = getattr(client, "store", None)
    if getattr(store, "marketplace", None) == "amazon":
        return AmazonWriter(client)
    if hasattr(client, "set_available_quantity"):
        return QuantityWriter(client)
    if hasattr(client, "update_stock"):
        return ShopeeWriter(client)
    raise TypeError(f"{type(client).__name__} has no stock write operation")


WriterFactory = Callable[[str], StockWriter]
