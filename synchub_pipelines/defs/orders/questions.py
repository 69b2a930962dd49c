"""Buyers' questions on listings (Mercado Livre), for the answer-time figures.

A store's first run reads every question; later runs read the questions asked since the
newest one stored (less an overlap, for late indexing), and re-read the ones still open,
because an answer changes an old question without making it new. Notifications (topic
`questions`) update single questions between runs through the events path.
"""

from collections import Counter
from datetime import UTC, datetime, timedelta

import dagster as dg
import sqlalchemy as sa

from synchub_pipelines.defs.common import OWNERS, quarantine, resolve_store, write_metadata
from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.partitions import store_partitions
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.marketplaces.base import QuestionsClient, chunked
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.rows import question_batch
from synchub_pipelines.warehouse.schema_orders import questions as questions_table

OVERLAP = timedelta(days=2)
OPEN_STATUSES = ("UNANSWERED", "UNDER_REVIEW")
REOPEN_WINDOW = timedelta(days=60)
IDS_PER_CALL = 50


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def newest_question(warehouse: WarehouseResource, store_id: str) -> datetime | None:
    with warehouse.engine().connect() as conn:
        value = conn.execute(
            sa.select(sa.func.max(questions_table.c.asked_at)).where(
                questions_table.c.store_id == store_id
            )
        ).scalar()
    return None if value is None else _utc(value)


def open_questions(warehouse: WarehouseResource, store_id: str, since: datetime) -> list[str]:
    t = questions_table
    with warehouse.engine().connect() as conn:
        return list(
            conn.execute(
                sa.select(t.c.question_id).where(
                    t.c.store_id == store_id,
                    t.c.status.in_(OPEN_STATUSES),
                    t.c.asked_at >= since,
                )
            ).scalars()
        )


def questions_client(client: object) -> QuestionsClient | None:
    has = all(hasattr(client, name) for name in ("iter_questions", "get_questions"))
    return client if has else None  # type: ignore[return-value]


@dg.asset(
    group_name="orders",
    kinds={"python", "sql"},
    owners=OWNERS,
    partitions_def=store_partitions,
    pool="marketplace_api",
    description=(
        "Buyers' questions per store (`questions`, Mercado Livre): when asked, status, when "
        "answered and the answer's length — no text, no buyer. Stores of marketplaces "
        "without questions materialize empty."
    ),
    tags={"domain": "orders"},
)
def questions(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
) -> dg.MaterializeResult:
    store = resolve_store(warehouse, context.partition_key)
    client = marketplaces.client_for(store, warehouse)
    engine = warehouse.engine()
    asker = questions_client(client)
    seen: set[str] = set()
    statuses: Counter[str] = Counter()
    changed: Counter[str] = Counter()
    rejected = 0
    try:
        if asker is None:
            context.log.info(
                f"{store.marketplace.value} has no buyer questions API: nothing to read"
            )
            return dg.MaterializeResult(
                metadata=write_metadata(
                    warehouse,
                    "questions",
                    0,
                    {},
                    store=store.store_id,
                    applicable=dg.MetadataValue.bool(False),
                )
            )
        newest = newest_question(warehouse, store.store_id)
        since = newest - OVERLAP if newest else None
        for page in asker.iter_questions(since):
            changed.update(upsert.write(engine, [question_batch(page.records)]))
            rejected += quarantine(warehouse, page.rejects, context)
            seen.update(q.question_id for q in page.records)
            statuses.update(q.status for q in page.records)
        reopened = [
            q
            for q in open_questions(warehouse, store.store_id, datetime.now(UTC) - REOPEN_WINDOW)
            if q not in seen
        ]
        for chunk in chunked(reopened, IDS_PER_CALL):
            page = asker.get_questions(chunk)
            changed.update(upsert.write(engine, [question_batch(page.records)]))
            rejected += quarantine(warehouse, page.rejects, context)
            statuses.update(q.status for q in page.records)
    finally:
        client.close()
    return dg.MaterializeResult(
        metadata=write_metadata(
            warehouse,
            "questions",
            sum(statuses.values()),
            dict(changed),
            rejected,
            store=store.store_id,
            read_since=dg.MetadataValue.text(since.isoformat() if since else "the beginning"),
            open_questions_reread=dg.MetadataValue.int(len(reopened)),
            questions_by_status=dg.MetadataValue.json(dict(statuses)),
        )
    )
