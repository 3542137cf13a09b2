"""Labels issued and their life cycle, label templates and their approval, reconciliation."""

from marshmallow import Schema, fields

from custody.domain.permissions import without_patient_identifiers
from custody.schemas.common import reader_sees_patient_identifiers, text
from custody.schemas.quality import ManifestationOut


class ReasonIn(Schema):
    reason = text(500, required=True, metadata={"description": "why, kept with the label record"})


class ApplicationIn(Schema):
    scan = text(
        500,
        required=True,
        metadata={"description": "the label scanned on its container, proving where it went"},
    )


def _printed_values(label) -> dict:
    """What the label printed; a tie-tag's recipient identifiers only for a reader who may see
    them (a technician prints the tie-tag but is not shown what it says)."""
    if reader_sees_patient_identifiers():
        return label.values
    return without_patient_identifiers(label.values)


class LabelOut(Schema):
    id = fields.Integer()
    purpose = fields.String(metadata={"description": "final_product, quarantine_product, …"})
    template_version = fields.Integer()
    template_sha256 = fields.String()
    subject_type = fields.String(metadata={"description": "bag, donation, allocation, …"})
    subject_key = fields.String(metadata={"description": "the bag's code, the DIN, …"})
    action = fields.String(metadata={"description": "print or reprint"})
    reason = fields.String()
    replaces = fields.Integer(allow_none=True, attribute="replaces_id")
    status = fields.Function(lambda label: label.status.value)
    values = fields.Function(
        _printed_values,
        metadata={
            "type": "object",
            "description": "what the label printed, field by field; a tie-tag's recipient "
            "name, birth date and record number are left out for a role that may not see "
            "patient identifiers",
        },
    )
    pdf_sha256 = fields.String()
    zpl_sha256 = fields.String()
    printed_by = fields.Function(lambda label: label.printed_by.username)
    printed_at = fields.DateTime()
    applied_by = fields.Function(lambda label: label.applied_by and label.applied_by.username)
    applied_at = fields.DateTime(allow_none=True)
    voided_by = fields.Function(lambda label: label.voided_by and label.voided_by.username)
    voided_at = fields.DateTime(allow_none=True)
    void_reason = fields.String()


class TemplateApprovalOut(ManifestationOut):
    sha256 = fields.String()


class TemplateOut(Schema):
    file = fields.String()
    purpose = fields.String()
    version = fields.Integer()
    title = fields.String()
    sha256 = fields.String(metadata={"description": "SHA-256 of the template file"})
    size_mm = fields.List(fields.Float())
    status = fields.String(
        metadata={
            "description": "printing, superseded, awaiting approval, changed since approval, "
            "never approved (superseded) or invalid"
        }
    )
    approval = fields.Nested(TemplateApprovalOut, allow_none=True)
    problems = fields.List(fields.String())


class TemplateListOut(Schema):
    templates = fields.List(fields.Nested(TemplateOut))


class PurposeCountsOut(Schema):
    printed = fields.Integer()
    reprints = fields.Integer()
    applied = fields.Integer()
    voided = fields.Integer()
    issued_not_applied = fields.Integer()


class ReconciliationOut(Schema):
    lot = fields.String()
    disposition = fields.String()
    label_needed = fields.String(allow_none=True)
    purposes = fields.Dict(keys=fields.String(), values=fields.Nested(PurposeCountsOut))
    bags = fields.Integer()
    bags_without_current_label = fields.List(fields.String())
    note = fields.String(metadata={"description": "why no label is due, when none is"})
