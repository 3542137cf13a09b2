"""Follow-up samples from the ward to the lab: collected, sent with the courier, received.

A sample has its own barcode (Code 128 of its code, e.g. SMP-3F9A0C12) so the tube is scanned,
not typed. The steps happen in order, each by the person whose job it is (the nurse collects
and sends, the lab technician receives) and each is one audited transaction with the sample's
row locked, so a sample cannot be received twice or before it was sent. Receiving the
post-transplant sample ends the recipient's time on the study, as the protocol says.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import barcode
from barcode.writer import SVGWriter
from sqlalchemy import select

from custody.domain import schedule
from custody.domain.errors import IllegalTransition, InvalidBarcode, NotFound, ValidationFailed
from custody.domain.permissions import UseCase, authorise
from custody.extensions import db
from custody.models import FollowUpSample, RecipientStatus, User
from custody.models.base import utcnow
from custody.services.clinic.recipients import POST_TRANSPLANT_KIND, recipient_by_subject_id
from custody.services.core.facility import site_zone
from custody.services.core.transactions import write

OFF_STUDY_REASON = "Left the study after the post-transplant sample (protocol)"
CLOCK_SKEW = timedelta(minutes=5)
MAX_CONDITION = 200
# The X dimension ISBT 128 labels target, and a quiet zone of at least 10 X (python-barcode's
# default is narrower than that for X = 0.25 mm; DESIGN.md).
MODULE_WIDTH_MM = 0.25
QUIET_ZONE_MM = 10 * MODULE_WIDTH_MM
_CODE = re.compile(r"^SMP-[A-Z0-9]{4,28}$")
RACE = (
    "Someone else recorded a step for this sample at the same moment and was saved first. "
    "Nothing of yours was saved: scan the sample again to see where it is."
)


def sample_by_code(code: str, lock: bool = False) -> FollowUpSample:
    wanted = _code(code)
    query = select(FollowUpSample).where(FollowUpSample.code == wanted)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    sample = db.session.scalar(query)
    if sample is None:
        raise NotFound(
            f"No follow-up sample {wanted} is known here. Check the label on the tube.",
            sample=wanted,
        )
    return sample


def stage(sample: FollowUpSample) -> str:
    """Where the sample is: due (not yet taken), collected, sent or received."""
    if sample.received_at is not None:
        return "received"
    if sample.sent_at is not None:
        return "sent"
    return "collected" if sample.collected_at is not None else "due"


def sample_fields(sample: FollowUpSample) -> dict:
    """The sample as plain values: where it is, and who did each step when."""
    ids = {sample.collected_by_id, sample.sent_by_id, sample.received_by_id} - {None}
    names = (
        dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())
        if ids
        else {}
    )
    return {
        "code": sample.code,
        "subject_id": sample.recipient.subject_id,
        "kind": sample.kind,
        "due_on": sample.due_on,
        "stage": stage(sample),
        "collected_at": sample.collected_at,
        "collected_by": names.get(sample.collected_by_id),
        "sent_at": sample.sent_at,
        "sent_by": names.get(sample.sent_by_id),
        "received_at": sample.received_at,
        "received_by": names.get(sample.received_by_id),
        "received_condition": sample.received_condition,
    }


def collect(user: User, code_scan: str, at: datetime | None = None) -> FollowUpSample:
    """The nurse took the sample (scanning the tube's label), at `at` or now."""
    authorise(user.role, UseCase.COLLECT_SAMPLE, "record a sample's collection")
    when = _moment(at, "collected_at")
    with write(user, "follow-up sample collected", RACE, sample=str(code_scan)[:40]):
        sample = sample_by_code(code_scan, lock=True)
        _expect(sample, "due", "collected")
        recipient = sample.recipient
        if recipient.status.value in schedule.FINAL_STATUSES:
            raise IllegalTransition(
                f"Recipient {recipient.subject_id} is {recipient.status.value.replace('_', ' ')}"
                " and no longer on the study: do not take this sample.",
                current_status=recipient.status.value,
            )
        started = recipient.transplant_on if sample.kind == POST_TRANSPLANT_KIND else None
        if started is not None and when.astimezone(site_zone()).date() < started:
            raise ValidationFailed(
                f"This sample follows the transplant of {started.isoformat()}; it cannot have "
                "been taken before it. Check the date and time.",
                field="at",
            )
        sample.collected_at, sample.collected_by_id = when, user.id
    return sample


def send(user: User, code: str, at: datetime | None = None) -> FollowUpSample:
    """The nurse handed the sample to the courier for the lab."""
    authorise(user.role, UseCase.DISPATCH_SAMPLE, "send samples to the lab")
    when = _moment(at, "sent_at")
    with write(user, "follow-up sample sent to the lab", RACE, sample=str(code)[:40]):
        sample = sample_by_code(code, lock=True)
        _expect(sample, "collected", "sent")
        if when < sample.collected_at:
            raise ValidationFailed(
                "The sample cannot leave before it was collected "
                f"({sample.collected_at.isoformat(timespec='minutes')}); check the time.",
                field="at",
            )
        sample.sent_at, sample.sent_by_id = when, user.id
    return sample


def receive(user: User, code: str, condition: str) -> FollowUpSample:
    """The lab technician received the sample and says in what condition.

    The post-transplant sample is the recipient's last study event: its receipt takes them
    off the study in the same transaction.
    """
    authorise(user.role, UseCase.RECEIVE_SAMPLE, "receive samples at the lab")
    condition = " ".join((condition or "").split())
    if not condition or len(condition) > MAX_CONDITION:
        raise ValidationFailed(
            "Describe the sample's condition on arrival (e.g. intact, cold, haemolysed), "
            f"up to {MAX_CONDITION} characters.",
            field="condition",
        )
    with write(user, f"follow-up sample received: {condition}", RACE, sample=str(code)[:40]):
        sample = sample_by_code(code, lock=True)
        _expect(sample, "sent", "received")
        sample.received_at, sample.received_by_id = utcnow(), user.id
        sample.received_condition = condition
        if sample.kind == POST_TRANSPLANT_KIND:
            _leave_study(sample)
    return sample


def barcode_svg(code: str) -> bytes:
    """The sample's Code 128 barcode as SVG, with its code printed underneath."""
    sample = sample_by_code(code)
    symbol = barcode.get("code128", sample.code, writer=SVGWriter())
    options = {"module_width": MODULE_WIDTH_MM, "quiet_zone": QUIET_ZONE_MM, "module_height": 12.0}
    return symbol.render(writer_options=options)


def _leave_study(sample: FollowUpSample) -> None:
    recipient = recipient_by_subject_id(sample.recipient.subject_id, lock=True)
    if recipient.status.value in schedule.FINAL_STATUSES:
        return  # already off the study (e.g. withdrawn): nothing more to change
    schedule.plan_status_change(recipient.status.value, schedule.OFF_STUDY)
    recipient.status = RecipientStatus.OFF_STUDY
    recipient.status_reason = OFF_STUDY_REASON


def _expect(sample: FollowUpSample, needed: str, doing: str) -> None:
    now = stage(sample)
    if now != needed:
        order = "collected, then sent, then received"
        raise IllegalTransition(
            f"Sample {sample.code} is {now.upper()}: it cannot be {doing} now (a sample is "
            f"{order}).",
            sample=sample.code,
            current_state=now,
            allowed=[_NEXT[now]] if now in _NEXT else [],
        )


_NEXT = {"due": "collect", "collected": "send", "sent": "receive"}


def _code(raw: str) -> str:
    code = (raw or "").strip().upper() if isinstance(raw, str) else ""
    if not _CODE.match(code):
        raise InvalidBarcode(
            "That is not a follow-up sample barcode (they start with SMP-). Scan the label on "
            "the sample tube.",
            field="sample",
        )
    return code


def _moment(at: datetime | None, field: str) -> datetime:
    if at is None:
        return utcnow()
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValidationFailed(
            "Give the time with its UTC offset (e.g. 2026-03-01T09:30:00-06:00).", field=field
        )
    if at > utcnow() + CLOCK_SKEW:
        raise ValidationFailed("That time is in the future; check the date and time.", field=field)
    return at
