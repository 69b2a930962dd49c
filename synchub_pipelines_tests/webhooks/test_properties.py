"""Whatever arrives, the receiver never answers 5xx, stores nothing it refuses, and stores
every event it accepts exactly once (hypothesis, against the served receiver, database up).

Each example is a small group of requests sent at once, so accepted and refused events
share group commits: notifications built from valid ones and then damaged (fields set to
arbitrary JSON, NUL and lone surrogates, long ids, deep nesting, non-UTF-8 encodings, fields
dropped), arbitrary bytes signed correctly, junk signatures and headers, oversized and
chunked bodies, and the other routes.

The expected answer for a notification comes from the receiver's own verifier: the
property under test is that the HTTP answer, verify's verdict and the stored rows agree,
and that an untouched valid notification is always accepted. Bounded for CI: a fixed
number of examples, each under a deadline, no example database written.
"""

from __future__ import annotations

import asyncio
import json
import random
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from synchub_pipelines.warehouse.schema import webhook_events
from synchub_pipelines.webhooks.config import MARKETPLACES, ReceiverSettings
from synchub_pipelines.webhooks.verify import Rejected
from synchub_pipelines_tests.webhooks.harness import (
    KNOWN_STORES,
    payload,
    prepare_warehouse,
    receiver_settings,
    signed,
)

LIMIT = 32 * 1024  # room for 3,000 levels of nesting and 6,000-character ids
KNOWN_STORE_IDS = {f"{m}-{seller}" for m, seller in KNOWN_STORES.items()}
FIELDS = {
    "mercadolivre": ["_id", "user_id", "topic", "resource", "application_id"],
    "shopee": ["shop_id", "code", "data", "data.ordersn"],
    "tiktok": ["tts_notification_id", "shop_id", "type", "data", "data.order_id"],
    "bling": ["eventId", "companyId", "event", "data", "data.id"],
}
OTHER_ROUTES = [
    ("GET", "/healthz"),
    ("POST", "/healthz"),
    ("GET", "/webhooks/bling"),
    ("PUT", "/webhooks/shopee"),
    ("POST", "/webhooks/amazon"),
    ("POST", "/"),
]

PROPERTY_SETTINGS = settings(
    max_examples=80,
    deadline=timedelta(seconds=20),
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one receiver and warehouse for all examples
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@dataclass
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, bytes] = field(default_factory=dict)
    chunked: bool = False
    intact: bool = False  # a valid notification, untouched

    @property
    def marketplace(self) -> str | None:
        name = self.path.removeprefix("/webhooks/")
        return name if self.method == "POST" and name in MARKETPLACES else None


tokens = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,11}", fullmatch=True)
nasty_text = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.characters(codec=None, min_codepoint=0xD800, max_codepoint=0xDFFF),
        st.sampled_from('\x00\t\n "\\/[]{}'),
    ),
    max_size=12,
)
poison = st.one_of(
    st.sampled_from(["", " ", "\x00", "A\x00B", "\ud800", "x\udfffy", "..", "a/b", "1 2", "é"]),
    st.integers(min_value=120, max_value=6000).map(lambda n: "A" * n),
    nasty_text,
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), tokens, poison)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
# Around the limit, and far past the interpreter's recursion limit.
depths = st.one_of(
    st.sampled_from([31, 32, 33, 1500, 3000]), st.integers(min_value=20, max_value=3000)
)
header_values = st.binary(max_size=40).map(
    lambda raw: bytes(c for c in raw if c >= 0x20 and c != 0x7F).strip(b" ")
)


def _set(body: dict[str, Any], dotted: str, value: Any, drop: bool = False) -> None:
    *parents, name = dotted.split(".")
    target: Any = body
    for parent in parents:
        target = target.get(parent) if isinstance(target, dict) else None
    if isinstance(target, dict):
        if drop:
            target.pop(name, None)
        else:
            target[name] = value


def _nested(depth: int, opener: str) -> bytes:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return (opener * depth + "1" + closer * depth).encode()


