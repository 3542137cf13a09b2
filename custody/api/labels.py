"""Labels: a bag's label (quarantine until release, then final), tie-tags, collection, shipper
and lot labels as PDF or ZPL; reprint, void and application; templates and their approval;
and a lot's label reconciliation.

The tie-tag is the one place patient identifiers reach a role that may not see them: its bytes
carry the recipient's name, birth date and record number for the bedside check, and a
technician may print it (UseCase.PRINT_TIE_TAG). Issuing it is a `label_prints` row and each
sending of its bytes a `label_deliveries` row, both audited with the printer as actor; a
label's JSON record shows its printed values without the identifiers to such a role
(custody/schemas/labels.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flask import Response

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, check_permission, requires
from custody.domain.permissions import UseCase
from custody.models import LabelPrint
from custody.schemas.labels import (
    ApplicationIn,
    LabelOut,
    ReasonIn,
    ReconciliationOut,
    TemplateApprovalOut,
    TemplateListOut,
)
from custody.schemas.quality import SignatureIn
from custody.services.core.signatures import manifestation
from custody.services.labelling import jobs, prints
from custody.services.labelling.templates import approve_template, template_list

log = logging.getLogger(__name__)
PREFIX = ""
TIE_TAG = "tie_tag"
blp = ApiBlueprint("labels", __name__, description="Labels, label templates and reconciliation")
MEDIA = {"pdf": "application/pdf", "zpl": "application/zpl"}
PDF = {"type": "string", "format": "binary"}


def label_response(labels: Sequence[LabelPrint], fmt: str, name: str) -> Response:
    """The labels' bytes as one print job; one label also names itself in the headers."""
    title = f"Labels: {name}"
    body = prints.document(labels, fmt, title)
    headers = {"Content-Disposition": f'inline; filename="{name}.{fmt}"'}
    if len(labels) == 1:
        label = labels[0]
        headers |= {
            "X-Label-Id": str(label.id),
            "X-Label-Template": f"{label.purpose} v{label.template_version}",
            "X-Label-SHA256": label.pdf_sha256 if fmt == "pdf" else label.zpl_sha256,
        }
    return Response(body, mimetype=MEDIA[fmt], headers=headers)


def _documented(description: str, fmt: str = "pdf"):
    return blp.response(200, PDF, content_type=MEDIA[fmt], description=description)


@blp.get("/bags/<code>/label.pdf")
@requires(UseCase.PRINT_LABELS)
@_documented("The bag's current label; issued and recorded on first request")
def bag_label_pdf(code):
    """The bag's current label: the quarantine label while its lot is not released, the final
    label once QA's release holds. The first request issues it (recorded: who, when, template
    version, SHA-256); later requests return the same bytes until what it says changes."""
    return label_response([jobs.bag_label(api_user(), code)], "pdf", code)


@blp.get("/bags/<code>/label.zpl")
@requires(UseCase.PRINT_LABELS)
@_documented("The bag's current label for a Zebra printer (ZPL II)", "zpl")
def bag_label_zpl(code):
    """The same label as ZPL II for Zebra thermal printers, from the same template."""
    return label_response([jobs.bag_label(api_user(), code)], "zpl", code)


@blp.get("/bags/<code>/tie-tag.pdf")
@requires(UseCase.PRINT_TIE_TAG)
@_documented("The allocation tie-tag of the bag's active allocation")
def tie_tag_pdf(code):
    """Recipient name, subject ID, date of birth and infusion number beside the bag's DIN: to
    print (technicians too), never shown on a page. The first request issues it, audited."""
    return label_response([_tie_tag(code, "pdf")], "pdf", f"{code}-tie-tag")


@blp.get("/bags/<code>/tie-tag.zpl")
@requires(UseCase.PRINT_TIE_TAG)
@_documented("The allocation tie-tag as ZPL II", "zpl")
def tie_tag_zpl(code):
    return label_response([_tie_tag(code, "zpl")], "zpl", f"{code}-tie-tag")


def _tie_tag(code: str, fmt: str) -> LabelPrint:
    label = jobs.tie_tag(api_user(), code)
    _log_tie_tag(label, fmt)
    return label


def _log_tie_tag(label: LabelPrint, fmt: str) -> None:
    """Each sending of a tie-tag's bytes is a record, so in the audit trail: who printed a
    patient's identity, and when, whatever their role."""
    prints.record_delivery(api_user(), label, fmt)
    log.info("tie-tag %s sent as %s to %s", label.id, fmt, api_user().username)


@blp.get("/donations/<din>/label.pdf")
@requires(UseCase.PRINT_LABELS)
@_documented("The collection bag label")
def collection_label_pdf(din):
    """DIN and collection time as barcodes, where it was collected, eligibility statements."""
    label = jobs.collection_label(api_user(), din)
    return label_response([label], "pdf", label.subject_key)


