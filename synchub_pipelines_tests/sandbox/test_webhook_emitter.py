"""The sandbox's outbound webhooks, runtime order changes and live sales.

A small capture server on loopback stands in for the receiver; every notification it gets
is checked with the receiver's own verifiers (synchub_pipelines.webhooks.verify), which
share no code with the sandbox's signing. Marketplace APIs are called over HTTP with the
contract tests' independent helpers.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from synchub_pipelines.sandbox import bling as bling_sandbox
from synchub_pipelines.sandbox import mercadolivre as ml_sandbox
from synchub_pipelines.sandbox import shopee as shopee_sandbox
from synchub_pipelines.sandbox import tiktok as tiktok_sandbox
from synchub_pipelines.sandbox.live import LiveSettings, sell
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.shopee_render import order_sn, packages_of
from synchub_pipelines.sandbox.tiktok_render import order_id as tiktok_order_id
from synchub_pipelines.sandbox.world import Listing, ListingVariation, Order
from synchub_pipelines.webhooks import verify
from synchub_pipelines.webhooks.verify import Notification
from synchub_pipelines_tests.conftest import ANCHOR
from synchub_pipelines_tests.sandbox.test_bling_contract import new_tokens
from synchub_pipelines_tests.sandbox.test_mercadolivre_contract import bearer, login
from synchub_pipelines_tests.sandbox.test_shopee_contract import ShopeeClient

QUIET = {"follow_timelines": False, "drop_share": 0.0, "duplicate_share": 0.0}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def marketplace(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Capture:
    """A loopback HTTP server recording every POST; `answers` feeds its status codes."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # consumed first; then 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> int:
        with self.lock:
            return self.answers.pop(0) if self.answers else 200

    def record(self, item: Received) -> None:
        with self.lock:
            self.received.append(item)

    def of(self, marketplace: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.marketplace == marketplace]


@pytest.fixture
def capture() -> Iterator[Capture]:
    captured = Capture()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            status = captured.answer()
            captured.record(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    captured.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield captured
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    with RunningSandbox(Sandbox(SandboxConfig(seed=7, size="tiny", anchor=ANCHOR))) as rs:
        yield rs


@pytest.fixture
def sandbox(running: RunningSandbox, capture: Capture) -> Iterator[Sandbox]:
    running.sandbox.webhooks.configure(url=capture.url, **QUIET)
    yield running.sandbox
    assert running.sandbox.webhooks.wait_idle(30)
    running.sandbox.webhooks.configure(url=None)


def verifiers(capture: Capture) -> dict[str, Callable[[dict[str, str], bytes], Notification]]:
    return {
        "mercadolivre": verify.MercadoLivre(application_id=ml_sandbox.APP_ID).verify,
        "shopee": verify.Shopee(
            partner_key=shopee_sandbox.PARTNER_KEY, callback_url=f"{capture.url}/webhooks/shopee"
        ).verify,
        "tiktok": verify.TikTok(
            app_key=tiktok_sandbox.APP_KEY, app_secret=tiktok_sandbox.APP_SECRET
        ).verify,
        "bling": verify.Bling(client_secret=bling_sandbox.CLIENT_SECRET).verify,
    }


def verified(capture: Capture, item: Received) -> Notification:
    return verifiers(capture)[item.marketplace](item.headers, item.body)


def in_stock(sandbox: Sandbox, marketplace: str) -> tuple[Listing, ListingVariation]:
    return next(
        (listing, variation)
        for listing in sandbox.world.listings
        if listing.seller.marketplace == marketplace
        for variation in listing.variations
        if variation.available_quantity > 1 and variation.sku in sandbox.world.products_by_sku
    )


def counters(sandbox: Sandbox, marketplace: str = "total") -> dict[str, int]:
    return dict(sandbox.webhooks.snapshot()["counters"][marketplace])


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}


def marketplace_id(order: Order) -> str:
    marketplace = order.seller.marketplace
    if marketplace == "shopee":
        return order_sn(order)
    if marketplace == "tiktok":
        return tiktok_order_id(order.order_number)
    return str(order.order_number)


