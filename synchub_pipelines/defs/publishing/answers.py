"""Answers to buyers' questions (Mercado Livre), from what the merchant keeps.

Two sources, in this order:
1. an answer written for one question: the `question_answers` table (the merchant's
   tools fill it) and the `answers` list of the answers file;
2. templates in the answers file ($SYNCHUB_ANSWERS_FILE, YAML; default `answers.yaml` in
   the data directory), chosen by keywords in the question's text:

       answers:
         - {store_id: mercadolivre-241551001, question_id: "13300000001", text: "Sim!"}
       templates:
         - name: stock
           keywords: [estoque, disponível, pronta entrega]
           text: "Olá! Temos {stock} unidade(s) de {title} para envio imediato."

   Placeholders: {title} (the listing's title), {stock} (units it publishes), {sku}.
   The question's text is read from the API when the answer is chosen and never stored
   (the warehouse keeps no buyer text, LGPD); a client that cannot read it gets no
   template answers (Mercado Livre's can: `GET /questions/{id}` → `text`). Keywords match
   ignoring case and accents, the first matching template wins.

Only open questions (`questions.status = 'UNANSWERED'`) are answered, once: a question
already answered by us (`answer_pushes`) or on the marketplace is never answered again.
An answered question is read back at once into `questions`, so the questions SLA moves.
"""

from __future__ import annotations

import os
import string
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import Engine

from synchub_pipelines import settings
from synchub_pipelines.defs.publishing.common import (
    PLANNED,
    ClientFactory,
    Outcome,
    RunScope,
    attempt,
    client_calls,
)
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.rows import question_batch
from synchub_pipelines.warehouse.schema_publishing import answer_pushes, question_answers

ANSWERS_FILE_ENV = "SYNCHUB_ANSWERS_FILE"
PLACEHOLDERS = {"title", "stock", "sku"}
# Mercado Livre takes answers up to 2000 characters.
MAX_ANSWER = 2000


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FixedAnswer(_Strict):
    store_id: str
    question_id: str
    text: str = Field(min_length=1, max_length=MAX_ANSWER)

    @field_validator("question_id", mode="before")
    @classmethod
    def _text_id(cls, value: Any) -> str:
        return str(value)


class Template(_Strict):
    name: str
    keywords: list[str] = Field(min_length=1)
    text: str = Field(min_length=1, max_length=MAX_ANSWER)
    stores: list[str] = Field(default_factory=list)

    @field_validator("text")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        used = {name for _, name, _, _ in string.Formatter().parse(value) if name}
        unknown = used - PLACEHOLDERS
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {', '.join(sorted(unknown))}; use "
                f"{', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}"
            )
        return value

    def matches(self, store_id: str, question: str) -> bool:
        if self.stores and store_id not in self.stores:
            return False
        folded = _fold(question)
        return any(_fold(k) in folded for k in self.keywords)


def _fold(text: str) -> str:
    """Case, accents and spacing folded: buyers write "disponivel" for "disponível"."""
    bare = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in bare if not unicodedata.combining(c)).split())


class AnswerBook(_Strict):
    answers: list[FixedAnswer] = Field(default_factory=list)
    templates: list[Template] = Field(default_factory=list)


def load_answers(path: str | None = None) -> AnswerBook:
    chosen = path or os.environ.get(ANSWERS_FILE_ENV, "").strip()
    source = Path(chosen) if chosen else settings.data_dir() / "answers.yaml"
    if not chosen and not source.exists():
        return AnswerBook()
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"the answers file {source} cannot be read: {exc}") from None
    try:
        return AnswerBook.model_validate(raw or {})
    except ValidationError as exc:
        raise ValueError(f"the answers file {source} is not valid: {exc}") from None


@dataclass(frozen=True)
class PlannedAnswer:
    store_id: str
    question_id: str
    tenant: str
    listing_id: str
    rule: str
    text: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.store_id, self.question_id)


@dataclass
class AnswerReport:
    plan: list[PlannedAnswer] = field(default_factory=list)
    unanswered: int = 0  # open questions no answer or template covers
    outcomes: list[tuple[PlannedAnswer, Outcome]] = field(default_factory=list)
    calls: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def written(self) -> int:
        return sum(1 for _, o in self.outcomes if o.ok)

    @property
    def problems(self) -> list[tuple[PlannedAnswer, Outcome]]:
        return [(p, o) for p, o in self.outcomes if o.status in ("refused", "failed")]


@dataclass(frozen=True)
class OpenQuestion:
    store_id: str
    question_id: str
    listing_id: str
    tenant: str
    title: str
    stock: int
    sku: str


