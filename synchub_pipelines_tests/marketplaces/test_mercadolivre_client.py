"""The Mercado Livre client against the sandbox over real HTTP on loopback.

Expectations are computed from the sandbox World directly (world listings, orders and their
timelines), never through the simulator's rendering helpers.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from pydantic import SecretStr

from synchub_pipelines.marketplaces import mercadolivre
from synchub_pipelines.marketplaces.errors import InvalidRequestError
from synchub_pipelines.marketplaces.http import HttpSettings
from synchub_pipelines.marketplaces.mercadolivre import MercadoLivreApp, MercadoLivreClient
from synchub_pipelines.marketplaces.tokens import MemoryTokenStore, TokenManager, TokenSet
from synchub_pipelines.models import Listing, ListingStatus, Order, Store
from synchub_pipelines.sandbox import mercadolivre as ml_sandbox
from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines.sandbox.world import Order as WorldOrder
from synchub_pipelines.sandbox.world import Seller
from synchub_pipelines.warehouse.credentials import SqlTokenStore
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines_tests.conftest import ANCHOR
from synchub_pipelines_tests.sandbox.test_mercadolivre_contract import expected_item_status

SP = ZoneInfo("America/Sao_Paulo")
SALT = "test-salt"
# The sandbox shows a shipped order as `paid` (shipping progress lives on the shipment).
CANONICAL = {
    "pending": "pending",
    "paid": "paid",
    "shipped": "paid",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "returned": "returned",
}


def ml_app(running: RunningSandbox) -> MercadoLivreApp:
    """The sandbox's registered app (as pipeline/harness.py builds it, without Dagster)."""
    return MercadoLivreApp(
        client_id=ml_sandbox.APP_ID,
        client_secret=SecretStr(ml_sandbox.APP_SECRET),
        redirect_uri=ml_sandbox.REDIRECT_URI,
        api_url=running.base_url("mercadolivre"),
        auth_url=running.base_url("mercadolivre"),
        requests_per_second=2000,
        http=HttpSettings(timeout_seconds=10, backoff_base_seconds=0.01, backoff_max_seconds=0.2),
    )


