"""Issuing labels, and what becomes of each: applied to its container, reprinted or voided.

A subject (bag, donation, allocation, shipment, storage location) has at most one live label of
each purpose. Asking for a subject's label gives its live label, byte for byte, or issues one
if there is none; if what the label should say has changed since it was printed (the lot was
released, a conditional release became final, the expiry moved), the old label is voided,
naming what changed, and a new one is issued. A reprint of the same words, for a label that
was damaged or lost, needs a reason and QA or an administrator. Every issue stores the template
version and file hash it used, the values it printed, and the PDF and ZPL bytes with their
SHA-256, in the same transaction as its audit entries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from custody.config import settings
from custody.domain.errors import (
    Conflict,
    IllegalTransition,
    LabelCannotPrint,
    NotFound,
    ValidationFailed,
)
from custody.domain.permissions import UseCase, authorise
from custody.domain.scan_targets import read_scan
from custody.extensions import db
from custody.labels.pdf import render_pdf
from custody.labels.templates import LabelTemplate
from custody.labels.zpl import render_zpl
from custody.models import LabelDelivery, LabelPrint, LabelStatus, User
from custody.models.base import utcnow
from custody.services.core.transactions import write
from custody.services.labelling.contents import LabelContent
from custody.services.labelling.templates import library, printable_template

# A bag carries one of these at a time: issuing one voids the other.
BAG_PURPOSES = ("quarantine_product", "final_product")
MIN_REASON = 5


def current_label(user: User, content: Callable[[], LabelContent]) -> LabelPrint:
    """The subject's live label if it still says the right thing; otherwise a new one.

    `content` is called inside the transaction, so the label reflects the records as they are
    when it is issued. Two requests racing to issue the first label of a subject meet at the
    live-label index; the loser reads the winner's label instead.
    """
    authorise(user.role, UseCase.PRINT_LABELS, "print labels")
    for _ in range(2):
        try:
            with write(user, "label issued"):
                return issue_or_reuse(user, content())
        except (IntegrityError, StaleDataError):
            continue
    raise Conflict("Someone printed this label at the same moment; ask for it again.")


def current_labels(user: User, contents: Callable[[], Sequence[LabelContent]]) -> list[LabelPrint]:
    """Many subjects' labels in one transaction (a lot's bags print as one job)."""
    authorise(user.role, UseCase.PRINT_LABELS, "print labels")
    race = "Someone printed some of these labels at the same moment; ask for them again."
    with write(user, "labels issued", race):
        wanted = list(contents())
        live = live_labels(wanted)  # one query for the whole job, not one per bag
        return [issue_or_reuse(user, c, live) for c in wanted]


def issue_or_reuse(
    user: User, content: LabelContent, live: Mapping[tuple, LabelPrint] | None = None
) -> LabelPrint:
    """The subject's label, inside the caller's transaction (see current_label).

    `live` is what live_labels() found for a batch of subjects; without it, it is looked up."""
    if live is None:
        live = live_labels([content])
    own = live.get(_live_key(content, content.purpose))
    if own is not None and own.values == content.values:
        return own
    if own is not None:
        changed = ", ".join(
            sorted(k for k in content.values if own.values.get(k) != content.values[k])
        )
        _void(user, own, f"superseded: what the label says changed ({changed})")
    for other in _other_purposes(content, live):
        _void(user, other, f"superseded by the {content.purpose.replace('_', ' ')} label")
    return _issue(user, content, "print")


def reprint(
    user: User, label_id: int, reason: str, content_now: Callable[[LabelPrint], LabelContent]
) -> LabelPrint:
    """A new copy of a live label (damaged, unreadable, lost): the old one is voided.

    Only a label that still says what its subject calls for is reprinted (`content_now` reads
    that from the records): a quarantine label is never reprinted after its lot's release."""
    authorise(user.role, UseCase.REPRINT_LABEL, "reprint labels")
    reason = _reason(reason, "reprint")
    with write(
        user,
        f"label {label_id} reprinted: {reason}",
        "Someone changed this label at the same moment.",
    ):
        old = label_by_id(label_id)
        if old.status is LabelStatus.VOIDED:
            raise IllegalTransition(
                f"Label {label_id} was voided ({old.void_reason}); print the subject's current "
                "label instead of reprinting a void one.",
                current_state=old.status.value,
            )
        _check_still_current(old, content_now(old))
        return replace_with_reprint(user, old, reason)


