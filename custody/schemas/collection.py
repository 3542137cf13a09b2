"""Donors, collections, receipt at the lab, lots, batch-record steps and bag filling at the edge."""

from datetime import UTC

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from custody.domain.eligibility import DETERMINATIONS, TEST_RESULTS
from custody.models import Eligibility, MaterialKind
from custody.schemas.bags import BagDetailOut, BagOut, CustodyEventOut, Page
from custody.schemas.common import text

MAX_SCAN = 500
MAX_CELLS = 1e14
MAX_DIVISIONS = 26
_POSITIVE = {"min": 0, "min_inclusive": False}


class IsbtDateTime(fields.AwareDateTime):
    """A date and time with its UTC offset, within the years ISBT 128 can encode (2000-2099)."""

    def _deserialize(self, value, attr, data, **kwargs):
        when = super()._deserialize(value, attr, data, **kwargs)
        try:
            in_utc = when.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError("The date is out of range.") from None
        if not 2000 <= in_utc.year <= 2099:
            raise ValidationError("Give a date between the years 2000 and 2099.")
        return in_utc


# --- donors --------------------------------------------------------------------------------


class DonorIn(Schema):
    donor_code = text(32, required=True, metadata={"description": "e.g. DNR-0042"})
    sex = fields.String(required=True, validate=validate.OneOf(["F", "M", "U"]))
    birth_date = fields.Date(required=True)


class DonorQuery(Page):
    eligibility = fields.String(validate=validate.OneOf([e.value for e in Eligibility]))


class DonorTestIn(Schema):
    test = text(64, required=True, metadata={"description": "e.g. HIV-1/2, HBV, HCV"})
    result = fields.String(required=True, validate=validate.OneOf(TEST_RESULTS))
    sampled_on = fields.Date(required=True)


class EligibilityIn(Schema):
    determination = fields.String(required=True, validate=validate.OneOf(DETERMINATIONS))
    notes = fields.String(
        load_default="",
        validate=validate.Length(max=2000),
        metadata={"description": "required for ineligible and incomplete (the reason)"},
    )


class DonorTestOut(Schema):
    test = fields.String()
    result = fields.String()
    sampled_on = fields.Date()


class DonorOut(Schema):
    donor_code = fields.String()
    sex = fields.String()
    birth_date = fields.Date()
    donor_eligibility = fields.String(metadata={"description": "the determination"})
    warnings = fields.List(fields.String(), metadata={"description": "statements to carry"})
    eligibility_determined_at = fields.DateTime(allow_none=True)
    eligibility_determined_by = fields.String(allow_none=True)
    eligibility_determined_by_username = fields.String(allow_none=True)
    eligibility_notes = fields.String()
    required_tests = fields.List(fields.String())
    outstanding_tests = fields.List(
        fields.String(), metadata={"description": "required tests missing or not non-reactive"}
    )
    tests = fields.List(fields.Nested(DonorTestOut))
    donations = fields.List(fields.String(), metadata={"description": "DINs"})
    created_at = fields.DateTime()


class DonorListOut(Schema):
    items = fields.List(fields.Nested(DonorOut))


# --- collections ---------------------------------------------------------------------------


class DonationIn(Schema):
    donor = text(32, required=True, metadata={"description": "the donor code"})
    collected_at = IsbtDateTime(
        required=True, metadata={"description": "with its UTC offset, e.g. ...T09:30:00-06:00"}
    )
    collection_timezone = text(
        64, required=True, metadata={"description": "IANA name, e.g. America/Chicago"}
    )
    facility = text(200, required=True)
    volume_ml = fields.Float(required=True, validate=validate.Range(max=5000, **_POSITIVE))
    total_nucleated_cells = fields.Float(validate=validate.Range(max=MAX_CELLS, **_POSITIVE))
    nk_cells = fields.Float(validate=validate.Range(max=MAX_CELLS, **_POSITIVE))
    viability_pct = fields.Float(validate=validate.Range(min=0, max=100))


class DonationQuery(Page):
    donor = text(32)
    received = fields.Boolean()


class ReceiptIn(Schema):
    scan = text(
        MAX_SCAN,
        required=True,
        metadata={"description": "DIN barcode data (=W99992600000100) or DIN typed with its K"},
    )
    condition = text(
        200,
        required=True,
        error_messages={"required": "Record the condition of the collection on arrival."},
        metadata={"description": "condition on arrival"},
    )
    temperature_c = fields.Float(
        required=True,
        validate=validate.Range(min=-273.15, max=100),
        error_messages={"required": "Enter the temperature on arrival (°C)."},
    )
    station = text(64)