def authorization_code(app: MercadoLivreApp, seller_id: str) -> str:
    """The seller's consent, as the browser redirect would deliver it."""
    url, _ = app.authorization_url()
    answer = httpx.get(f"{url}&user_id={seller_id}", follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return parse_qs(urlparse(answer.headers["location"]).query)["code"][0]


class CountingTransport(httpx.BaseTransport):
    """A real HTTP transport that counts what went over the wire, by method and path."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.seen[f"{request.method} {request.url.path.rsplit('/mercadolivre', 1)[-1]}"] += 1
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@dataclass
class Connected:
    running: RunningSandbox
    app: MercadoLivreApp
    seller: Seller
    store: Store
    tokens: MemoryTokenStore
    client: MercadoLivreClient
    wire: CountingTransport


def set_clock(running: RunningSandbox, moment: datetime) -> None:
    clock = running.sandbox.clock
    clock.advance(moment.timestamp() - clock.time())


def connect(running: RunningSandbox, seller_index: int = 0) -> Connected:
    app = ml_app(running)
    seller = running.sandbox.world.sellers_of("mercadolivre")[seller_index]
    wire = CountingTransport()
    http = app.new_http(transport=wire)
    seller_id, tokens = app.exchange_code(http, authorization_code(app, seller.seller_id))
    assert seller_id == seller.seller_id
    store = Store.of("mercadolivre", seller_id, seller.nickname)
    token_store = MemoryTokenStore()
    token_store.save(store.store_id, tokens)
    client = MercadoLivreClient(app, store, token_store, buyer_salt=SALT, http=http)
    return Connected(running, app, seller, store, token_store, client, wire)


@pytest.fixture
def ml(sandbox: RunningSandbox) -> Iterator[Connected]:
    # At the anchor the newest orders are still pending, paid or shipped: a mix of statuses.
    set_clock(sandbox, ANCHOR)
    connected = connect(sandbox)
    yield connected
    connected.client.close()


# ML's item status → the canonical one (docs/orders.md).
LISTING_STATUS = {
    "active": ListingStatus.ACTIVE,
    "paused": ListingStatus.PAUSED,
    "under_review": ListingStatus.UNDER_REVIEW,
    "inactive": ListingStatus.SUPPRESSED,
}


def world_variations(running: RunningSandbox, seller: Seller) -> dict[tuple[str, str], object]:
    out = {}
    for listing in running.sandbox.world.listings_of(seller):
        status = expected_item_status(running.sandbox, listing)
        for variation in listing.variations:
            key = (
                f"MLB{listing.listing_number}",
                str(variation.variation_number) if listing.has_variations else "",
            )
            out[key] = (variation.sku, variation.available_quantity, status)
    return out


def collect_listings(client: MercadoLivreClient) -> list[Listing]:
    out: list[Listing] = []
    for page in client.iter_listings():
        assert page.rejects == []
        out += page.records
    return out


def collect_orders(client: MercadoLivreClient, start: datetime, end: datetime) -> list[Order]:
    out: list[Order] = []
    for page in client.iter_orders(start, end):
        assert page.rejects == []
        out += page.records
    return out


def record_operations(monkeypatch: pytest.MonkeyPatch, client: MercadoLivreClient) -> list[str]:
    operations: list[str] = []
    original = client._call

    def spy(operation: str, method: str, path: str, **kw: object) -> httpx.Response:
        operations.append(operation)
        return original(operation, method, path, **kw)

    monkeypatch.setattr(client, "_call", spy)
    return operations


# --- connecting ----------------------------------------------------------------------------


def test_connect_exchanges_the_code_for_working_tokens(ml: Connected) -> None:
    stored = ml.tokens.load(ml.store.store_id)
    assert stored is not None and stored.refresh_token is not None
    assert stored.access_expires_at > datetime.now(UTC) + timedelta(hours=5)
    assert ml.client.me()["id"] == int(ml.seller.seller_id)
    # The code is single-use: a second exchange is refused.
    code = authorization_code(ml.app, ml.seller.seller_id)
    ml.app.exchange_code(ml.client.http, code)
    with pytest.raises(InvalidRequestError) as caught:
        ml.app.exchange_code(ml.client.http, code)
    assert caught.value.code == "invalid_grant"


# --- listings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "reach", "scan"),
    [(100, 1000, False), (3, 1000, False), (3, 2, True)],
    ids=["one-page", "offset-pages", "scan"],
)
def test_iter_listings_returns_every_variation(
    ml: Connected, monkeypatch: pytest.MonkeyPatch, page: int, reach: int, scan: bool
) -> None:
    monkeypatch.setattr(mercadolivre, "ITEMS_PAGE", page)
    monkeypatch.setattr(mercadolivre, "ITEMS_OFFSET_REACH", reach)
    operations = record_operations(monkeypatch, ml.client)

    listings = collect_listings(ml.client)

    expected = world_variations(ml.running, ml.seller)
    assert len(expected) > 2 * page or page == 100  # the paging is really exercised
    keys = [(x.listing_id, x.variation_id) for x in listings]
    assert len(keys) == len(set(keys)), "no listing twice"
    assert set(keys) == set(expected)
    for listing in listings:
        sku, quantity, (raw, sub_status) = expected[(listing.listing_id, listing.variation_id)]  # type: ignore[misc]
        assert listing.store_id == ml.store.store_id
        assert listing.seller_sku == sku
        assert listing.available_quantity == quantity
        assert (listing.status, listing.raw_status) == (LISTING_STATUS[raw], raw)
        assert listing.status_reason == (",".join(sub_status) or None)
    reasons = {x.raw_status: x.status_reason for x in listings if x.status_reason}
    assert reasons.get("under_review") == "waiting_for_patch"  # ML's verdict, with its reason
    assert ("items.scan" in operations) is scan
    if scan:
        assert operations.count("items.scan") > 2  # several scroll pages, then the empty one


def test_another_sellers_listings_stay_out(sandbox: RunningSandbox) -> None:
    set_clock(sandbox, ANCHOR)
    first, second = connect(sandbox, 0), connect(sandbox, 1)
    try:
        a = {x.listing_id for x in collect_listings(first.client)}
        b = {x.listing_id for x in collect_listings(second.client)}
    finally:
        first.client.close()
        second.client.close()
    assert a and b and not a & b


# --- orders --------------------------------------------------------------------------------


def world_orders_in(
    ml: Connected, start: datetime, end: datetime
) -> dict[str, tuple[WorldOrder, str]]:
    now = ml.running.sandbox.clock.now()
    return {
        str(o.order_number): (o, CANONICAL[o.status_at(now)[0]])
        for o in ml.running.sandbox.world.orders_of(ml.seller)
        if start <= o.created_at < end and o.created_at <= now
    }


def test_iter_orders_returns_the_window_with_normalized_status(ml: Connected) -> None:
    seller_orders = sorted(
        ml.running.sandbox.world.orders_of(ml.seller), key=lambda o: o.created_at
    )
    # Bounds on real order instants: the first one is in, the last one (at `end`) is out.
    start = seller_orders[20].created_at
    end = seller_orders[-1].created_at
    expected = world_orders_in(ml, start, end)
    assert str(seller_orders[20].order_number) in expected
    assert str(seller_orders[-1].order_number) not in expected

    orders = collect_orders(ml.client, start, end)

    ids = [o.order_id for o in orders]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(expected)
    statuses = Counter(o.status.value for o in orders)
    assert len(statuses) >= 3, f"the window should mix statuses, got {statuses}"
    for order in orders:
        world, status = expected[order.order_id]
        assert order.status.value == status
        assert order.created_at == world.created_at
        assert order.business_date == world.created_at.astimezone(SP).date()
        assert order.items_amount == world.total
        assert len(order.items) == len(world.lines)
        assert [(i.listing_id, i.quantity) for i in order.items] == [
            (f"MLB{line.listing_number}", line.quantity) for line in world.lines
        ]
        assert order.buyer_hash and str(world.buyer.buyer_id) not in order.buyer_hash


def test_statuses_follow_the_clock(ml: Connected) -> None:
    start, end = ANCHOR - timedelta(days=30), ANCHOR + timedelta(seconds=1)
    set_clock(ml.running, ANCHOR + timedelta(days=40))  # every order reached its last step
    orders = collect_orders(ml.client, start, end)
    expected = world_orders_in(ml, start, end)
    assert {o.order_id: o.status.value for o in orders} == {k: s for k, (_, s) in expected.items()}
    assert {o.status.value for o in orders} <= {"delivered", "cancelled", "returned"}


def test_window_splitting_delivers_every_order_exactly_once(
    ml: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mercadolivre, "ORDERS_OFFSET_REACH", 20)
    monkeypatch.setattr(mercadolivre, "ORDERS_PAGE", 7)
    operations = record_operations(monkeypatch, ml.client)
    start, end = ANCHOR - timedelta(days=25), ANCHOR + timedelta(hours=1)
    expected = world_orders_in(ml, start, end)
    assert len(expected) > 100  # far past the reach: the window must be split

    orders = collect_orders(ml.client, start, end)

    counts = Counter(o.order_id for o in orders)
    assert [k for k, n in counts.items() if n > 1] == []
    assert set(counts) == set(expected)
    assert operations.count("orders.search") > len(expected) // 20


def test_an_order_on_a_split_boundary_arrives_once(
    ml: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mercadolivre, "ORDERS_OFFSET_REACH", 20)
    seller_orders = sorted(
        ml.running.sandbox.world.orders_of(ml.seller), key=lambda o: o.created_at
    )
    on_edge = seller_orders[len(seller_orders) // 2]
    # The first split falls half a second after the order: the two halves' bounds meet
    # inside the order's second.
    start = on_edge.created_at - timedelta(days=3)
    end = on_edge.created_at + timedelta(days=3, seconds=1)
    assert start + (end - start) / 2 == on_edge.created_at + timedelta(milliseconds=500)
    expected = world_orders_in(ml, start, end)
    assert len(expected) > 20

    counts = Counter(o.order_id for o in collect_orders(ml.client, start, end))

    assert counts[str(on_edge.order_number)] == 1
    assert set(counts) == set(expected) and set(counts.values()) == {1}


def test_window_bounds_keep_millisecond_orders(
    ml: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Real orders carry milliseconds; a sale recorded now in the sandbox does too.
    simulator = ml.running.sandbox.simulators["mercadolivre"]
    listing = next(
        x
        for x in ml.running.sandbox.world.listings_of(ml.seller)
        if x.variations[0].available_quantity > 0
    )
    set_clock(ml.running, ANCHOR + timedelta(days=1, milliseconds=640))
    sale = simulator.record_sale(listing.listing_number, listing.variations[0].variation_number, 1)
    assert sale.created_at.microsecond == 640_000
    moment = sale.created_at
    # The order is in [moment, moment + 1 ms) and in [whole second, moment + 1 ms)…
    for start, end in [
        (moment, moment + timedelta(milliseconds=1)),
        (moment.replace(microsecond=0), moment + timedelta(milliseconds=1)),
    ]:
        ids = [o.order_id for o in collect_orders(ml.client, start, end)]
        assert ids == [str(sale.order_number)], (start, end)
    # …and neither in [whole second, moment) nor in [moment + 1 ms, next second).
    assert collect_orders(ml.client, moment.replace(microsecond=0), moment) == []
    after = moment.replace(microsecond=0) + timedelta(seconds=1)
    assert collect_orders(ml.client, moment + timedelta(milliseconds=1), after) == []


def test_get_orders_by_id(ml: Connected) -> None:
    wanted = [o for o in ml.running.sandbox.world.orders_of(ml.seller)][:3]
    page = ml.client.get_orders([str(o.order_number) for o in wanted])
    assert page.rejects == []
    assert [o.order_id for o in page.records] == [str(o.order_number) for o in wanted]


# --- tokens --------------------------------------------------------------------------------


def expire_locally(tokens: MemoryTokenStore, store_id: str) -> TokenSet:
    current = tokens.load(store_id)
    assert current is not None
    stale = current.model_copy(update={"access_expires_at": datetime.now(UTC) - timedelta(1)})
    tokens.save(store_id, stale)
    return current


def test_expired_access_token_is_refreshed_and_the_refresh_token_rotated(
    sandbox: RunningSandbox,
) -> None:
    set_clock(sandbox, ANCHOR)
    ml = connect(sandbox)
    try:
        before = expire_locally(ml.tokens, ml.store.store_id)
        assert ml.client.me()["id"] == int(ml.seller.seller_id)
        after = ml.tokens.load(ml.store.store_id)
    finally:
        ml.client.close()
    assert after is not None and before.refresh_token and after.refresh_token
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token
    assert after.access_expires_at > datetime.now(UTC)
    assert ml.wire.seen["POST /oauth/token"] == 2  # the code exchange, then one refresh
    # Single-use: the old refresh token is burnt.
    with pytest.raises(InvalidRequestError) as caught:
        ml.app.refresh(ml.app.new_http(), before)
    assert caught.value.code == "invalid_grant"


def test_token_expired_on_the_server_is_refreshed_after_a_401(sandbox: RunningSandbox) -> None:
    set_clock(sandbox, ANCHOR)
    ml = connect(sandbox)
    try:
        before = ml.tokens.load(ml.store.store_id)
        ml.client.me()
        # Six hours later on the server's clock the token is dead, though the client's
        # wall clock still thinks it valid: the 401 triggers one refresh and a retry.
        sandbox.sandbox.clock.advance(6 * 3600 + 60)
        assert ml.client.me()["id"] == int(ml.seller.seller_id)
        after = ml.tokens.load(ml.store.store_id)
    finally:
        ml.client.close()
    assert before is not None and after is not None
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token
    assert ml.wire.seen["POST /oauth/token"] == 2
    assert ml.wire.seen["GET /users/me"] == 3  # ok, 401, ok


def second_process_url(url: str) -> str:
    """The same database under another URL: its own engine, pool and process-local lock."""
    sep = "&" if "?" in url else "?"
    if url.startswith("sqlite"):
        return f"{url}{sep}check_same_thread=false"
    return f"{url}{sep}application_name=synchub_test_second_process"


def test_concurrent_refresh_is_single_flight_across_processes(
    sandbox: RunningSandbox, warehouse_url: str
) -> None:
    set_clock(sandbox, ANCHOR)
    app = ml_app(sandbox)
    seller = sandbox.sandbox.world.sellers_of("mercadolivre")[0]
    wire = CountingTransport()
    http = app.new_http(transport=wire)
    _, granted = app.exchange_code(http, authorization_code(app, seller.seller_id))
    store_id = f"mercadolivre-{seller.seller_id}"
    key = Fernet.generate_key()
    engines = [engine_for(warehouse_url), engine_for(second_process_url(warehouse_url))]
    assert str(engines[0].url) != str(engines[1].url)
    migrate(engines[0])
    stale = granted.model_copy(update={"access_expires_at": datetime.now(UTC) - timedelta(1)})
    SqlTokenStore(engines[0], key).save(store_id, stale)

    refreshes: list[int] = []
    entered = threading.Barrier(2)

    def refresher(tokens: TokenSet) -> TokenSet:
        refreshes.append(1)
        time.sleep(0.2)  # hold the lease a while: the other "process" is surely waiting
        return app.refresh(http, tokens)

    managers = [TokenManager(SqlTokenStore(engine, key), store_id, refresher) for engine in engines]
    results: list[str | BaseException] = [""] * 2

    def work(index: int) -> None:
        try:
            entered.wait(timeout=10)
            results[index] = managers[index].access_token()
        except BaseException as exc:
            results[index] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    http.close()

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert results[0] == results[1] != granted.access_token.get_secret_value()
    assert len(refreshes) == 1
    assert wire.seen["POST /oauth/token"] == 2  # the code exchange and exactly one refresh
    stored = SqlTokenStore(engines[1], key).load(store_id)
    assert stored is not None
    assert stored.access_token.get_secret_value() == results[0]
    assert stored.refresh_token != granted.refresh_token
    with engines[0].connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM store_credentials")).scalar_one() == 1


# --- stock ---------------------------------------------------------------------------------


def test_set_available_quantity_is_reflected_by_get_items(ml: Connected) -> None:
    listings = ml.running.sandbox.world.listings_of(ml.seller)
    with_variations = next(x for x in listings if x.has_variations and len(x.variations) > 1)
    without = next(x for x in listings if not x.has_variations)
    target = with_variations.variations[1]
    untouched = {
        v.variation_number: v.available_quantity
        for v in with_variations.variations
        if v is not target
    }
    item = f"MLB{with_variations.listing_number}"
    single = f"MLB{without.listing_number}"

    ml.client.set_available_quantity(item, str(target.variation_number), 37)
    ml.client.set_available_quantity(single, "", 0)

    page = ml.client.get_items([item, single])
    quantities = {(x.listing_id, x.variation_id): x.available_quantity for x in page.records}
    assert quantities[(item, str(target.variation_number))] == 37
    assert quantities[(single, "")] == 0
    for number, quantity in untouched.items():
        assert quantities[(item, str(number))] == quantity
    assert ml.wire.seen[f"PUT /items/{item}"] == 1
