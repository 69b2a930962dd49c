"""Listings a marketplace no longer lists: closed, so no stock is pushed to them.

A listing deleted in the seller's back office simply stops coming back from the listings
search. Left `active`, it keeps its link and every stock push writes to it and gets a 404,
failing the push for all the others, run after run. A complete sync that did not return a
listing therefore closes it, with the reason in `status_reason`; if it comes back, the
next sync's upsert gives it the marketplace's status again.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.marketplaces.base import chunked
from synchub_pipelines.models import ListingStatus
from synchub_pipelines.warehouse.schema import listings as listings_table

# A listing we just published may not be searchable yet (Amazon processes a put for
# minutes): one written this recently is not taken for gone.
VANISHED_GRACE = timedelta(hours=1)
VANISHED_REASON = "no longer listed by the marketplace"
NOT_FOUND_REASON = "the marketplace answered not found to a stock write"

VariationKey = tuple[str, str]  # (listing_id, variation_id) within a store


def close_vanished(
    engine: Engine,
    store_id: str,
    seen: Collection[VariationKey],
    now: datetime,
    quarantined: Collection[str] = (),
) -> int:
    """Close every listing of the store a complete sync did not return (and that was not
    written within `VANISHED_GRACE`); `quarantined`: keys of listings the sync returned
    malformed, which are still there. Returns how many were closed."""
    t = listings_table
    with engine.connect() as conn:
        candidates = conn.execute(
            sa.select(t.c.listing_id, t.c.variation_id).where(
                t.c.store_id == store_id,
                t.c.status != ListingStatus.CLOSED.value,
                t.c.synced_at < now - VANISHED_GRACE,
            )
        ).all()
        gone = [
            (store_id, row.listing_id, row.variation_id)
            for row in candidates
            if (row.listing_id, row.variation_id) not in seen and row.listing_id not in quarantined
        ]
    return close_listings(engine, gone, VANISHED_REASON, now)


def close_listings(
    engine: Engine, keys: Collection[tuple[str, str, str]], reason: str, now: datetime
) -> int:
    """Close these (store, listing, variation) listings with `reason`; returns how many."""
    t = listings_table
    closed = 0
    with engine.begin() as conn:
        for chunk in chunked(sorted(set(keys)), 500):
            closed += conn.execute(
                sa.update(t)
                .where(
                    sa.tuple_(t.c.store_id, t.c.listing_id, t.c.variation_id).in_(chunk),
                    t.c.status != ListingStatus.CLOSED.value,
                )
                .values(status=ListingStatus.CLOSED.value, status_reason=reason, synced_at=now)
            ).rowcount
    return closed
