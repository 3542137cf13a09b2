"""Bags, lots, custody events and scans at the API's edge."""

from marshmallow import Schema, fields, validate

from custody.domain.bag_lifecycle import ACTIONS
from custody.domain.custody_timeline import HISTORY_PAGE, HISTORY_PAGE_MAX
from custody.models import BagStatus, Disposition
from custody.schemas.common import PlainRecords
from custody.schemas.quality import DecisionOut

MAX_SCAN = 500


class CustodyEventOut(Schema):
    id = fields.Integer()
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    occurred_at = fields.DateTime()
    actor = fields.String(metadata={"description": "full name of who scanned"})
    actor_username = fields.String()
    location = fields.String(allow_none=True)
    location_path = fields.String(allow_none=True)
    shipment = fields.String(allow_none=True)
    from_party = fields.String(allow_none=True)
    to_party = fields.String(allow_none=True)
    raw_scan = fields.String(allow_none=True)
    condition = fields.String(allow_none=True)
    temperature_c = fields.Float(allow_none=True)
    station = fields.String(allow_none=True)
    out_of_storage_s = fields.Float(allow_none=True)
    notes = fields.String()


class BagOut(Schema):
    code = fields.String(metadata={"description": "public identifier: DIN-product code"})
    din = fields.String()
    check_character = fields.String(metadata={"description": "the boxed keyboard check K"})
    product_code = fields.String()
    division = fields.String()
    status = fields.String()
    lot = fields.String()
    lot_status = fields.String()
    dose_level = fields.String(allow_none=True)
    recipient = fields.String(allow_none=True)
    scan = fields.String(metadata={"description": "the label's Data Matrix data (=+ message)"})
    volume_ml = fields.Float()
    total_cells = fields.Float()
    viable_car_nk_cells = fields.Float()
    expires_at = fields.DateTime(allow_none=True)
    storage_position = fields.String(allow_none=True)
    donor_eligibility = fields.String()
    warnings = fields.List(fields.String())
    allowed_actions = fields.List(fields.String())
    version = fields.Integer(metadata={"description": "send back as expected_version"})


class BagDetailOut(BagOut):
    location = fields.String()
    parent = fields.String(allow_none=True)
    history = PlainRecords(
        CustodyEventOut,
        metadata={
            "description": f"the newest custody events (at most {HISTORY_PAGE}), "
            "in the order they happened"
        },
    )
    history_next = fields.String(
        allow_none=True,
        metadata={
            "description": "cursor for the events before these: GET /bags/<code>/history"
            "?before=<cursor>; null when `history` reaches the bag's first event"
        },
    )


class BagHistoryQuery(Schema):
    before = fields.String(
        validate=validate.Length(min=1, max=40),
        metadata={"description": "a cursor from `history_next` or a page's `next`"},
    )
    limit = fields.Integer(
        load_default=HISTORY_PAGE, validate=validate.Range(min=1, max=HISTORY_PAGE_MAX)
    )


class BagHistoryOut(Schema):
    items = PlainRecords(CustodyEventOut, metadata={"description": "in the order they happened"})
    next = fields.String(
        allow_none=True,
        metadata={"description": "cursor for the events before these; null at the first event"},
    )


class BagListOut(Schema):
    items = fields.List(fields.Nested(BagOut))


class Page(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10**9))


class BagQuery(Page):
    status = fields.String(validate=validate.OneOf([s.value for s in BagStatus]))
    lot = fields.String(validate=validate.Length(min=1, max=32))


class LotBagOut(Schema):
    code = fields.String()
    status = fields.String()
    division = fields.String()


class LotOut(Schema):
    lot = fields.String()
    status = fields.String(metadata={"description": "disposition"})
    din = fields.String()
    dins = fields.List(fields.String(), metadata={"description": "the donations' DINs"})
    product_description_code = fields.String()
    manufactured_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    donor_eligibility = fields.String()
    warnings = fields.List(fields.String())
    bags = fields.List(fields.Nested(LotBagOut))
    release = fields.Nested(
        DecisionOut,
        allow_none=True,
        metadata={"description": "QA's latest signed decision; null before QA signed"},
    )


class LotDetailOut(LotOut):
    donations = fields.List(fields.Dict())
    steps = fields.List(fields.Dict())


class LotListOut(Schema):
    items = fields.List(fields.Nested(LotOut))


class LotQuery(Page):
    status = fields.String(validate=validate.OneOf([d.value for d in Disposition]))


class ScanActionIn(Schema):
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    bag = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_SCAN),
        metadata={"description": "the bag label's scan: Data Matrix, Code 128 reads or typed"},
    )
    location = fields.String(validate=validate.Length(min=1, max=MAX_SCAN))
    shipment = fields.String(validate=validate.Length(min=1, max=MAX_SCAN))
    temperature_c = fields.Float(validate=validate.Range(min=-273.15, max=100))
    condition = fields.String(validate=validate.Length(max=200))
    from_party = fields.String(validate=validate.Length(max=200))
    to_party = fields.String(validate=validate.Length(max=200))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))
    station = fields.String(validate=validate.Length(max=64))
    expected_version = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))


class ScanLookupIn(Schema):
    data = fields.String(required=True, validate=validate.Length(min=1, max=MAX_SCAN))


class ScanLookupOut(Schema):
    kind = fields.String(metadata={"description": "bag, donation, location, shipment or command"})
    command = fields.String(
        allow_none=True,
        metadata={"description": "a station command read from the printed sheet (e.g. store)"},
    )
    bag = fields.Nested(BagDetailOut, allow_none=True)
    donation = fields.Dict(allow_none=True)
    location = fields.Dict(allow_none=True)
    shipment = fields.Dict(allow_none=True)


class StationLogQuery(Schema):
    station = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "the station's name, as its scans send it"},
    )


class StationLogItemOut(CustodyEventOut):
    bag = fields.String(allow_none=True)
    din = fields.String(allow_none=True)
    check_character = fields.String(allow_none=True)
    product_code = fields.String(allow_none=True)


class StationLogOut(Schema):
    items = fields.List(fields.Nested(StationLogItemOut))


class DecodedOut(Schema):
    format = fields.String(metadata={"description": "Code128 or DataMatrix"})
    text = fields.String(metadata={"description": "what the symbol holds, as a scanner types it"})


class DecodedListOut(Schema):
    items = fields.List(fields.Nested(DecodedOut))
