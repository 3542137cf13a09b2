"""Which label template versions may print: the newest one QA approved, unchanged since.

Templates are files (labels/*.toml). QA approves one version of one purpose with an electronic
signature bound to the file's SHA-256; from then on that version prints, and older versions
stop. A version whose file changed after its approval does not print at all: a change makes a
new version, approved in its turn. Every print records the version and the file hash it used.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from custody.config import settings
from custody.domain.errors import Conflict, LabelCannotPrint
from custody.domain.permissions import UseCase
from custody.extensions import db
from custody.labels.catalogue import PURPOSES
from custody.labels.library import TemplateLibrary, load_library
from custody.labels.templates import LabelTemplate
from custody.models import LabelTemplateApproval, User
from custody.models.base import utcnow
from custody.services.core.signatures import check_signer, manifestation, reauthenticate, sign
from custody.services.core.transactions import write

APPROVAL_MEANING = "Approved label template for printing"


def library() -> TemplateLibrary:
    return load_library(settings().label_templates)


def approvals(purpose: str | None = None) -> list[LabelTemplateApproval]:
    query = select(LabelTemplateApproval).order_by(LabelTemplateApproval.version.desc())
    if purpose is not None:
        query = query.where(LabelTemplateApproval.purpose == purpose)
    return list(db.session.scalars(query))


def printable_template(purpose: str) -> LabelTemplate:
    """The template version a new `purpose` label prints with, or why none can."""
    found = approvals(purpose)
    if not found:
        raise LabelCannotPrint(
            f"No version of the {purpose.replace('_', ' ')} label template is approved yet: QA "
            "approves a template version before any label prints with it.",
            template=purpose,
        )
    newest = found[0]
    template = library().templates.get((purpose, newest.version))
    if template is None or template.sha256 != newest.sha256:
        state = "is missing or no longer passes its checks" if template is None else "changed"
        raise LabelCannotPrint(
            f"The approved {purpose} template v{newest.version} {state} since QA approved it, so "
            "nothing prints with it. Restore the approved file, or save the change as a new "
            "version for QA to approve.",
            template=purpose,
            version=newest.version,
        )
    return template


def approve_template(
    user: User, purpose: str, version: int, username: str, password: str
) -> LabelTemplateApproval:
    """QA's signature on one template version, after checking the file as it is now."""
    check_signer(user, UseCase.APPROVE_LABEL_TEMPLATE, "a label template")
    template = library().get(purpose, version)
    reauthenticate(user, username, password)
    race = f"Someone approved {purpose} v{version} at the same moment; look again."
    with write(user, f"label template {purpose} v{version} approved", race):
        refusal = approval_refusal(purpose, version)
        if refusal is not None:
            raise Conflict(refusal, template=purpose)
        approval = record_approval(user, template, utcnow())
    return approval


def approval_refusal(purpose: str, version: int) -> str | None:
    """Why QA's approval of this (usable) version would be refused now, or None: asked by the
    service when it signs and by the review page before it offers the signature."""
    if any(a.version == version for a in approvals(purpose)):
        return (
            f"{purpose} v{version} is already approved: a change to it is saved as a new "
            "version for QA to approve."
        )
    return None


def record_approval(user: User, template: LabelTemplate, at: datetime) -> LabelTemplateApproval:
    """The signature and the approval row, inside the caller's transaction."""
    content = {
        "record": "label_template",
        "purpose": template.name,
        "version": template.version,
        "title": template.title,
        "sha256": template.sha256,
    }
    record_type = f"label_template:{template.name}"
    signature = sign(user, APPROVAL_MEANING, record_type, template.version, content, at)
    approval = LabelTemplateApproval(
        purpose=template.name,
        version=template.version,
        sha256=template.sha256,
        approved_by_id=user.id,
        approved_at=at,
        signature_id=signature.id,
    )
    db.session.add(approval)
    db.session.flush()
    return approval


def template_list() -> list[dict]:
    """Every template file with its state: printing, superseded, awaiting approval, changed
    since approval, or refused by its checks (with the problems)."""
    lib = library()
    approved = {(a.purpose, a.version): a for a in approvals()}
    printing = {
        purpose: max((v for p, v in approved if p == purpose), default=None) for purpose in PURPOSES
    }
    rows = [
        _row(t, approved.get((t.name, t.version)), printing[t.name])
        for t in sorted(lib.templates.values(), key=lambda t: (t.name, t.version))
    ]
    rows += [
        {"file": name, "status": "invalid", "problems": exc.problems}
        for name, exc in sorted(lib.invalid.items())
    ]
    return rows


def _row(template: LabelTemplate, approval, printing_version: int | None) -> dict:
    row = {
        "file": template.file,
        "purpose": template.name,
        "version": template.version,
        "title": template.title,
        "sha256": template.sha256,
        "size_mm": [template.width_mm, template.height_mm],
        "status": _status(template, approval, printing_version),
        "approval": None,
        "problems": [],
    }
    if approval is not None:
        row["approval"] = manifestation(approval.signature) | {"sha256": approval.sha256}
    return row


def _status(template: LabelTemplate, approval, printing_version: int | None) -> str:
    if approval is None:
        newer = printing_version is not None and printing_version > template.version
        return "never approved (superseded)" if newer else "awaiting approval"
    if approval.sha256 != template.sha256:
        return "changed since approval"
    return "printing" if template.version == printing_version else "superseded"