# --- notifications ---------------------------------------------------------------------------


@pytest.mark.parametrize("marketplace", ["mercadolivre", "shopee", "tiktok"])
def test_a_sale_sends_a_notification_the_receiver_verifies(
    sandbox: Sandbox, capture: Capture, marketplace: str
) -> None:
    listing, variation = in_stock(sandbox, marketplace)
    order = sell(sandbox, listing, variation, 1)
    assert sandbox.webhooks.wait_idle(30)

    [own] = capture.of(marketplace)
    note = verified(capture, own)
    assert note.store_id == listing.seller.store_id
    assert note.resource_id == marketplace_id(order)
    assert note.topic == {"mercadolivre": "orders_v2", "shopee": "3", "tiktok": "1"}[marketplace]
    if marketplace == "shopee":
        assert own.json["data"]["status"] == "READY_TO_SHIP"
    if marketplace == "tiktok":
        assert own.json["data"]["order_status"] == "AWAITING_SHIPMENT"

    # Bling imported the order: order.created, signed with the Bling app's secret.
    [erp] = capture.of("bling")
    bling = verified(capture, erp)
    pedido = sandbox.find_order("bling", str(bling.resource_id))
    assert pedido is order
    assert bling.topic == "order.created"
    assert bling.store_id == f"bling-{sandbox.webhooks.notifier.company_id}"
    assert erp.json["data"]["numeroLoja"] == str(order.order_number)


def test_amazon_sends_no_webhook_but_bling_reports_the_imported_order(
    sandbox: Sandbox, capture: Capture
) -> None:
    listing, variation = in_stock(sandbox, "amazon")
    order = sell(sandbox, listing, variation, 1)
    assert sandbox.webhooks.wait_idle(30)

    assert [r.marketplace for r in capture.received] == ["bling"]
    note = verified(capture, capture.received[0])
    assert sandbox.find_order("bling", str(note.resource_id)) is order


def test_a_tampered_body_fails_verification(sandbox: Sandbox, capture: Capture) -> None:
    # Guards the test itself: the verifiers really check what the sandbox signs.
    listing, variation = in_stock(sandbox, "shopee")
    sell(sandbox, listing, variation, 1)
    assert sandbox.webhooks.wait_idle(30)
    [push] = capture.of("shopee")
    with pytest.raises(verify.Rejected) as rejected:
        verified(capture, Received(push.path, push.headers, push.body.replace(b"3", b"4", 1)))
    assert rejected.value.status == 401


def test_drop_share_one_sends_nothing(sandbox: Sandbox, capture: Capture) -> None:
    sandbox.webhooks.configure(drop_share=1.0)
    before = counters(sandbox)
    for marketplace in ("mercadolivre", "shopee", "tiktok"):
        listing, variation = in_stock(sandbox, marketplace)
        sell(sandbox, listing, variation, 1)
    assert sandbox.webhooks.wait_idle(30)

    assert capture.received == []
    # Three marketplace notifications and three Bling ones, all dropped on purpose.
    assert delta(before, counters(sandbox)) == {"notifications": 6, "dropped": 6}


def test_duplicates_arrive_as_identical_bodies(sandbox: Sandbox, capture: Capture) -> None:
    sandbox.webhooks.configure(duplicate_share=1.0, duplicate_copies=3)
    before = counters(sandbox, "mercadolivre")
    listing, variation = in_stock(sandbox, "mercadolivre")
    sell(sandbox, listing, variation, 1)
    assert sandbox.webhooks.wait_idle(30)

    copies = capture.of("mercadolivre")
    assert len(copies) == 4
    assert len({c.body for c in copies}) == 1
    assert len({verified(capture, c).event_key for c in copies}) == 1
    assert len({c.body for c in capture.of("bling")}) == 1 and len(capture.of("bling")) == 4
    changed = delta(before, counters(sandbox, "mercadolivre"))
    assert changed == {"notifications": 1, "sent": 1, "duplicated": 3}


