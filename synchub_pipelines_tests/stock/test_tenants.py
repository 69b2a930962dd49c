"""Two merchants in one deployment with the same SKUs and stores on the same four marketplaces:
a sale of one never changes what the other's listings publish, and each one's push audit
names its tenant.

PostgreSQL warehouse, sandbox over loopback. The default tenant's stores connect as the
demo's do; acme's through `synchub connect … --tenant acme`, the way an operator assigns
them. Quantities are read back from each marketplace's API.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from synchub_pipelines.cli import main
from synchub_pipelines.connect import marketplaces_from_env
from synchub_pipelines.defs.catalog.assets import central_products, central_stock
from synchub_pipelines.defs.stock.automation import stock_reservation_sensor
from synchub_pipelines.demo.sandbox_accounts import (
    _code_from_consent,
    _consent_redirect,
    connect_bling_account,
    connect_sellers,
    sandbox_rate_limits,
)
from synchub_pipelines.models import DEFAULT_TIMEZONE
from synchub_pipelines.sandbox import amazon as amazon_sandbox
from synchub_pipelines.sandbox.world import Seller
from synchub_pipelines_tests.stock.shop import (
    ListingKey,
    Shop,
    materialize_stock_inputs,
    sandbox_environment,
    shop_sellers,
    write_catalog,
)

pytestmark = pytest.mark.postgres

ACME = "acme"
ACME_SELLERS = [
    Seller("mercadolivre", "241551077", "ACME_ML"),
    Seller("shopee", "880012377", "acme.oficial"),
    Seller("tiktok", "7494012345678907777", "Acme Shop"),
    Seller("amazon", "A1SYNCHUBACME77", "Acme BR"),
]


def connect_with_the_cli(seller: Seller, tenant: str) -> str:
    """`synchub connect <marketplace> … --tenant T`, the seller's consent played as the demo
    plays it; returns the store id."""
    apis = marketplaces_from_env()
    argv = ["connect", seller.marketplace, "--tenant", tenant]
    if seller.marketplace == "mercadolivre":
        app = apis.mercadolivre.app()
        code = _code_from_consent(app.authorization_url()[0], {"user_id": seller.seller_id})
        argv += ["--code", code]
    elif seller.marketplace == "tiktok":
        app = apis.tiktok.app()
        code = _code_from_consent(app.authorization_url()[0], {"shop_id": seller.seller_id})
        argv += ["--code", code, "--shop-id", seller.seller_id]
    elif seller.marketplace == "shopee":
        assert apis.shopee is not None
        shopee = apis.shopee.app()
        redirect = _consent_redirect(shopee.authorization_url()[0], {"shop_id": seller.seller_id})
        argv += ["--code", redirect["code"], "--shop-id", redirect["shop_id"]]
    else:
        os.environ["SYNCHUB_AMAZON_REFRESH_TOKEN"] = amazon_sandbox.initial_refresh_token(
            seller.seller_id
        )
        argv += ["--seller-id", seller.seller_id]
    assert main(argv) == 0
    return seller.store_id


def set_on_hand(path: Path, quantities: dict[str, int]) -> None:
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    for row in rows:
        if row["sku"] in quantities:
            row["on_hand"] = str(quantities[row["sku"]])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@dataclass
class Deployment:
    shop: Shop
    instance: dg.DagsterInstance
    stores: dict[str, list[str]]  # tenant → its store ids
    catalogs: dict[str, Path]  # tenant → its catalog file

    def tenant_of(self, store_id: str) -> str:
        return next(t for t, ids in self.stores.items() if store_id in ids)

    def restock(self, tenant_quantities: dict[str, dict[str, int]]) -> None:
        for tenant, quantities in tenant_quantities.items():
            set_on_hand(self.catalogs[tenant], quantities)
        result = dg.materialize(
            [central_products, central_stock],
            selection=[central_stock],
            instance=self.instance,
            resources=self.shop.resources(),
        )
        assert result.success

    def allocatable(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(tenant, sku) → (reserved, allocatable)."""
        return {
            (r[0], r[1]): (r[2], r[3])
            for r in self.shop.rows(
                "SELECT tenant, sku, reserved, allocatable FROM allocatable_stock"
            )
        }

    def shared_sku(self) -> tuple[str, dict[str, list[ListingKey]]]:
        """A SKU both tenants list, once per store on at least two stores each (the most
        stores first): its listings per tenant."""
        by_sku: dict[str, list[tuple[str, ListingKey]]] = defaultdict(list)
        # Not a kit: a kit's stock is its components', which a restock of it would not move.
        for r in self.shop.rows(
            "SELECT p.tenant, p.store_id, p.listing_id, p.variation_id, p.sku "
            "FROM stock_push_plan p JOIN central_products c ON c.tenant = p.tenant "
            "AND c.sku = p.sku WHERE NOT c.is_kit"
        ):
            by_sku[r[4]].append((r[0], (r[1], r[2], r[3])))
        candidates = []
        for sku, found in by_sku.items():
            keys: dict[str, list[ListingKey]] = defaultdict(list)
            for tenant, key in found:
                keys[tenant].append(key)
            stores = [key[0] for _, key in found]
            if len(stores) == len(set(stores)) and all(len(keys[t]) >= 2 for t in self.stores):
                candidates.append((-len(stores), sku, {t: sorted(k) for t, k in keys.items()}))
        assert candidates, "no SKU is listed on two stores of each tenant"
        _, sku, keys = min(candidates)
        return sku, keys

    def published(self, tenant: str) -> dict[ListingKey, int | None]:
        return self.shop.published(self.stores[tenant])


