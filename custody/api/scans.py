"""Scan-driven custody actions, and what a scan names (for the scan station)."""

from flask import request

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.labels.camera import MAX_FRAME_BYTES, read_frame
from custody.schemas.bags import (
    CustodyEventOut,
    DecodedListOut,
    ScanActionIn,
    ScanLookupIn,
    ScanLookupOut,
    StationLogOut,
    StationLogQuery,
)
from custody.services.bags.queries import event_summary
from custody.services.bags.scan_station import describe_scan, station_log
from custody.services.bags.scans import ScanRequest, scan

PREFIX = "/scans"
blp = ApiBlueprint("scans", __name__, description="Scanning bags into custody actions")


@blp.post("")
@requires(UseCase.SCAN)
@blp.arguments(ScanActionIn)
@blp.response(201, CustodyEventOut)
def create(body):
    """Perform `action` on the scanned bag. 409 `illegal_transition` names the current state
    and the allowed actions; 409 `conflict` means someone else's scan changed the bag first."""
    return event_summary(scan(api_user(), ScanRequest(**body)))


@blp.post("/lookup")
@requires(UseCase.LOOK_UP_SCAN)
@blp.arguments(ScanLookupIn)
@blp.response(200, ScanLookupOut)
def lookup(body):
    """What the scanned data names: a bag (with its state and next actions), a collection, a
    location (with what its positions hold), a shipment or a station command. Changes
    nothing."""
    return describe_scan(body["data"])


@blp.get("/log")
@requires(UseCase.USE_SCAN_STATION)
@blp.arguments(StationLogQuery, location="query")
@blp.response(200, StationLogOut)
def log(query):
    """The custody actions done today (the site's day) at one station, newest first."""
    return {"items": station_log(query["station"])}


@blp.post("/decode")
@requires(UseCase.LOOK_UP_SCAN)
@blp.doc(
    requestBody={
        "required": True,
        "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
        },
    }
)
@blp.response(200, DecodedListOut)
def decode(*_args):
    """Read the barcodes (Code 128, Data Matrix) in one camera frame sent as the body (JPEG
    or PNG): the text a hand scanner would have typed, for pages whose browser cannot read a
    barcode itself. Changes nothing; 422 when the body is not an image or is too large."""
    # Never hold more than one frame's worth: a body is read no further than the limit.
    return {"items": read_frame(request.stream.read(MAX_FRAME_BYTES + 1))}
