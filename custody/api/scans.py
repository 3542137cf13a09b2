"""Scan-driven custody actions, and what a scan names (for the scan station)."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.schemas.bags import CustodyEventOut, ScanActionIn, ScanLookupIn, ScanLookupOut
from custody.services.bags.queries import event_summary
from custody.services.bags.scan_station import describe_scan
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
    """What the scanned data names: a bag (with its state and next actions), a location or
    a shipment. Changes nothing."""
    return describe_scan(body["data"])
