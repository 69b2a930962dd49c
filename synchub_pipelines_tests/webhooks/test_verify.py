"""Signature checks against hex values computed by hand (openssl dgst -sha256 -hmac)."""

from __future__ import annotations

import json

import pytest

from synchub_pipelines.webhooks.verify import (
    MAX_ID_LENGTH,
    MAX_JSON_DEPTH,
    MAX_RESOURCE_LENGTH,
    MAX_TOPIC_LENGTH,
    Bling,
    MercadoLivre,
    Rejected,
    Shopee,
    TikTok,
)
from synchub_pipelines_tests.conftest import PAYLOADS

SHOPEE_BODY = (
    b'{"shop_id":600001,"code":3,"data":{"ordersn":"260314ABCDEF01","status":"READY_TO_SHIP",'
    b'"update_time":1773500000},"timestamp":1773500000}'
)
# printf '%s' 'https://hooks.example.com/webhooks/shopee|<body>' \
#   | openssl dgst -sha256 -hmac shopee-partner-key
SHOPEE_SIGNATURE = "ee73f28f5f16f78cb1b2bab58aa42cad7181226c40000e5b70bc877d17a5bd67"

# (printf tt-app-key; cat webhook_order_status_change_type1.json) | openssl … -hmac tt-app-secret
TIKTOK_SIGNATURE = "a64953440d4590d01db3c37d5fc57a0ae85b6e358900170d350c04d6c2bbb359"

BLING_BODY = (
    b'{"eventId":"01JQ7B2V4M8X","date":"2026-03-14T15:00:00Z","version":"v1",'
    b'"event":"order.created","companyId":"c0ffee","data":{"id":12345678}}'
)
# printf '%s' '<body>' | openssl dgst -sha256 -hmac bling-client-secret
BLING_SIGNATURE = "476cd06291f7264590a29c8b89cb3b5f0c2ba56327cfa91a9dcf072a266f235c"

SHOPEE = Shopee(
    partner_key="shopee-partner-key", callback_url="https://hooks.example.com/webhooks/shopee"
)
TIKTOK = TikTok(app_key="tt-app-key", app_secret="tt-app-secret")
BLING = Bling(client_secret="bling-client-secret")


def _flip_last(hex_value: str) -> str:
    return hex_value[:-1] + ("0" if hex_value[-1] != "0" else "1")


def test_shopee_signature_is_hmac_of_url_pipe_body() -> None:
    assert SHOPEE.signature(SHOPEE_BODY) == SHOPEE_SIGNATURE
    accepted = SHOPEE.verify({"authorization": SHOPEE_SIGNATURE.upper()}, SHOPEE_BODY)
    assert (accepted.store_id, accepted.topic, accepted.resource_id) == (
        "shopee-600001",
        "3",
        "260314ABCDEF01",
    )
    with pytest.raises(Rejected) as rejected:
        SHOPEE.verify({"authorization": _flip_last(SHOPEE_SIGNATURE)}, SHOPEE_BODY)
    assert rejected.value.status == 401
    # The URL is part of what is signed: another callback URL is another signature.
    elsewhere = Shopee(partner_key="shopee-partner-key", callback_url="https://other.example")
    with pytest.raises(Rejected):
        elsewhere.verify({"authorization": SHOPEE_SIGNATURE}, SHOPEE_BODY)


def test_tiktok_signature_is_hmac_of_app_key_and_body_on_the_published_sample() -> None:
    body = (PAYLOADS / "tiktok" / "webhook_order_status_change_type1.json").read_bytes()
    assert TIKTOK.signature(body) == TIKTOK_SIGNATURE
    accepted = TIKTOK.verify({"authorization": TIKTOK_SIGNATURE}, body)
    assert accepted.store_id == "tiktok-7494049642642441621"
    assert accepted.resource_id == "576486316948490001"
    # The sample has no tts_notification_id: its key is the body's digest, stable on retry.
    assert accepted.event_key == TIKTOK.verify({"authorization": TIKTOK_SIGNATURE}, body).event_key
    with pytest.raises(Rejected) as rejected:
        TIKTOK.verify({"authorization": _flip_last(TIKTOK_SIGNATURE)}, body)
    assert rejected.value.status == 401


def test_bling_signature_header_is_sha256_prefixed_hmac_of_body() -> None:
    assert BLING.signature(BLING_BODY) == BLING_SIGNATURE
    accepted = BLING.verify({"x-bling-signature-256": f"sha256={BLING_SIGNATURE}"}, BLING_BODY)
    assert (accepted.event_key, accepted.store_id, accepted.resource_id) == (
        "bling:01JQ7B2V4M8X",
        "bling-c0ffee",
        "12345678",
    )
    for header in (BLING_SIGNATURE, f"sha1={BLING_SIGNATURE}", f"sha256={BLING_SIGNATURE[:-2]}"):
        with pytest.raises(Rejected) as rejected:
            BLING.verify({"x-bling-signature-256": header}, BLING_BODY)
        assert rejected.value.status == 401


@pytest.mark.parametrize(
    ("verifier", "headers"),
    [
        (SHOPEE, {"authorization": SHOPEE_SIGNATURE}),
        (TIKTOK, {"authorization": "x"}),
        (BLING, {"x-bling-signature-256": f"sha256={BLING_SIGNATURE}"}),
    ],
)
def test_a_signature_over_other_bytes_is_refused(verifier, headers) -> None:  # type: ignore[no-untyped-def]
    tampered = BLING_BODY.replace(b"12345678", b"12345679")
    with pytest.raises(Rejected) as rejected:
        verifier.verify(headers, tampered)
    assert rejected.value.status == 401


