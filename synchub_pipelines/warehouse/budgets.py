"""API budgets and circuit breakers in the warehouse's database, shared by every process
of the deployment (`marketplaces/ratelimit.py` and `marketplaces/breaker.py` say why).

A reservation is one atomic upsert: refill by the time elapsed since the row's last
change (never below zero when clocks disagree a little), cap at the burst, take one token,
return what is left. A negative balance is a queue: the caller sleeps until its token has
accrued, so callers are served in the order they reserved, without retry loops or locks
held while sleeping. PostgreSQL serializes the upserts on the row; SQLite on its writer
lock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from synchub_pipelines.marketplaces.breaker import BreakerState
from synchub_pipelines.warehouse.schema_budgets import circuit_breakers

_RESERVE = """
INSERT INTO api_budgets (scope, tokens, updated_at) VALUES (:scope, :burst - 1, :now)
ON CONFLICT (scope) DO UPDATE SET
  tokens = {least}(:burst, api_budgets.tokens
                   + {greatest}(0, :now - api_budgets.updated_at) * :rate) - 1,
  updated_at = {greatest}(:now, api_budgets.updated_at)
RETURNING tokens
"""
_PENALIZE = """
INSERT INTO api_budgets (scope, tokens, updated_at) VALUES (:scope, -:debt, :now)
ON CONFLICT (scope) DO UPDATE SET
  tokens = {least}(
    {least}(:burst, api_budgets.tokens + {greatest}(0, :now - api_budgets.updated_at) * :rate),
    -:debt),
  updated_at = {greatest}(:now, api_budgets.updated_at)
"""


class SqlBudgetStore:
    """`BudgetStore` on the `api_budgets` table (PostgreSQL or SQLite)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        postgres = engine.dialect.name == "postgresql"
        names = {
            "least": "LEAST" if postgres else "MIN",
            "greatest": "GREATEST" if postgres else "MAX",
        }
        self._reserve = sa.text(_RESERVE.format(**names))
        self._penalize = sa.text(_PENALIZE.format(**names))

    def reserve(self, scope: str, rate: float, burst: float, now: float) -> float:
        with self.engine.begin() as conn:
            left = conn.execute(
                self._reserve, {"scope": scope, "rate": rate, "burst": burst, "now": now}
            ).scalar_one()
        return float(left)

    def penalize(self, scope: str, rate: float, burst: float, seconds: float, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                self._penalize,
                {"scope": scope, "rate": rate, "burst": burst, "now": now, "debt": seconds * rate},
            )


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _state(row: Any) -> BreakerState:
    if row is None:
        return BreakerState()
    return BreakerState(
        row.state, row.failures, _utc(row.opened_at), _utc(row.probe_at), row.last_error
    )


class SqlBreakerStore:
    """`BreakerStore` on the `circuit_breakers` table: every transition is one atomic
    statement, so two processes never both claim the probe."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def load(self, scope: str) -> BreakerState:
        t = circuit_breakers
        with self.engine.connect() as conn:
            return _state(conn.execute(sa.select(t).where(t.c.scope == scope)).first())

    def record_failure(
        self, scope: str, error: str, threshold: int, cooldown: float, now: datetime
    ) -> BreakerState:
        t = circuit_breakers
        probe = now + timedelta(seconds=cooldown)
        failures = t.c.failures + 1
        opening = sa.or_(t.c.state == "half_open", failures >= threshold)
        insert = self._insert(t).values(
            scope=scope,
            state="open" if threshold <= 1 else "closed",
            failures=1,
            opened_at=now if threshold <= 1 else None,
            probe_at=probe if threshold <= 1 else None,
            last_error=error[:500],
            updated_at=now,
        )
        statement = insert.on_conflict_do_update(
            index_elements=[t.c.scope],
            set_={
                "failures": failures,
                "state": sa.case((opening, "open"), else_=t.c.state),
                "opened_at": sa.case(
                    (sa.and_(t.c.state == "closed", failures >= threshold), now),
                    else_=t.c.opened_at,
                ),
                "probe_at": sa.case(
                    (sa.and_(t.c.state != "open", opening), probe), else_=t.c.probe_at
                ),
                "last_error": error[:500],
                "updated_at": now,
            },
        ).returning(t.c.state, t.c.failures, t.c.opened_at, t.c.probe_at, t.c.last_error)
        with self.engine.begin() as conn:
            return _state(conn.execute(statement).first())

    def record_success(self, scope: str, now: datetime) -> None:
        t = circuit_breakers
        with self.engine.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.scope == scope)
                .values(state="closed", failures=0, opened_at=None, probe_at=None, updated_at=now)
            )

    def claim_probe(self, scope: str, cooldown: float, now: datetime) -> bool:
        t = circuit_breakers
        with self.engine.begin() as conn:
            claimed = conn.execute(
                t.update()
                .where(
                    t.c.scope == scope,
                    t.c.state.in_(("open", "half_open")),
                    t.c.probe_at <= now,
                )
                .values(
                    state="half_open", probe_at=now + timedelta(seconds=cooldown), updated_at=now
                )
            ).rowcount
        return claimed == 1


def share_budgets(engine: Engine) -> None:
    """From now on, every API quota and circuit breaker of this process is the
    deployment's, kept in `engine`'s database."""
    from synchub_pipelines.marketplaces.breaker import use_breaker_store
    from synchub_pipelines.marketplaces.ratelimit import use_budget_store

    key = engine.url.render_as_string()
    if key not in _stores:
        _stores[key] = (SqlBudgetStore(engine), SqlBreakerStore(engine))
    budgets, breakers = _stores[key]
    use_budget_store(budgets)
    if _installed.get("breakers") is not breakers:
        use_breaker_store(breakers)
        _installed["breakers"] = breakers


_stores: dict[str, tuple[SqlBudgetStore, SqlBreakerStore]] = {}
_installed: dict[str, SqlBreakerStore] = {}
