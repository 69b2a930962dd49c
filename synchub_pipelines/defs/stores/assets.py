"""Connected stores: the `stores` table, mirrored into the `stores` dynamic partitions."""

import dagster as dg

from synchub_pipelines.defs.common import OWNERS
from synchub_pipelines.defs.partitions import STORES
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.stores.tenants import TenantsFileError, tenant_names
from synchub_pipelines.warehouse.stores import load_stores


def sync_store_partitions(instance: dg.DagsterInstance, store_ids: list[str]) -> list[str]:
    """Add a partition for every connected store that lacks one; returns what was added."""
    existing = set(instance.get_dynamic_partitions(STORES))
    added = [s for s in store_ids if s not in existing]
    if added:
        instance.add_dynamic_partitions(STORES, added)
    return added


@dg.asset(
    group_name="stores",
    kinds={"sql"},
    owners=OWNERS,
    description=(
        "Connected marketplace accounts (`stores`: one row per account and the tenant it "
        "belongs to, registered by `synchub connect … --tenant`). Materializing it adds a "
        "`stores` partition for each new account."
    ),
    tags={"domain": "stores"},
)
def stores(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    connected = load_stores(warehouse.engine())
    added = sync_store_partitions(context.instance, [s.store_id for s in connected])
    if added:
        context.log.info(f"new store partitions: {', '.join(added)}")
    by_marketplace: dict[str, int] = {}
    by_tenant: dict[str, int] = {}
    for store in connected:
        by_marketplace[store.marketplace.value] = by_marketplace.get(store.marketplace.value, 0) + 1
        by_tenant[store.tenant] = by_tenant.get(store.tenant, 0) + 1
    try:
        configured = set(tenant_names())
    except TenantsFileError as exc:
        # The stores themselves are fine; the runs that need the file fail with this.
        context.log.warning(str(exc))
        configured = set(by_tenant)
    strays = sorted(set(by_tenant) - configured)
    if strays:
        context.log.warning(
            f"stores belong to tenant(s) {', '.join(strays)}, which no configuration names "
            "(SYNCHUB_TENANTS_FILE): their catalogs are not refreshed"
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(connected)),
            "stores_by_marketplace": dg.MetadataValue.json(by_marketplace),
            "stores_by_tenant": dg.MetadataValue.json(by_tenant),
            "partitions_added": dg.MetadataValue.json(added),
        }
    )


@dg.sensor(
    minimum_interval_seconds=60,
    description="Adds a `stores` partition as soon as an account is connected.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def store_partitions_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult | dg.SkipReason:
    connected = [s.store_id for s in load_stores(warehouse.engine())]
    existing = set(context.instance.get_dynamic_partitions(STORES))
    missing = [s for s in connected if s not in existing]
    if not missing:
        return dg.SkipReason(f"all {len(connected)} connected stores have a partition")
    return dg.SensorResult(
        dynamic_partitions_requests=[store_partitions_add(missing)],
    )


def store_partitions_add(keys: list[str]) -> dg.AddDynamicPartitionsRequest:
    from synchub_pipelines.defs.partitions import store_partitions

    return store_partitions.build_add_request(keys)
