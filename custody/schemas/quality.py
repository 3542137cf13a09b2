"""Specifications, QC results, signed dispositions, quality alerts and the QA review queue."""

from marshmallow import Schema, fields, validate

from custody.domain.release_rules import ACTIONS, KINDS, MAX_VALUE_LENGTH
from custody.schemas.common import text


def _finite(**kwargs) -> fields.Float:
    # NaN or infinity would judge as "in specification" against no limit: refuse them.
    return fields.Float(allow_nan=False, **kwargs)


class SignatureIn(Schema):
    """Both components of an electronic signature, re-entered (21 CFR 11.200)."""

    username = text(64, required=True, metadata={"description": "your own user ID"})
    password = text(200, required=True, load_only=True)


class CriterionIn(Schema):
    test = text(64, required=True, metadata={"description": "key, e.g. viability"})
    title = text(100, required=True)
    kind = fields.String(load_default="numeric", validate=validate.OneOf(KINDS))
    unit = fields.String(load_default="", validate=validate.Length(max=32))
    lower = _finite(load_default=None, allow_none=True)
    upper = _finite(load_default=None, allow_none=True)
    lower_inclusive = fields.Boolean(load_default=True)
    upper_inclusive = fields.Boolean(load_default=False)
    expected_text = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=64)
    )
    may_be_pending = fields.Boolean(load_default=False)
    judged_at_allocation = fields.Boolean(load_default=False)
    allowed_values = fields.List(
        fields.String(validate=validate.Length(max=MAX_VALUE_LENGTH)),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={
            "description": "a qualitative test's every possible result, the expected one "
            "among them (e.g. negative, positive, indeterminate); results are picked from these"
        },
    )


class SpecificationIn(Schema):
    product_description_code = text(5, metadata={"description": "default: the site's product"})
    tests = fields.List(
        fields.Nested(CriterionIn), required=True, validate=validate.Length(min=1, max=50)
    )
    notes = fields.String(load_default="", validate=validate.Length(max=5000))


class CriterionOut(Schema):
    test = fields.String()
    title = fields.String()
    kind = fields.String()
    unit = fields.String()
    lower = fields.Float(allow_none=True)
    upper = fields.Float(allow_none=True)
    lower_inclusive = fields.Boolean()
    upper_inclusive = fields.Boolean()
    expected_text = fields.String(allow_none=True)
    may_be_pending = fields.Boolean()
    judged_at_allocation = fields.Boolean()
    allowed_values = fields.List(fields.String())
    criterion = fields.String(metadata={"description": "the criterion in words"})


class ManifestationOut(Schema):
    """21 CFR 11.50: printed name, date and time, meaning."""

    printed_name = fields.String()
    username = fields.String()
    signed_at = fields.DateTime()
    meaning = fields.String()
    reason = fields.String()


class SpecificationOut(Schema):
    product_description_code = fields.String()
    version = fields.Integer()
    status = fields.String()
    notes = fields.String()
    approved_at = fields.DateTime(allow_none=True)
    approval = fields.Nested(ManifestationOut, allow_none=True)
    tests = fields.List(fields.Nested(CriterionOut))


class SpecificationListOut(Schema):
    items = fields.List(fields.Nested(SpecificationOut))


class SpecificationQuery(Schema):
    product = fields.String(validate=validate.Length(max=5))


class ResultValuesIn(Schema):
    value_numeric = _finite(load_default=None, allow_none=True)
    value_text = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    unit = fields.String(load_default="", validate=validate.Length(max=32))
    method = fields.String(load_default="", validate=validate.Length(max=100))
    instrument = fields.String(load_default="", validate=validate.Length(max=100))
    attachment_ref = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "where the raw data is kept (LIMS record, file reference)"},
    )
    investigation_note = fields.String(load_default="", validate=validate.Length(max=5000))


class ResultIn(ResultValuesIn):
    test = text(64, required=True)


class CorrectionIn(ResultValuesIn):
    reason = text(500, required=True, metadata={"description": "why the result is corrected"})


class InvestigationIn(Schema):
    note = text(5000, required=True)