def test_non_2xx_is_retried_with_the_same_event_id(sandbox: Sandbox, capture: Capture) -> None:
    sandbox.webhooks.configure(marketplaces=("mercadolivre",), retry_base_seconds=0.0)
    capture.answers = [503, 500]
    before = counters(sandbox, "mercadolivre")
    listing, variation = in_stock(sandbox, "mercadolivre")
    sell(sandbox, listing, variation, 1)
    assert sandbox.webhooks.wait_idle(30)

    tries = capture.of("mercadolivre")
    assert [t.json["attempts"] for t in tries] == [1, 2, 3]
    assert len({t.json["_id"] for t in tries}) == 1
    assert delta(before, counters(sandbox, "mercadolivre")) == {
        "notifications": 1,
        "sent": 1,
        "retried": 2,
    }
    sandbox.webhooks.configure(marketplaces=("mercadolivre", "shopee", "tiktok", "bling"))


def test_a_receiver_that_never_accepts_ends_in_failed(sandbox: Sandbox, capture: Capture) -> None:
    sandbox.webhooks.configure(marketplaces=("tiktok",), retry_base_seconds=0.0, max_attempts=3)
    capture.answers = [500] * 3
    before = counters(sandbox, "tiktok")
    listing, variation = in_stock(sandbox, "tiktok")
    sell(sandbox, listing, variation, 1)
    assert sandbox.webhooks.wait_idle(30)

    assert len(capture.of("tiktok")) == 3
    assert delta(before, counters(sandbox, "tiktok")) == {
        "notifications": 1,
        "retried": 2,
        "failed": 1,
    }
    sandbox.webhooks.configure(
        marketplaces=("mercadolivre", "shopee", "tiktok", "bling"), max_attempts=4
    )


def test_drop_decisions_are_deterministic_per_event(running: RunningSandbox) -> None:
    # Two sandboxes built alike make the same changes; half the notifications are dropped,
    # and exactly the same ones, whatever the thread timing.
    def dropped_events() -> list[tuple[str, str, str]]:
        sandbox = Sandbox(SandboxConfig(seed=11, size="tiny", anchor=ANCHOR))
        try:
            # Nothing listens on the discard port: what is not dropped fails at once.
            sandbox.webhooks.configure(
                url="http://127.0.0.1:9", **{**QUIET, "drop_share": 0.5}, max_attempts=1
            )
            rng = random.Random(3)
            for _ in range(12):
                sandbox.live.sell_one(rng, LiveSettings(seed=3))
            assert sandbox.webhooks.wait_idle(30)
            recent = sandbox.webhooks.snapshot(recent=100)["recent"]
            # Shopee's event id is its body's digest, which holds the clock time: compare
            # what changed instead.
            return sorted(
                (r["marketplace"], r["resource_id"], r["status"])
                for r in recent
                if r["outcome"] == "dropped"
            )
        finally:
            sandbox.close()

    first, second = dropped_events(), dropped_events()
    assert first == second
    assert 0 < len(first) < 24


# --- runtime order changes -------------------------------------------------------------------


def test_ml_sale_lowers_quantity_is_listed_and_cancelling_gives_the_units_back(
    sandbox: Sandbox, capture: Capture, running: RunningSandbox
) -> None:
    listing, variation = in_stock(sandbox, "mercadolivre")
    seller = int(listing.seller.seller_id)
    with httpx.Client(base_url=running.base_url("mercadolivre"), timeout=10) as ml:
        auth = bearer(login(ml, seller))

        def quantity() -> int:
            item = ml.get(f"/items/MLB{listing.listing_number}", headers=auth).json()
            variations = item.get("variations") or []
            for v in variations:
                if v["id"] == variation.variation_number:
                    return int(v["available_quantity"])
            return int(item["available_quantity"])

        before = quantity()
        order = sell(sandbox, listing, variation, 1)
        assert quantity() == before - 1
        listed = ml.get(
            "/orders/search",
            params={"seller": seller, "sort": "date_desc", "limit": 5},
            headers=auth,
        ).json()["results"]
        assert order.order_number in {o["id"] for o in listed}

        changed = httpx.post(
            f"{running.url}/_sandbox/orders/mercadolivre/{order.order_number}/status",
            json={"status": "cancel"},
        )
        assert changed.status_code == 200, changed.text
        got = ml.get(f"/orders/{order.order_number}", headers=auth).json()
        assert got["status"] == "cancelled"
        assert quantity() == before
        cancelled = ml.get(
            "/orders/search",
            params={"seller": seller, "order.status": "cancelled", "sort": "date_desc"},
            headers=auth,
        ).json()["results"]
        assert order.order_number in {o["id"] for o in cancelled}

    assert sandbox.webhooks.wait_idle(30)
    notes = [verified(capture, r) for r in capture.of("mercadolivre")]
    assert [n.resource_id for n in notes] == [str(order.order_number)] * 2
    assert len({n.event_key for n in notes}) == 2  # a sale and a cancellation: two events
    assert [verified(capture, r).topic for r in capture.of("bling")] == [
        "order.created",
        "order.updated",
    ]