@st.composite
def notifications(draw: st.DrawFn) -> Request:
    marketplace = draw(st.sampled_from(MARKETPLACES))
    seller = draw(st.sampled_from([None, "777"]))  # a known store, or one not connected
    body = payload(marketplace, draw(tokens), seller)
    damage = draw(st.lists(st.sampled_from(["set", "drop", "extra", "deep", "whole"]), max_size=2))
    for kind in damage:
        if kind == "set":
            replacement = draw(st.one_of(poison, json_values, tokens))
            _set(body, draw(st.sampled_from(FIELDS[marketplace])), replacement)
        elif kind == "drop":
            _set(body, draw(st.sampled_from(FIELDS[marketplace])), None, drop=True)
        elif kind == "extra":
            body[draw(st.text(max_size=6))] = draw(json_values)
    document: Any = draw(json_values) if "whole" in damage else body
    ascii_only = draw(st.booleans())
    # surrogatepass: with ensure_ascii off, a lone surrogate becomes bytes that are not UTF-8.
    raw = json.dumps(document, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    if "deep" in damage and raw.endswith(b"}"):
        depth = draw(depths)
        raw = raw[:-1] + b',"deep":' + _nested(depth, draw(st.sampled_from(["[", '{"a":'])))
        raw += b"}"
    request = _request(draw, marketplace, raw)
    request.intact = not damage and request.intact
    return request


def _request(draw: st.DrawFn, marketplace: str, body: bytes) -> Request:
    """`body` to `marketplace`: signed as it signs, or not, or with junk; plus junk headers.
    `intact` says whether the signature is the right one."""
    headers = {k: v.encode() for k, v in signed(marketplace, body).headers.items()}
    how = draw(st.sampled_from(["signed", "signed", "signed", "unsigned", "junk"]))
    signature = "x-bling-signature-256" if marketplace == "bling" else "authorization"
    if marketplace != "mercadolivre" and how != "signed":
        headers[signature] = draw(header_values)
        if how == "unsigned":
            del headers[signature]
    extra = draw(
        st.dictionaries(
            st.from_regex(r"x-[a-z0-9-]{1,8}", fullmatch=True), header_values, max_size=2
        )
    )
    return Request(
        "POST",
        f"/webhooks/{marketplace}",
        body,
        {**headers, **extra},
        chunked=draw(st.booleans()),
        intact=how == "signed" or marketplace == "mercadolivre",
    )


@st.composite
def raw_bodies(draw: st.DrawFn) -> Request:
    marketplace = draw(st.sampled_from(MARKETPLACES))
    body = draw(
        st.one_of(
            st.binary(max_size=300),
            nasty_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
            depths.flatmap(
                lambda depth: st.sampled_from(["[", '{"a":']).map(lambda o: _nested(depth, o))
            ),
            st.integers(min_value=1, max_value=20_000).map(lambda extra: b" " * (LIMIT + extra)),
        )
    )
    request = _request(draw, marketplace, body)
    request.intact = False
    return request


other_routes = st.sampled_from(OTHER_ROUTES).map(lambda route: Request(*route))
requests = st.one_of(notifications(), notifications(), raw_bodies(), other_routes)


@st.composite
def groups(draw: st.DrawFn) -> list[Request]:
    group = draw(st.lists(requests, min_size=1, max_size=5))
    if draw(st.booleans()):  # the same request twice in one moment: stored once
        group.append(group[0])
    return group


def _sent(marketplace: str, body: bytes, *, chunked: bool = False, intact: bool = False) -> Request:
    headers = {k: v.encode() for k, v in signed(marketplace, body).headers.items()}
    return Request("POST", f"/webhooks/{marketplace}", body, headers, chunked, intact)


def _issue_cases() -> list[Request]:
    """The five classes that once got a 5xx, sent together with valid peers: tried on
    every run, whatever hypothesis draws besides."""
    long_id = "".join(random.Random(13).choices(string.ascii_letters, k=6000))
    ml = json.dumps(payload("mercadolivre", "ML-DEEP")).encode()
    return [
        _sent("mercadolivre", ml[:-1] + b',"x":' + _nested(3000, '{"a":') + b"}"),
        _sent("bling", json.dumps({**payload("bling", "B"), "eventId": "A\x00B"}).encode()),
        _sent("tiktok", json.dumps({**payload("tiktok", "T"), "type": "\ud800"}).encode()),
        _sent("shopee", json.dumps(payload("shopee", long_id)).encode()),
        _sent("bling", b" " * (3 * LIMIT)),
        _sent("tiktok", b" " * (3 * LIMIT), chunked=True),
        _sent("bling", json.dumps(payload("bling", "PEER-1")).encode(), intact=True),
        _sent("shopee", json.dumps(payload("shopee", "PEER-2")).encode(), intact=True),
    ]


def _expected(request: Request, verifiers: dict[str, Any]) -> tuple[str | None, int | None]:
    """(the event key the receiver must store, the 2xx it must answer), or (None, None)."""
    marketplace = request.marketplace
    if marketplace is None or len(request.body) > LIMIT:
        return None, None
    headers = {name.lower(): value.decode("latin-1") for name, value in request.headers.items()}
    try:
        notification = verifiers[marketplace].verify(headers, request.body)
    except Rejected:
        return None, None
    except Exception:  # a verify bug: the receiver must still answer below 500
        return None, None
    known = marketplace == "bling" or notification.store_id in KNOWN_STORE_IDS
    return notification.event_key, 200 if known else 202


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 4096):
        yield body[start : start + 4096]