@pytest.fixture
def deployment(  # type: ignore[no-untyped-def]
    sandbox_factory, pg_url: str, tmp_path: Path
) -> Iterator[Deployment]:
    default_sellers = shop_sellers()
    running = sandbox_factory(
        sellers=[*default_sellers, *ACME_SELLERS], rate_limits=sandbox_rate_limits()
    )
    with sandbox_environment(running), dg.DagsterInstance.ephemeral() as instance:
        shop = Shop(running, pg_url, tmp_path)
        # The same SKUs in both catalogs: the case where pooling would show.
        (tmp_path / ACME).mkdir()
        acme_catalog = write_catalog(running, tmp_path / ACME / "catalog.csv")
        tenants_file = tmp_path / "tenants.yaml"
        tenants_file.write_text(f"tenants:\n  {ACME}:\n    catalog_file: {ACME}/catalog.csv\n")
        os.environ["SYNCHUB_TENANTS_FILE"] = str(tenants_file)
        os.environ["SYNCHUB_WAREHOUSE_URL"] = pg_url

        connect_bling_account(shop.token_store)
        default_ids = [
            s.store_id for s in connect_sellers(default_sellers, shop.engine, shop.token_store)
        ]
        acme_ids = [connect_with_the_cli(seller, ACME) for seller in ACME_SELLERS]
        shop.store_ids = [*default_ids, *acme_ids]
        zone = ZoneInfo(DEFAULT_TIMEZONE)
        orders = running.sandbox.world.orders
        first = min(o.created_at for o in orders).astimezone(zone).date() - timedelta(days=1)
        # Up to the world's last order, not today: sales made here are landed by `ingest`,
        # and months of empty days would only slow the backfill down.
        last = max(o.created_at for o in orders).astimezone(zone).date() + timedelta(days=1)
        materialize_stock_inputs(shop.store_ids, first, last, instance, shop.resources())
        assert shop.push(instance).success
        yield Deployment(
            shop,
            instance,
            {"default": default_ids, ACME: acme_ids},
            {"default": shop.catalog, ACME: acme_catalog},
        )


