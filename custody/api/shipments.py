"""Shipments to clinical sites: packing, courier handoff, logger data, receipt.

Bags are packed into a shipment, taken out again and scanned in at the site with
`POST /scans` (actions `pack`, `unpack`, `receive`, each with `"shipment": "<code>"`); the
endpoints here concern the whole shipment.
"""

from flask import request

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.config import settings
from custody.domain.errors import DomainError, ValidationFailed
from custody.domain.permissions import UseCase
from custody.schemas.shipping import (
    DiscrepancyIn,
    DiscrepancyOut,
    DispatchIn,
    ResolutionIn,
    ShipmentCreateIn,
    ShipmentDetailOut,
    ShipmentListOut,
    ShipmentQuery,
    TemperatureReportOut,
)
from custody.services.bags import discrepancy_resolutions, shipment_queries, shipping
from custody.services.bags.lookup import shipment_by_code

PREFIX = "/shipments"
blp = ApiBlueprint(
    "shipments",
    __name__,
    description="Shipments to clinical sites: packing, courier handoff, logger data, receipt",
)

# Ten days at one reading a minute is well under 1 MB; this leaves room and stops abuse.
MAX_CSV_BYTES = 8 * 1024 * 1024
CSV_BODY = {
    "required": True,
    "description": (
        "The temperature logger's export as the raw request body, `Content-Type: text/csv` "
        "(UTF-8). First line the header `timestamp,temperature_c`; then one reading a line: "
        "an ISO 8601 timestamp with `Z` or an offset (`2025-03-01T08:00:00Z`, "
        "`2025-03-01T09:00:00+01:00`) and the temperature in °C. Lines may be in any order. "
        "A naive timestamp, a non-number, a duplicate time or an empty file is refused with "
        "422 naming the line, and then nothing is stored. One import per shipment, after "
        "dispatch: a second import is refused with 409 (the first record of the trip stands)."
    ),
    "content": {
        "text/csv": {
            "schema": {"type": "string"},
            "example": "timestamp,temperature_c\n2025-03-01T08:00:00Z,-185.2\n",
        }
    },
}


class NotCsv(DomainError):
    code = "unsupported_media_type"
    http_status = 415


def _detail(code: str) -> dict:
    return shipment_queries.shipment_detail(code.upper())


@blp.post("")
@requires(UseCase.CREATE_SHIPMENT)
@blp.arguments(ShipmentCreateIn)
@blp.response(201, ShipmentDetailOut)
def create(body):
    """Create an empty shipment (status packing), numbered SHP-<year>-<nnnn>. Pack bags into
    it with `POST /scans` action `pack`."""
    shipment = shipping.create_shipment(api_user(), **body)
    return _detail(shipment.code)


@blp.get("")
@requires(UseCase.READ_RECORDS)
@blp.arguments(ShipmentQuery, location="query")
@blp.response(200, ShipmentListOut)
def index(query):
    """Shipments, newest first; filter by `status` (packing, in_transit, received)."""
    return {"items": shipment_queries.list_shipments(**query)}


@blp.get("/<code>")
@requires(UseCase.READ_RECORDS)
@blp.response(200, ShipmentDetailOut)
def show(code):
    """One shipment: manifest (each bag, received or not), courier handoff, discrepancies,
    bags still unaccounted for, and the logger's excursions and gaps."""
    return _detail(code)


@blp.post("/<code>/dispatch")
@requires(UseCase.DISPATCH_SHIPMENT)
@blp.arguments(DispatchIn)
@blp.response(200, ShipmentDetailOut)
def dispatch(body, code):
    """Hand the shipper to the courier: every packed bag gets a `handoff` custody event from
    the lab to the courier, and the shipment goes in transit. 409 when the shipment is empty,
    already dispatched, or holds a bag that may no longer travel (lot rejected or back in
    quarantine, product expired): nothing is handed over then. With `username` and `password`
    (your own) the handoff is also your electronic signature, shown as `handoff_signature`;
    a wrong password is 403 `signature_refused` and counts towards the account's lockout."""
    lab = settings().facility_name
    shipping.dispatch(api_user(), code.upper(), lab_name=lab, **body)
    return _detail(code)


@blp.post("/<code>/temperatures")
@requires(UseCase.IMPORT_TEMPERATURES)
@blp.doc(requestBody=CSV_BODY)
@blp.response(201, TemperatureReportOut)
def import_temperatures(code):
    """Import the shipper's temperature logger CSV; answers the readings with the excursions
    above the shipment's storage limit and the gaps in the log."""
    shipping.import_temperatures(api_user(), code.upper(), _csv_body())
    return _temperatures(code)


@blp.get("/<code>/temperatures")
@requires(UseCase.READ_RECORDS)
@blp.response(200, TemperatureReportOut)
def temperatures(code):
    """The logger's readings, the excursions above the storage limit (start, end, duration,
    peak) and the gaps longer than the configured interval (default 30 minutes)."""
    return _temperatures(code)


def _temperatures(code: str) -> dict:
    return shipment_queries.temperature_report(shipment_by_code(code.upper()))


@blp.post("/<code>/discrepancies")
@requires(UseCase.RECORD_DISCREPANCY)
@blp.arguments(DiscrepancyIn)
@blp.response(201, DiscrepancyOut)
def record_discrepancy(body, code):
    """Record a missing bag (on the manifest, not arrived) or an unexpected one (arrived, not
    on the manifest: any scan, known bag or not). A note is required."""
    record = shipping.record_discrepancy(api_user(), code.upper(), **body)
    return shipment_queries.discrepancy_line(record)


@blp.post("/<code>/discrepancies/<int:number>/resolution")
@requires(UseCase.RESOLVE_DISCREPANCY)
@blp.arguments(ResolutionIn)
@blp.response(201, ShipmentDetailOut)
def resolve_discrepancy(body, code, number):
    """Record how discrepancy `number` (1 for the shipment's first) was resolved: the outcome,
    and why (required); who and when are recorded. Once per discrepancy: a second resolution
    is 409. A missing bag is `found_and_received` only after it was scanned in (else 409)."""
    discrepancy_resolutions.resolve_discrepancy(api_user(), code.upper(), number, **body)
    return _detail(code)


@blp.post("/<code>/receipt")
@requires(UseCase.RECEIVE_SHIPMENT)
@blp.response(200, ShipmentDetailOut)
def complete_receipt(code):
    """Complete receipt at the site. 409 listing the bags still unaccounted for unless every
    manifest bag was scanned in (`POST /scans` action `receive`) or recorded missing."""
    shipping.complete_receipt(api_user(), code.upper())
    return _detail(code)


def _csv_body() -> str:
    if request.mimetype != "text/csv":
        raise NotCsv(
            "Send the logger file as the request body with 'Content-Type: text/csv'.",
            content_type=request.mimetype or None,
        )
    if (request.content_length or 0) > MAX_CSV_BYTES:
        raise ValidationFailed(
            f"The logger file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB.",
            limit_bytes=MAX_CSV_BYTES,
        )
    raw = request.stream.read(MAX_CSV_BYTES + 1)
    if len(raw) > MAX_CSV_BYTES:
        raise ValidationFailed(f"The logger file is larger than {MAX_CSV_BYTES} bytes.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        raise ValidationFailed(
            f"The logger file is not UTF-8 text (byte {bad.start}). Export it as UTF-8 CSV.",
            byte=bad.start,
        ) from None
