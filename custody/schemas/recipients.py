"""Recipients, their calendar and wristband, and follow-up samples at the edge."""

from marshmallow import Schema, fields, validate

from custody.domain import schedule
from custody.domain.dosing import MAX_WEIGHT_KG, MIN_WEIGHT_KG
from custody.schemas.bags import Page
from custody.schemas.collection import IsbtDateTime
from custody.schemas.common import PatientDataOut, patient_identifier, text

REASON = {"description": "why, kept in the audit trail with the change"}
_WEIGHT = validate.Range(min=MIN_WEIGHT_KG, max=MAX_WEIGHT_KG)


class RecipientIn(Schema):
    subject_id = text(32, required=True, metadata={"description": "e.g. CAR33-001-01"})
    hospital_record_number = text(
        32, required=True, metadata={"description": "letters and digits: it goes on the wristband"}
    )
    name = text(200, required=True)
    birth_date = fields.Date(required=True)
    weight_kg = fields.Float(required=True, validate=_WEIGHT)
    weight_measured_on = fields.Date(required=True)
    site = text(100, required=True, metadata={"description": "the treating site"})
    phase = fields.Integer(required=True, strict=True, validate=validate.OneOf([1, 2]))
    dose_level = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=16),
        metadata={"description": "an open level in phase 1; phase 2 gets the recommended one"},
    )


class RecipientQuery(Page):
    status = fields.String(validate=validate.OneOf(schedule.STATUSES))
    site = fields.String(validate=validate.Length(min=1, max=100))


class CalendarItemOut(Schema):
    kind = fields.String(metadata={"description": "infusion_1, bone_marrow_biopsy, …"})
    title = fields.String()
    due_from = fields.Date(allow_none=True)
    due_to = fields.Date(allow_none=True)
    status = fields.String(
        metadata={
            "description": "done, due, upcoming, overdue, not_applicable, or past (a visit the "
            "tracker does not record whose window has closed)"
        }
    )


class SampleOut(Schema):
    code = fields.String(metadata={"description": "the barcode on the tube, e.g. SMP-3F9A0C12"})
    subject_id = fields.String()
    kind = fields.String()
    due_on = fields.Date(allow_none=True)
    stage = fields.String(metadata={"description": "due, collected, sent or received"})
    collected_at = fields.DateTime(allow_none=True)
    collected_by = fields.String(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    sent_by = fields.String(allow_none=True)
    received_at = fields.DateTime(allow_none=True)
    received_by = fields.String(allow_none=True)
    received_condition = fields.String()


class RecipientOut(PatientDataOut):
    subject_id = fields.String()
    hospital_record_number = patient_identifier()
    name = patient_identifier()
    birth_date = patient_identifier(fields.Date)
    weight_kg = fields.Float()
    weight_measured_on = fields.Date()
    site = fields.String()
    phase = fields.Integer()
    dose_level = fields.String(allow_none=True, metadata={"description": "its code, e.g. DL2"})
    status = fields.String()
    status_reason = fields.String()
    day0 = fields.Date(allow_none=True, metadata={"description": "the day of infusion 1"})
    second_infusion_ordered = fields.Boolean()
    discharged_on = fields.Date(allow_none=True)
    transplant_on = fields.Date(allow_none=True)


class AllocatedBagOut(Schema):
    infusion_number = fields.Integer()
    bag = fields.String(metadata={"description": "the bag's code"})


class RecipientDetailOut(RecipientOut):
    calendar = fields.List(fields.Nested(CalendarItemOut))
    samples = fields.List(fields.Nested(SampleOut))
    allocated_bags = fields.List(fields.Nested(AllocatedBagOut))


class RecipientListOut(Schema):
    items = fields.List(fields.Nested(RecipientOut))


class CalendarOut(Schema):
    subject_id = fields.String()
    day0 = fields.Date(allow_none=True)
    items = fields.List(fields.Nested(CalendarItemOut))


class WristbandOut(PatientDataOut):
    subject_id = fields.String()
    wristband = patient_identifier(description="the data the wristband barcode carries")
    name = patient_identifier()
    birth_date = patient_identifier(fields.Date)
    hospital_record_number = patient_identifier()


class WeightIn(Schema):
    weight_kg = fields.Float(required=True, validate=_WEIGHT)
    measured_on = fields.Date(required=True)
    reason = text(500, required=True, metadata=REASON)


class StatusIn(Schema):
    status = fields.String(required=True, validate=validate.OneOf(schedule.STATUSES))
    reason = text(500, required=True, metadata=REASON)
    on = fields.Date(load_default=None, metadata={"description": "when it happened (today)"})


class DoseLevelAssignIn(Schema):
    dose_level = text(16, required=True, metadata={"description": "e.g. DL3"})
    reason = text(500, required=True, metadata=REASON)


class SecondInfusionOrderIn(Schema):
    ordered = fields.Boolean(required=True, metadata={"description": "the investigator's decision"})
    reason = text(500, required=True, metadata=REASON)


class DischargeIn(Schema):
    on = fields.Date(required=True)


class TransplantIn(Schema):
    on = fields.Date(required=True)
    reason = text(500, required=True, metadata=REASON)


class SampleCollectionIn(Schema):
    scan = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "the tube's barcode as scanned; must name the same sample"},
    )
    at = IsbtDateTime(load_default=None, metadata={"description": "when taken (now)"})


class SampleDispatchIn(Schema):
    at = IsbtDateTime(load_default=None, metadata={"description": "handed to the courier (now)"})


class SampleReceiptIn(Schema):
    condition = text(200, required=True, metadata={"description": "e.g. intact, cold"})
