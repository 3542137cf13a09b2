"""Thaw countdown, two-person bedside verification and the infusion record at the API's edge.

Wristband and bag scans are taken as any text: an unreadable or wrong scan is a recorded,
stopped verification (201, passed false), not a refused request. Only a body that lacks what
a verification needs, or has values of the wrong type, is refused (422).
"""

from marshmallow import Schema, fields, validate

from custody.schemas.collection import IsbtDateTime
from custody.schemas.common import PatientDataOut, patient_identifier, text
from custody.schemas.site_time import SiteTime

MAX_SCAN_FIELD = 2000


class SecondVerifierIn(Schema):
    username = text(64, required=True, metadata={"description": "the second nurse's user ID"})
    password = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        load_only=True,
        metadata={"description": "the second nurse's own password"},
    )


class VerificationIn(Schema):
    recipient = fields.String(
        required=True,
        validate=validate.Length(max=MAX_SCAN_FIELD),
        metadata={"description": "the wristband scan (patient number and date of birth)"},
    )
    bag = fields.String(
        required=True,
        validate=validate.Length(max=MAX_SCAN_FIELD),
        metadata={"description": "the bag label scan: Data Matrix, Code 128 reads or typed"},
    )
    second_verifier = fields.Nested(
        SecondVerifierIn,
        allow_none=True,
        load_default=None,
        metadata={"description": "the second nurse verifies with their own credentials"},
    )
    warnings_acknowledged = fields.Boolean(
        load_default=False,
        metadata={"description": "the donor-eligibility statements on the label were read"},
    )
    station = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=64))
    typed_reason = fields.String(
        load_default="",
        validate=validate.Length(max=500),
        metadata={
            "description": "why the bag's label was typed by hand (DIN, K, product code): "
            "required when it was, kept with the verification"
        },
    )


class CheckOut(Schema):
    check = fields.String()
    passed = fields.Boolean()
    message = fields.String()
    checked = fields.Boolean(
        metadata={
            "description": "false when the check could not run (something it needs is "
            "missing); such a line is no finding of its own"
        }
    )
    rescan = fields.Boolean(
        metadata={"description": "true when the check failed because a read failed: scan again"}
    )


class VerifiedBagOut(Schema):
    code = fields.String()
    din = fields.String()
    check_character = fields.String(metadata={"description": "the DIN's boxed check character"})
    product_code = fields.String()
    lot = fields.String()
    status = fields.String()


class AllocatedRecipientOut(PatientDataOut):
    subject_id = fields.String()
    name = patient_identifier()
    birth_date = patient_identifier(fields.Date)
    hospital_record_number = patient_identifier()


class ThawClockOut(Schema):
    ended_at = fields.DateTime(allow_none=True)
    use_by = fields.DateTime(allow_none=True)
    seconds_left = fields.Integer(allow_none=True)


class VerificationOut(Schema):
    uid = fields.String(metadata={"description": "the infusion record names it"})
    passed = fields.Boolean(metadata={"description": "true only when every check passed"})
    outcome = fields.String(
        metadata={
            "description": "passed; incomplete (acknowledgement or second nurse missing); "
            "unreadable (a read failed: scan again, nothing else is wrong); stopped (a true "
            "mismatch: start again)"
        }
    )
    stop_reason = fields.String(allow_none=True)
    checks = fields.List(fields.Nested(CheckOut))
    bag = fields.Nested(VerifiedBagOut, allow_none=True)
    recipient = fields.Nested(
        AllocatedRecipientOut,
        allow_none=True,
        metadata={"description": "the recipient the bag is allocated to"},
    )
    infusion_number = fields.Integer(allow_none=True)
    thaw = fields.Nested(ThawClockOut, allow_none=True)
    warnings = fields.List(fields.String())
    attempted_at = fields.DateTime()
    first_verifier = fields.String()
    second_verifier = fields.String(allow_none=True)
    station = fields.String(allow_none=True)
    volume_to_infuse_ml = fields.Float(
        allow_none=True, metadata={"description": "the allocation's volume to infuse (mL)"}
    )
    typed_reason = fields.String(allow_none=True)