class DonationOut(Schema):
    din = fields.String()
    check_character = fields.String(metadata={"description": "the boxed keyboard check K"})
    barcode = fields.String(metadata={"description": "the DIN barcode data"})
    donor = fields.String()
    donor_eligibility = fields.String()
    warnings = fields.List(fields.String())
    status = fields.String(metadata={"description": "collected, received or in_lot"})
    collected_at = fields.DateTime()
    collected_at_local = fields.String(metadata={"description": "in the collection time zone"})
    collection_timezone = fields.String()
    facility = fields.String()
    volume_ml = fields.Float()
    total_nucleated_cells = fields.Float(allow_none=True)
    nk_cells = fields.Float(allow_none=True)
    viability_pct = fields.Float(allow_none=True)
    received_at = fields.DateTime(allow_none=True)
    received_by = fields.String(allow_none=True)
    received_condition = fields.String(allow_none=True)
    received_temperature_c = fields.Float(allow_none=True)
    lot = fields.String(allow_none=True)


class DonationListOut(Schema):
    items = fields.List(fields.Nested(DonationOut))


class DonationEventOut(CustodyEventOut):
    donation = fields.String(metadata={"description": "the DIN"})


class ReceiptOut(Schema):
    donation = fields.Nested(DonationOut)
    event = fields.Nested(DonationEventOut)


# --- lots and batch record -----------------------------------------------------------------


class LotIn(Schema):
    donations = fields.List(
        text(MAX_SCAN),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "DINs (13 characters, scanned, or typed with K)"},
    )
    lot_number = text(32, metadata={"description": "generated as L<yy>-<nnnn> when absent"})
    product_description_code = fields.String(
        validate=validate.Length(equal=5), metadata={"description": "default: the setting"}
    )
    manufactured_at = IsbtDateTime()
    expires_at = IsbtDateTime()


class MaterialIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in MaterialKind]))
    name = text(100, required=True)
    lot_number = text(64, required=True)


class StepIn(Schema):
    step = text(100, required=True)
    started_at = IsbtDateTime(required=True)
    ended_at = IsbtDateTime()
    operator = text(64, metadata={"description": "username; default: who records the step"})
    equipment = fields.String(load_default="", validate=validate.Length(max=200))
    observations = fields.String(load_default="", validate=validate.Length(max=5000))
    deviation = fields.Boolean(load_default=False)
    deviation_reason = fields.String(load_default="", validate=validate.Length(max=2000))
    materials = fields.List(
        fields.Nested(MaterialIn), load_default=list, validate=validate.Length(max=50)
    )


class MaterialOut(Schema):
    kind = fields.String()
    name = fields.String()
    lot_number = fields.String()


class StepOut(Schema):
    lot = fields.String()
    sequence = fields.Integer()
    step = fields.String()
    operator = fields.String()
    operator_username = fields.String()
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    equipment = fields.String()
    observations = fields.String()
    deviation = fields.Boolean()
    deviation_reason = fields.String()
    materials = fields.List(fields.Nested(MaterialOut))
    recorded_at = fields.DateTime()


# --- bags ----------------------------------------------------------------------------------


class BagSpecIn(Schema):
    volume_ml = fields.Float(required=True, validate=validate.Range(max=5000, **_POSITIVE))
    total_cells = fields.Float(required=True, validate=validate.Range(max=MAX_CELLS, **_POSITIVE))
    viable_car_nk_cells = fields.Float(
        required=True, validate=validate.Range(max=MAX_CELLS, **_POSITIVE)
    )
    dose_level = text(16, metadata={"description": "the intended dose level's code"})
    expires_at = IsbtDateTime(metadata={"description": "default: the lot's expiry"})


class FillIn(Schema):
    """Either `count` bags alike (`bag`), or a list of `bags`."""

    count = fields.Integer(validate=validate.Range(min=1, max=MAX_DIVISIONS))
    bag = fields.Nested(BagSpecIn)
    bags = fields.List(fields.Nested(BagSpecIn), validate=validate.Length(min=1, max=MAX_DIVISIONS))

    @validates_schema
    def one_form(self, data, **kwargs):
        if "bags" in data and ("count" in data or "bag" in data):
            raise ValidationError("Send either 'bags' or 'count' with 'bag', not both.")
        if "bags" not in data and not ("count" in data and "bag" in data):
            raise ValidationError("Send 'bags' (a list), or 'count' with one 'bag' to repeat.")


class SplitIn(Schema):
    parts = fields.Integer(
        validate=validate.Range(min=2, max=MAX_DIVISIONS), metadata={"description": "equal shares"}
    )
    volumes_ml = fields.List(
        fields.Float(validate=validate.Range(max=5000, **_POSITIVE)),
        validate=validate.Length(min=2, max=MAX_DIVISIONS),
        metadata={"description": "one volume per new bag; cells shared in proportion"},
    )
    reason = fields.String(load_default="", validate=validate.Length(max=2000))

    @validates_schema
    def one_form(self, data, **kwargs):
        if ("parts" in data) == ("volumes_ml" in data):
            raise ValidationError("Send either 'parts' or 'volumes_ml'.")


class FilledBagsOut(Schema):
    items = fields.List(fields.Nested(BagOut))


class SplitOut(Schema):
    parent = fields.Nested(BagDetailOut)
    children = fields.List(fields.Nested(BagOut))
