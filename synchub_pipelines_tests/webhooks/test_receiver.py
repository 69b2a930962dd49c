"""The receiver over real HTTP on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx

from synchub_pipelines_tests.webhooks.harness import (
    MAX_BODY,
    Sent,
    bling,
    bling_signed,
    event_rows,
    mercadolivre,
    prepare_warehouse,
    receiver_settings,
    shopee,
    shopee_signed,
    tiktok,
    tiktok_signed,
)


def post(url: str, sent: Sent, **kw: object) -> httpx.Response:
    return httpx.post(url + sent.path, content=sent.body, headers=sent.headers, timeout=10, **kw)  # type: ignore[arg-type]


def _without(sent: Sent, header: str) -> Sent:
    return Sent(sent.marketplace, sent.body, {k: v for k, v in sent.headers.items() if k != header})


def _bad_inputs() -> Iterator[tuple[str, Sent, int]]:
    """(what is wrong, the request, the status it must get) for every marketplace."""
    wrong_key = "not-the-secret"
    signers = {
        "shopee": (shopee_signed, "authorization"),
        "tiktok": (tiktok_signed, "authorization"),
        "bling": (bling_signed, "x-bling-signature-256"),
    }
    for good in (shopee("SHP-BAD-1"), tiktok("TT-BAD-1"), bling("BL-BAD-1")):
        resign, header = signers[good.marketplace]
        name = good.marketplace
        yield f"{name}: missing signature", _without(good, header), 401
        yield f"{name}: wrong key", resign(good.body, wrong_key), 401
        tampered = Sent(name, good.body.replace(b"BAD-1", b"BAD-2"), good.headers)
        yield f"{name}: body changed after signing", tampered, 401
        yield f"{name}: malformed JSON", resign(b'{"shop_id": 1, "code": 3,'), 400
        yield f"{name}: not an object", resign(b"[1, 2]"), 400
        oversized = json.loads(good.body)
        oversized["padding"] = "x" * MAX_BODY
        yield f"{name}: over the size limit", resign(json.dumps(oversized).encode()), 413
    yield "shopee: missing shop_id", shopee_signed(b'{"code":3,"data":{"ordersn":"A1"}}'), 400
    no_ordersn = b'{"shop_id":600001,"code":3,"data":{}}'
    yield "shopee: order code without ordersn", shopee_signed(no_ordersn), 400
    no_order_id = b'{"type":1,"shop_id":"7494049642642441621","data":{}}'
    yield "tiktok: order type without order_id", tiktok_signed(no_order_id), 400
    yield "bling: missing eventId", bling_signed(b'{"event":"order.created","data":{"id":1}}'), 400
    ml = mercadolivre("ML-BAD-000001")
    yield "mercadolivre: foreign application_id", mercadolivre("ML-BAD-000002", app_id="1234"), 401
    no_app = json.loads(ml.body)
    del no_app["application_id"]
    yield "mercadolivre: no application_id", Sent("mercadolivre", json.dumps(no_app).encode()), 401
    no_user = json.loads(ml.body)
    del no_user["user_id"]
    yield "mercadolivre: missing user_id", Sent("mercadolivre", json.dumps(no_user).encode()), 400
    yield "mercadolivre: malformed JSON", Sent("mercadolivre", b'{"_id": "x", '), 400
    big = json.loads(ml.body)
    big["padding"] = "x" * MAX_BODY
    yield "mercadolivre: over the size limit", Sent("mercadolivre", json.dumps(big).encode()), 413


BAD_INPUTS = list(_bad_inputs())


def test_every_bad_input_is_refused_and_nothing_is_stored(warehouse_url, serve_receiver) -> None:  # type: ignore[no-untyped-def]
    engine = prepare_warehouse(warehouse_url)
    receiver = serve_receiver(receiver_settings(warehouse_url))
    answers = {what: post(receiver.url, sent).status_code for what, sent, _ in BAD_INPUTS}
    assert answers == {what: status for what, _, status in BAD_INPUTS}
    assert event_rows(engine) == []

    # A body over the limit without a Content-Length (chunked) is cut off while reading.
    good = shopee("SHP-CHUNKED")
    padded = json.loads(good.body)
    padded["padding"] = "x" * (2 * MAX_BODY)
    oversized = shopee_signed(json.dumps(padded).encode())
    chunks = [oversized.body[i : i + 1000] for i in range(0, len(oversized.body), 1000)]
    response = httpx.post(
        receiver.url + oversized.path, content=iter(chunks), headers=oversized.headers
    )
    assert response.status_code == 413
    assert event_rows(engine) == []


def test_error_answers_name_the_problem_and_never_echo_secrets(sqlite_url, serve_receiver) -> None:  # type: ignore[no-untyped-def]
    prepare_warehouse(sqlite_url)
    receiver = serve_receiver(receiver_settings(sqlite_url))
    wrong = tiktok_signed(b'{"type":1}', "not-the-secret")
    response = post(receiver.url, wrong)
    assert response.status_code == 401
    assert "signature" in response.json()["error"]
    assert wrong.headers["authorization"] not in response.text
    malformed = bling_signed(b"{nope")
    assert "malformed JSON" in post(receiver.url, malformed).json()["error"]


def test_each_notification_is_stored_once_with_what_it_names(warehouse_url, serve_receiver) -> None:  # type: ignore[no-untyped-def]
    engine = prepare_warehouse(warehouse_url)
    receiver = serve_receiver(receiver_settings(warehouse_url))
    sent = [mercadolivre("5f1e2d3c4b5a000001"), shopee("2603140001"), tiktok("N0001"), bling("B1")]
    for notification in sent:
        first, again = post(receiver.url, notification), post(receiver.url, notification)
        assert (first.status_code, first.content) == (200, b"")
        assert (again.status_code, again.content) == (200, b"")  # a duplicate is still a 2xx
    rows = {row.marketplace: row for row in event_rows(engine)}
    assert len(event_rows(engine)) == 4
    assert {m: (r.store_id, r.topic, r.resource_id, r.state) for m, r in rows.items()} == {
        "mercadolivre": ("mercadolivre-1001", "orders_v2", "200000000001", "pending"),
        "shopee": ("shopee-600001", "3", "2603140001", "pending"),
        "tiktok": ("tiktok-7494049642642441621", "1", "5764N0001", "pending"),
        "bling": ("bling-c0ffee", "order.updated", "16000002", "pending"),
    }
    assert rows["tiktok"].event_key == "tiktok:N0001"
    assert rows["shopee"].payload.encode() == sent[1].body  # the raw body, byte for byte


def test_unknown_store_is_answered_202_and_quarantined_not_pending(
    warehouse_url, serve_receiver
) -> None:  # type: ignore[no-untyped-def]
    engine = prepare_warehouse(warehouse_url)
    receiver = serve_receiver(receiver_settings(warehouse_url))
    strangers = [
        mercadolivre("9a9a9a9a9a000777", user_id="777"),
        shopee("2603149999", shop_id="777"),
        tiktok("N0777", shop_id="777"),
    ]
    for notification in strangers:
        assert post(receiver.url, notification).status_code == 202
        assert post(receiver.url, notification).status_code == 202
    rows = event_rows(engine)
    assert sorted(r.store_id for r in rows) == ["mercadolivre-777", "shopee-777", "tiktok-777"]
    assert {r.state for r in rows} == {"quarantined"}
    for row in rows:
        assert row.last_error == f"store {row.store_id} is not a connected, active store"


def test_an_unconfigured_marketplace_answers_503_naming_the_variable(
    sqlite_url, serve_receiver
) -> None:  # type: ignore[no-untyped-def]
    engine = prepare_warehouse(sqlite_url)
    receiver = serve_receiver(
        receiver_settings(
            sqlite_url,
            ml_application_id="",
            public_url="",
            tiktok_app_secret="",
            bling_client_secret="",
        )
    )
    expected = {
        "mercadolivre": "SYNCHUB_ML_CLIENT_ID",
        "shopee": "SYNCHUB_WEBHOOK_PUBLIC_URL",
        "tiktok": "SYNCHUB_TIKTOK_APP_SECRET",
        "bling": "SYNCHUB_BLING_CLIENT_SECRET",
    }
    for sent in (mercadolivre("aa00000000000001"), shopee("S1"), tiktok("T1"), bling("B1")):
        response = post(receiver.url, sent)
        assert response.status_code == 503
        assert response.json()["error"] == (
            f"{sent.marketplace} webhooks are not configured: set {expected[sent.marketplace]}"
        )
        assert "shopee-partner-key" not in response.text
    health = httpx.get(receiver.url + "/healthz").json()
    assert health["marketplaces"] == dict.fromkeys(expected, "not configured")
    assert event_rows(engine) == []


async def _storm(url: str, notifications: list[Sent], copies: int) -> list[int]:
    limits = httpx.Limits(max_connections=len(notifications) * copies)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        requests = [
            client.post(n.path, content=n.body, headers=n.headers)
            for n in notifications
            for _ in range(copies)
        ]
        return [r.status_code for r in await asyncio.gather(*requests)]


def test_a_storm_of_ten_concurrent_copies_stores_each_event_once(
    warehouse_url, serve_receiver
) -> None:  # type: ignore[no-untyped-def]
    engine = prepare_warehouse(warehouse_url)
    receiver = serve_receiver(receiver_settings(warehouse_url))
    notifications = [
        mercadolivre("5f1e2d3c4b5a000101"),
        shopee("2603140101"),
        tiktok("N0101"),
        bling("B101"),
        # Two orders of one store, so a batch holds distinct events and duplicates at once.
        mercadolivre("5f1e2d3c4b5a000102"),
    ]
    statuses = asyncio.run(_storm(receiver.url, notifications, copies=10))
    assert statuses == [200] * 50
    rows = event_rows(engine)
    assert sorted(r.event_key for r in rows) == sorted(
        [
            "mercadolivre:5f1e2d3c4b5a000101",
            "mercadolivre:5f1e2d3c4b5a000102",
            "tiktok:N0101",
            "bling:B101",
            next(r.event_key for r in rows if r.marketplace == "shopee"),
        ]
    )
    assert len({r.seq for r in rows}) == len(rows)


def test_healthz_reports_the_warehouse(sqlite_url, serve_receiver) -> None:  # type: ignore[no-untyped-def]
    prepare_warehouse(sqlite_url)
    receiver = serve_receiver(receiver_settings(sqlite_url))
    response = httpx.get(receiver.url + "/healthz")
    assert response.status_code == 200
    assert response.json()["warehouse"] == "ok"
    assert set(response.json()["marketplaces"].values()) == {"configured"}


def test_an_unmigrated_warehouse_is_not_healthy_and_stores_nothing(
    sqlite_url, serve_receiver
) -> None:  # type: ignore[no-untyped-def]
    receiver = serve_receiver(receiver_settings(sqlite_url))
    assert httpx.get(receiver.url + "/healthz").status_code == 503
    sent = bling("B-NO-TABLE")
    assert post(receiver.url, sent).status_code == 503