class ThawOut(Schema):
    bag = fields.String()
    started_at = fields.DateTime()
    started_by = fields.String()
    ended_at = fields.DateTime(allow_none=True)
    ended_by = fields.String(allow_none=True)
    use_by = fields.DateTime(allow_none=True)
    started_local = SiteTime("started_at")
    ended_local = SiteTime("ended_at")
    use_by_local = SiteTime("use_by")
    window_minutes = fields.Integer()
    seconds_left = fields.Integer(allow_none=True, metadata={"description": "never negative"})
    expired = fields.Boolean()


_VOLUME = validate.Range(min=0, min_inclusive=False, max=10000)


class InfusionIn(Schema):
    verification = text(36, required=True, metadata={"description": "the verification's uid"})
    started_at = IsbtDateTime(metadata={"description": "default: now"})
    volume_ml = fields.Float(validate=_VOLUME, allow_none=True)
    reactions = fields.String(load_default="", validate=validate.Length(max=2000))


class CompletionIn(Schema):
    ended_at = IsbtDateTime(metadata={"description": "default: now"})
    volume_ml = fields.Float(required=True, validate=_VOLUME)
    reactions = fields.String(load_default="", validate=validate.Length(max=2000))
    interruption_reason = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=2000),
        metadata={"description": "why the infusion was stopped before the bag was empty"},
    )


class InfusionOut(PatientDataOut):
    bag = fields.String()
    din = fields.String()
    product_code = fields.String()
    lot = fields.String()
    recipient = fields.String(metadata={"description": "subject ID"})
    recipient_name = patient_identifier()
    infusion_number = fields.Integer()
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    started_local = SiteTime("started_at")
    ended_local = SiteTime("ended_at")
    volume_ml = fields.Float(allow_none=True)
    reactions = fields.String()
    interruption_reason = fields.String(allow_none=True)
    first_verifier = fields.String()
    second_verifier = fields.String()
    verification = fields.String(allow_none=True)
    recorded_by = fields.String(allow_none=True)
    day0 = fields.Date(allow_none=True)


class InfusionListOut(Schema):
    items = fields.List(fields.Nested(InfusionOut))


class InfusionQuery(Schema):
    recipient = text(32, metadata={"description": "the recipient's subject ID"})
    in_progress = fields.Boolean(
        metadata={"description": "true: only infusions started and not yet ended"}
    )


class BedsideWristbandIn(Schema):
    wristband = fields.String(
        required=True,
        validate=validate.Length(max=MAX_SCAN_FIELD),
        metadata={"description": "the wristband scan"},
    )


class BedsideWristbandDataOut(PatientDataOut):
    patient_number = patient_identifier(description="the hospital record number it carries")
    birth_date = patient_identifier(fields.Date)


class InProgressOut(Schema):
    bag = fields.String()
    din = fields.String()
    check_character = fields.String()
    product_code = fields.String()
    lot = fields.String()
    recipient = fields.String(metadata={"description": "subject ID"})
    infusion_number = fields.Integer()
    started_at = fields.DateTime()
    started_local = SiteTime("started_at")
    started_by = fields.String(allow_none=True)
    first_verifier = fields.String()
    second_verifier = fields.String()
    volume_ml = fields.Float(allow_none=True)
    volume_to_infuse_ml = fields.Float(allow_none=True)
    stops = fields.List(
        fields.String(),
        metadata={
            "description": "what arose since the start and stops the infusion (recall, "
            "a release that no longer holds); recording its end is never refused"
        },
    )


class BedsideWristbandOut(Schema):
    wristband = fields.Nested(BedsideWristbandDataOut)
    recipient = fields.Nested(
        AllocatedRecipientOut,
        allow_none=True,
        metadata={"description": "the recipient the wristband names; null when none has it"},
    )
    infusion_in_progress = fields.Nested(InProgressOut, allow_none=True)