def _check_still_current(old: LabelPrint, now: LabelContent) -> None:
    if (now.purpose, now.values) == (old.purpose, old.values):
        return
    changed = sorted(k for k in now.values if old.values.get(k) != now.values[k])
    what = f"it is now a {now.purpose} label" if now.purpose != old.purpose else ", ".join(changed)
    raise IllegalTransition(
        f"Label {old.id} is out of date ({what}), so it is not reprinted: print the current "
        "label instead; the old one is voided when the new one is issued.",
        current_state="out of date",
        changed=changed,
    )


def replace_with_reprint(user: User, old: LabelPrint, reason: str) -> LabelPrint:
    """The reprint and the old label's voiding, inside the caller's transaction."""
    content = LabelContent(old.purpose, old.subject_key, old.values, old.bag_id, old.lot_id)
    _void(user, old, f"replaced by a reprint: {reason}")
    return _issue(user, content, "reprint", reason=reason, replaces=old)


def record_delivery(user: User, label: LabelPrint, fmt: str) -> None:
    """Record that `label`'s bytes were sent to `user` to print, in the audit trail: for the
    labels that carry a patient's identity, whoever prints them."""
    with write(user, f"{label.purpose} {label.id} sent to print as {fmt}"):
        db.session.add(LabelDelivery(label_id=label.id, format=fmt, delivered_by_id=user.id))


def void(user: User, label_id: int, reason: str) -> LabelPrint:
    authorise(user.role, UseCase.VOID_LABEL, "void labels")
    reason = _reason(reason, "void")
    with write(
        user, f"label {label_id} voided: {reason}", "Someone changed this label at the same moment."
    ):
        label = label_by_id(label_id)
        if label.status is LabelStatus.VOIDED:
            raise IllegalTransition(
                f"Label {label_id} is already void ({label.void_reason}).",
                current_state=label.status.value,
            )
        _void(user, label, reason)
    return label


def apply(user: User, label_id: int, scan: str) -> LabelPrint:
    """The label is on its container: proven by scanning it there, and matched to the subject."""
    authorise(user.role, UseCase.APPLY_LABEL, "apply labels")
    with write(user, f"label {label_id} applied", "Someone changed this label at the same moment."):
        label = label_by_id(label_id)
        if label.status is not LabelStatus.ISSUED:
            raise IllegalTransition(
                f"Label {label_id} is {label.status.value}; only an issued label is applied.",
                current_state=label.status.value,
            )
        _check_scan_matches(label, scan)
        label.status = LabelStatus.APPLIED
        label.applied_by_id = user.id
        label.applied_at = utcnow()
    return label


def _check_scan_matches(label: LabelPrint, scan: str) -> None:
    target = read_scan(scan)
    expected = _expected_scan(label)
    got = target.bag_code or target.code or target.din
    if got != expected:
        raise ValidationFailed(
            f"The scan names {got}, but label {label.id} is for {label.subject_type} "
            f"{expected}. Check that the label is on the right container: nothing was recorded.",
            expected=expected,
            scanned=got,
        )


def _expected_scan(label: LabelPrint) -> str:
    if label.subject_type in ("bag", "allocation"):
        return f"{label.values['din']}-{label.values['product_code']}"
    if label.subject_type == "donation":
        return label.values["din"]
    return label.subject_key


def live_labels(contents: Sequence[LabelContent]) -> dict[tuple, LabelPrint]:
    """The live labels, of any purpose, of the subjects `contents` are for, by subject and
    purpose."""
    subjects = {(c.subject_type, c.subject_key) for c in contents}
    if not subjects:
        return {}
    labels = db.session.scalars(
        select(LabelPrint).where(
            tuple_(LabelPrint.subject_type, LabelPrint.subject_key).in_(subjects),
            LabelPrint.status != LabelStatus.VOIDED,
        )
    )
    return {(label.subject_type, label.subject_key, label.purpose): label for label in labels}


