"""The five bad-input classes that once got a 5xx: each is a 4xx now, and nothing is stored.

Every test runs on SQLite and on PostgreSQL (PostgreSQL is where three of them failed: it
refuses NUL and lone surrogates in text, and a long key overflows its index row).
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import string
from collections.abc import Iterator
from typing import Any

import httpx

from synchub_pipelines.webhooks.config import MARKETPLACES
from synchub_pipelines.webhooks.verify import MAX_JSON_DEPTH
from synchub_pipelines_tests.webhooks.harness import (
    Sent,
    event_rows,
    payload,
    prepare_warehouse,
    receiver_settings,
    signed,
)

BODY_LIMIT = 64 * 1024  # the default: large enough that a 6,000-character id gets to verify

# Where each marketplace names ids and its topic (dotted: inside `data`).
ID_FIELDS = {
    "mercadolivre": ["_id", "user_id"],
    "shopee": ["shop_id", "data.ordersn"],
    "tiktok": ["tts_notification_id", "shop_id", "data.order_id"],
    "bling": ["eventId", "companyId", "data.id"],
}
TOPIC_FIELDS = {"mercadolivre": "topic", "shopee": "code", "tiktok": "type", "bling": "event"}


def _long_id(length: int = 6000, seed: int = 0) -> str:
    # Random letters: PostgreSQL compresses an index entry, and "x" * 6000 would fit.
    return "".join(random.Random(seed).choices(string.ascii_letters + string.digits, k=length))


def _with(body: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    changed = json.loads(json.dumps(body))
    *parents, name = field.split(".")
    target = changed
    for parent in parents:
        target = target[parent]
    target[name] = value
    return changed


def _sent(marketplace: str, body: dict[str, Any]) -> Sent:
    # json.dumps escapes: "\x00" travels as \u0000 and "\ud800" as \ud800, as an attacker
    # would send them.
    return signed(marketplace, json.dumps(body).encode())


def _post(url: str, sent: Sent) -> httpx.Response:
    return httpx.post(url + sent.path, content=sent.body, headers=sent.headers, timeout=30)


def _deep(marketplace: str, body: dict[str, Any], depth: int) -> Sent:
    """`body` with a field `x` nested `depth` deep (written by hand: json.dumps would
    itself run out of stack)."""
    nested = '{"a":' * depth + "1" + "}" * depth
    return signed(marketplace, (json.dumps(body)[:-1] + f', "x": {nested}}}').encode())


def _poisoned(tag: str) -> Iterator[tuple[str, Sent]]:
    """(what is wrong, request) for every bad-input class on every marketplace."""
    for marketplace in MARKETPLACES:
        good = payload(marketplace, f"{tag}-{marketplace}")
        yield f"{marketplace}: 3,000 levels deep", _deep(marketplace, good, 3000)
        for field in [*ID_FIELDS[marketplace], TOPIC_FIELDS[marketplace]]:
            for what, value in (("NUL", "A\x00B"), ("lone surrogate", "A\ud800B")):
                yield (
                    f"{marketplace}: {what} in {field}",
                    _sent(marketplace, _with(good, field, value)),
                )
        for field in ID_FIELDS[marketplace]:
            long = _with(good, field, _long_id())
            yield f"{marketplace}: 6,000 characters in {field}", _sent(marketplace, long)
    ml = payload("mercadolivre", f"{tag}-resource")
    yield "resource with NUL", _sent("mercadolivre", _with(ml, "resource", "/orders/1\x002"))
    yield "resource too long", _sent("mercadolivre", _with(ml, "resource", "/" + _long_id()))


def test_every_poisoned_field_is_a_400_and_nothing_is_stored(warehouse_url, serve_receiver) -> None:  # type: ignore[no-untyped-def]
    engine = prepare_warehouse(warehouse_url)
    receiver = serve_receiver(receiver_settings(warehouse_url, max_body_bytes=BODY_LIMIT))
    answers = {what: _post(receiver.url, sent) for what, sent in _poisoned("P")}
    assert {what: r.status_code for what, r in answers.items()} == dict.fromkeys(answers, 400)
    assert event_rows(engine) == []
    messages = {what: r.json()["error"] for what, r in answers.items()}
    assert (
        messages["bling: 3,000 levels deep"] == f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    )
    assert messages["tiktok: 6,000 characters in shop_id"] == (
        "field shop_id is longer than 128 characters"
    )
    assert messages["shopee: NUL in data.ordersn"].startswith("field data.ordersn must be ASCII")


def test_nul_and_surrogate_escapes_outside_ids_are_stored_as_sent(
    warehouse_url, serve_receiver
) -> None:  # type: ignore[no-untyped-def]
    engine = prepare_warehouse(warehouse_url)
    receiver = serve_receiver(receiver_settings(warehouse_url, max_body_bytes=BODY_LIMIT))
    sent = _sent("bling", _with(payload("bling", "B-ESCAPES"), "note", "A\x00B\ud800C"))
    assert b"\\u0000" in sent.body and b"\\ud800" in sent.body
    assert _post(receiver.url, sent).status_code == 200
    # Nested 32 deep is still a notification.
    at_limit = _deep("tiktok", payload("tiktok", "T-DEEP"), MAX_JSON_DEPTH - 1)
    assert _post(receiver.url, at_limit).status_code == 200
    rows = {row.event_key: row for row in event_rows(engine)}
    assert rows["bling:B-ESCAPES"].payload.encode() == sent.body
    assert set(rows) == {"bling:B-ESCAPES", "tiktok:T-DEEP"}


def test_an_oversized_body_gets_413_before_the_configuration_check(
    warehouse_url, serve_receiver
) -> None:  # type: ignore[no-untyped-def]
    engine = prepare_warehouse(warehouse_url)
    receiver = serve_receiver(
        receiver_settings(warehouse_url, max_body_bytes=BODY_LIMIT, bling_client_secret="")
    )
    url = receiver.url + "/webhooks/bling"
    three_mb = b"x" * 3_000_000
    with httpx.Client(timeout=30) as client:
        assert client.post(url, content=three_mb).status_code == 413
        assert client.post(url, content=b"{}").status_code == 503  # small: configuration
        chunked = client.post(
            url, content=iter([three_mb[i : i + 65536] for i in range(0, 3_000_000, 65536)])
        )
        assert chunked.status_code == 413

    # Judged on the header alone: the answer comes while the body has not been sent at all.
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=30) as raw:
        raw.sendall(
            b"POST /webhooks/bling HTTP/1.1\r\nHost: receiver\r\nContent-Length: 3000000\r\n\r\n"
        )
        assert raw.recv(4096).startswith(b"HTTP/1.1 413 ")
        # The body, sent after all, is discarded and the connection serves the next request.
        raw.sendall(
            three_mb + b"POST /webhooks/bling HTTP/1.1\r\nHost: r\r\nContent-Length: 2\r\n\r\n{}"
        )
        answer = b""
        while b"not configured" not in answer:
            chunk = raw.recv(4096)
            assert chunk, f"connection closed after {answer!r}"
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 503 ")
    assert event_rows(engine) == []


def test_forty_concurrent_notifications_with_poisoned_ones_among_them(
    warehouse_url, serve_receiver
) -> None:  # type: ignore[no-untyped-def]
    """The issue's case: 24 of 40 valid notifications got 503 when a long id was among them."""
    engine = prepare_warehouse(warehouse_url)
    receiver = serve_receiver(receiver_settings(warehouse_url, max_body_bytes=BODY_LIMIT))
    valid = [
        _sent(marketplace, payload(marketplace, f"V{i:02d}-{marketplace}"))
        for i in range(8)
        for marketplace in MARKETPLACES
    ]
    bling = payload("bling", "X")
    poisoned = [
        _sent("bling", _with(bling, "eventId", _long_id(seed=1))),
        _sent("tiktok", _with(payload("tiktok", "X"), "shop_id", _long_id(seed=2))),
        _sent("mercadolivre", _with(payload("mercadolivre", "X"), "_id", "A\x00B")),
        _sent("shopee", _with(payload("shopee", "X"), "data.ordersn", "A\ud800B")),
        _sent("bling", _with(bling, "event", "order.\x00")),
        _deep("bling", bling, 3000),
        signed("bling", b'{"eventId":' + b"9" * 5000 + b"}"),
        signed("tiktok", b"x" * (BODY_LIMIT + 1)),
    ]
    order = [*valid, *poisoned]
    random.Random(40).shuffle(order)
    assert len(order) == 40

    async def send_all() -> list[int]:
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=receiver.url, limits=limits, timeout=30) as client:
            answers = await asyncio.gather(
                *(client.post(s.path, content=s.body, headers=s.headers) for s in order)
            )
        return [a.status_code for a in answers]

    statuses = dict(zip(map(id, order), asyncio.run(send_all()), strict=True))
    assert [statuses[id(s)] for s in valid] == [200] * len(valid)
    assert sorted(statuses[id(s)] for s in poisoned) == [400] * 7 + [413]
    rows = event_rows(engine)
    assert len(rows) == len(valid) == len({r.event_key for r in rows})
    assert sorted(r.payload.encode() for r in rows) == sorted(s.body for s in valid)
