"""What the stock domain reads from the warehouse: on hand, reservations, kits, links and
what each listing publishes now.

Figures per SKU are read for one tenant at a time (`tenant`, the default tenant unless
named): a SKU of one merchant says nothing about another's. Rows per listing span every
tenant and say whose they are (the listing's store's tenant).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from synchub_pipelines.defs.stock.allocation import ListingKey
from synchub_pipelines.models import OrderStatus
from synchub_pipelines.warehouse.schema import DEFAULT_TENANT, UtcTimestamp

# Orders whose units are promised to a buyer but still on the shelf.
RESERVING_STATUSES = (OrderStatus.PENDING.value, OrderStatus.PAID.value)


def tenants(conn: Connection) -> list[str]:
    """Every tenant with stores or a catalog: whose stock there is to compute."""
    rows = conn.execute(
        sa.text(
            "SELECT tenant FROM stores UNION SELECT tenant FROM central_products "
            "UNION SELECT tenant FROM central_stock UNION SELECT tenant FROM product_components"
        )
    )
    return sorted(str(tenant) for (tenant,) in rows)


def on_hand(conn: Connection, tenant: str = DEFAULT_TENANT) -> dict[str, int]:
    rows = conn.execute(
        sa.text("SELECT sku, SUM(on_hand) FROM central_stock WHERE tenant = :tenant GROUP BY sku"),
        {"tenant": tenant},
    )
    return {sku: int(total or 0) for sku, total in rows}


def components(conn: Connection, tenant: str = DEFAULT_TENANT) -> dict[str, list[tuple[str, int]]]:
    kits: dict[str, list[tuple[str, int]]] = defaultdict(list)
    rows = conn.execute(
        sa.text(
            "SELECT kit_sku, component_sku, quantity FROM product_components "
            "WHERE tenant = :tenant ORDER BY kit_sku, component_sku"
        ),
        {"tenant": tenant},
    )
    for kit, component, quantity in rows:
        kits[kit].append((component, int(quantity)))
    # A kit flagged in the catalog without components can be assembled from nothing.
    for (kit,) in conn.execute(
        sa.text("SELECT sku FROM central_products WHERE is_kit AND tenant = :tenant"),
        {"tenant": tenant},
    ):
        kits.setdefault(kit, [])
    return dict(kits)


@dataclass(frozen=True)
class Reservations:
    by_sku: dict[str, int]
    unmatched_units: int  # lines of open orders whose listing is linked to no SKU


# The tenant of an order's store: orders of a store the warehouse does not know (never
# the case for a connected account) count as the default tenant's, as they always did.
STORE_TENANT = "COALESCE(s.tenant, '" + DEFAULT_TENANT + "')"


def reservations(conn: Connection, tenant: str = DEFAULT_TENANT) -> Reservations:
    """Units in open orders (pending or paid, not shipped), per SKU, from every store of
    the tenant.

    A line's SKU is its listing's link; failing that, its seller SKU when the tenant's
    catalog knows it. A link made while the store belonged to another tenant is ignored.
    """
    return reservations_by_tenant(conn, tenant).get(tenant, Reservations({}, 0))


def reservations_by_tenant(conn: Connection, tenant: str | None = None) -> dict[str, Reservations]:
    """`reservations` of every tenant (or of one) in one pass over the open orders."""
    where = f" AND {STORE_TENANT} = :tenant" if tenant is not None else ""
    params: dict[str, object] = {"statuses": list(RESERVING_STATUSES)}
    if tenant is not None:
        params["tenant"] = tenant
    rows = conn.execute(
        sa.text(
            f"SELECT {STORE_TENANT} AS tenant, COALESCE(k.sku, p.sku) AS sku, "
            "SUM(i.quantity) AS units "
            "FROM order_items i "
            "JOIN orders o ON o.store_id = i.store_id AND o.order_id = i.order_id "
            "LEFT JOIN stores s ON s.store_id = o.store_id "
            "LEFT JOIN listing_links k ON k.store_id = i.store_id "
            "  AND k.listing_id = i.listing_id AND k.variation_id = i.variation_id "
            f"  AND k.tenant = {STORE_TENANT} "
            f"LEFT JOIN central_products p ON p.tenant = {STORE_TENANT} "
            "  AND p.sku = i.seller_sku "
            f"WHERE o.status IN :statuses{where} "
            f"GROUP BY {STORE_TENANT}, COALESCE(k.sku, p.sku)"
        ).bindparams(sa.bindparam("statuses", expanding=True)),
        params,
    )
    found: dict[str, Reservations] = {}
    for owner, sku, units in rows:
        entry = found.setdefault(owner, Reservations({}, 0))
        if sku is None:
            found[owner] = Reservations(entry.by_sku, entry.unmatched_units + int(units or 0))
        else:
            entry.by_sku[sku] = int(units or 0)
    return found


@dataclass(frozen=True)
class LinkedListing:
    key: ListingKey
    sku: str
    marketplace: str
    tenant: str = DEFAULT_TENANT


def linked_listings(conn: Connection) -> list[LinkedListing]:
    """Every listing variation of an active store bound to a central SKU of the store's
    tenant (a link left from a tenant the store has moved away from waits for a re-link),
    except those the marketplace reports closed (ended, deleted, or no longer listed:
    `defs/listings/vanished.py`), which take no stock write."""
    rows = conn.execute(
        sa.text(
            "SELECT k.store_id, k.listing_id, k.variation_id, k.sku, s.marketplace, s.tenant "
            "FROM listing_links k JOIN stores s ON s.store_id = k.store_id "
            "LEFT JOIN listings l ON l.store_id = k.store_id AND l.listing_id = k.listing_id "
            "AND l.variation_id = k.variation_id "
            "WHERE s.status = 'active' AND k.tenant = s.tenant "
            "AND (l.status IS NULL OR l.status <> 'closed') "
            "ORDER BY k.store_id, k.listing_id, k.variation_id"
        )
    )
    found = [LinkedListing((r[0], r[1], r[2]), r[3], r[4], r[5]) for r in rows]
    # Amazon: a child SKU the hub published is linked as (parent, child) and, once a
    # listings sync has seen it, as (child, '') too; both are the same Amazon listing, so
    # it is planned once, under the key its own reads give it.
    own = {(x.key[0], x.key[1]) for x in found if x.marketplace == "amazon" and not x.key[2]}
    return [
        x
        for x in found
        if not (x.marketplace == "amazon" and x.key[2] and (x.key[0], x.key[2]) in own)
    ]


@dataclass(frozen=True)
class PublishingStates:
    """What the publishing domain's own writes did to listings' state.

    `held`: listings whose latest accepted publication write of ours was a pause or a close
    (`published_listings` with origin `published`: the state that write left, recorded with
    each write before its `listing_publications` audit row, so a run that dies in between
    still holds). The stock push leaves them alone: on Amazon a pause *is* quantity 0, and
    writing a quantity would put the listing back on sale; on Mercado Livre a closed item
    refuses every change. A listing the marketplace reports paused while our last word on
    it was active (the merchant's own hand, an out-of-stock pause) is not held: the stock
    push treats it as it always has. One it reports closed is not linked for the push at
    all (`linked_listings`).

    `changed_at`: when our latest accepted pause, close or activate of each listing was
    (`listing_publications`); a quantity known from before then is stale (an Amazon pause
    zeroed it), so the push writes the target again once the listing is active.

    Amazon lists each child SKU of a family as a listing of its own (`listing_id` = the
    child SKU); a pause of the parent covers them.
    """

    held: frozenset[tuple[str, str]] = frozenset()
    changed_at: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def holds(self, key: ListingKey) -> bool:
        return (key[0], key[1]) in self.held

    def state_changed_at(self, key: ListingKey) -> datetime | None:
        return self.changed_at.get((key[0], key[1]))


def publishing_states(conn: Connection) -> PublishingStates:
    held = {
        (store, listing)
        for store, listing in conn.execute(
            sa.text(
                "SELECT store_id, listing_id FROM published_listings "
                "WHERE origin = 'published' AND state IN ('paused', 'closed')"
            )
        )
    }
    changed: dict[tuple[str, str], datetime] = {}
    for store, listing, at in conn.execute(
        sa.text(
            "SELECT store_id, listing_id, MAX(at) AS at FROM listing_publications "
            "WHERE NOT dry_run AND status = 'written' "
            "AND action IN ('pause', 'close', 'activate') AND listing_id <> '' "
            "GROUP BY store_id, listing_id"
        ).columns(at=UtcTimestamp)
    ):
        moment = as_utc(at)
        if moment is not None:
            changed[(store, listing)] = moment
    if held or changed:
        # An Amazon family's children, as publishing records them (parent, child SKU).
        for store, parent, child in conn.execute(
            sa.text(
                "SELECT l.store_id, l.listing_id, l.variation_id FROM listings l "
                "JOIN stores s ON s.store_id = l.store_id "
                "WHERE s.marketplace = 'amazon' AND l.variation_id <> '' "
                "UNION SELECT k.store_id, k.listing_id, k.variation_id FROM listing_links k "
                "JOIN stores s ON s.store_id = k.store_id "
                "WHERE s.marketplace = 'amazon' AND k.variation_id <> ''"
            )
        ):
            if (store, parent) in held:
                held.add((store, child))
            if (store, parent) in changed:
                at = changed[(store, parent)]
                changed[(store, child)] = max(at, changed.get((store, child), at))
    return PublishingStates(frozenset(held), changed)


def allocatable(conn: Connection, tenant: str = DEFAULT_TENANT) -> dict[str, int]:
    rows = conn.execute(
        sa.text("SELECT sku, allocatable FROM allocatable_stock WHERE tenant = :tenant"),
        {"tenant": tenant},
    )
    return {sku: int(units) for sku, units in rows}


def allocatable_by_tenant(conn: Connection) -> dict[tuple[str, str], int]:
    """(tenant, SKU) → allocatable units, for every tenant."""
    rows = conn.execute(sa.text("SELECT tenant, sku, allocatable FROM allocatable_stock"))
    return {(tenant, sku): int(units) for tenant, sku, units in rows}


def as_utc(moment: datetime | str | None) -> datetime | None:
    """SQLite hands timestamps back without their zone (or as text from an untyped
    expression); they were written as UTC."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Published:
    """What a listing publishes as far as we know, and since when we know it."""

    quantity: int | None
    confirmed_at: datetime | None


def published(
    conn: Connection, store_ids: Collection[str] | None = None
) -> dict[ListingKey, Published]:
    """The freshest knowledge per listing: the listings sync, or our own write / read-back."""
    where = ""
    params: dict[str, object] = {}
    if store_ids is not None:
        where = "WHERE store_id IN :stores"
        params["stores"] = list(store_ids)

    def query(sql: str) -> sa.TextClause:
        text = sa.text(sql.format(where=where))
        return text.bindparams(sa.bindparam("stores", expanding=True)) if where else text

    typed = {"seen": UtcTimestamp}

    known: dict[ListingKey, Published] = {}
    for store, listing, variation, quantity, seen in conn.execute(
        query(
            "SELECT store_id, listing_id, variation_id, available_quantity, synced_at AS seen "
            "FROM listings {where}"
        ).columns(**typed),
        params,
    ):
        known[(store, listing, variation)] = Published(quantity, as_utc(seen))
    for store, listing, variation, quantity, seen in conn.execute(
        query(
            "SELECT store_id, listing_id, variation_id, published_quantity, observed_at AS seen "
            "FROM stock_listing_state {where}"
        ).columns(**typed),
        params,
    ):
        key = (store, listing, variation)
        current = known.get(key)
        observed = as_utc(seen)
        if (
            current is None
            or current.confirmed_at is None
            or (observed is not None and observed >= current.confirmed_at)
        ):
            known[key] = Published(quantity, observed)
    return known


def plan_rows(conn: Connection) -> list[sa.Row[tuple[object, ...]]]:
    """The plan of every tenant; `tenant` is the last column."""
    return list(
        conn.execute(
            sa.text(
                "SELECT store_id, listing_id, variation_id, sku, marketplace, target_quantity, "
                "tenant FROM stock_push_plan ORDER BY store_id, listing_id, variation_id"
            )
        )
    )