def _tick(d: Deployment, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    with dg.build_sensor_context(
        instance=d.instance,
        cursor=cursor,
        resources={"warehouse": d.shop.resources()["warehouse"]},
    ) as context:
        return stock_reservation_sensor(context)  # type: ignore[return-value]


def test_a_sale_of_one_tenant_never_changes_the_others_published_quantities(
    deployment: Deployment,
) -> None:
    # One test, in phases: the two-tenant deployment takes minutes to build.
    d = deployment
    assert d.shop.rows("SELECT store_id, tenant FROM stores ORDER BY store_id") == sorted(
        [(s, t) for t, ids in d.stores.items() for s in ids]
    )
    sku, keys = d.shared_sku()
    n = {t: len(keys[t]) for t in ("default", ACME)}
    reserved = {t: d.allocatable()[(t, sku)][0] for t in ("default", ACME)}
    # Different stock in each tenant's catalog for the same SKU.
    d.restock(
        {
            "default": {sku: reserved["default"] + 10 * n["default"]},
            ACME: {sku: reserved[ACME] + 6 * n[ACME]},
        }
    )
    assert d.shop.push(d.instance).success
    assert [d.published("default")[k] for k in keys["default"]] == [10] * n["default"], sku
    assert [d.published(ACME)[k] for k in keys[ACME]] == [6] * n[ACME], sku
    # No listing is planned from another tenant's stock.
    assert (
        d.shop.rows(
            "SELECT p.store_id FROM stock_push_plan p JOIN stores s USING (store_id) "
            "WHERE p.tenant <> s.tenant"
        )
        == []
    )

    for seller in keys["default"]:  # a sale of the default tenant on each of its stores in turn
        acme_before = d.published(ACME)
        d.shop.ingest(seller[0], [d.shop.sell(seller, quantity=n["default"])])
        assert d.shop.push(d.instance).success
        published = d.published("default")
        assert len({published[k] for k in keys["default"]}) == 1
        assert d.published(ACME) == acme_before
    assert published[keys["default"][0]] == 10 - n["default"]
    assert d.allocatable()[("default", sku)] == (
        reserved["default"] + n["default"] ** 2,
        10 * n["default"] - n["default"] ** 2,
    )
    assert d.allocatable()[(ACME, sku)] == (reserved[ACME], 6 * n[ACME])

    # And the other way round.
    default_before = d.published("default")
    seller = keys[ACME][0]
    d.shop.ingest(seller[0], [d.shop.sell(seller, quantity=n[ACME])])
    assert d.shop.push(d.instance).success
    assert [d.published(ACME)[k] for k in keys[ACME]] == [6 - 1] * n[ACME]
    assert d.published("default") == default_before

    # Each tenant's audit names its tenant; Bling (the default tenant's) is the default's.
    audit = d.shop.rows("SELECT DISTINCT store_id, tenant FROM stock_pushes WHERE mode = 'real'")
    assert {tenant for _, tenant in audit} == {"default", ACME}
    for store_id, tenant in audit:
        expected = "default" if store_id.startswith("bling-") else d.tenant_of(store_id)
        assert tenant == expected, store_id
    written = dict(
        d.shop.rows(
            "SELECT tenant, COUNT(*) FROM stock_pushes WHERE status = 'written' GROUP BY tenant"
        )
    )
    assert written[ACME] > 0 and written["default"] > 0

    # The fast path: a sale of acme's makes the sensor ask for a push of acme's SKUs only.
    first = _tick(d, None)
    assert isinstance(first, dg.SensorResult) and not first.run_requests
    default_before = d.published("default")
    acme_before = d.published(ACME)
    d.shop.ingest(keys[ACME][-1][0], [d.shop.sell(keys[ACME][-1])])
    tick = _tick(d, first.cursor)
    assert isinstance(tick, dg.SensorResult)
    (request,) = tick.run_requests or []
    config = request.run_config["ops"]["stock_pushes"]["config"]
    assert config["tenants"] == [ACME] and sku in config["skus"]
    assert request.tags["synchub/tenant"] == ACME
    fast = d.shop.push(d.instance, **config)
    assert fast.success
    meta = fast.asset_materializations_for_node("stock_pushes")[0].metadata
    assert meta["writes_done"].value > 0
    assert d.published("default") == default_before
    after = d.published(ACME)
    assert (
        sum(after[k] or 0 for k in keys[ACME]) == sum(acme_before[k] or 0 for k in keys[ACME]) - 1
    )
