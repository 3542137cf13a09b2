"""Allocation: released bags assigned to a trial recipient for one infusion, with the dose checks.

This is where the chain of identity reaches a person: from here on a bag is someone's. One
transaction locks the bags (in a fixed order, so two allocations cannot deadlock) and the
recipient, checks that the recipient is at the right step of the protocol with a dose level
still open, that every bag may go towards a patient (released lot whose QA signature still
holds, in date, not someone else's), works out the dose (the last bag in part if the whole set
would overshoot) and the residual CD3+ T cells per kg, then writes one allocation and one
custody event per bag. De-allocation ends an allocation with a reason and voids its tie-tag.
What is asked of each bag and of its lot is in `allocation_checks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from custody.domain import dosing
from custody.domain.errors import Forbidden, NotFound, ValidationFailed
from custody.domain.permissions import UseCase, allows
from custody.domain.scan_targets import ScanTarget
from custody.extensions import db
from custody.models import (
    Allocation,
    Bag,
    DoseLevel,
    LabelPrint,
    LabelStatus,
    Recipient,
    User,
)
from custody.models.base import utcnow
from custody.services.bags.lookup import bag_by_code, bag_from_scan
from custody.services.bags.moves import move_bag
from custody.services.clinic.allocation_checks import (
    active_allocation,
    bag_doses,
    cd3_limit,
    strictest,
)
from custody.services.clinic.allocation_readiness import deallocation_refusal, infusion_refusals
from custody.services.core.transactions import write

MIN_REASON = 5
MAX_REASON = 500  # Allocation.end_reason


@dataclass(frozen=True)
class AllocationRequest:
    recipient: str  # subject ID
    infusion_number: int
    bags: Sequence[str]  # scans, in the order the user scanned them
    reason: str = ""


# --- allocation --------------------------------------------------------------------------------


def allocate(user: User, request: AllocationRequest) -> list[Allocation]:
    """Allocate the scanned bags to the recipient's infusion; one row per bag, committed."""
    _check_role(user, UseCase.ALLOCATE, "allocate bags")
    _check_request(request)
    race = (
        "Someone allocated one of these bags, or allocated to this recipient, at the same "
        "moment, and was saved first. Nothing of yours was saved: look at the bags again."
    )
    why = f"allocation to {request.recipient} infusion {request.infusion_number}"
    if request.reason.strip():
        why += f": {request.reason.strip()}"
    with write(user, why, race, recipient=request.recipient[:32]):
        scanned = _locked_bags(request.bags)
        recipient = _locked_recipient(request.recipient)
        level = _check_recipient(recipient, request.infusion_number)
        doses = bag_doses(scanned, recipient)
        plan = dosing.plan_dose(dose_target(level), recipient.weight_kg, [d for d, _ in doses])
        dosing.check_residual_cd3(plan, strictest({facts.cd3_limit for _, facts in doses}))
        allocations = [
            _record(user, recipient, request, level, plan, bag, target, line)
            for (bag, target), line in zip(scanned, plan.lines, strict=True)
        ]
    return allocations


def dose_target(level: DoseLevel) -> dosing.DoseTarget:
    return dosing.DoseTarget(level.code, level.basis.value, level.dose_cells, level.tolerance_pct)


def _check_role(user: User, use_case: UseCase, doing: str) -> None:
    if not allows(user.role, use_case):
        raise Forbidden(
            f"Only QA or an administrator may {doing}; you are signed in as {user.role.value}.",
            role=user.role.value,
        )


def _check_request(request: AllocationRequest) -> None:
    if request.infusion_number not in (1, 2):
        raise ValidationFailed(
            "The infusion number is 1 (day 0) or 2 (the optional second infusion).",
            field="infusion_number",
        )
    if not request.bags:
        raise ValidationFailed("Scan at least one bag to allocate.", field="bags")


