"""Price rules and answers on Mercado Livre, through the real client against the loopback
sandbox, into a throwaway PostgreSQL warehouse."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from synchub_pipelines.defs.orders.questions import questions
from synchub_pipelines.defs.publishing import answers, prices
from synchub_pipelines.defs.publishing.assets import prices_within_rules
from synchub_pipelines.defs.publishing.common import RunScope
from synchub_pipelines.defs.publishing.rules import PriceRule, RuleBook
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.schema_publishing import question_answers
from synchub_pipelines_tests.publishing.merchant import Merchant, sandbox_environment

pytestmark = pytest.mark.postgres


@pytest.fixture
def merchant(sandbox_factory: Any, pg_url: str, tmp_path: Path) -> Any:
    running = sandbox_factory()
    with sandbox_environment(running), dg.instance_for_test() as instance:
        shop = Merchant(running, pg_url, tmp_path, ("mercadolivre",))
        shop.start(instance)
        yield shop


def writes(shop: Merchant) -> dict[str, int]:
    return dict(shop.running.sandbox.simulators["mercadolivre"].write_calls)


def push(shop: Merchant, rules: RuleBook, run_id: str, **options: Any) -> prices.PriceReport:
    store = shop.store("mercadolivre")
    opts = prices.PriceOptions(scope=RunScope(stores=frozenset({store})), **options)
    return prices.run_prices(shop.engine, shop.client, rules, opts, run_id, 0, datetime.now(UTC))


def book(shop: Merchant, **rule: Any) -> RuleBook:
    return RuleBook(stores={shop.store("mercadolivre"): PriceRule(**rule)})


def test_price_rule_dry_run_then_real_then_nothing(merchant: Merchant) -> None:
    store = merchant.store("mercadolivre")
    rules = book(merchant, markup=Decimal("1.2"), rounding="0.90", max_change=Decimal("5"))
    before = writes(merchant)

    planned = push(merchant, rules, "dry", dry_run=True)

    assert writes(merchant) == before
    moving = [p for p in planned.plan if p.needs_write]
    assert moving
    for p in moving:
        assert p.target == (p.cost * Decimal("2.2")).quantize(Decimal("1")) - 1 + Decimal(
            "0.90"
        ) or str(p.target).endswith(".90")
        assert p.target >= p.floor
    rows = merchant.query("SELECT status, dry_run FROM price_pushes WHERE run_id = 'dry'")
    assert rows and {tuple(r) for r in rows} == {("planned", True)}

    done = push(merchant, rules, "real", dry_run=False)

    assert done.problems == []
    assert done.written == len(moving)
    single = next(p for p in moving if p.variation_id == "")
    live = merchant.live_listings(store)
    assert live[(single.listing_id, "")].price == single.target
    audit = merchant.query(
        "SELECT price_before, price_after, status FROM price_pushes WHERE run_id = 'real' "
        "AND listing_id = :l AND variation_id = ''",
        l=single.listing_id,
    )
    assert [(r.price_after, r.status) for r in audit] == [(single.target, "written")]

    after = writes(merchant)
    again = push(merchant, rules, "again", dry_run=False)
    assert writes(merchant) == after
    assert again.outcomes == []


def test_damage_limit_and_floor_refuse_before_any_write(merchant: Merchant) -> None:
    tight = book(merchant, markup=Decimal("3"), max_change=Decimal("0.01"))
    before = writes(merchant)

    report = push(merchant, tight, "tight", dry_run=False)

    assert writes(merchant) == before
    codes = {o.code for _, o in report.outcomes}
    assert codes == {"damage_limit"}
    assert all("run with force" in (o.message or "") for _, o in report.outcomes)
    # The plan's blocking check sees the same rows.
    with merchant.engine.connect() as conn:
        offending = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM price_plan WHERE NOT forced AND current_price IS NOT NULL "
            "AND target_price <> current_price AND ABS(change_share) > max_change_share"
        ).scalar_one()
    assert offending == len(report.outcomes) > 0
    assert prices_within_rules.check_specs

    now = datetime.now(UTC)
    promo = {
        "start": now.replace(year=now.year - 1),
        "end": now.replace(year=now.year + 1),
        "fixed_price": Decimal("1.00"),
    }
    cheap = book(merchant, markup=Decimal("1"), max_change=Decimal("5"), promotion=promo)
    report = push(merchant, cheap, "cheap", dry_run=False, force=True)
    assert writes(merchant) == before
    assert {o.code for _, o in report.outcomes} == {"below_floor"}


def test_an_answer_is_posted_once_and_read_back(merchant: Merchant) -> None:
    store = merchant.store("mercadolivre")
    merchant.materialize([questions], partition_key=store)
    open_ = merchant.query(
        "SELECT question_id FROM questions WHERE store_id = :s AND status = 'UNANSWERED' "
        "AND NOT deleted_from_listing ORDER BY question_id",
        s=store,
    )
    assert open_, "the sandbox world should have an open question"
    question_id = open_[0].question_id
    rows = upsert.Batch.for_table(question_answers)
    rows.rows.append(
        (store, question_id, "Olá! Sim, temos em estoque.", "table", datetime.now(UTC))
    )
    upsert.write(merchant.engine, [rows])
    scope = RunScope(stores=frozenset({store}))
    before = writes(merchant)

    dry = answers.run_answers(
        merchant.engine,
        merchant.client,
        answers.AnswerBook(),
        True,
        scope,
        "dry",
        0,
        datetime.now(UTC),
    )

    assert writes(merchant) == before
    assert [(p.question_id, o.status) for p, o in dry.outcomes] == [(question_id, "planned")]

    real = answers.run_answers(
        merchant.engine,
        merchant.client,
        answers.AnswerBook(),
        False,
        scope,
        "real",
        0,
        datetime.now(UTC),
    )

    assert [(p.question_id, o.status) for p, o in real.outcomes] == [(question_id, "written")]
    client = merchant.client(store)
    try:
        read = client.get_questions([question_id]).records[0]
    finally:
        client.close()
    assert read.status == "ANSWERED"
    # Read back into `questions` at once (the SLA moves); nothing is answered twice.
    status = merchant.query(
        "SELECT status, answer_length FROM questions WHERE store_id = :s AND question_id = :q",
        s=store,
        q=question_id,
    )[0]
    assert status.status == "ANSWERED" and status.answer_length == len(
        "Olá! Sim, temos em estoque."
    )
    after = writes(merchant)
    again = answers.run_answers(
        merchant.engine,
        merchant.client,
        answers.AnswerBook(),
        False,
        scope,
        "again",
        0,
        datetime.now(UTC),
    )
    assert again.plan == [] and writes(merchant) == after