def test_ml_shipping_and_delivery_also_notify_the_shipment(
    sandbox: Sandbox, capture: Capture, running: RunningSandbox
) -> None:
    sandbox.webhooks.configure(marketplaces=("mercadolivre",))
    listing, variation = in_stock(sandbox, "mercadolivre")
    order = sell(sandbox, listing, variation, 1)
    url = f"{running.url}/_sandbox/orders/mercadolivre/{order.order_number}/status"
    for status in ("ship", "deliver"):
        assert httpx.post(url, json={"status": status}).status_code == 200
    assert sandbox.webhooks.wait_idle(30)
    with httpx.Client(base_url=running.base_url("mercadolivre"), timeout=10) as ml:
        auth = bearer(login(ml, int(listing.seller.seller_id)))
        shipment = ml.get(f"/orders/{order.order_number}", headers=auth).json()["shipping"]["id"]

    notes = [(verified(capture, r), r.json) for r in capture.of("mercadolivre")]
    topics = [(n.topic, body["resource"]) for n, body in notes]
    assert sorted(topics) == sorted(
        [("orders_v2", f"/orders/{order.order_number}")] * 3
        + [("shipments", f"/shipments/{shipment}")] * 2
    )
    shipped = [n for n, _ in notes if n.topic == "shipments"]
    assert {n.resource_id for n in shipped} == {str(shipment)}
    assert len({n.event_key for n, _ in notes}) == 5  # every notice its own event
    sandbox.webhooks.configure(marketplaces=("mercadolivre", "shopee", "tiktok", "bling"))


def test_ml_questions_asked_and_answered_notify_the_question(
    sandbox: Sandbox, capture: Capture, running: RunningSandbox
) -> None:
    listing, _ = in_stock(sandbox, "mercadolivre")
    base = running.base_url("mercadolivre")
    asked = httpx.post(
        f"{base}/_sandbox/questions", json={"item_id": f"MLB{listing.listing_number}"}
    )
    assert asked.status_code == 201, asked.text
    question = asked.json()["id"]
    answered = httpx.post(f"{base}/_sandbox/questions/{question}/answer", json={"text": "Sim!"})
    assert answered.status_code == 200, answered.text
    assert answered.json()["answer"]["text"] == "Sim!"
    again = httpx.post(f"{base}/_sandbox/questions/{question}/answer", json={"text": "De novo"})
    assert again.status_code == 400  # already answered: nothing sent
    assert sandbox.webhooks.wait_idle(30)

    notes = [verified(capture, r) for r in capture.of("mercadolivre")]
    assert [(n.topic, n.resource_id) for n in notes] == [("questions", str(question))] * 2
    assert all(r.json["resource"] == f"/questions/{question}" for r in capture.of("mercadolivre"))
    assert {n.store_id for n in notes} == {listing.seller.store_id}
    assert len({n.event_key for n in notes}) == 2
    assert capture.of("bling") == []  # questions are no order: the ERP hears nothing


