"""The trial's configuration and the clinic dashboard at the edge."""

from marshmallow import Schema, fields, validate

from custody.domain.bedside_checks import MAX_POST_THAW_MINUTES
from custody.domain.dosing import MAX_DOSE_CELLS
from custody.domain.schedule import MAX_DAYS_AHEAD
from custody.models import DoseBasis, DoseLevelStatus
from custody.schemas.bedside import InProgressOut
from custody.schemas.common import PatientDataOut, patient_identifier, text

REASON = {"description": "why, kept in the audit trail with the change"}


class TrialIn(Schema):
    protocol_id = text(64, required=True, metadata={"description": "e.g. NCT07026942"})
    title = text(300, required=True)
    product_name = text(100, required=True, metadata={"description": "e.g. CD33 CAR-NK cells"})
    post_thaw_minutes = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=MAX_POST_THAW_MINUTES),
        metadata={"description": "how long thawed product may wait for the infusion"},
    )
    reason = text(500, required=True, metadata=REASON)


class PhaseIn(Schema):
    phase = fields.Integer(required=True, strict=True, validate=validate.OneOf([1, 2]))
    reason = text(500, required=True, metadata=REASON)


class DoseLevelIn(Schema):
    code = text(16, required=True, metadata={"description": "e.g. DL2"})
    phase = fields.Integer(load_default=1, strict=True, validate=validate.OneOf([1, 2]))
    basis = fields.String(
        required=True,
        validate=validate.OneOf([b.value for b in DoseBasis]),
        metadata={"description": "flat: cells per infusion; per_kg: cells per kg of weight"},
    )
    dose_cells = fields.Float(
        required=True,
        validate=validate.Range(min=0, max=MAX_DOSE_CELLS, min_inclusive=False),
        metadata={"description": "viable CAR+ NK cells (per infusion or per kg)"},
    )
    tolerance_pct = fields.Float(
        load_default=20.0, validate=validate.Range(min=0, max=100, max_inclusive=False)
    )
    reason = text(500, required=True, metadata=REASON)


class DoseLevelStatusIn(Schema):
    status = fields.String(
        required=True, validate=validate.OneOf([s.value for s in DoseLevelStatus])
    )
    reason = text(500, required=True, metadata=REASON)


class DoseLevelOut(Schema):
    code = fields.String()
    phase = fields.Integer()
    basis = fields.Function(lambda level: level.basis.value)
    dose_cells = fields.Float()
    tolerance_pct = fields.Float()
    status = fields.Function(lambda level: level.status.value)


class TrialOut(Schema):
    protocol_id = fields.String()
    title = fields.String()
    product_name = fields.String()
    current_phase = fields.Integer(metadata={"description": "the phase now enrolling"})
    post_thaw_minutes = fields.Integer()
    version = fields.Integer()
    dose_levels = fields.List(fields.Nested(DoseLevelOut))
    recommended_dose_level = fields.Function(
        lambda trial: next(
            (lv.code for lv in trial.dose_levels if lv.status is DoseLevelStatus.RECOMMENDED),
            None,
        )
    )
    settings = fields.Function(
        lambda trial: {
            "post_thaw_minutes": trial.post_thaw_minutes,
            "current_phase": trial.current_phase,
            "product_name": trial.product_name,
        },
        metadata={"description": "the product and enrolment settings the other screens use"},
    )


class DashboardQuery(Schema):
    days = fields.Integer(
        load_default=7,
        validate=validate.Range(min=0, max=MAX_DAYS_AHEAD),
        metadata={"description": "how many days ahead to look"},
    )


class DashboardRecipient(PatientDataOut):
    subject_id = fields.String()
    name = patient_identifier()
    site = fields.String()
    recipient_status = fields.String()


class DashboardItemOut(DashboardRecipient):
    kind = fields.String()
    title = fields.String()
    due_from = fields.Date(allow_none=True)
    due_to = fields.Date(allow_none=True)
    status = fields.String(metadata={"description": "due, overdue or upcoming"})


class NeedsBagOut(DashboardRecipient):
    infusion_number = fields.Integer()
    reason = fields.String(metadata={"description": "why no usable bag is allocated, in words"})


class DashboardOut(Schema):
    today = fields.Date()
    days_ahead = fields.Integer()
    items = fields.List(fields.Nested(DashboardItemOut))
    needs_bag = fields.List(fields.Nested(NeedsBagOut))
    in_progress = fields.List(
        fields.Nested(InProgressOut),
        metadata={"description": "infusions started and not yet ended, oldest first"},
    )