@blp.get("/donations/<din>/label.zpl")
@requires(UseCase.PRINT_LABELS)
@_documented("The collection bag label as ZPL II", "zpl")
def collection_label_zpl(din):
    label = jobs.collection_label(api_user(), din)
    return label_response([label], "zpl", label.subject_key)


@blp.get("/shipments/<code>/label.pdf")
@requires(UseCase.PRINT_LABELS)
@_documented("The dry shipper label")
def shipper_label_pdf(code):
    """The shipment's barcode, destination, contents and how the shipper must be kept."""
    label = jobs.shipper_label(api_user(), code)
    return label_response([label], "pdf", label.subject_key)


@blp.get("/shipments/<code>/label.zpl")
@requires(UseCase.PRINT_LABELS)
@_documented("The dry shipper label as ZPL II", "zpl")
def shipper_label_zpl(code):
    label = jobs.shipper_label(api_user(), code)
    return label_response([label], "zpl", label.subject_key)


@blp.get("/lots/<lot>/labels.pdf")
@requires(UseCase.PRINT_LABELS)
@_documented("Every bag's current label in the lot, one page each")
def lot_labels_pdf(lot):
    """The lot's labels as one print job, issuing those not yet printed."""
    return label_response(jobs.lot_labels(api_user(), lot), "pdf", f"{lot}-labels")


@blp.get("/lots/<lot>/labels.zpl")
@requires(UseCase.PRINT_LABELS)
@_documented("Every bag's current label in the lot as one ZPL job", "zpl")
def lot_labels_zpl(lot):
    return label_response(jobs.lot_labels(api_user(), lot), "zpl", f"{lot}-labels")


@blp.get("/lots/<lot>/label-reconciliation")
@requires(UseCase.READ_RECORDS)
@blp.response(200, ReconciliationOut)
def reconciliation(lot):
    """Labels printed, reprinted, applied, voided and still unapplied, per label purpose, and
    the bags that lack the label their lot's status calls for."""
    return jobs.reconciliation(lot)


@blp.get("/labels/<int:label_id>")
@requires(UseCase.READ_RECORDS)
@blp.response(200, LabelOut)
def label_record(label_id):
    """One issued label: template version, what it printed, hashes, who and what became of it."""
    return prints.label_by_id(label_id)


@blp.get("/labels/<int:label_id>/label.pdf")
@requires(UseCase.PRINT_LABELS)
@_documented("The label's bytes as issued")
def stored_label_pdf(label_id):
    label = _stored_label(label_id, "pdf")
    return label_response([label], "pdf", f"label-{label.id}")


@blp.get("/labels/<int:label_id>/label.zpl")
@requires(UseCase.PRINT_LABELS)
@_documented("The label's ZPL as issued", "zpl")
def stored_label_zpl(label_id):
    label = _stored_label(label_id, "zpl")
    return label_response([label], "zpl", f"label-{label.id}")


def _stored_label(label_id: int, fmt: str) -> LabelPrint:
    """An issued label's bytes; a tie-tag's only for those who may print tie-tags."""
    label = prints.label_by_id(label_id)
    if label.purpose == TIE_TAG:
        check_permission(api_user(), UseCase.PRINT_TIE_TAG)
        _log_tie_tag(label, fmt)
    return label


@blp.post("/labels/<int:label_id>/reprint")
@requires(UseCase.REPRINT_LABEL)
@blp.arguments(ReasonIn)
@blp.response(201, LabelOut)
def reprint(body, label_id):
    """A new copy of a damaged or lost label (QA or admin, with a reason); the old is voided."""
    return jobs.reprint(api_user(), label_id, body["reason"])


@blp.post("/labels/<int:label_id>/void")
@requires(UseCase.VOID_LABEL)
@blp.arguments(ReasonIn)
@blp.response(200, LabelOut)
def void(body, label_id):
    """The label is destroyed or was never used; the reason is kept."""
    return prints.void(api_user(), label_id, body["reason"])


@blp.post("/labels/<int:label_id>/application")
@requires(UseCase.APPLY_LABEL)
@blp.arguments(ApplicationIn)
@blp.response(200, LabelOut)
def application(body, label_id):
    """The label is on its container: scan it there; a scan of another container is refused."""
    return prints.apply(api_user(), label_id, body["scan"])


@blp.get("/label-templates")
@requires(UseCase.READ_RECORDS)
@blp.response(200, TemplateListOut)
def templates():
    """Every template file with its version, hash and state; invalid files with their problems."""
    return {"templates": template_list()}


@blp.post("/label-templates/<purpose>/<int:version>/approval")
@requires(UseCase.APPROVE_LABEL_TEMPLATE)
@blp.arguments(SignatureIn)
@blp.response(201, TemplateApprovalOut)
def approve(body, purpose, version):
    """QA approves a template version for printing, with an electronic signature."""
    approval = approve_template(
        api_user(),
        purpose,
        version,
        body["username"],
        body["password"],
    )
    return manifestation(approval.signature) | {"sha256": approval.sha256}
