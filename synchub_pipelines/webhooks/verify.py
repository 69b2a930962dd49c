"""How each marketplace authenticates its notifications, and what an accepted one names.

Pure functions of (headers, raw body) → `Notification`, or a `Rejected` carrying the HTTP
status and a message that names what was wrong. No I/O here: the app decides what to do
with the store id (known or quarantined) and writes the row.

Order of checks, the same for every marketplace that signs: the signature over the raw
bytes first (401), then JSON and fields (400). An unauthenticated caller therefore learns
nothing about what the receiver would parse. Mercado Livre signs nothing: its body is
parsed first and `application_id` (our app's id, the only authenticity check it offers)
then decides 401, before any other field is looked at.

Signatures are compared with `hmac.compare_digest` on lowercase hex, so a timing side
channel does not reveal how many leading characters of a forged signature were right.

The wire contract (what a sender — a marketplace, or the sandbox — must produce; stable):

- `POST /webhooks/mercadolivre`: no signature. JSON object with `application_id` (equal to
  SYNCHUB_ML_CLIENT_ID, else 401), `_id` (event id), `user_id` (store
  `mercadolivre-<user_id>`), `topic` and `resource` (e.g. `/orders/123`: the last path
  segment is the resource id).
- `POST /webhooks/shopee`: header `Authorization: <hex HMAC-SHA256(partner_key,
  callback_url + "|" + raw body)>` where partner_key is SYNCHUB_SHOPEE_PARTNER_KEY and
  callback_url is SYNCHUB_WEBHOOK_PUBLIC_URL without a trailing slash + `/webhooks/shopee`
  (the URL registered with Shopee, exactly). JSON with `shop_id` (store
  `shopee-<shop_id>`) and `code`; codes 3 and 4 need `data.ordersn`. Event id: sha256 of
  the body (Shopee sends none).
- `POST /webhooks/tiktok`: header `Authorization: <hex HMAC-SHA256(app_secret, app_key +
  raw body)>` (SYNCHUB_TIKTOK_APP_SECRET, SYNCHUB_TIKTOK_APP_KEY). JSON with `shop_id`
  (store `tiktok-<shop_id>`) and `type`; type 1 needs `data.order_id`. Event id:
  `tts_notification_id`, else sha256 of the body.
- `POST /webhooks/bling`: header `X-Bling-Signature-256: sha256=<hex HMAC-SHA256(
  client_secret, raw body)>` (SYNCHUB_BLING_CLIENT_SECRET). JSON with `eventId`, `event`
  (`order.*` events need `data.id`), optional `companyId` (store `bling-<companyId>`,
  default `bling-default`).

Header names are case-insensitive; hex may be upper or lower case.

Limits on what a notification may name (400 otherwise, nothing stored). Every value the
receiver stores in its own column is checked here, so the database is never the first to
refuse one (it refuses NUL and lone surrogates, and a long key overflows its index row,
failing the whole group commit it travels in):

- ids (`_id`, `user_id`, `shop_id`, `tts_notification_id`, `eventId`, `companyId`, and the
  resource id: `ordersn`, `order_id`, `data.id`, the last segment of `resource`…): at most
  MAX_ID_LENGTH (128) characters, only ASCII letters, digits and `-_.:`, at least one
  letter or digit. Numbers are taken as their decimal text.
- topics (ML `topic`, Shopee `code`, TikTok `type`, Bling `event`): at most
  MAX_TOPIC_LENGTH (64) characters, same alphabet.
- Mercado Livre `resource`: at most MAX_RESOURCE_LENGTH (256) characters of printable
  ASCII without spaces; its last path segment (before any `?`) is the resource id above.
- the body: valid UTF-8 JSON, an object, nested at most MAX_JSON_DEPTH (32) deep.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

# Real ids are at most ~40 characters (UUIDs, 19-digit TikTok ids, Shopee order numbers);
# 128 leaves room for a format change yet keeps `<marketplace>:<id>` far under PostgreSQL's
# btree row limit (~2,700 bytes), whatever the content.
MAX_ID_LENGTH = 128
# The longest topic in use is ML's `catalog_item_competition_status` (31).
MAX_TOPIC_LENGTH = 64
# ML resources are short paths (`/orders/2000003508897196`, `/items/MLB123/prices`).
MAX_RESOURCE_LENGTH = 256
# Notifications nest 2–4 deep. The bound is checked before parsing, so the parser never
# recurses far (3,000 levels exhausted the interpreter's stack), and nothing downstream
# that reads the stored payload has to be ready for deep structures either.
MAX_JSON_DEPTH = 32

# A token is safe in a database key, a log line, a store id and a URL path segment: no
# control characters, no slashes, nothing that needs quoting. Validating the alphabet
# also keeps `.encode()` total (a lone surrogate cannot be encoded).
_TOKEN = re.compile(r"[A-Za-z0-9._:-]+")
_HAS_ALNUM = re.compile(r"[A-Za-z0-9]")
_RESOURCE_PATH = re.compile(r"[!-~]+")  # printable ASCII, no space


class Rejected(Exception):
    """A notification the receiver will not store: `status` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Notification:
    """One verified notification, ready to be stored."""

    event_key: str
    marketplace: str
    store_id: str
    topic: str
    resource_id: str | None
    payload: str


