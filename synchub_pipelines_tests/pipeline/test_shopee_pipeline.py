"""The Shopee pipeline end to end: sandbox over HTTP → assets → the shared warehouse tables."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

import dagster as dg
import httpx
import sqlalchemy as sa

from synchub_pipelines.connect import connect_shopee
from synchub_pipelines.defs.catalog.source import CatalogResource
from synchub_pipelines.defs.marketplaces import (
    AmazonResource,
    BlingResource,
    MarketplacesResource,
    MercadoLivreResource,
    ShopeeResource,
    TikTokResource,
)
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.sandbox import shopee as shopee_sandbox
from synchub_pipelines.sandbox.shopee_render import SHOPEE_STATUS, item_id_of, order_sn
from synchub_pipelines_tests.pipeline.harness import Harness


class ShopeeHarness(Harness):
    """The pipeline harness with the sandbox's Shopee shops as the connected stores."""

    def shopee(self) -> ShopeeResource:
        return ShopeeResource(
            partner_id=str(shopee_sandbox.PARTNER_ID),
            partner_key=shopee_sandbox.PARTNER_KEY,
            redirect_uri=shopee_sandbox.REDIRECT_URL,
            api_url=self.running.base_url("shopee"),
            requests_per_second=2000,
        )

    def resources(self) -> dict[str, object]:
        return {
            "warehouse": WarehouseResource(url=self.url),
            "catalog": CatalogResource(file_path=str(self.catalog), bling=BlingResource()),
            "marketplaces": MarketplacesResource(
                mercadolivre=MercadoLivreResource(),
                tiktok=TikTokResource(),
                amazon=AmazonResource(),
                shopee=self.shopee(),
            ),
        }

    def connect_all(self) -> list[str]:
        app = self.shopee().app()
        store_ids = []
        for seller in self.running.sandbox.world.sellers_of("shopee"):
            url, _ = app.authorization_url()
            # The sandbox's `shop_id` extra names the shop that consents.
            consent = httpx.get(f"{url}&shop_id={seller.seller_id}", follow_redirects=False)
            assert consent.status_code == 302, consent.text
            redirect = httpx.URL(consent.headers["location"]).params
            store = connect_shopee(
                app, redirect["code"], redirect["shop_id"], self.engine, self.token_store
            )
            store_ids.append(store.store_id)
        return store_ids


def test_shopee_stores_fill_the_shared_tables_and_rerun_changes_nothing(  # type: ignore[no-untyped-def]
    sandbox, warehouse_url, tmp_path
):
    harness = ShopeeHarness(sandbox, warehouse_url, tmp_path)
    world = sandbox.sandbox.world
    now = sandbox.sandbox.clock.now()
    sellers = world.sellers_of("shopee")
    with dg.instance_for_test() as instance:
        first = harness.run(instance)
        assert first.failed_checks == []
        assert first.store_ids == [s.store_id for s in sellers]
        before = harness.snapshot()

        orders = [o for s in sellers for o in world.orders_of(s) if o.visible_at(now)]
        listings = [lst for s in sellers for lst in world.listings_of(s)]
        counts = {t: len(rows) for t, rows in before.items()}
        assert counts["stores"] == len(sellers)
        assert counts["orders"] == len(orders) > 0
        assert counts["order_items"] == sum(len(o.lines) for o in orders)
        assert counts["listings"] == sum(len(lst.variations) for lst in listings)
        unmatched = [
            v
            for lst in listings
            for v in lst.variations
            if v.sku is None or v.sku not in world.products_by_sku
        ]
        # Shopee shows each model's GTIN: a stale or blank seller SKU still links by GTIN.
        catalog = sandbox.sandbox.simulators["shopee"].catalog
        by_gtin = [v for v in unmatched if catalog.product_of(v).gtin]
        assert unmatched and by_gtin
        with harness.engine.connect() as conn:
            methods = {
                row.method: row.links
                for row in conn.execute(
                    sa.text("SELECT method, COUNT(*) AS links FROM listing_links GROUP BY method")
                )
            }
        assert methods == {
            "seller_sku": counts["listings"] - len(unmatched),
            "gtin": len(by_gtin),
        }
        assert counts["ingest_errors"] == 0

        with harness.engine.connect() as conn:
            stored = {
                row.order_id: row
                for row in conn.execute(
                    sa.text(
                        "SELECT order_id, status, raw_status, items_amount, "
                        "shipping_paid_by_buyer, total_amount, business_date FROM orders"
                    )
                )
            }
            models = {
                (row.listing_id, row.variation_id)
                for row in conn.execute(sa.text("SELECT listing_id, variation_id FROM listings"))
            }
        money = sandbox.sandbox.simulators["shopee"].orders_render.money
        for order in orders:
            row = stored[order_sn(order)]
            status = order.status_at(now)[0]
            assert (row.status, row.raw_status) == (status, SHOPEE_STATUS[status])
            paid = any(s == "paid" and at <= now for s, at in order.timeline)
            # Lines before the seller's promotions; the buyer's shipping from the escrow.
            assert Decimal(str(row.items_amount)) == money(order).original
            shipping = row.shipping_paid_by_buyer
            if not paid:  # nothing paid; a cancelled one is known to owe nothing
                assert shipping == (0 if status == "cancelled" else None)
                assert Decimal(str(row.total_amount)) == 0
                continue
            refunded = status == "cancelled"
            assert Decimal(str(shipping)) == (0 if refunded else order.shipping_cost)
            assert Decimal(str(row.total_amount)) == money(order).buyer_total
            local_day = order.created_at.astimezone(ZoneInfo(order.seller.timezone)).date()
            assert str(row.business_date) == local_day.isoformat()
        assert models == {
            (str(item_id_of(lst)), str(v.variation_number) if lst.has_variations else "")
            for lst in listings
            for v in lst.variations
        }

        # The same partitions again: not one row rewritten (synced_at included).
        second = harness.run(instance, first.store_ids)
        assert second.failed_checks == []
        assert harness.snapshot() == before
