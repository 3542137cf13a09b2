"""The infusion record: started after a passed bedside verification, then completed.

21 CFR 11.10(f) sequencing: no infusion without release and a two-person verification. An
infusion names the verification it followed; that verification must have passed, be the bag's
newest passed one, be unused (one infusion per verification, enforced by the database too) and
recent, and the post-thaw window must still be open when the infusion starts. The bag's row
lock serialises two nurses recording the same infusion: exactly one succeeds, the other is
told who recorded it first.

Infusion 1 is the recipient's day 0 (DOMAIN.md §1): its start date on the site's wall clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from custody.config import settings
from custody.domain import schedule
from custody.domain.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from custody.domain.time_zones import local_time
from custody.extensions import db
from custody.models import (
    Bag,
    BedsideVerification,
    Infusion,
    Recipient,
    RecipientStatus,
    User,
)
from custody.models.base import utcnow
from custody.services.bags.lookup import bag_by_code
from custody.services.bags.moves import move_bag
from custody.services.bags.recall_status import active_recall_codes
from custody.services.bags.thawing import active_allocation, thaw_of
from custody.services.clinic.bedside import check_bedside_role
from custody.services.core.facility import site_zone
from custody.services.core.transactions import write
from custody.services.quality.release_signature import release_holds

# A pump's volume reading may exceed the bag's nominal volume by a little (line priming).
VOLUME_TOLERANCE_ML = 0.5
# Clocks of ward tablets drift; a start or end a little in the future is still "now".
CLOCK_SKEW = timedelta(minutes=2)


def start_infusion(
    user: User,
    verification_uid: str,
    started_at: datetime | None = None,
    volume_ml: float | None = None,
    reactions: str = "",
) -> dict[str, Any]:
    """Record the start of the infusion that follows verification `verification_uid`."""
    check_bedside_role(user)
    # How long a passed bedside verification may precede the infusion (a site setting).
    valid = settings().verification_valid_minutes
    race = (
        "Someone else recorded this infusion at the same moment, and theirs was saved first. "
        "Nothing of yours was saved: look at the recipient's infusions."
    )
    with write(user, "infusion started", race, verification=verification_uid):
        now = utcnow()
        verification = _verification(verification_uid)
        bag = bag_by_code(verification.bag.code, lock=True)
        _check_unused(bag, verification)
        _check_verification(bag, verification, now, valid)
        started = started_at or now
        _check_start(bag, verification, started, now)
        allocation = active_allocation(bag)
        if volume_ml is not None:
            _check_volume(volume_ml, allocation)
        infusion = Infusion(
            allocation_id=allocation.id,
            bag_id=bag.id,
            recipient_id=allocation.recipient_id,
            infusion_number=allocation.infusion_number,
            started_at=started,
            volume_ml=volume_ml,
            reactions=reactions or "",
            first_verifier_id=verification.first_verifier_id,
            second_verifier_id=verification.second_verifier_id,
            verification_id=verification.id,
            recorded_by_id=user.id,
        )
        db.session.add(infusion)
        _infuse_bag(bag, infusion, verification, user, started)
        _mark_recipient(allocation.recipient, infusion)
        db.session.flush()
        summary = infusion_summary(infusion)
    return summary


def complete_infusion(
    user: User,
    bag_code: str,
    ended_at: datetime | None,
    volume_ml: float,
    reactions: str = "",
    interruption_reason: str | None = None,
) -> dict[str, Any]:
    """Record the end of a bag's infusion: when, the volume given, any reactions, and why it
    was stopped early if it was. What already happened is recorded whatever has changed since
    the start (a recall, a withdrawn release): those stop the next bag, not this record."""
    check_bedside_role(user)
    race = (
        "Someone else recorded the end of this infusion at the same moment, and theirs was "
        "saved first. Look at the infusion record."
    )
    doing = "infusion interrupted" if (interruption_reason or "").strip() else "infusion completed"
    with write(user, doing, race, bag=bag_code):
        now = utcnow()
        bag = bag_by_code(bag_code, lock=True)
        infusion = db.session.scalar(select(Infusion).where(Infusion.bag_id == bag.id))
        if infusion is None:
            raise NotFound(
                f"No infusion of bag {bag.code} is recorded: start the infusion first.",
                bag=bag.code,
            )
        if infusion.ended_at is not None:
            raise Conflict(
                f"The end of this infusion was already recorded "
                f"({local_time(infusion.ended_at, site_zone())}).",
                bag=bag.code,
            )
        ended = ended_at or now
        if ended <= infusion.started_at or ended > now + CLOCK_SKEW:
            raise ValidationFailed(
                "The end of an infusion comes after its start "
                f"({local_time(infusion.started_at, site_zone())}) and not in the future.",
                field="ended_at",
            )
        _check_volume(volume_ml, infusion.allocation)
        infusion.ended_at = ended
        infusion.volume_ml = volume_ml
        if reactions:
            infusion.reactions = reactions
        if interruption_reason is not None and interruption_reason.strip():
            infusion.interruption_reason = interruption_reason.strip()
        db.session.flush()
        summary = infusion_summary(infusion)
    return summary


MAX_LISTED = 500


def list_infusions(
    subject_id: str | None = None, in_progress: bool | None = None
) -> list[dict[str, Any]]:
    """A recipient's infusions, first to last; or everyone's, newest first (at most
    MAX_LISTED); `in_progress` keeps those not yet ended (or, False, those ended)."""
    query = select(Infusion)
    if subject_id is not None:
        recipient = db.session.scalar(select(Recipient).where(Recipient.subject_id == subject_id))
        if recipient is None:
            raise NotFound(f"No recipient {subject_id} is enrolled.", recipient=subject_id)
        query = query.where(Infusion.recipient_id == recipient.id).order_by(
            Infusion.infusion_number, Infusion.started_at
        )
    else:
        query = query.order_by(Infusion.started_at.desc()).limit(MAX_LISTED)
    if in_progress is not None:
        ended = Infusion.ended_at.is_(None) if in_progress else Infusion.ended_at.is_not(None)
        query = query.where(ended)
    return [infusion_summary(i) for i in db.session.scalars(query)]


# --- the rules of starting ------------------------------------------------------------------


def _verification(uid: str) -> BedsideVerification:
    verification = db.session.scalar(
        select(BedsideVerification).where(BedsideVerification.uid == uid)
    )
    if verification is None:
        raise NotFound(
            f"No bedside verification {uid} is recorded. Verify at the bedside first.",
            verification=uid,
        )
    if not verification.passed or verification.bag_id is None:
        raise IllegalTransition(
            "That bedside verification did not pass, so no infusion may follow it. Put right "
            "what it found and verify again.",
            verification=uid,
        )
    return verification


def _check_unused(bag: Bag, verification: BedsideVerification) -> None:
    infused = db.session.scalar(select(Infusion).where(Infusion.bag_id == bag.id))
    if infused is not None:
        by = db.session.get(User, infused.recorded_by_id or infused.first_verifier_id)
        raise Conflict(
            f"Bag {bag.code} was already infused: the infusion started at "
            f"{local_time(infused.started_at, site_zone())} was recorded by {by.full_name}. "
            "A bag is infused once.",
            bag=bag.code,
            verification=verification.uid,
        )


def _check_verification(bag: Bag, verification: BedsideVerification, now, valid: int) -> None:
    newest = db.session.scalar(
        select(func.max(BedsideVerification.id)).where(
            BedsideVerification.bag_id == bag.id, BedsideVerification.passed
        )
    )
    if newest != verification.id:
        raise Conflict(
            f"A newer bedside verification of bag {bag.code} has been recorded: the infusion "
            "follows the newest one. Use it, or verify again.",
            bag=bag.code,
            verification=verification.uid,
        )
    age = now - verification.attempted_at
    if age > timedelta(minutes=valid):
        raise IllegalTransition(
            f"The bedside verification was {int(age.total_seconds() // 60)} minutes ago; it "
            f"holds for {valid} minutes. Verify again at the bedside, with two nurses.",
            verification=verification.uid,
            valid_minutes=valid,
        )
    allocation = active_allocation(bag)
    if allocation is None or allocation.id != verification.allocation_id:
        raise IllegalTransition(
            f"Bag {bag.code}'s allocation changed after the bedside verification. Do not "
            "infuse; call the cell therapy lab.",
            bag=bag.code,
        )
    recall = active_recall_codes(bag.lot_id)
    if recall:
        raise IllegalTransition(
            f"QA recalled this product ({recall}) after the bedside verification. Do not "
            "infuse; set the bag apart and call the cell therapy lab.",
            bag=bag.code,
            recall=recall,
        )
    holds, why = release_holds(bag.lot)
    if not holds:
        raise IllegalTransition(
            f"QA's release of lot {bag.lot.lot_number} no longer holds ({why}). Do not "
            "infuse; call QA.",
            bag=bag.code,
        )


def _check_start(bag: Bag, verification: BedsideVerification, started: datetime, now) -> None:
    if started < verification.attempted_at or started > now + CLOCK_SKEW:
        raise ValidationFailed(
            "An infusion starts after its bedside verification "
            f"({local_time(verification.attempted_at, site_zone())}) and not in the future.",
            field="started_at",
        )
    thaw = thaw_of(bag)
    if thaw is None or thaw.use_by is None or thaw.use_by <= started:
        closed = local_time(thaw.use_by, site_zone()) if thaw and thaw.use_by else "unknown"
        raise IllegalTransition(
            f"The post-thaw window of bag {bag.code} closed at {closed}. Do not infuse; set "
            "the bag apart and call the cell therapy lab.",
            bag=bag.code,
        )


def _check_volume(volume_ml: float, allocation) -> None:
    planned = allocation.volume_to_infuse_ml or allocation.bag.volume_ml
    if not volume_ml > 0 or volume_ml > planned + VOLUME_TOLERANCE_ML:
        raise ValidationFailed(
            f"The volume infused must be more than 0 mL and at most the {planned:g} mL to "
            "infuse. Check the pump's reading.",
            field="volume_ml",
            volume_to_infuse_ml=planned,
        )


def _infuse_bag(bag: Bag, infusion: Infusion, verification, user: User, started) -> None:
    recipient = db.session.get(Recipient, infusion.recipient_id)
    move_bag(
        bag,
        "infuse",
        user,
        started,
        to_party=recipient.subject_id,
        station=verification.station,
        notes=(
            f"Infusion {infusion.infusion_number} to {recipient.subject_id} after bedside "
            f"verification {verification.uid}."
        ),
    )


def _mark_recipient(recipient: Recipient, infusion: Infusion) -> None:
    """The status the schedule gives after this infusion; infusion 1 is also day 0, the date
    it started on the site's wall clock."""
    recipient.status = RecipientStatus(
        schedule.status_after_infusion(recipient.status.value, infusion.infusion_number)
    )
    if infusion.infusion_number == 1:
        recipient.day0 = infusion.started_at.astimezone(site_zone()).date()


# --- what the API and pages show ------------------------------------------------------------


def infusion_summary(infusion: Infusion) -> dict[str, Any]:
    bag = db.session.get(Bag, infusion.bag_id)
    recipient = infusion.recipient
    verification = (
        db.session.get(BedsideVerification, infusion.verification_id)
        if infusion.verification_id
        else None
    )
    first = db.session.get(User, infusion.first_verifier_id)
    second = db.session.get(User, infusion.second_verifier_id)
    recorder = db.session.get(User, infusion.recorded_by_id) if infusion.recorded_by_id else None
    return {
        "bag": bag.code,
        "din": bag.din,
        "product_code": bag.product_code,
        "lot": bag.lot.lot_number,
        "recipient": recipient.subject_id,
        "recipient_name": recipient.name,
        "infusion_number": infusion.infusion_number,
        "started_at": infusion.started_at,
        "ended_at": infusion.ended_at,
        "volume_ml": infusion.volume_ml,
        "reactions": infusion.reactions,
        "interruption_reason": infusion.interruption_reason,
        "first_verifier": first.full_name,
        "second_verifier": second.full_name,
        "verification": verification.uid if verification else None,
        "recorded_by": recorder.full_name if recorder else None,
        "day0": recipient.day0,
    }
