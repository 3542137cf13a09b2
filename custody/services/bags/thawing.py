"""Thawing a bag by scan, and the post-thaw countdown.

Thawed cells cannot be frozen again and may wait only a short while for the patient (a product
setting: DOMAIN.md §5). Two scans record the thaw: `thaw_start` when the bag goes into the
thawer (it must be allocated: a thawed bag without a recipient is lost product), and `thaw`
when it comes out; the window runs from the end. The handlers run inside the scan's
transaction (`scans`), with the bag already locked, so two people scanning the same bag
are serialised and the second sees the first's thaw record.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from custody.domain.errors import IllegalTransition, NotFound, ValidationFailed
from custody.domain.time_zones import local_time
from custody.extensions import db
from custody.models import Allocation, Bag, CustodyEvent, Thaw, Trial, User
from custody.models.base import utcnow
from custody.services.bags.lookup import bag_by_code
from custody.services.core.facility import site_zone


def active_allocation(bag: Bag) -> Allocation | None:
    """The bag's one active allocation (a partial unique index guarantees at most one)."""
    return db.session.scalar(
        select(Allocation).where(Allocation.bag_id == bag.id, Allocation.active)
    )


def thaw_of(bag: Bag) -> Thaw | None:
    return db.session.scalar(select(Thaw).where(Thaw.bag_id == bag.id))


def post_thaw_minutes() -> int:
    """The product's post-thaw window, from the trial's settings."""
    trial = db.session.scalar(select(Trial).order_by(Trial.id).limit(1))
    if trial is None:
        raise ValidationFailed(
            "No trial is set up, so the post-thaw use window is not known. An administrator "
            "must set up the trial before a bag is thawed.",
            setting="post_thaw_minutes",
        )
    return trial.post_thaw_minutes


def start_thaw(bag: Bag, event: CustodyEvent, request: Any, user: User) -> None:
    """Scan handler for `thaw_start`: the bag goes into the thawer for its recipient."""
    allocation = active_allocation(bag)
    if allocation is None:
        raise IllegalTransition(
            f"Bag {bag.code} is not allocated to anyone: allocate this bag to its recipient "
            "before thawing it. Thawed cells cannot be frozen again.",
            bag=bag.code,
            current_state=bag.status.value,
        )
    earlier = thaw_of(bag)
    if earlier is not None:
        raise IllegalTransition(
            f"The thaw of bag {bag.code} was already started at "
            f"{local_time(earlier.started_at, site_zone())} by {_name(earlier.started_by_id)}. "
            "A bag is thawed once: scan 'thaw' when it comes out of the thawer.",
            bag=bag.code,
            current_state=bag.status.value,
            started_at=earlier.started_at.isoformat(),
        )
    db.session.add(
        Thaw(
            bag_id=bag.id,
            allocation_id=allocation.id,
            started_at=event.occurred_at,
            started_by_id=user.id,
            window_minutes=post_thaw_minutes(),
        )
    )
    recipient = allocation.recipient
    event.notes = event.notes or (
        f"thaw started for {recipient.subject_id}, infusion {allocation.infusion_number}"
    )


def end_thaw(bag: Bag, event: CustodyEvent, request: Any, user: User) -> None:
    """Scan handler for `thaw`: the bag is out of the thawer; the post-thaw window starts."""
    thaw = thaw_of(bag)
    if thaw is None or thaw.ended_at is not None:
        raise IllegalTransition(
            f"No thaw of bag {bag.code} is under way: scan thaw start first, when the bag goes "
            "into the thawer, then scan thaw when it comes out.",
            bag=bag.code,
            current_state=bag.status.value,
        )
    if event.occurred_at < thaw.started_at:
        raise ValidationFailed(
            "A thaw cannot end before it started "
            f"({local_time(thaw.started_at, site_zone())}). Check the time of the scan.",
            field="occurred_at",
        )
    minutes = post_thaw_minutes()
    thaw.ended_at = event.occurred_at
    thaw.ended_by_id = user.id
    thaw.window_minutes = minutes
    thaw.use_by = event.occurred_at + timedelta(minutes=minutes)
    event.notes = event.notes or f"use by {local_time(thaw.use_by, site_zone())}"


def thaw_status(bag_code: str, now: datetime | None = None) -> dict[str, Any]:
    """The bag's thaw and its countdown, for the bedside page and the API."""
    bag = bag_by_code(bag_code)
    thaw = thaw_of(bag)
    if thaw is None:
        raise NotFound(
            f"Bag {bag.code} has not been put in the thawer: no thaw start was scanned.",
            bag=bag.code,
        )
    return thaw_summary(bag, thaw, now or utcnow())


def seconds_left(thaw: Thaw, now: datetime) -> int | None:
    """Whole seconds until the window closes (never negative); None before the thaw ends."""
    if thaw.use_by is None:
        return None
    return max(int((thaw.use_by - now).total_seconds()), 0)


def thaw_summary(bag: Bag, thaw: Thaw, now: datetime) -> dict[str, Any]:
    return {
        "bag": bag.code,
        "started_at": thaw.started_at,
        "started_by": _name(thaw.started_by_id),
        "ended_at": thaw.ended_at,
        "ended_by": _name(thaw.ended_by_id) if thaw.ended_by_id else None,
        "use_by": thaw.use_by,
        "window_minutes": thaw.window_minutes,
        "seconds_left": seconds_left(thaw, now),
        "expired": thaw.use_by is not None and thaw.use_by <= now,
    }


def _name(user_id: int) -> str:
    return db.session.get(User, user_id).full_name
