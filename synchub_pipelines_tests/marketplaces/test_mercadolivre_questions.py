"""Mercado Livre questions: the official example, then the client against the sandbox.

The sandbox's questions are checked against its own search read over plain HTTP here (an
independent walk of the paging), and against what the test itself asks and answers.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from synchub_pipelines.marketplaces import mercadolivre
from synchub_pipelines.marketplaces.mercadolivre import parse_questions
from synchub_pipelines.models import Question
from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines_tests.conftest import ANCHOR, PAYLOADS
from synchub_pipelines_tests.marketplaces.test_mercadolivre_client import (
    Connected,
    connect,
    set_clock,
)
from synchub_pipelines_tests.sandbox.test_mercadolivre_contract import assert_error, bearer

STORE_ID = "mercadolivre-189394110"


def test_official_search_example_parses_without_text_or_buyer() -> None:
    body = json.loads((PAYLOADS / "mercadolivre" / "questions_search_doc_example.json").read_text())
    page = parse_questions(body["questions"], STORE_ID)

    assert page.rejects == []
    assert page.records == [
        Question(
            store_id=STORE_ID,
            question_id="11764931832",
            listing_id="MLA903218023",
            status="ANSWERED",
            asked_at=datetime(2021, 2, 16, 18, 50, 27, 938000, tzinfo=UTC),
            answered_at=datetime(2021, 2, 16, 18, 52, 13, 580000, tzinfo=UTC),
            answer_length=0,  # a banned answer's text comes back empty
            answer_status="BANNED",
            deleted_from_listing=False,
            hold=False,
        )
    ]
    dumped = page.records[0].model_dump_json()
    assert "Texto de la pregunta" not in dumped and "162981404" not in dumped


def test_a_malformed_question_is_rejected_and_the_rest_parse() -> None:
    body = json.loads((PAYLOADS / "mercadolivre" / "questions_search_doc_example.json").read_text())
    good = body["questions"][0]
    bad = {**good, "id": 1, "date_created": "ontem"}
    page = parse_questions([bad, good], STORE_ID)
    assert [q.question_id for q in page.records] == ["11764931832"]
    assert [(r.record_key, r.source) for r in page.rejects] == [("1", "mercadolivre.questions")]
    assert "date_created" in page.rejects[0].reason


@pytest.fixture
def ml(sandbox: RunningSandbox) -> Iterator[Connected]:
    set_clock(sandbox, ANCHOR)
    connected = connect(sandbox)
    yield connected
    connected.client.close()


def api(ml: Connected) -> httpx.Client:
    token = ml.tokens.load(ml.store.store_id)
    assert token is not None
    client = httpx.Client(base_url=ml.running.base_url("mercadolivre"), timeout=10)
    client.headers.update(bearer({"access_token": token.access_token.get_secret_value()}))
    return client


def all_questions_over_http(ml: Connected) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    with api(ml) as client:
        offset = 0
        while True:
            params = {"seller_id": ml.seller.seller_id, "api_version": 4, "offset": offset}
            body = client.get("/questions/search", params=params).json()
            found += body["questions"]
            offset += body["limit"]
            if offset >= body["total"]:
                return found


def collect(ml: Connected, since: datetime | None = None) -> list[Question]:
    out: list[Question] = []
    for page in ml.client.iter_questions(since):
        assert page.rejects == []
        out += page.records
    return out


def test_iter_questions_reads_every_question_newest_first(ml: Connected) -> None:
    expected = {str(q["id"]): q for q in all_questions_over_http(ml)}
    questions = collect(ml)

    assert [q.question_id for q in questions].count(questions[0].question_id) == 1
    assert {q.question_id for q in questions} == set(expected)
    assert [q.asked_at for q in questions] == sorted((q.asked_at for q in questions), reverse=True)
    statuses = Counter(q.status for q in questions)
    assert statuses["ANSWERED"] and statuses["UNANSWERED"], statuses
    assert set(statuses) - {"ANSWERED", "UNANSWERED"}, "some are moderated"
    for question in questions:
        raw = expected[question.question_id]
        assert question.status == raw["status"]
        assert question.listing_id == raw["item_id"]
        assert question.asked_at == datetime.fromisoformat(raw["date_created"])
        if raw["answer"]:
            assert question.answered_at == datetime.fromisoformat(raw["answer"]["date_created"])
            assert question.answer_length == len(raw["answer"]["text"])
            assert question.answered_at > question.asked_at  # a real response time
        else:
            assert question.answered_at is None and question.answer_length is None
        assert question.hold == raw["hold"]
        assert question.deleted_from_listing == raw["deleted_from_listing"]


def test_since_stops_at_older_questions(ml: Connected) -> None:
    everything = collect(ml)
    since = everything[len(everything) // 2].asked_at
    wanted = {q.question_id for q in everything if q.asked_at >= since}
    operations: list[dict[str, Any]] = []
    original = ml.client._call

    def spy(operation: str, method: str, path: str, **kw: Any) -> httpx.Response:
        operations.append(dict(kw.get("params") or {}))
        return original(operation, method, path, **kw)

    ml.client._call = spy  # type: ignore[method-assign]
    recent = collect(ml, since)
    assert {q.question_id for q in recent} == wanted
    assert len(operations) == 1  # the first page already reached `since`


def test_past_the_offset_reach_questions_are_read_item_by_item(
    ml: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = {q.question_id for q in collect(ml)}
    monkeypatch.setattr(mercadolivre, "QUESTIONS_PAGE", 3)
    monkeypatch.setattr(mercadolivre, "QUESTIONS_OFFSET_REACH", 6)
    assert len(everything) > 6
    seen_items = Counter[str]()
    original = ml.client._call

    def spy(operation: str, method: str, path: str, **kw: Any) -> httpx.Response:
        item = (kw.get("params") or {}).get("item")
        if item:
            seen_items[item] += 1
        return original(operation, method, path, **kw)

    ml.client._call = spy  # type: ignore[method-assign]
    questions = collect(ml)
    ids = [q.question_id for q in questions]
    assert len(ids) == len(set(ids))
    assert set(ids) == everything
    assert seen_items, "the fallback searched item by item"


def test_a_question_asked_and_answered_at_runtime(ml: Connected) -> None:
    listing = ml.running.sandbox.world.listings_of(ml.seller)[0]
    set_clock(ml.running, ANCHOR + timedelta(days=1))
    asked = httpx.post(
        f"{ml.running.base_url('mercadolivre')}/_sandbox/questions",
        json={"item_id": f"MLB{listing.listing_number}", "text": "Tem na cor azul?"},
    )
    assert asked.status_code == 201, asked.text
    question_id = str(asked.json()["id"])
    moment = ml.running.sandbox.clock.now() - timedelta(seconds=1)

    (fresh,) = collect(ml, since=moment)
    assert (fresh.question_id, fresh.status, fresh.answered_at) == (question_id, "UNANSWERED", None)

    set_clock(ml.running, ANCHOR + timedelta(days=1, hours=2))
    answer = "Olá! Temos sim, na variação Azul."
    with api(ml) as client:
        answered = client.post("/answers", json={"question_id": int(question_id), "text": answer})
        assert answered.status_code == 200, answered.text
        again = client.post("/answers", json={"question_id": int(question_id), "text": answer})
        assert_error(again, 400)
        assert_error(client.post("/answers", json={"question_id": int(question_id)}), 400)

    page = ml.client.get_questions([question_id, "13999999999"])
    assert page.rejects == []
    (got,) = page.records  # the unknown id is absent
    assert got.status == "ANSWERED"
    assert got.answer_length == len(answer)
    assert got.answer_status == "ACTIVE"
    # Two hours on the sandbox's clock, plus the instants spent between the calls.
    assert got.answered_at is not None
    assert abs(got.answered_at - got.asked_at - timedelta(hours=2)) < timedelta(seconds=30)


def test_search_limits_and_errors_use_the_ml_envelope(ml: Connected) -> None:
    seller = ml.seller.seller_id
    other = ml.running.sandbox.world.sellers_of("mercadolivre")[1].seller_id
    with api(ml) as client:
        base = {"seller_id": seller, "api_version": 4}
        assert client.get("/questions/search", params={**base, "limit": 50}).status_code == 200
        assert_error(client.get("/questions/search", params={**base, "limit": 51}), 400)
        assert_error(
            client.get("/questions/search", params={**base, "offset": 960, "limit": 50}), 400
        )
        assert client.get("/questions/search", params={**base, "offset": 950}).status_code == 200
        assert_error(client.get("/questions/search", params={"seller_id": seller}), 400)
        assert_error(client.get("/questions/search", params={**base, "seller_id": other}), 403)
        assert_error(client.get("/questions/search", params={**base, "status": "MAYBE"}), 400)
        assert_error(client.get("/questions/13999999999"), 404, "not_found")
        unanswered = client.get(
            "/questions/search", params={**base, "status": "UNANSWERED", "sort_types": "DESC"}
        ).json()
        assert {q["status"] for q in unanswered["questions"]} == {"UNANSWERED"}
        dates = [q["date_created"] for q in unanswered["questions"]]
        assert dates == sorted(dates, reverse=True)
    assert_error(httpx.get(f"{ml.running.base_url('mercadolivre')}/questions/search"), 401)
