"""Keyword answer templates on Mercado Livre: the client reads each open question's text
(`question_text`, never stored) so a template whose keywords the buyer used is posted, and
a question it does not cover is left for the merchant (PostgreSQL, the real client against
the loopback sandbox)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from synchub_pipelines.defs.orders.questions import questions
from synchub_pipelines.defs.publishing import answers
from synchub_pipelines.defs.publishing.common import RunScope
from synchub_pipelines.marketplaces.publishing import QuestionTextClient
from synchub_pipelines_tests.publishing.merchant import Merchant, sandbox_environment

pytestmark = pytest.mark.postgres

BOOK = answers.AnswerBook(
    templates=[
        answers.Template(
            name="disponivel",
            # The merchant writes the accent; the buyer does not.
            keywords=["disponível", "pronta-entrega imediata"],
            text="Olá! Sim, temos {stock} unidade(s) de {title} para envio hoje.",
        )
    ]
)


@pytest.fixture
def merchant(sandbox_factory: Any, pg_url: str, tmp_path: Path) -> Iterator[Merchant]:
    running = sandbox_factory()
    with sandbox_environment(running), dg.instance_for_test() as instance:
        shop = Merchant(running, pg_url, tmp_path, ("mercadolivre",))
        shop.start(instance)
        yield shop


def ask(merchant: Merchant, item_id: str, text: str) -> str:
    base = merchant.running.base_url("mercadolivre")
    answer = httpx.post(
        f"{base}/_sandbox/questions", json={"item_id": item_id, "text": text}, timeout=30
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def run(merchant: Merchant, dry_run: bool, run_id: str) -> answers.AnswerReport:
    store = merchant.store("mercadolivre")
    return answers.run_answers(
        merchant.engine,
        merchant.client,
        BOOK,
        dry_run,
        RunScope(stores=frozenset({store})),
        run_id,
        0,
        datetime.now(UTC),
    )


def test_a_template_answers_the_question_it_covers_and_only_that(merchant: Merchant) -> None:
    store = merchant.store("mercadolivre")
    listing_id = sorted(
        x.listing_id for x in merchant.live_listings(store).values() if x.status.value == "active"
    )[0]
    covered = ask(merchant, listing_id, "Boa tarde, ainda esta DISPONIVEL na cor azul?")
    other = ask(merchant, listing_id, "Qual a voltagem? Serve em 220v?")
    merchant.materialize([questions], partition_key=store)
    client = merchant.client(store)
    try:
        reader: object = client
        assert isinstance(reader, QuestionTextClient)
        assert reader.question_text(other) == "Qual a voltagem? Serve em 220v?"
    finally:
        client.close()
    simulator = merchant.running.sandbox.simulators["mercadolivre"]
    posted = simulator.write_calls["answers.create"]

    dry = run(merchant, True, "dry")

    assert simulator.write_calls["answers.create"] == posted
    planned = {p.question_id: p for p in dry.plan}
    assert covered in planned and other not in planned
    assert planned[covered].rule == "template:disponivel"
    (title, stock) = merchant.query(
        "SELECT MIN(title), SUM(COALESCE(available_quantity, 0)) FROM listings "
        "WHERE store_id = :s AND listing_id = :l",
        s=store,
        l=listing_id,
    )[0]
    assert (
        planned[covered].text == f"Olá! Sim, temos {stock} unidade(s) de {title} para envio hoje."
    )

    real = run(merchant, False, "real")

    verdicts = {p.question_id: o.status for p, o in real.outcomes}
    assert verdicts[covered] == "written"
    assert other not in verdicts
    client = merchant.client(store)
    try:
        read = {q.question_id: q for q in client.get_questions([covered, other]).records}
    finally:
        client.close()
    assert read[covered].status == "ANSWERED"
    assert read[other].status == "UNANSWERED"
    # The warehouse keeps no buyer text: only the answer we posted is in the audit.
    (row,) = merchant.query(
        "SELECT rule, answer, status FROM answer_pushes WHERE run_id = 'real' AND question_id = :q",
        q=covered,
    )
    assert (row.rule, row.status) == ("template:disponivel", "written")
    assert "DISPONIVEL" not in row.answer
    after = simulator.write_calls["answers.create"]
    assert covered not in {p.question_id for p in run(merchant, False, "again").plan}
    assert simulator.write_calls["answers.create"] == after