def open_questions(engine: Engine, scope: RunScope) -> list[OpenQuestion]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT q.store_id, q.question_id, q.listing_id, s.tenant, "
                "MIN(l.title) AS title, SUM(COALESCE(l.available_quantity, 0)) AS stock, "
                "MIN(COALESCE(k.sku, l.seller_sku)) AS sku "
                "FROM questions q JOIN stores s ON s.store_id = q.store_id "
                "LEFT JOIN listings l ON l.store_id = q.store_id AND l.listing_id = q.listing_id "
                "LEFT JOIN listing_links k ON k.store_id = l.store_id "
                "AND k.listing_id = l.listing_id AND k.variation_id = l.variation_id "
                "WHERE q.status = 'UNANSWERED' AND NOT q.deleted_from_listing "
                "AND NOT EXISTS (SELECT 1 FROM answer_pushes a WHERE a.store_id = q.store_id "
                "AND a.question_id = q.question_id AND a.status = 'written') "
                "GROUP BY q.store_id, q.question_id, q.listing_id, s.tenant "
                "ORDER BY q.store_id, q.question_id"
            )
        ).all()
    return [
        OpenQuestion(
            r.store_id,
            r.question_id,
            r.listing_id,
            r.tenant,
            r.title or "",
            int(r.stock or 0),
            r.sku or "",
        )
        for r in rows
        if scope.covers(r.store_id, r.tenant)
    ]


def plan_answers(
    engine: Engine, book: AnswerBook, scope: RunScope, client_for: ClientFactory | None
) -> AnswerReport:
    report = AnswerReport()
    questions = open_questions(engine, scope)
    with engine.connect() as conn:
        fixed = {
            (r.store_id, r.question_id): r.text for r in conn.execute(sa.select(question_answers))
        }
    fixed.update({(a.store_id, a.question_id): a.text for a in book.answers})
    needs_text: dict[str, list[OpenQuestion]] = defaultdict(list)
    for q in questions:
        text = fixed.get((q.store_id, q.question_id))
        if text:
            report.plan.append(
                PlannedAnswer(q.store_id, q.question_id, q.tenant, q.listing_id, "question", text)
            )
        elif book.templates:
            needs_text[q.store_id].append(q)
        else:
            report.unanswered += 1
    for store_id, waiting in sorted(needs_text.items()):
        texts = _question_texts(client_for, store_id, [q.question_id for q in waiting])
        for q in waiting:
            asked = texts.get(q.question_id)
            template = next(
                (t for t in book.templates if asked and t.matches(store_id, asked)), None
            )
            if template is None:
                report.unanswered += 1
                continue
            text = template.text.format(title=q.title, stock=q.stock, sku=q.sku)
            report.plan.append(
                PlannedAnswer(
                    q.store_id,
                    q.question_id,
                    q.tenant,
                    q.listing_id,
                    f"template:{template.name}",
                    text[:MAX_ANSWER],
                )
            )
    return report


def _question_texts(
    client_for: ClientFactory | None, store_id: str, question_ids: Sequence[str]
) -> dict[str, str]:
    """The questions' texts from the API, in memory only; {} when the client cannot."""
    if client_for is None:
        return {}
    client = client_for(store_id)
    try:
        read = getattr(client, "question_text", None)
        if read is None:
            return {}
        found: dict[str, str] = {}
        for question_id in question_ids:
            text, outcome = attempt(partial(read, question_id))
            if outcome.ok and text:
                found[question_id] = str(text)
        return found
    finally:
        client.close()


def run_answers(
    engine: Engine,
    client_for: ClientFactory,
    book: AnswerBook,
    dry_run: bool,
    scope: RunScope,
    run_id: str,
    attempt_no: int,
    now: datetime,
) -> AnswerReport:
    report = plan_answers(engine, book, scope, client_for)
    if dry_run:
        report.outcomes = [(p, PLANNED) for p in report.plan]
        _audit(engine, run_id, attempt_no, now, report.outcomes, dry_run=True)
        return report
    by_store: dict[str, list[PlannedAnswer]] = defaultdict(list)
    for p in report.plan:
        by_store[p.store_id].append(p)
    for store_id, answers in sorted(by_store.items()):
        done: list[tuple[PlannedAnswer, Outcome]] = []
        client = client_for(store_id)
        try:
            if not hasattr(client, "answer_question"):
                skip = Outcome(
                    "skipped",
                    "unsupported",
                    f"the {type(client).__name__} has no questions to answer",
                )
                done = [(p, skip) for p in answers]
            else:
                for p in answers:
                    _, outcome = attempt(partial(client.answer_question, p.question_id, p.text))
                    done.append((p, outcome))
                _read_back(engine, client, [p.question_id for p, o in done if o.ok])
            report.calls[store_id] = client_calls(client)
        finally:
            client.close()
        _audit(engine, run_id, attempt_no, now, done, dry_run=False)
        report.outcomes += done
    return report


def _read_back(engine: Engine, client: Any, question_ids: list[str]) -> None:
    """The answered questions as the API now shows them, into `questions`: the questions
    SLA moves now, not when the next questions read happens to re-read them."""
    if not question_ids or not hasattr(client, "get_questions"):
        return
    page, outcome = attempt(partial(client.get_questions, question_ids))
    if outcome.ok and page is not None and page.records:
        upsert.write(engine, [question_batch(page.records)])


def _audit(
    engine: Engine,
    run_id: str,
    attempt_no: int,
    now: datetime,
    done: Sequence[tuple[PlannedAnswer, Outcome]],
    *,
    dry_run: bool,
) -> None:
    if not done:
        return
    audit = upsert.Batch.for_table(answer_pushes)
    audit.rows.extend(
        (
            run_id,
            attempt_no,
            *p.key,
            p.tenant,
            p.listing_id,
            dry_run,
            p.rule,
            p.text,
            o.status,
            o.code,
            o.message,
            now,
        )
        for p, o in done
    )
    upsert.write(engine, [audit])