async def _send(url: str, group: list[Request]) -> list[int]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        answers = await asyncio.gather(
            *(
                client.request(
                    r.method,
                    r.path,
                    content=_chunks(r.body) if r.chunked else r.body,
                    headers=[(name.encode(), value) for name, value in r.headers.items()],
                )
                for r in group
            )
        )
    return [answer.status_code for answer in answers]


def _stored(engine: sa.Engine, keys: set[str]) -> tuple[int, set[str]]:
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(webhook_events)).scalar_one()
        found = conn.execute(
            sa.select(webhook_events.c.event_key).where(webhook_events.c.event_key.in_(keys))
        ).scalars()
        return total, set(found)


def test_any_request_is_answered_below_500_and_stored_iff_accepted(
    warehouse_url, serve_receiver
) -> None:  # type: ignore[no-untyped-def]
    engine = prepare_warehouse(warehouse_url)
    settings_: ReceiverSettings = receiver_settings(warehouse_url, max_body_bytes=LIMIT)
    receiver = serve_receiver(settings_)
    verifiers = settings_.verifiers()

    @PROPERTY_SETTINGS
    @given(groups())
    @example(_issue_cases())
    def check(group: list[Request]) -> None:
        expected = [_expected(request, verifiers) for request in group]
        keys = {key for key, _ in expected if key is not None}
        rows_before, stored_before = _stored(engine, keys)
        statuses = asyncio.run(_send(receiver.url, group))
        rows_after, stored_after = _stored(engine, keys)

        for request, (key, accepted), status in zip(group, expected, statuses, strict=True):
            assert status < 500, (request, status)
            if request.intact:
                assert key is not None, request  # verify accepts every valid notification
            if request.marketplace is not None:
                # 200/202 exactly when verify accepts (and the body is within the limit).
                if key is not None:
                    assert status == accepted, (request, status)
                else:
                    assert 400 <= status < 500, (request, status)
                event(f"{request.marketplace}: {status}")
            elif request.path == "/healthz" and request.method == "GET":
                assert status == 200
            else:
                assert status in (404, 405), (request, status)
        # Every accepted event is stored, once (event_key is the primary key); a refused
        # one adds nothing: the row count grows by exactly the new accepted keys.
        assert stored_after == keys
        assert rows_after - rows_before == len(keys - stored_before)

    check()
    engine.dispose()
