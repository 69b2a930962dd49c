"""Live activity for demos and benchmarks: random sales at a steady average rate.

Each sale goes through the selling marketplace's own `record_sale` (the same path as
`POST /<marketplace>/_sandbox/sales`): a paid order appears in that marketplace's order
APIs at once, the listing's available quantity drops, Bling imports the order, and the
webhook emitter notifies the receiver. Sales arrive as a Poisson process (exponential
gaps), which is what real buyers look like at a few orders a minute.

The generator runs as a task on the sandbox server's own event loop, so a sale is never
recorded halfway through an API request. Which listing sells, how many units and when are
all drawn from one generator seeded by `seed`: the same seed gives the same sales.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from synchub_pipelines.sandbox.shopee_render import item_id_of
from synchub_pipelines.sandbox.tiktok_render import product_id, sku_id
from synchub_pipelines.sandbox.world import Listing, ListingVariation, Order

if TYPE_CHECKING:
    from synchub_pipelines.sandbox.server import Sandbox

log = logging.getLogger(__name__)

SELLING = ("mercadolivre", "shopee", "tiktok", "amazon")


class LiveSettings(BaseModel):
    """How fast and where the live generator sells (rate 0 stops it)."""

    model_config = ConfigDict(extra="forbid")

    rate_per_minute: float = Field(default=0.0, ge=0.0, le=6000.0)
    marketplaces: tuple[str, ...] = SELLING
    seed: int = 7
    max_quantity: int = Field(default=1, ge=1, le=10)
    # Sell only variations whose seller SKU is in the catalog, so every sale moves stock
    # the hub can allocate (unmatched listings still sell when this is off).
    matched_only: bool = True

    @field_validator("marketplaces")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(SELLING))
        if unknown:
            raise ValueError(f"cannot sell on {unknown}; choose from {SELLING}")
        return value


class LiveSales:
    """The sale generator of one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.settings = LiveSettings(seed=sandbox.config.seed)
        self.sales = 0
        self.by_marketplace: dict[str, int] = {name: 0 for name in SELLING}
        self.sold_out = 0  # ticks that found nothing with stock to sell
        self._task: asyncio.Task[None] | None = None

    def configure(self, **knobs: Any) -> LiveSettings:
        """Apply settings; must run on the server's event loop (a request or start-up)."""
        settings = LiveSettings.model_validate({**self.settings.model_dump(), **knobs})
        self.settings = settings
        self.stop()
        if settings.rate_per_minute > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(settings))
        return settings

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def snapshot(self) -> dict[str, Any]:
        return {
            "settings": self.settings.model_dump(),
            "running": self.running,
            "sales": self.sales,
            "by_marketplace": dict(self.by_marketplace),
            "sold_out": self.sold_out,
        }

    async def _run(self, settings: LiveSettings) -> None:
        rng = random.Random(f"{settings.seed}:live")
        per_second = settings.rate_per_minute / 60.0
        while True:
            await asyncio.sleep(rng.expovariate(per_second))
            try:
                order = self.sell_one(rng, settings)
            except (ValueError, KeyError) as exc:
                # Stock moved under us (a stock push, an operator): skip this sale.
                log.info("live sale skipped: %s", exc)
                continue
            if order is None:
                self.sold_out += 1

    def sell_one(self, rng: random.Random, settings: LiveSettings) -> Order | None:
        """Sell one random in-stock variation now; None when nothing has stock."""
        world = self.sandbox.world
        candidates: list[tuple[Listing, ListingVariation]] = [
            (listing, variation)
            for listing in world.listings
            if listing.seller.marketplace in settings.marketplaces
            and listing.seller.marketplace in self.sandbox.simulators
            and listing.status == "active"
            for variation in listing.variations
            if variation.available_quantity > 0
            and (not settings.matched_only or variation.sku in world.products_by_sku)
        ]
        if not candidates:
            return None
        listing, variation = rng.choice(candidates)
        quantity = min(variation.available_quantity, rng.randint(1, settings.max_quantity))
        order = sell(self.sandbox, listing, variation, quantity)
        self.sales += 1
        self.by_marketplace[listing.seller.marketplace] += 1
        return order


def sell(sandbox: Sandbox, listing: Listing, variation: ListingVariation, quantity: int) -> Order:
    """Record a sale through the listing's marketplace, in that marketplace's own ids."""
    marketplace = listing.seller.marketplace
    simulator: Any = sandbox.simulators[marketplace]
    if marketplace == "mercadolivre":
        order: Order = simulator.record_sale(
            listing.listing_number, variation.variation_number, quantity
        )
    elif marketplace == "shopee":
        model = variation.variation_number if listing.has_variations else 0
        order = simulator.record_sale(item_id_of(listing), model, quantity)
    elif marketplace == "tiktok":
        order = simulator.record_sale(
            product_id(listing.listing_number), sku_id(variation.variation_number), quantity
        )
    elif marketplace == "amazon":
        if variation.sku is None:
            raise ValueError("an Amazon listing without a seller SKU cannot be sold")
        order = simulator.record_sale(variation.sku, quantity, listing.seller.seller_id)
    else:
        raise ValueError(f"no sales on {marketplace}")
    return order