def test_status_endpoint_rejects_what_a_marketplace_would(
    sandbox: Sandbox, running: RunningSandbox
) -> None:
    listing, variation = in_stock(sandbox, "mercadolivre")
    order = sell(sandbox, listing, variation, 1)
    url = f"{running.url}/_sandbox/orders/mercadolivre"
    assert (
        httpx.post(f"{url}/{order.order_number}/status", json={"status": "deliver"}).status_code
        == 409
    )
    assert (
        httpx.post(f"{url}/{order.order_number}/status", json={"status": "lost"}).status_code == 400
    )
    assert httpx.post(f"{url}/{order.order_number}/status", json={}).status_code == 400
    assert httpx.post(f"{url}/1/status", json={"status": "ship"}).status_code == 404
    assert (
        httpx.post(f"{url}/{order.order_number}/status", json={"status": "ship"}).status_code == 200
    )
    assert (
        httpx.post(f"{url}/{order.order_number}/status", json={"status": "cancel"}).status_code
        == 409
    )


def test_shipping_a_shopee_order_shows_in_the_api_and_in_the_push(
    sandbox: Sandbox, capture: Capture, running: RunningSandbox
) -> None:
    listing, variation = in_stock(sandbox, "shopee")
    order = sell(sandbox, listing, variation, 1)
    sn = order_sn(order)
    shipped = httpx.post(
        f"{running.url}/_sandbox/orders/shopee/{sn}/status", json={"status": "ship"}
    )
    assert shipped.status_code == 200, shipped.text

    shopee = ShopeeClient(running).authorize()
    detail = shopee.ok("/api/v2/order/get_order_detail", order_sn_list=sn)["order_list"]
    assert detail[0]["order_status"] == "SHIPPED"
    now = shopee.now()
    updated = shopee.ok(
        "/api/v2/order/get_order_list",
        time_range_field="update_time",
        time_from=now - 600,
        time_to=now,
        page_size=100,
        order_status="SHIPPED",
    )["order_list"]
    assert sn in {row["order_sn"] for row in updated}

    assert sandbox.webhooks.wait_idle(30)
    pushes = [
        (r.json["code"], r.json["data"]) for r in capture.of("shopee") if verified(capture, r)
    ]
    assert [(p["ordersn"], p["status"]) for code, p in pushes if code == 3] == [
        (sn, "READY_TO_SHIP"),
        (sn, "SHIPPED"),
    ]
    # Shipping also pushes each package's tracking number (code 4), which the receiver
    # stores as an order event: the order and its tracking are fetched again.
    tracking = [p for code, p in pushes if code == 4]
    assert tracking and {p["ordersn"] for p in tracking} == {sn}
    assert all(p["tracking_no"].startswith("BR") and p["package_number"] for p in tracking)
    notes = [verified(capture, r) for r in capture.of("shopee") if r.json["code"] == 4]
    assert {(n.topic, n.resource_id) for n in notes} == {("4", sn)}


def test_bling_lists_the_imported_sale(
    sandbox: Sandbox, capture: Capture, running: RunningSandbox
) -> None:
    listing, variation = in_stock(sandbox, "tiktok")
    order = sell(sandbox, listing, variation, 1)
    assert sandbox.webhooks.wait_idle(30)
    note = verified(capture, capture.of("bling")[0])

    with httpx.Client(base_url=f"{running.base_url('bling')}/Api/v3", timeout=10) as api:
        api.headers["Authorization"] = f"Bearer {new_tokens(api)['access_token']}"
        got = api.get(f"/pedidos/vendas/{note.resource_id}")
        assert got.status_code == 200, got.text
        assert got.json()["data"]["numeroLoja"] == str(order.order_number)
        today = sandbox.clock.now().astimezone(bling_sandbox.SAO_PAULO).date().isoformat()
        listed = api.get("/pedidos/vendas", params={"dataInicial": today, "dataFinal": today})
        assert note.resource_id in {str(p["id"]) for p in listed.json()["data"]}


# --- timelines and live sales ----------------------------------------------------------------


