"""Connected stores: the `stores` table, mirrored into the `stores` dynamic partitions."""

import dagster as dg

from synchub_pipelines.defs.common import OWNERS
from synchub_pipelines.defs.partitions import STORES
from synchub_pipelines.defs.resources import WarehouseResource
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
        "Connected marketplace accounts (`stores`: one row per account, registered by "
        "`synchub connect`). Materializing it adds a `stores` partition for each new account."
    ),
    tags={"domain": "stores"},
)
def stores(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    connected = load_stores(warehouse.engine())
    added = sync_store_partitions(context.instance, [s.store_id for s in connected])
    if added:
        context.log.info(f"new store partitions: {', '.join(added)}")
    by_marketplace: dict[str, int] = {}
    for store in connected:
        by_marketplace[store.marketplace.value] = by_marketplace.get(store.marketplace.value, 0) + 1
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(connected)),
            "stores_by_marketplace": dg.MetadataValue.json(by_marketplace),
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
