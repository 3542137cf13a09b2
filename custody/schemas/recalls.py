"""Recall and quarantine orders: what QA sends to sign one, and what the tracker answers."""

from marshmallow import Schema, fields, validate

from custody.domain.trace_scopes import SCOPES
from custody.schemas.common import text
from custody.schemas.quality import SignatureIn

_SCOPE = fields.String(
    required=True,
    validate=validate.OneOf(SCOPES),
    metadata={"description": "what the recall starts from: " + " | ".join(SCOPES)},
)


class RecallIn(SignatureIn):
    scope = _SCOPE
    value = text(64, required=True, metadata={"description": "donor code, DIN, lot or reagent lot"})
    reason = text(2000, required=True, metadata={"description": "why, as QA signs it"})


class LiftIn(SignatureIn):
    reason = text(2000, required=True, metadata={"description": "why the recall is lifted"})


class RecallPreviewQuery(Schema):
    scope = _SCOPE
    value = text(64, required=True)


class RecallListQuery(Schema):
    active = fields.Boolean(load_default=False, metadata={"description": "only active recalls"})


class RecalledBagOut(Schema):
    bag = fields.String()
    lot = fields.String()
    status = fields.String(metadata={"description": "the bag's state when the recall was signed"})
    status_now = fields.String()
    recipient = fields.String(allow_none=True)
    infused = fields.Boolean()
    blocked = fields.Boolean(metadata={"description": "false for bags already infused or gone"})


class RecipientBagsOut(Schema):
    subject_id = fields.String()
    bags = fields.List(fields.String())


class RecallSignatureOut(Schema):
    printed_name = fields.String()
    signed_at = fields.DateTime()
    meaning = fields.String()


class RecallSummaryOut(Schema):
    code = fields.String()
    scope = fields.String()
    value = fields.String()
    reason = fields.String()
    active = fields.Boolean()
    raised_at = fields.DateTime()
    raised_by = fields.String()
    lifted_at = fields.DateTime(allow_none=True)
    lifted_by = fields.String(allow_none=True)
    lift_reason = fields.String()
    lots = fields.List(fields.String())
    blocked_count = fields.Integer()
    infused_recipients = fields.List(
        fields.Nested(RecipientBagsOut),
        metadata={"description": "recipients already infused: for clinical follow-up"},
    )


class RecallOut(RecallSummaryOut):
    bags = fields.List(fields.Nested(RecalledBagOut))
    allocated_recipients = fields.List(
        fields.Nested(RecipientBagsOut),
        metadata={"description": "recipients whose allocated bag is now blocked"},
    )
    signature = fields.Nested(RecallSignatureOut, allow_none=True)
    lift_signature = fields.Nested(RecallSignatureOut, allow_none=True)


class RecallsOut(Schema):
    items = fields.List(fields.Nested(RecallSummaryOut))


class RecallPreviewOut(Schema):
    scope = fields.String()
    value = fields.String()
    lots = fields.List(fields.String())
    bags = fields.List(fields.Nested(RecalledBagOut))
    blocked_count = fields.Integer()
    infused_recipients = fields.List(fields.Nested(RecipientBagsOut))
    allocated_recipients = fields.List(fields.Nested(RecipientBagsOut))
