"""Mercado Livre fulfilment writes: ME1 seller notifications (tracking) and NF-e import.

Package-private to the Mercado Livre simulator. Sources (API-NOTES-WRITES §1.6):

- ME1 sellers report dispatch with `POST /shipments/{id}/seller_notifications`
  ({payload{service_id, comment, date}, tracking_number, tracking_url, status, substatus}),
  answered `{"status": "OK"}`; shipped then delivered, and nothing for a Mercado Envios (ME2)
  shipment, whose tracking the carrier reports. `service_id` comes from
  `GET /sites/MLB/shipping_services` (PAC = 1 and Sedex = 2 of Correios per ML's old ME1 guide;
  the other services are the sandbox's).
- PJ sellers import the NF-e of drop_off, xd_drop_off and cross_docking sales through
  `/shipments/{id}/invoice_data`, which unlocks the `invoice_pending` substatus. The method
  and body of that call are not in our sources: the sandbox takes
  `POST ...?siteId=MLB {fiscal_key, number, series, issued_date, amount}` and checks the key
  (44 digits, model 55, mod-11 check digit, series and number matching the key). Full
  (fulfillment) sales are invoiced by ML's own invoicer and refuse it; one invoice per
  shipment.

Which sales need what: a sale recorded while the sandbox runs on an ME1 item (`shipping.mode`
me1) ships ME1; one on a drop_off / xd_drop_off / cross_docking item waits in
`ready_to_ship/invoice_pending` until its invoice is imported. The generated history was
invoiced and shipped outside the API and shows as before (an invoice can still be imported
once for its paid orders).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from synchub_pipelines.sandbox.mercadolivre_render import (
    SITE_ID,
    iso_local,
    logistic_type_of,
    shipment_id,
)
from synchub_pipelines.sandbox.world import InvalidTransition, Order

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from synchub_pipelines.sandbox.mercadolivre import Caller, Simulator

SHIPPING_SERVICES: tuple[tuple[int, str, int, str], ...] = (
    (1, "PAC", 100008, "Correios"),
    (2, "Sedex", 100008, "Correios"),
    (151, "Jadlog Package", 100020, "Jadlog"),
    (152, "Jadlog .Com", 100020, "Jadlog"),
    (171, "Loggi Express", 100031, "Loggi"),
    (181, "Total Express Standard", 100040, "Total Express"),
)
INVOICE_LOGISTICS = frozenset({"drop_off", "xd_drop_off", "cross_docking"})
NOTIFIABLE = frozenset({"shipped", "delivered"})


def _refusal(code: str, message: str, reference: str = "shipment") -> dict[str, Any]:
    return {
        "department": "shipping",
        "cause_id": 4000 + len(code),
        "type": "error",
        "code": code,
        "references": [reference],
        "message": message,
    }


def access_key_ok(key: str) -> bool:
    """NF-e access key: 43 digits and a mod-11 check digit (weights 2…9 from the right)."""
    if len(key) != 44 or not key.isdigit():
        return False
    total = sum(int(d) * (2 + i % 8) for i, d in enumerate(reversed(key[:43])))
    rest = total % 11
    check = 0 if rest < 2 else 11 - rest
    return check == int(key[43])


@dataclass(frozen=True)
class SentTracking:
    service_id: int
    service_name: str
    tracking_number: str
    tracking_url: str | None
    at: datetime


@dataclass(frozen=True)
class ImportedInvoice:
    fiscal_key: str
    number: str
    series: str
    issued_date: str
    amount: Decimal | None
    at: datetime


class FulfilmentDesk:
    """Seller notifications and invoice imports of one Mercado Livre simulator."""

    def __init__(self, simulator: Simulator) -> None:
        self.sim = simulator
        self.me1_orders: set[int] = set()
        self.invoice_required: set[int] = set()
        self.tracking: dict[int, SentTracking] = {}
        self.invoices: dict[int, ImportedInvoice] = {}
        self.services = {
            sid: (name, company_id, company) for sid, name, company_id, company in SHIPPING_SERVICES
        }

    def on_sale(self, order: Order) -> None:
        """A sale recorded now ships the way its item ships now."""
        listing = self.sim.listings[order.lines[0].listing_number]
        extras = self.sim.items.extras.get(listing.listing_number)
        if extras is not None and extras.shipping_mode == "me1":
            self.me1_orders.add(order.order_number)
        elif logistic_type_of(listing.listing_number) in INVOICE_LOGISTICS:
            self.invoice_required.add(order.order_number)

    # --- reads ---------------------------------------------------------------------------

    async def shipping_services(self, request: Request, caller: Caller | None) -> Response:
        return self.sim.json_response(
            [
                {
                    "id": sid,
                    "name": name,
                    "status": "active",
                    "shipping_company": {"id": cid, "name": company, "site_id": SITE_ID},
                    "site_id": SITE_ID,
                    "currency_id": "BRL",
                    "tracks_shipments": True,
                }
                for sid, (name, cid, company) in self.services.items()
            ]
        )

    def overlay(self, order: Order, body: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
        """What the seller's writes change in a rendered shipment (either format)."""
        number = order.order_number
        if number in self.me1_orders:
            if "logistic" in body:
                body["logistic"] = {**body["logistic"], "mode": "me1", "type": "default"}
            else:
                body["mode"], body["logistic_type"] = "me1", "default"
            sent = self.tracking.get(number)
            body["tracking_number"] = sent.tracking_number if sent else None
            body["tracking_method"] = sent.service_name if sent else None
            if body["status"] == "ready_to_ship":
                body["substatus"] = None
        elif number in self.invoice_required and body["status"] == "ready_to_ship":
            body["substatus"] = "ready_to_print" if number in self.invoices else "invoice_pending"
        return body

    async def invoice(self, request: Request, caller: Caller | None) -> Response:
        order = self.sim.visible_shipment(request, caller)
        found = self.invoices.get(order.order_number)
        if found is None:
            raise self.sim.error(
                404,
                "not_found",
                f"Invoice data not found for shipment {shipment_id(order.order_number)}",
            )
        return self.sim.json_response(self._invoice_json(order, found))

    def _invoice_json(self, order: Order, found: ImportedInvoice) -> dict[str, Any]:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(order.seller.timezone)
        return {
            "id": f"{shipment_id(order.order_number)}-{found.fiscal_key[-8:]}",
            "shipment_id": shipment_id(order.order_number),
            "fiscal_key": found.fiscal_key,
            "number": found.number,
            "series": found.series,
            "issued_date": found.issued_date,
            "amount": float(found.amount) if found.amount is not None else None,
            "status": "imported",
            "date_created": iso_local(found.at, tz),
        }

    # --- writes --------------------------------------------------------------------------

    def _refuse(self, code: str, message: str, reference: str = "shipment") -> Exception:
        return self.sim.error(400, "bad_request", message, [_refusal(code, message, reference)])

    def _shippable(self, order: Order, now: datetime) -> str:
        status = order.status_at(now)[0]
        sid = shipment_id(order.order_number)
        if status == "cancelled":
            raise self._refuse(
                "shipment.status.cancelled", f"Shipment {sid} is cancelled: nothing to ship"
            )
        if status == "pending":
            raise self._refuse(
                "shipment.status.invalid", f"Shipment {sid} is pending: the order is not paid"
            )
        return status

    async def seller_notification(self, request: Request, caller: Caller | None) -> Response:
        sim = self.sim
        order = sim.visible_shipment(request, caller)
        sim.count_write("shipments.seller_notifications")
        body = await sim.json_body(request)
        now = sim.clock.now()
        sid = shipment_id(order.order_number)
        status = self._shippable(order, now)
        if order.order_number not in self.me1_orders:
            kind = logistic_type_of(order.lines[0].listing_number)
            raise self._refuse(
                "shipment.mode.invalid",
                f"Shipment {sid} is me2 ({kind}): Mercado Envios reports its tracking; seller "
                "notifications are for me1 shipments",
            )
        wanted = body.get("status")
        if wanted not in NOTIFIABLE:
            raise self._refuse(
                "shipment.status.invalid", f"status must be one of {sorted(NOTIFIABLE)}", "status"
            )
        if wanted == "delivered":
            if status != "shipped":
                raise self._refuse(
                    "shipment.status.invalid", f"Shipment {sid} is {status}: not shipped yet"
                )
            self._advance(order, "delivered", now)
            return sim.json_response({"status": "OK"})
        if status != "paid":
            raise self._refuse(
                "shipment.status.invalid", f"Shipment {sid} is already {status}", "status"
            )
        raw_payload = body.get("payload")
        payload: dict[str, Any] = raw_payload if isinstance(raw_payload, dict) else {}
        service = payload.get("service_id")
        if (
            isinstance(service, bool)
            or not isinstance(service, int)
            or service not in self.services
        ):
            raise self._refuse(
                "shipment.service_id.invalid",
                f"payload.service_id {service!r} is not a shipping service of {SITE_ID} "
                "(GET /sites/MLB/shipping_services)",
                "payload.service_id",
            )
        number = body.get("tracking_number")
        if not isinstance(number, str) or not number.strip():
            raise self._refuse(
                "shipment.tracking_number.invalid", "tracking_number is required", "tracking_number"
            )
        url = body.get("tracking_url")
        with sim.lock:
            self.tracking[order.order_number] = SentTracking(
                service, self.services[service][0], number.strip(),
                url if isinstance(url, str) else None, now,
            )  # fmt: skip
        self._advance(order, "shipped", now)
        return sim.json_response({"status": "OK"})

    def _advance(self, order: Order, status: str, now: datetime) -> None:
        try:
            self.sim.world.advance_order(order, status, now)
        except InvalidTransition as exc:
            raise self._refuse("shipment.status.invalid", str(exc)) from None

    async def import_invoice(self, request: Request, caller: Caller | None) -> Response:
        sim = self.sim
        order = sim.visible_shipment(request, caller)
        sim.count_write("shipments.invoice_data")
        site = request.query_params.get("siteId", SITE_ID)
        if site != SITE_ID:
            raise self._refuse("invoice.site_id.invalid", "siteId must be MLB", "siteId")
        body = await sim.json_body(request)
        now = sim.clock.now()
        sid = shipment_id(order.order_number)
        self._shippable(order, now)
        kind = logistic_type_of(order.lines[0].listing_number)
        if order.order_number not in self.me1_orders and kind == "fulfillment":
            raise self._refuse(
                "invoice.logistic_type.invalid",
                f"Shipment {sid} is fulfillment (Full): Mercado Livre's invoicer issues its NF-e",
            )
        key = body.get("fiscal_key")
        if not isinstance(key, str) or not access_key_ok(key) or key[20:22] != "55":
            raise self._refuse(
                "invoice.fiscal_key.invalid",
                f"fiscal_key {key!r} is not an NF-e access key (44 digits, model 55, valid "
                "check digit)",
                "fiscal_key",
            )
        number, series = str(body.get("number", "")), str(body.get("series", ""))
        if not number.isdigit() or not series.isdigit():
            raise self._refuse(
                "invoice.number.invalid", "number and series must be digits", "number"
            )
        if int(key[25:34]) != int(number) or int(key[22:25]) != int(series):
            raise self._refuse(
                "invoice.fiscal_key.mismatch",
                f"number {number} / series {series} are not the ones in the access key",
                "fiscal_key",
            )
        issued = body.get("issued_date")
        try:
            issued_at = datetime.fromisoformat(str(issued))
        except ValueError:
            issued_at = None
        if issued_at is None or issued_at.tzinfo is None:
            raise self._refuse(
                "invoice.issued_date.invalid",
                "issued_date must be ISO-8601 with offset",
                "issued_date",
            )
        amount: Decimal | None = None
        if body.get("amount") is not None:
            try:
                amount = Decimal(str(body["amount"]))
            except InvalidOperation:
                raise self._refuse(
                    "invoice.amount.invalid", "amount must be a number", "amount"
                ) from None
        with sim.lock:
            existing = self.invoices.get(order.order_number)
            if existing is not None:
                raise self._refuse(
                    "invoice.already_exists",
                    f"Shipment {sid} already has an invoice (key {existing.fiscal_key})",
                )
            found = ImportedInvoice(key, number, series, str(issued), amount, now)
            self.invoices[order.order_number] = found
        return sim.json_response(self._invoice_json(order, found), 201)
