"""Bling's stock, when Bling is not the catalog's source: the hub's on-hand figures are.

A merchant who keeps the catalog in a file but also uses Bling (invoices, picking) wants
Bling's physical balance to agree with the hub. Each SKU's on hand (summed over the
catalog's warehouses) is written to the account's default deposit as a balanço — an
absolute figure, so a repeated write lands on the same balance. Only SKUs whose Bling
balance differs are written; kits are skipped (Bling derives a virtual kit's balance from
its components). Writes and plans are audited in `stock_pushes` like any other store's,
under the store id `bling-<account>` and the tenant whose on hand it is: each tenant's
figures go to its own Bling company only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy.engine import Engine

from synchub_pipelines.defs.stock import reads
from synchub_pipelines.defs.stock.push import PlannedWrite
from synchub_pipelines.marketplaces.bling import BlingClient
from synchub_pipelines.marketplaces.errors import MarketplaceError
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.schema import DEFAULT_TENANT
from synchub_pipelines.warehouse.schema_stock import stock_pushes


@dataclass
class BlingPushReport:
    account: str
    planned: list[PlannedWrite] = field(default_factory=list)
    written: int = 0
    failed: list[tuple[PlannedWrite, str]] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)


def push_to_bling(
    engine: Engine,
    client: BlingClient,
    account: str,
    skus: Collection[str] | None,
    dry_run: bool,
    run_id: str,
    attempt: int,
    now: datetime,
    tenant: str = DEFAULT_TENANT,
) -> BlingPushReport:
    store_id = f"bling-{account}"
    report = BlingPushReport(account)
    with engine.connect() as conn:
        held = reads.on_hand(conn, tenant)
        kits = set(reads.components(conn, tenant))
    wanted = sorted(s for s in held if s not in kits and (skus is None or s in skus))
    if not wanted:
        return report
    deposit = next((d for d in client.deposits() if d.padrao), None)
    if deposit is None:
        raise MarketplaceError("bling", "depositos.list", "the account has no default deposit")
    ids = client.product_index()
    balances: dict[str, Decimal] = {}
    for page in client.iter_stock([s for s in wanted if s in ids]):
        for row in page.records:
            if row.warehouse == str(deposit.id):
                balances[row.sku] = Decimal(row.on_hand)
    for sku in wanted:
        if sku not in ids:
            continue  # not a Bling product: nothing to keep in step
        before = balances.get(sku)
        if before is not None and before == held[sku]:
            continue
        report.planned.append(
            PlannedWrite(
                (store_id, str(ids[sku]), ""),
                sku,
                "bling",
                None if before is None else int(before),
                held[sku],
                "changed",
                tenant,
            )
        )
    audit = upsert.Batch.for_table(stock_pushes)
    for write in report.planned:
        status, answer = "planned", None
        if not dry_run:
            try:
                launch = client.set_stock(int(write.key[1]), deposit.id, write.after)
            except (MarketplaceError, ValueError) as exc:
                status, answer = "failed", str(exc)[:500]
                report.failed.append((write, answer))
            else:
                status, answer = "written", f'{{"estoque_id": {launch}}}'
                report.written += 1
        audit.rows.append(
            (
                run_id,
                attempt,
                *write.key,
                tenant,
                write.sku,
                "bling",
                write.before,
                write.after,
                write.reason,
                "dry_run" if dry_run else "real",
                status,
                answer,
                now,
            )
        )
    if audit.rows:
        upsert.write(engine, [audit])
    stats = getattr(getattr(client, "http", None), "stats", {})
    report.calls = {k.removeprefix("calls."): v for k, v in stats.items() if k.startswith("calls.")}
    return report