def _locked_bags(scans: Sequence[str]) -> list[tuple[Bag, ScanTarget]]:
    """The scanned bags, in scan order, each row locked; locks are taken in code order so
    that two allocations sharing bags wait for each other instead of deadlocking."""
    found = [bag_from_scan(raw) for raw in scans]
    codes = [bag.code for bag, _ in found]
    for code in codes:
        if codes.count(code) > 1:
            raise ValidationFailed(
                f"Bag {code} was scanned twice: each bag is allocated once. Scan each bag once.",
                bag=code,
            )
    locked = {code: bag_by_code(code, lock=True) for code in sorted(codes)}
    return [(locked[bag.code], target) for bag, target in found]


def _locked_recipient(subject_id: str) -> Recipient:
    recipient = db.session.scalar(
        select(Recipient)
        .where(Recipient.subject_id == subject_id.strip())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if recipient is None:
        raise NotFound(
            f"No recipient with subject ID {subject_id.strip()} is enrolled here. Check the "
            "subject ID on the infusion order.",
            recipient=subject_id.strip(),
        )
    return recipient


def _check_recipient(recipient: Recipient, number: int) -> DoseLevel:
    """The recipient is at the step of the protocol this infusion belongs to, with a dose level
    that is still open, and has no bag already allocated for this infusion: the same question
    the recipient's page asks before it offers the infusion (`allocation_readiness`)."""
    refusals = infusion_refusals(recipient, number)
    if refusals:
        raise refusals[0]
    return recipient.dose_level


def _record(
    user: User,
    recipient: Recipient,
    request: AllocationRequest,
    level: DoseLevel,
    plan: dosing.DosePlan,
    bag: Bag,
    target: ScanTarget,
    line: dosing.DoseLine,
) -> Allocation:
    now = utcnow()
    allocation = Allocation(
        bag=bag,
        recipient=recipient,
        infusion_number=request.infusion_number,
        volume_to_infuse_ml=line.volume_to_infuse_ml,
        active=True,
        allocated_at=now,
        allocated_by_id=user.id,
        planned_cells=line.planned_cells,
        dose_level_id=level.id,
        weight_kg_used=recipient.weight_kg,
        residual_cd3_per_kg=plan.residual_cd3_per_kg,
    )
    db.session.add(allocation)
    part = f"{line.volume_to_infuse_ml:g} mL of {line.volume_ml:g} mL" if line.partial else "whole"
    notes = (
        f"allocated to {recipient.subject_id} for infusion {request.infusion_number} "
        f"({part}, {dosing.cells_words(line.planned_cells)} cells)"
    )
    _move(user, bag, "allocate", target.raw, _with_reason(notes, request.reason), now)
    return allocation


def _move(user: User, bag: Bag, action: str, raw: str, notes: str, when) -> None:
    """The bag's state by the life cycle, and its custody event; flushed, so that a bag
    allocated twice meets the one-active-allocation index inside this transaction."""
    move_bag(bag, action, user, when, raw_scan=raw[:500], notes=notes)
    db.session.flush()


def _with_reason(notes: str, reason: str) -> str:
    return f"{notes}: {reason.strip()}" if reason.strip() else notes


# --- de-allocation -----------------------------------------------------------------------------


def deallocate(user: User, bag_code: str, reason: str) -> Allocation:
    """End the bag's active allocation, with the reason; its tie-tag is voided with it."""
    _check_role(user, UseCase.DEALLOCATE, "de-allocate bags")
    reason = (reason or "").strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise ValidationFailed(
            f"Say why the bag is de-allocated ({MIN_REASON} to {MAX_REASON} characters): the "
            "reason is kept with the allocation and the custody record.",
            field="reason",
        )
    race = "Someone changed this bag or its allocation at the same moment; look at it again."
    with write(user, f"de-allocation: {reason}", race, bag=bag_code[:60]):
        bag, target = bag_from_scan(bag_code, lock=True)
        refusal = deallocation_refusal(bag)  # what the recipient's page asks before offering
        if refusal is not None:
            raise refusal
        allocation = active_allocation(bag)
        now = utcnow()
        allocation.active = False
        allocation.ended_at = now
        allocation.ended_by_id = user.id
        allocation.end_reason = reason
        _void_tie_tag(user, allocation, reason, now)
        notes = (
            f"de-allocated from {allocation.recipient.subject_id} "
            f"(infusion {allocation.infusion_number}): {reason}"
        )
        _move(user, bag, "deallocate", target.raw, notes, now)
    return allocation


def _void_tie_tag(user: User, allocation: Allocation, reason: str, when) -> None:
    """A tie-tag names the recipient: once the allocation ends it must not travel with the bag."""
    tags = db.session.scalars(
        select(LabelPrint).where(
            LabelPrint.subject_type == "allocation",
            LabelPrint.subject_key == str(allocation.id),
            LabelPrint.purpose == "tie_tag",
            LabelPrint.status != LabelStatus.VOIDED,
        )
    ).all()
    for tag in tags:
        tag.status = LabelStatus.VOIDED
        tag.voided_by_id = user.id
        tag.voided_at = when
        tag.void_reason = f"allocation ended: {reason}"


# --- queries -----------------------------------------------------------------------------------


def allocations_of(subject_id: str, active_only: bool = False) -> list[Allocation]:
    """The recipient's allocations, newest first (ended ones too, unless `active_only`)."""
    recipient = db.session.scalar(select(Recipient).where(Recipient.subject_id == subject_id))
    if recipient is None:
        raise NotFound(f"No recipient with subject ID {subject_id}.", recipient=subject_id)
    query = select(Allocation).where(Allocation.recipient_id == recipient.id)
    if active_only:
        query = query.where(Allocation.active.is_(True))
    return list(
        db.session.scalars(query.order_by(Allocation.allocated_at.desc(), Allocation.id.desc()))
    )


def allocation_outcome(allocations: Sequence[Allocation]) -> dict:
    """What one allocation request decided: the dose window, the plan and the CD3+ check."""
    first = allocations[0]
    level = db.session.get(DoseLevel, first.dose_level_id)
    window = dosing.dose_window(dose_target(level), first.weight_kg_used)
    limit = strictest({cd3_limit(a.bag.lot) for a in allocations})
    return {
        "recipient": first.recipient.subject_id,
        "infusion_number": first.infusion_number,
        "dose": {
            "dose_level": level.code,
            "basis": level.basis.value,
            "weight_kg": first.weight_kg_used,
            "target_cells": window.target,
            "lower": window.lower,
            "upper": window.upper,
            "planned_cells": sum(a.planned_cells for a in allocations),
        },
        "residual_cd3_per_kg": first.residual_cd3_per_kg,
        "residual_cd3_limit": limit.upper,
        "residual_cd3_limit_inclusive": limit.inclusive,
        "allocations": [allocation_item(a) for a in allocations],
    }


def allocation_item(allocation: Allocation) -> dict:
    """One allocation as the API and the pages show it."""
    bag = allocation.bag
    volume = allocation.volume_to_infuse_ml
    level = (
        db.session.get(DoseLevel, allocation.dose_level_id) if allocation.dose_level_id else None
    )
    return {
        "bag": bag.code,
        "recipient": allocation.recipient.subject_id,
        "infusion_number": allocation.infusion_number,
        "volume_ml": bag.volume_ml,
        "volume_to_infuse_ml": volume,
        "planned_cells": allocation.planned_cells,
        "partial": volume is not None and volume < bag.volume_ml,
        "dose_level": level.code if level else None,
        "weight_kg_used": allocation.weight_kg_used,
        "residual_cd3_per_kg": allocation.residual_cd3_per_kg,
        "active": allocation.active,
        "allocated_at": allocation.allocated_at,
        "allocated_by": _username(allocation.allocated_by_id),
        "ended_at": allocation.ended_at,
        "ended_by": _username(allocation.ended_by_id),
        "end_reason": allocation.end_reason,
    }


def _username(user_id: int | None) -> str | None:
    user = db.session.get(User, user_id) if user_id else None
    return user.username if user else None