def test_mercadolivre_is_checked_by_application_id() -> None:
    ml = MercadoLivre(application_id="5503910054141466")
    body = (
        b'{"_id":"f9f0a8e7","resource":"/orders/2000003508897196","user_id":1001,'
        b'"topic":"orders_v2","application_id":5503910054141466,"attempts":1}'
    )
    accepted = ml.verify({}, body)
    assert (accepted.event_key, accepted.store_id, accepted.resource_id) == (
        "mercadolivre:f9f0a8e7",
        "mercadolivre-1001",
        "2000003508897196",
    )
    with pytest.raises(Rejected) as rejected:
        ml.verify({}, body.replace(b"5503910054141466", b"5503910054141467"))
    assert rejected.value.status == 401
    with pytest.raises(Rejected) as rejected:
        ml.verify({}, body.replace(b'"user_id":1001,', b""))
    assert (rejected.value.status, rejected.value.message) == (400, "missing field: user_id")


def test_tiktok_package_update_names_the_first_order_of_its_packages() -> None:
    # Shape of TikTok's PACKAGE_UPDATE (type 4) event: packages, each with its orders.
    body = json.dumps(
        {
            "type": 4,
            "shop_id": "7494049642642441621",
            "timestamp": 1694685539,
            "tts_notification_id": "7327112393057371910",
            "data": {
                "sc_type": "SPLIT",
                "role_type": "SELLER",
                "package_list": [
                    {"package_id": "1153132168123859", "order_id_list": ["576486316948490001"]}
                ],
                "update_time": 1694685539,
            },
        }
    ).encode()
    accepted = TIKTOK.verify({"authorization": TIKTOK.signature(body)}, body)
    assert (accepted.topic, accepted.resource_id) == ("4", "576486316948490001")
    empty = json.dumps({"type": 4, "shop_id": "1", "data": {"package_list": []}}).encode()
    with pytest.raises(Rejected) as rejected:
        TIKTOK.verify({"authorization": TIKTOK.signature(empty)}, empty)
    assert rejected.value.status == 400
    assert "order_id_list" in rejected.value.message


# --- limits on what a notification may name ---------------------------------------------------


def _bling(payload: dict[str, object]) -> bytes:
    return json.dumps(
        {"eventId": "E1", "event": "order.updated", "data": {"id": 1}, **payload}
    ).encode()


def _bling_verdict(body: bytes) -> int:
    try:
        BLING.verify({"x-bling-signature-256": f"sha256={BLING.signature(body)}"}, body)
    except Rejected as rejected:
        return rejected.status
    return 200


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("eventId", "A" * MAX_ID_LENGTH, 200),
        ("eventId", "A" * (MAX_ID_LENGTH + 1), 400),
        ("eventId", "0197c0de-7bee-7b5e:x_y.z", 200),
        ("eventId", 10**40, 200),  # numbers count by their digits
        ("eventId", 10**200, 400),
        ("eventId", "-._:", 400),  # no letter or digit
        ("eventId", "a/b", 400),
        ("eventId", "a b", 400),
        ("eventId", "é", 400),
        ("eventId", "A\x00", 400),
        ("eventId", "\ud800", 400),
        ("companyId", "c0ffee\x00", 400),
        ("event", "x" * MAX_TOPIC_LENGTH, 200),
        ("event", "x" * (MAX_TOPIC_LENGTH + 1), 400),
        ("event", "stock\x00", 400),
        ("data", {"id": "1\ud800"}, 400),
    ],
)
def test_ids_and_topics_are_held_to_their_documented_limits(field, value, status) -> None:  # type: ignore[no-untyped-def]
    assert _bling_verdict(_bling({field: value})) == status


def test_nesting_is_limited_before_parsing_and_brackets_in_strings_do_not_count() -> None:
    def nested(depth: int) -> bytes:  # the body object is one level itself
        return _bling({"x": 1})[:-1] + b',"y":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"

    assert _bling_verdict(nested(MAX_JSON_DEPTH)) == 200
    assert _bling_verdict(nested(MAX_JSON_DEPTH + 1)) == 400
    assert _bling_verdict(nested(100_000)) == 400
    assert _bling_verdict(_bling({"note": "[" * 500 + '\\"{' * 500})) == 200
    # Escaped quotes that never close: one linear pass, however many there are.
    assert _bling_verdict(b'[{"a":"' + b'\\"[' * 20_000) == 400


def test_mercadolivre_resource_limits() -> None:
    ml = MercadoLivre(application_id="5503910054141466")
    base = {"_id": "e1", "user_id": 1001, "topic": "orders_v2", "application_id": 5503910054141466}

    def verdict(resource: object) -> int | str:
        try:
            return (
                ml.verify({}, json.dumps({**base, "resource": resource}).encode()).resource_id or ""
            )
        except Rejected as rejected:
            return rejected.status

    assert verdict("/orders/2000003508897196?x=1") == "2000003508897196"
    longest = "/x/" + "a" * (MAX_RESOURCE_LENGTH - 8) + "/MLB1"
    assert (len(longest), verdict(longest)) == (MAX_RESOURCE_LENGTH, "MLB1")
    assert verdict("/x" + longest) == 400
    assert verdict("/items/" + "a" * (MAX_ID_LENGTH + 1)) == 400  # the id in it is too long
    assert verdict("/orders/1 2") == 400
    assert verdict("/orders/1\x00") == 400
    assert verdict("/orders/..") == 400
    assert verdict("/orders/%2e%2e") == 400


def test_an_application_id_that_cannot_be_ours_is_a_401_not_a_crash() -> None:
    ml = MercadoLivre(application_id="5503910054141466")
    for claimed in ("\ud800", "5503910054141466\x00", "x" * 10_000):
        with pytest.raises(Rejected) as rejected:
            ml.verify({}, json.dumps({"application_id": claimed}).encode())
        assert rejected.value.status == 401