class ResultOut(Schema):
    id = fields.Integer()
    value = fields.String(metadata={"description": "value with unit, in words"})
    value_numeric = fields.Float(allow_none=True)
    value_text = fields.String(allow_none=True)
    unit = fields.String()
    within_spec = fields.Boolean(allow_none=True)
    method = fields.String()
    instrument = fields.String()
    attachment_ref = fields.String()
    entered_by = fields.String()
    entered_at = fields.DateTime()
    investigation_note = fields.String()
    needs_investigation = fields.Boolean()
    correction_reason = fields.String(allow_none=True)
    superseded = fields.Boolean()


class TestResultOut(Schema):
    test = fields.String()
    title = fields.String()
    kind = fields.String()
    unit = fields.String()
    criterion = fields.String()
    allowed_values = fields.List(
        fields.String(),
        metadata={"description": "a qualitative test's possible results: value_text is one"},
    )
    may_be_pending = fields.Boolean()
    verdict = fields.String(metadata={"description": "pass, fail, pending or at allocation"})
    result = fields.Nested(ResultOut, allow_none=True)
    history = fields.List(fields.Nested(ResultOut), metadata={"description": "corrected values"})


class DecisionOut(Schema):
    disposition = fields.String()
    previous_disposition = fields.String()
    decided_at = fields.DateTime()
    signature = fields.Nested(ManifestationOut)
    signature_valid = fields.Boolean()
    invalid_because = fields.String()
    reason = fields.String()
    pending_tests = fields.List(fields.String())
    exceptional = fields.Boolean()
    physician = fields.String()
    physician_request = fields.String()
    justification = fields.String()
    certificate_number = fields.String(allow_none=True)
    certificate_sha256 = fields.String(allow_none=True)


class AffectedBagOut(Schema):
    bag = fields.String()
    status = fields.String()
    recipient = fields.String(allow_none=True)
    infused = fields.Boolean()


class AlertOut(Schema):
    id = fields.String()
    lot = fields.String()
    raised_at = fields.DateTime()
    message = fields.String()
    affected = fields.List(fields.Nested(AffectedBagOut))
    recipients = fields.List(fields.String())
    acknowledged_at = fields.DateTime(allow_none=True)
    acknowledged_by = fields.String(allow_none=True)
    acknowledgement = fields.String()


class AlertListOut(Schema):
    items = fields.List(fields.Nested(AlertOut))


class AlertQuery(Schema):
    open = fields.Boolean(load_default=False, metadata={"description": "only unacknowledged"})


class AcknowledgementIn(Schema):
    note = text(2000, required=True)


class QualityOut(Schema):
    lot = fields.String()
    status = fields.String()
    specification = fields.Dict(allow_none=True)
    tests = fields.List(fields.Nested(TestResultOut))
    release_problems = fields.List(fields.String())
    decisions = fields.List(fields.Nested(DecisionOut))
    alerts = fields.List(fields.Nested(AlertOut))


class DispositionIn(SignatureIn):
    action = fields.String(required=True, validate=validate.OneOf(list(ACTIONS)))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))
    pending_tests = fields.List(
        fields.String(validate=validate.Length(max=64)),
        load_default=list,
        validate=validate.Length(max=50),
    )
    exceptional = fields.Boolean(load_default=False)
    physician = fields.String(load_default="", validate=validate.Length(max=200))
    physician_request = fields.String(load_default="", validate=validate.Length(max=2000))
    justification = fields.String(load_default="", validate=validate.Length(max=2000))
    statements_acknowledged = fields.Boolean(
        load_default=False,
        metadata={"description": "QA confirms the donor-eligibility statements go with it"},
    )


class QueueEntryOut(Schema):
    lot = fields.String()
    status = fields.String()
    created_at = fields.DateTime()
    bags = fields.Integer()
    results_in = fields.Integer()
    results_required = fields.Integer()
    out_of_spec = fields.List(fields.String())
    release_problems = fields.List(fields.String())
    reopened = fields.Boolean()
    reopened_because = fields.String()


class QueueOut(Schema):
    items = fields.List(fields.Nested(QueueEntryOut))