def hmac_sha256_hex(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def _signature_matches(expected_hex: str, provided: str | None) -> bool:
    if not provided:
        return False
    # Headers arrive latin-1 decoded; encoding to bytes keeps compare_digest total (it
    # refuses non-ASCII str) without branching on the content first.
    return hmac.compare_digest(expected_hex.encode(), provided.strip().lower().encode())


# A JSON string, escapes included. The closing quote is optional and the repetitions are
# possessive, so the pattern always matches from a quote to the string's end and never
# backtracks: one linear pass even over `"\"\"\"…` (a plain pattern retries at every quote).
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_BRACKET_STEP = [1 if c in b"[{" else -1 if c in b"]}" else 0 for c in range(256)]


def _nested_too_deep(body: bytes) -> bool:
    """Whether the JSON text nests deeper than MAX_JSON_DEPTH, decided without parsing.

    Brackets inside strings do not count. On invalid JSON the answer may be low, but only
    past the point where the parser stops with an error, so the parser never goes deeper.
    """
    # The common case costs two C-speed counts: fewer openers than the limit.
    if body.count(b"{") + body.count(b"[") <= MAX_JSON_DEPTH:
        return False
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0) > MAX_JSON_DEPTH


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "body is not valid UTF-8") from None
    if _nested_too_deep(body):
        raise Rejected(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Rejected(400, f"malformed JSON: {exc.msg} at position {exc.pos}") from None
    except ValueError:
        # An integer literal over Python's 4,300-digit conversion limit.
        raise Rejected(400, "malformed JSON: a number is too long") from None
    except RecursionError:  # unreachable past _nested_too_deep; kept as a fuse
        raise Rejected(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    if not isinstance(value, dict):
        raise Rejected(400, "body must be a JSON object")
    return value


def _text(value: Any) -> str | None:
    """A scalar id as text: ids arrive as numbers or strings depending on the marketplace."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _is_token(value: str) -> bool:
    return _TOKEN.fullmatch(value) is not None and _HAS_ALNUM.search(value) is not None


def _token(value: str, label: str, limit: int = MAX_ID_LENGTH) -> str:
    """`value` if it is within the documented limits, else a 400 naming the field."""
    if len(value) > limit:
        raise Rejected(400, f"field {label} is longer than {limit} characters")
    if not _is_token(value):
        raise Rejected(
            400, f"field {label} must be ASCII letters, digits and - _ . : (with a letter or digit)"
        )
    return value


def _label(name: str, where: str) -> str:
    return f"{where}.{name}" if where else name


def _present(obj: Mapping[str, Any], name: str, where: str = "") -> str:
    value = _text(obj.get(name))
    if value is None:
        label = _label(name, where)
        if name in obj:
            raise Rejected(400, f"field {label} must be a non-empty string or integer")
        raise Rejected(400, f"missing field: {label}")
    return value


def _required(
    obj: Mapping[str, Any], name: str, where: str = "", limit: int = MAX_ID_LENGTH
) -> str:
    return _token(_present(obj, name, where), _label(name, where), limit)


def _optional(obj: Mapping[str, Any], name: str, where: str = "") -> str | None:
    value = _text(obj.get(name))
    return None if value is None else _token(value, _label(name, where))


def _data(payload: Mapping[str, Any], required: bool) -> Mapping[str, Any]:
    data = payload.get("data")
    if isinstance(data, dict):
        return data
    if data is None and not required:
        return {}
    raise Rejected(400, "missing field: data" if data is None else "field data must be an object")


def _first_id(data: Mapping[str, Any], where: str, *names: str) -> str | None:
    for name in names:
        value = _optional(data, name, where)
        if value is not None:
            return value
    return None


def _package_order(data: Mapping[str, Any]) -> str | None:
    """TikTok's PACKAGE_UPDATE names packages, each with its orders: the first order named
    (re-reading it re-reads its packages). No order named is a 400, as for type 1."""
    packages = data.get("package_list")
    if isinstance(packages, list):
        for package in packages:
            orders = package.get("order_id_list") if isinstance(package, dict) else None
            if isinstance(orders, list):
                for order_id in orders:
                    found = _text(order_id)
                    if found is not None:
                        return _token(found, "data.package_list[].order_id_list[]")
    raise Rejected(400, "data.package_list names no order (order_id_list)")


def body_digest(body: bytes) -> str:
    """The event id of a marketplace that sends none: retries resend the same bytes."""
    return hashlib.sha256(body).hexdigest()


# --- Mercado Livre ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MercadoLivre:
    """Thin notifications, unsigned: `application_id` must be ours (SYNCHUB_ML_CLIENT_ID)."""

    application_id: str
    name: str = "mercadolivre"

    @property
    def missing_settings(self) -> list[str]:
        return [] if self.application_id else ["SYNCHUB_ML_CLIENT_ID"]

    def verify(self, headers: Mapping[str, str], body: bytes) -> Notification:
        payload = _json_object(body)
        claimed = _text(payload.get("application_id"))
        if claimed is None:
            raise Rejected(401, "missing application_id")
        # Anything that is not a token cannot be our id (and might not even encode).
        if not _is_token(claimed) or not hmac.compare_digest(
            claimed.encode(), self.application_id.encode()
        ):
            raise Rejected(401, "application_id is not this application's")
        event_id = _required(payload, "_id")
        user_id = _required(payload, "user_id")
        topic = _required(payload, "topic", limit=MAX_TOPIC_LENGTH)
        resource = _present(payload, "resource")
        if len(resource) > MAX_RESOURCE_LENGTH:
            raise Rejected(400, f"field resource is longer than {MAX_RESOURCE_LENGTH} characters")
        if _RESOURCE_PATH.fullmatch(resource) is None:
            raise Rejected(400, "field resource must be printable ASCII without spaces")
        # "/orders/2000003508897196" → the order id; a query string is not part of the id.
        segments = [s for s in resource.split("?", 1)[0].split("/") if s]
        if not segments:
            raise Rejected(400, "field resource names no resource")
        return Notification(
            event_key=f"mercadolivre:{event_id}",
            marketplace=self.name,
            store_id=f"mercadolivre-{user_id}",
            topic=topic,
            resource_id=_token(segments[-1], "resource (its last segment)"),
            payload=body.decode("utf-8"),
        )


# --- Shopee ----------------------------------------------------------------------------------

# Push codes whose data names an order (3 order status, 4 tracking number): the sensors
# cannot act on them without it, so its absence is a 400, not a silent no-op later.
_SHOPEE_ORDER_CODES = {"3", "4"}


@dataclass(frozen=True)
class Shopee:
    """Authorization = hex HMAC-SHA256(partner_key, callback_url + "|" + raw body)."""

    partner_key: str
    callback_url: str
    name: str = "shopee"

    @property
    def missing_settings(self) -> list[str]:
        missing = []
        if not self.partner_key:
            missing.append("SYNCHUB_SHOPEE_PARTNER_KEY")
        if not self.callback_url:
            missing.append("SYNCHUB_WEBHOOK_PUBLIC_URL")
        return missing

    def signature(self, body: bytes) -> str:
        return hmac_sha256_hex(self.partner_key, self.callback_url.encode() + b"|" + body)

    def verify(self, headers: Mapping[str, str], body: bytes) -> Notification:
        if not _signature_matches(self.signature(body), headers.get("authorization")):
            raise Rejected(401, "missing or invalid Authorization signature")
        payload = _json_object(body)
        shop_id = _required(payload, "shop_id")
        code = _required(payload, "code", limit=MAX_TOPIC_LENGTH)
        data = _data(payload, required=code in _SHOPEE_ORDER_CODES)
        if code in _SHOPEE_ORDER_CODES:
            resource_id: str | None = _required(data, "ordersn", "data")
        else:
            resource_id = _first_id(data, "data", "ordersn", "order_sn", "item_id")
        return Notification(
            # Shopee sends no event id; a retry carries the same bytes, hence the digest.
            event_key=f"shopee:{body_digest(body)}",
            marketplace=self.name,
            store_id=f"shopee-{shop_id}",
            topic=code,
            resource_id=resource_id,
            payload=body.decode("utf-8"),
        )


# --- TikTok Shop -----------------------------------------------------------------------------

_TIKTOK_ORDER_TYPES = {"1"}  # 1 = order status change: data.order_id is what to fetch
_TIKTOK_PACKAGE_UPDATE = "4"  # data.package_list[].order_id_list: the orders to re-read


@dataclass(frozen=True)
class TikTok:
    """Authorization = hex HMAC-SHA256(app_secret, app_key + raw body)."""

    app_key: str
    app_secret: str
    name: str = "tiktok"

    @property
    def missing_settings(self) -> list[str]:
        missing = []
        if not self.app_key:
            missing.append("SYNCHUB_TIKTOK_APP_KEY")
        if not self.app_secret:
            missing.append("SYNCHUB_TIKTOK_APP_SECRET")
        return missing

    def signature(self, body: bytes) -> str:
        return hmac_sha256_hex(self.app_secret, self.app_key.encode() + body)

    def verify(self, headers: Mapping[str, str], body: bytes) -> Notification:
        if not _signature_matches(self.signature(body), headers.get("authorization")):
            raise Rejected(401, "missing or invalid Authorization signature")
        payload = _json_object(body)
        shop_id = _required(payload, "shop_id")
        kind = _required(payload, "type", limit=MAX_TOPIC_LENGTH)
        data = _data(payload, required=kind in _TIKTOK_ORDER_TYPES)
        if kind in _TIKTOK_ORDER_TYPES:
            resource_id: str | None = _required(data, "order_id", "data")
        elif kind == _TIKTOK_PACKAGE_UPDATE:
            resource_id = _package_order(data)
        else:
            resource_id = _first_id(data, "data", "order_id", "product_id", "reverse_order_id")
        # The published sample event (payloads/tiktok/webhook_order_status_change_type1.json)
        # has no tts_notification_id: such an event is keyed by its bytes, like Shopee's,
        # rather than refused — a 400 would make TikTok retry it until it gave up.
        notification_id = _optional(payload, "tts_notification_id")
        return Notification(
            event_key=f"tiktok:{notification_id or body_digest(body)}",
            marketplace=self.name,
            store_id=f"tiktok-{shop_id}",
            topic=kind,
            resource_id=resource_id,
            payload=body.decode("utf-8"),
        )


# --- Bling -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bling:
    """X-Bling-Signature-256: sha256=<hex HMAC-SHA256(client_secret, raw body)>.

    Bling is the ERP, one account per deployment: the store is `bling-<companyId>` (or
    `bling-default` when the envelope carries none) and needs no row in `stores`.
    """

    client_secret: str
    name: str = "bling"

    @property
    def missing_settings(self) -> list[str]:
        return [] if self.client_secret else ["SYNCHUB_BLING_CLIENT_SECRET"]

    def signature(self, body: bytes) -> str:
        return hmac_sha256_hex(self.client_secret, body)

    def verify(self, headers: Mapping[str, str], body: bytes) -> Notification:
        header = headers.get("x-bling-signature-256") or ""
        scheme, _, provided = header.strip().partition("=")
        if scheme.lower() != "sha256" or not _signature_matches(self.signature(body), provided):
            raise Rejected(401, "missing or invalid X-Bling-Signature-256")
        payload = _json_object(body)
        event_id = _required(payload, "eventId")
        event = _required(payload, "event", limit=MAX_TOPIC_LENGTH)
        is_order = event.startswith("order.")
        data = _data(payload, required=is_order)
        if is_order:
            resource_id: str | None = _required(data, "id", "data")
        else:
            # stock.* events name the product inside, not at data.id.
            product = data.get("produto")
            resource_id = _first_id(data, "data", "id") or (
                _first_id(product, "data.produto", "id") if isinstance(product, dict) else None
            )
        company = _optional(payload, "companyId") or "default"
        return Notification(
            event_key=f"bling:{event_id}",
            marketplace=self.name,
            store_id=f"bling-{company}",
            topic=event,
            resource_id=resource_id,
            payload=body.decode("utf-8"),
        )