def _live_key(content: LabelContent, purpose: str) -> tuple:
    return (content.subject_type, content.subject_key, purpose)


def _other_purposes(content: LabelContent, live: Mapping[tuple, LabelPrint]) -> list[LabelPrint]:
    if content.purpose not in BAG_PURPOSES:
        return []
    found = (live.get(_live_key(content, p)) for p in BAG_PURPOSES if p != content.purpose)
    return [label for label in found if label is not None]


def _issue(
    user: User,
    content: LabelContent,
    action: str,
    reason: str = "",
    replaces: LabelPrint | None = None,
) -> LabelPrint:
    template = printable_template(content.purpose)
    pdf, zpl = render_label(template, content)
    label = label_row(template, content, pdf, zpl, user, utcnow(), action, reason, replaces)
    db.session.add(label)
    db.session.flush()
    return label


def render_label(template: LabelTemplate, content: LabelContent) -> tuple[bytes, bytes]:
    """The PDF and the ZPL an issue of `content` stores."""
    page = [(template, content.values)]
    title = f"{template.title}: {content.subject_type} {content.subject_key}"
    return render_pdf(page, title), render_zpl(page, dpmm=printer_dpmm()).encode("utf-8")


def label_row(
    template: LabelTemplate,
    content: LabelContent,
    pdf: bytes,
    zpl: bytes,
    by: User,
    at: datetime,
    action: str,
    reason: str = "",
    replaces: LabelPrint | None = None,
) -> LabelPrint:
    """The issued label's row, with the hashes of its bytes (not yet added to the session)."""
    return LabelPrint(
        purpose=content.purpose,
        template_version=template.version,
        template_sha256=template.sha256,
        subject_type=content.subject_type,
        subject_key=content.subject_key,
        bag_id=content.bag_id,
        lot_id=content.lot_id,
        action=action,
        reason=reason,
        replaces_id=replaces.id if replaces else None,
        status=LabelStatus.ISSUED,
        values=content.values,
        pdf=pdf,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        zpl=zpl,
        zpl_sha256=hashlib.sha256(zpl).hexdigest(),
        printed_by_id=by.id,
        printed_at=at,
    )


def mark_voided(label: LabelPrint, by: User, at: datetime, reason: str) -> None:
    label.status = LabelStatus.VOIDED
    label.voided_by_id = by.id
    label.voided_at = at
    label.void_reason = reason


def _void(user: User, label: LabelPrint, reason: str) -> None:
    mark_voided(label, user, utcnow(), reason)
    db.session.flush()


def document(labels: Sequence[LabelPrint], fmt: str, title: str) -> bytes:
    """Several issued labels as one print job, each page drawn from what that label printed,
    with the template file it was printed with (checked against the hash it recorded)."""
    if len(labels) == 1:
        return labels[0].pdf if fmt == "pdf" else labels[0].zpl
    pages = [(_issued_template(label), label.values) for label in labels]
    if fmt == "pdf":
        return render_pdf(pages, title)
    return render_zpl(pages, dpmm=printer_dpmm()).encode("utf-8")


def _issued_template(label: LabelPrint) -> LabelTemplate:
    template = library().templates.get((label.purpose, label.template_version))
    if template is None or template.sha256 != label.template_sha256:
        raise LabelCannotPrint(
            f"The {label.purpose} template v{label.template_version} that label {label.id} was "
            "printed with is missing or has changed since, so the job cannot be drawn as it was "
            "issued. Restore the approved template file; each label's own bytes are still "
            f"served at /api/v1/labels/{label.id}/label.pdf.",
            label=label.id,
        )
    return template


def printer_dpmm() -> int:
    return settings().label_printer_dpmm


def label_by_id(label_id: int) -> LabelPrint:
    label = db.session.get(LabelPrint, label_id) if 0 < label_id < 2**31 else None
    if label is None:
        raise NotFound(f"There is no label {label_id}.", label=label_id)
    return label


def _reason(reason: str, doing: str) -> str:
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise ValidationFailed(
            f"Say why you {doing} this label (at least {MIN_REASON} characters): the reason is "
            "kept with the label record.",
            field="reason",
        )
    return reason
