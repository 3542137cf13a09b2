"""What the clinic needs to see: each recipient's calendar, and the dashboard of what is due
across the study and who still lacks a usable bag for their next infusion.

Read-only. The dashboard loads recipients, infusions, samples and active allocations in four
queries whatever the number of recipients (no query per recipient), then works in memory.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from custody.domain import schedule
from custody.domain.bag_lifecycle import RELEASED_DISPOSITIONS
from custody.domain.errors import ValidationFailed
from custody.domain.schedule import MAX_DAYS_AHEAD
from custody.extensions import db
from custody.models import Allocation, Bag, FollowUpSample, Infusion, Lot, Recipient
from custody.models.base import utcnow
from custody.services.bags.recall_status import active_recalls_by_lot
from custody.services.clinic.recipients import (
    POST_TRANSPLANT_KIND,
    recipient_by_subject_id,
    site_today,
)
from custody.services.clinic.samples import sample_fields
from custody.services.core.facility import site_zone

# Bag states from which a bag can no longer reach this recipient.
UNUSABLE_BAG_STATES = frozenset({"infused", "discarded", "rejected", "returned"})
# Statuses awaiting infusion 1; those from which infusion 2 is given.
AWAITING_FIRST = frozenset({schedule.ENROLLED, schedule.LYMPHODEPLETION})
AWAITING_SECOND = frozenset(schedule.INFUSION_FROM[2])


@dataclass(frozen=True)
class AllocatedBag:
    infusion_number: int
    code: str
    status: str
    expires_at: datetime | None
    lot: str
    disposition: str
    recall: str = ""


# --- one recipient --------------------------------------------------------------------------


def recipient_calendar(subject_id: str, today: date | None = None):
    """(recipient, calendar items) for one recipient, on `today` (the site's today)."""
    recipient = recipient_by_subject_id(subject_id)
    today = today or site_today()
    infusions = {
        number: _local_date(started)
        for number, started in db.session.execute(
            select(Infusion.infusion_number, Infusion.started_at).where(
                Infusion.recipient_id == recipient.id
            )
        )
    }
    collected = db.session.scalar(
        select(FollowUpSample.collected_at).where(
            FollowUpSample.recipient_id == recipient.id,
            FollowUpSample.kind == POST_TRANSPLANT_KIND,
        )
    )
    items = _calendar(recipient, today, infusions, collected and _local_date(collected))
    return recipient, items


def recipient_record(subject_id: str, today: date | None = None) -> dict:
    """Everything the clinic shows for one recipient: record, calendar, samples, bags."""
    recipient, items = recipient_calendar(subject_id, today)
    samples = db.session.scalars(
        select(FollowUpSample)
        .where(FollowUpSample.recipient_id == recipient.id)
        .order_by(FollowUpSample.id)
    ).all()
    allocations = db.session.execute(
        select(Allocation.infusion_number, Bag.code)
        .join(Bag, Bag.id == Allocation.bag_id)
        .where(Allocation.recipient_id == recipient.id, Allocation.active)
        .order_by(Allocation.infusion_number, Bag.code)
    ).all()
    return recipient_fields(recipient) | {
        "calendar": [asdict(item) for item in items],
        "samples": [sample_fields(sample) for sample in samples],
        "allocated_bags": [{"infusion_number": n, "bag": code} for n, code in allocations],
    }


def recipient_fields(recipient: Recipient) -> dict:
    """The recipient's own record as plain values, for lists and pages."""
    level = recipient.dose_level
    return {
        "subject_id": recipient.subject_id,
        "hospital_record_number": recipient.hospital_record_number,
        "name": recipient.name,
        "birth_date": recipient.birth_date,
        "weight_kg": recipient.weight_kg,
        "weight_measured_on": recipient.weight_measured_on,
        "site": recipient.site,
        "phase": recipient.phase,
        "dose_level": level.code if level else None,
        "status": recipient.status.value,
        "status_reason": recipient.status_reason,
        "day0": recipient.day0,
        "second_infusion_ordered": recipient.second_infusion_ordered,
        "discharged_on": recipient.discharged_on,
        "transplant_on": recipient.transplant_on,
    }


# --- the dashboard --------------------------------------------------------------------------


def dashboard(today: date, days_ahead: int = 7) -> dict:
    """Items due, overdue or starting within `days_ahead` days, for every recipient on the
    study; the recipients without a released, allocated bag for their next infusion; and the
    infusions under way."""
    if not 0 <= days_ahead <= MAX_DAYS_AHEAD:
        raise ValidationFailed(
            f"Look ahead 0 to {MAX_DAYS_AHEAD} days.", field="days", days=days_ahead
        )
    horizon = today + timedelta(days_ahead)
    recipients = db.session.scalars(
        select(Recipient).where(_on_study()).order_by(Recipient.subject_id)
    ).all()
    infusions, samples, bags = _infusions(), _sample_dates(), _allocated_bags()
    items, needs = [], []
    now = utcnow()
    for recipient in recipients:
        done = infusions.get(recipient.id, {})
        for item in _calendar(recipient, today, done, samples.get(recipient.id)):
            if _shows(item, horizon):
                items.append(_row(recipient) | asdict(item))
        for number in _next_infusions(recipient, done):
            why = _missing_bag(number, bags.get(recipient.id, []), now)
            if why:
                needs.append(_row(recipient) | {"infusion_number": number, "reason": why})
    items.sort(key=lambda i: (i["due_from"] or date.min, i["subject_id"], i["kind"]))
    return {
        "today": today,
        "days_ahead": days_ahead,
        "items": items,
        "needs_bag": needs,
    }


def _shows(item: schedule.CalendarItem, horizon: date) -> bool:
    if item.status in (schedule.DUE, schedule.OVERDUE):
        return True
    starts = item.due_from
    return item.status == schedule.UPCOMING and starts is not None and starts <= horizon


def _next_infusions(recipient: Recipient, done: dict[int, date]) -> list[int]:
    status = recipient.status.value
    if status in AWAITING_FIRST and 1 not in done:
        return [1]
    if status in AWAITING_SECOND and recipient.second_infusion_ordered and 2 not in done:
        return [2]
    return []


def _missing_bag(number: int, allocated: list[AllocatedBag], now: datetime) -> str | None:
    """Why the recipient has no usable bag for infusion `number`, in words; None if one is."""
    mine = [bag for bag in allocated if bag.infusion_number == number]
    if not mine:
        return f"No bag is allocated for infusion {number}: allocate a released bag."
    problems = []
    for bag in mine:
        problem = _bag_problem(bag, now)
        if problem is None:
            return None
        problems.append(problem)
    return (
        f"The bag allocated for infusion {number} cannot be used: {'; '.join(problems)}. "
        "Allocate a released bag instead, or have QA decide on the lot."
    )


def _bag_problem(bag: AllocatedBag, now: datetime) -> str | None:
    if bag.status in UNUSABLE_BAG_STATES:
        return f"bag {bag.code} is {bag.status}"
    if bag.disposition not in RELEASED_DISPOSITIONS:
        state = "in quarantine" if bag.disposition == "quarantine" else bag.disposition
        return f"bag {bag.code} is from lot {bag.lot}, which is {state} (not released by QA)"
    if bag.recall:
        return f"bag {bag.code} is blocked by recall {bag.recall}"
    if bag.expires_at is not None and bag.expires_at <= now:
        return f"bag {bag.code} expired on {bag.expires_at.astimezone(site_zone()):%Y-%m-%d %H:%M}"
    return None


# --- bulk loading ---------------------------------------------------------------------------


def _on_study():
    return Recipient.status.notin_(sorted(schedule.FINAL_STATUSES))


def _infusions() -> dict[int, dict[int, date]]:
    found: dict[int, dict[int, date]] = defaultdict(dict)
    rows = db.session.execute(
        select(Infusion.recipient_id, Infusion.infusion_number, Infusion.started_at)
        .join(Recipient, Recipient.id == Infusion.recipient_id)
        .where(_on_study())
    )
    for recipient_id, number, started in rows:
        found[recipient_id][number] = _local_date(started)
    return found


def _sample_dates() -> dict[int, date]:
    rows = db.session.execute(
        select(FollowUpSample.recipient_id, FollowUpSample.collected_at)
        .join(Recipient, Recipient.id == FollowUpSample.recipient_id)
        .where(_on_study(), FollowUpSample.kind == POST_TRANSPLANT_KIND)
        .where(FollowUpSample.collected_at.is_not(None))
    )
    return {recipient_id: _local_date(collected) for recipient_id, collected in rows}


def _allocated_bags() -> dict[int, list[AllocatedBag]]:
    rows = db.session.execute(
        select(
            Allocation.recipient_id,
            Allocation.infusion_number,
            Bag.code,
            Bag.status,
            Bag.expires_at,
            Lot.lot_number,
            Lot.disposition,
            Lot.id,
        )
        .join(Bag, Bag.id == Allocation.bag_id)
        .join(Lot, Lot.id == Bag.lot_id)
        .join(Recipient, Recipient.id == Allocation.recipient_id)
        .where(Allocation.active, _on_study())
        .order_by(Bag.code)
    )
    rows = rows.all()
    recalled = active_recalls_by_lot({row[-1] for row in rows})
    found: dict[int, list[AllocatedBag]] = defaultdict(list)
    for recipient_id, number, code, status, expires, lot, disposition, lot_id in rows:
        found[recipient_id].append(
            AllocatedBag(
                number,
                code,
                status.value,
                expires,
                lot,
                disposition.value,
                recalled.get(lot_id, ""),
            )
        )
    return found


def _calendar(recipient: Recipient, today: date, infusions: dict, collected: date | None):
    return schedule.calendar(
        recipient.day0,
        today,
        second_infusion_ordered=recipient.second_infusion_ordered,
        discharged_on=recipient.discharged_on,
        transplant_on=recipient.transplant_on,
        infusions=infusions,
        sample_collected_on=collected,
    )


def _row(recipient: Recipient) -> dict:
    return {
        "subject_id": recipient.subject_id,
        "name": recipient.name,
        "site": recipient.site,
        "recipient_status": recipient.status.value,
    }


def _local_date(moment: datetime) -> date:
    return moment.astimezone(site_zone()).date()