def test_generated_orders_notify_their_planned_steps_as_the_clock_reaches_them(
    capture: Capture,
) -> None:
    # A world anchored now: its recent orders still have shipments and deliveries ahead.
    sandbox = Sandbox(SandboxConfig(seed=7, size="tiny"))
    try:
        sandbox.webhooks.configure(url=capture.url, marketplaces=("shopee",))
        deadline = time.monotonic() + 30
        while sandbox.webhooks.following_since is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        since = sandbox.webhooks.following_since
        sandbox.clock.advance_delta(timedelta(days=2))
        now = sandbox.clock.time()
        steps = [
            (order, status)
            for order in sandbox.world.orders
            if order.seller.marketplace == "shopee"
            for status, when in order.timeline
            if since < when.timestamp() <= now
        ]
        # A status push per step, and a tracking push per package when an order ships.
        expected = len(steps) + sum(
            len(packages_of(order)) for order, status in steps if status == "shipped"
        )
        assert expected > 0
        while counters(sandbox, "shopee")["notifications"] < expected:
            assert time.monotonic() < deadline, counters(sandbox, "shopee")
            time.sleep(0.05)
        assert sandbox.webhooks.wait_idle(30)
        pushes = capture.of("shopee")
        assert len(pushes) == expected
        assert {verified(capture, p).topic for p in pushes} <= {"3", "4"}
        statuses = [p.json["data"] for p in pushes if p.json["code"] == 3]
        assert len(statuses) == len(steps)
        assert {data["status"] for data in statuses} <= {
            "SHIPPED",
            "COMPLETED",
            "CANCELLED",
            "READY_TO_SHIP",
            "TO_RETURN",
        }
    finally:
        sandbox.close()


def test_live_endpoint_sells_in_stock_listings_until_stopped(
    sandbox: Sandbox, capture: Capture, running: RunningSandbox
) -> None:
    stock_before = {
        v.variation_number: v.available_quantity
        for lst in sandbox.world.listings
        for v in lst.variations
    }
    started = httpx.post(
        f"{running.url}/_sandbox/live",
        json={"rate_per_minute": 3000, "marketplaces": ["mercadolivre", "shopee"], "seed": 5},
    )
    assert started.status_code == 200 and started.json()["running"]
    deadline = time.monotonic() + 30
    while httpx.get(f"{running.url}/_sandbox/live").json()["sales"] < 5:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stopped = httpx.post(f"{running.url}/_sandbox/live", json={"rate_per_minute": 0}).json()
    assert not stopped["running"]
    assert set(k for k, v in stopped["by_marketplace"].items() if v) <= {"mercadolivre", "shopee"}
    assert sandbox.webhooks.wait_idle(30)

    sold = sum(
        stock_before[v.variation_number] - v.available_quantity
        for lst in sandbox.world.listings
        for v in lst.variations
    )
    assert sold == stopped["sales"]
    assert len(capture.of("mercadolivre")) + len(capture.of("shopee")) == stopped["sales"]
    assert len(capture.of("bling")) == stopped["sales"]


def test_live_sales_are_deterministic_for_a_seed() -> None:
    def sales() -> list[tuple[str, int, int]]:
        sandbox = Sandbox(SandboxConfig(seed=7, size="tiny", anchor=ANCHOR))
        rng = random.Random(42)
        made = [sandbox.live.sell_one(rng, LiveSettings(seed=42)) for _ in range(10)]
        sandbox.close()
        return [
            (o.seller.store_id, o.lines[0].variation_number, o.lines[0].quantity)
            for o in made
            if o is not None
        ]

    first = sales()
    assert len(first) == 10 and first == sales()


def test_settings_are_validated(sandbox: Sandbox, running: RunningSandbox) -> None:
    url = f"{running.url}/_sandbox/webhooks"
    assert httpx.post(url, json={"drop_share": 2}).status_code == 400
    assert httpx.post(url, json={"colour": "blue"}).status_code == 400
    assert httpx.post(url, json={"marketplaces": ["amazon"]}).status_code == 400
    assert (
        httpx.post(f"{running.url}/_sandbox/live", json={"rate_per_minute": -1}).status_code == 400
    )
    current = httpx.post(url, json={"delay_seconds": 0.0, "duplicate_copies": 2}).json()
    assert current["settings"]["duplicate_copies"] == 2
    assert current["targets"]["shopee"] == f"{sandbox.webhooks.settings.url}/webhooks/shopee"
