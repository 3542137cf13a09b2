"""The clinic side of a unit: recipients at every step of the trial's schedule, allocations with
their dose arithmetic, the post-transplant sample, and the shipments' logger readings and
discrepancies; `finish` then has `bedside` add the thaws, the two-person bedside checks and the
infusions they cleared.

As the journeys ask the life-cycle table at every step, the clinic rows are asked of the rules
that judge them live: each dose of `dosing.plan_dose` and `dosing.check_residual_cd3`, so the
demo cannot hold an allocation the tracker would refuse.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from custody.domain import dosing, schedule
from custody.extensions import db
from custody.models import (
    Allocation,
    DiscrepancyKind,
    Disposition,
    DoseLevel,
    FollowUpSample,
    Lot,
    Recipient,
    RecipientStatus,
    ShipmentDiscrepancy,
    ShipmentTemperature,
)
from custody.services.clinic.recipients import POST_TRANSPLANT_KIND
from custody.services.demo import bedside
from custody.services.demo.scenario import (
    DAY,
    DEMO_NOW,
    FIRST_NAMES,
    HOUR,
    INFUSING_NOW,
    LAST_NAMES,
    MIN,
    REASONS,
    SITE,
    Trip,
    Unit,
    Walk,
)

# The schedule's steps after day 0 (DOMAIN.md §1): past day 35 (biopsy done) a recipient is in
# follow-up, discharged once their blood counts recovered; one goes on to a transplant.
DISCHARGED_ON_DAY = 17
TRANSPLANT_ON_DAY = 42
IN_FOLLOW_UP_AFTER = timedelta(days=schedule.BIOPSY_TO_DAY)
OFF_STUDY_REASON = (
    "Bone-marrow transplant on {on}; left the study after the post-transplant blood sample "
    "(protocol)."
)
# The one bag per unit thawed just before now: journeys thaw 40 min before the planned
# infusion, so it came out of the thawer 20 min ago and its window is still open.
THAWED_NOW_INFUSION = DEMO_NOW + 20 * MIN


def residual_cd3_pct(lot: Lot) -> float:
    """The lot's residual CD3+ T cells as % of all cells, for the dose arithmetic.

    The lot's QC result is entered by `quality.review`, after these rows (the alert must find
    the allocations), so it cannot be read here: this value, fixed per lot, is worked out from
    the lot number alone, and `quality` enters it as the lot's result, so each allocation's
    CD3+ cells per kg follow from the lot's record as the allocation service works them out.
    It keeps every demo recipient under the 2e5/kg limit (at most ~1.7e5 for a DL3 bag and
    50 kg).
    """
    return round(random.Random(lot.lot_number).uniform(0.05, 0.3), 2)


# --- recipients ------------------------------------------------------------------------------


def recipient_for(unit: Unit, level: DoseLevel, lot: Lot, pair: list[Walk]) -> Recipient:
    """A recipient for one or two allocated bags (infusion 1, and infusion 2 a week later), at
    the step of the schedule their bags reached.

    Journeys call this once the pair's infusions are timed and before the bags are walked, so
    the clinic may still move the planned infusion of the unit's one "thawed-now" bag."""
    if [w.outcome for w in pair] == ["infused", "verified"] and _infuses_now(unit, lot):
        # Infusion 2 runs now, a week after infusion 1, as the protocol spaces them.
        pair[0].infusion_at = INFUSING_NOW - timedelta(days=7)
        pair[1].outcome, pair[1].infusion_at = "infused", INFUSING_NOW
    outcomes = {w.outcome for w in pair}
    if "infused" in outcomes:
        status = RecipientStatus.INFUSED
    elif outcomes == {"allocated"}:
        status = RecipientStatus.ENROLLED
    else:
        status = RecipientStatus.LYMPHODEPLETION
    recipient = _new_recipient(unit, lot.manufactured_at, status, level)
    if "infused" in outcomes:
        _after_infusion(unit, recipient, pair)
    elif "thawed" in outcomes and _thaws_now(unit, lot):
        next(w for w in pair if w.outcome == "thawed").infusion_at = THAWED_NOW_INFUSION
    return recipient


def _infuses_now(unit: Unit, lot: Lot) -> bool:
    """The first released lot's second infusion: in date, its lot's release never withdrawn."""
    taken = any(w.infusion_at == INFUSING_NOW for w, _, _ in unit.allocations)
    return lot.disposition is Disposition.RELEASED and not taken


def _thaws_now(unit: Unit, lot: Lot) -> bool:
    """The first released lot's thawed bag: in date, its lot's release never withdrawn."""
    taken = any(w.infusion_at == THAWED_NOW_INFUSION for w, _, _ in unit.allocations)
    return lot.disposition is Disposition.RELEASED and not taken


def _after_infusion(unit: Unit, recipient: Recipient, pair: list[Walk]) -> None:
    """Day 0, the order for infusion 2, and, once day 35 has passed, follow-up or transplant."""
    infused = [w.infusion_at for w in pair if w.outcome == "infused"]
    day0 = infused[0].date()
    recipient.day0 = day0
    # The second bag went to the bedside (verified or infused): the investigator ordered it.
    second = pair[1].outcome if len(pair) == 2 else None
    recipient.second_infusion_ordered = second in {"infused", "verified"}
    if DEMO_NOW - infused[0] <= IN_FOLLOW_UP_AFTER:
        return  # still in hospital after the infusion(s)
    recipient.status = RecipientStatus.FOLLOW_UP
    recipient.discharged_on = day0 + timedelta(DISCHARGED_ON_DAY)
    others = [r for r in unit.recipients if r is not recipient]
    followed = any(r.status is RecipientStatus.FOLLOW_UP for r in others)
    under_way = INFUSING_NOW in infused  # no transplant while an infusion is running
    if (
        len(infused) == 2
        and followed
        and not under_way
        and not any(r.transplant_on for r in others)
    ):
        _transplant(unit, recipient, infused[-1])


def _transplant(unit: Unit, recipient: Recipient, last_infusion: datetime) -> None:
    """Gone to transplant: the one blood sample a month later collected, sent and received,
    which ends the recipient's time on the study. Early enough for the sample to be in by now."""
    latest = (DEMO_NOW - (schedule.POST_TRANSPLANT_SAMPLE_DAYS + 2) * DAY).date()
    on = min(recipient.day0 + timedelta(TRANSPLANT_ON_DAY), latest)
    if on <= max(last_infusion.date(), recipient.discharged_on):
        raise RuntimeError(f"demo schedule out of order: transplant of {recipient.subject_id}")
    recipient.transplant_on = on
    recipient.status = RecipientStatus.OFF_STUDY
    recipient.status_reason = OFF_STUDY_REASON.format(on=on.isoformat())
    due = on + timedelta(schedule.POST_TRANSPLANT_SAMPLE_DAYS)
    collected = datetime.combine(due, datetime.min.time(), DEMO_NOW.tzinfo) + 15 * HOUR
    nurse, tech = unit.users["nurse"], unit.users["tech"]
    unit.rows.append(
        FollowUpSample(
            code=f"SMP-{unit.rng.getrandbits(32):08X}",
            recipient=recipient,
            kind=POST_TRANSPLANT_KIND,
            due_on=due,
            collected_at=collected,
            collected_by_id=nurse.id,
            sent_at=collected + HOUR,
            sent_by_id=nurse.id,
            received_at=collected + 4 * HOUR,
            received_by_id=tech.id,
            received_condition="intact, 2 EDTA tubes, ambient",
        )
    )


def _new_recipient(unit: Unit, seen: datetime, status, level: DoseLevel) -> Recipient:
    rng = unit.rng
    recipient = Recipient(
        subject_id=f"CAR33-{unit.number + 1:03d}-{len(unit.recipients) + 1:02d}",
        # Letters and digits only: the number goes on the wristband's barcode.
        hospital_record_number=f"MRN{rng.randrange(10**6, 10**7)}",
        name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        birth_date=date(1950 + rng.randrange(40), rng.randrange(1, 13), rng.randrange(1, 28)),
        weight_kg=round(rng.uniform(50, 100), 1),
        weight_measured_on=seen.date(),
        site=SITE,
        phase=1,
        dose_level_id=level.id,
        status=status,
        created_at=seen - 7 * DAY,
    )
    unit.recipients.append(recipient)
    unit.rows.append(recipient)
    return recipient


# --- allocations to infusions ----------------------------------------------------------------


def finish(unit: Unit) -> None:
    """Rows that need the ids of those just flushed: allocations, thaws, bedside checks and
    infusions, the logger readings, and recipients still waiting for product."""
    # Building reads rows the last unit's commit expired (the accounts): that must not flush
    # what is still half-built.
    with db.session.no_autoflush:
        level = unit.trial.dose_levels[1]
        rows: list = [
            _new_recipient(unit, DEMO_NOW - 5 * DAY, RecipientStatus.SCREENING, level),
            _new_recipient(unit, DEMO_NOW - 3 * DAY, RecipientStatus.ENROLLED, level),
        ]
        excursion = True
        for trip in unit.trips:
            rows += _readings(unit, trip, excursion and trip.arrived_at is not None)
            excursion = excursion and trip.arrived_at is None
        limit = _cd3_limit(unit)
        entries = [(*entry, _allocation(unit, *entry, limit)) for entry in unit.allocations]
        rows += [_missing(unit, w) for w, *_ in entries if w.outcome == "missing"]
        thaws = {w.bag.id: bedside.thaw(unit, w, a) for w, _, _, a in entries if "thaw" in w.times}
        rows += [
            bedside.thaw_start(w, r, n, thaws[w.bag.id])
            for w, r, n, _ in entries
            if "thaw" in w.times
        ]
        checks = bedside.verifications(unit, entries, thaws)
        db.session.add_all([*rows, *(a for *_, a in entries), *thaws.values(), *checks])
    db.session.flush()
    cleared = {v.bag_id: v for v in checks if v.passed}
    db.session.add_all(
        bedside.infusion(unit, w, number, allocation, cleared[w.bag.id])
        for w, _, number, allocation in entries
        if w.outcome == "infused"
    )
    db.session.flush()


def _cd3_limit(unit: Unit) -> dosing.Cd3Limit:
    item = next(i for i in unit.specification.items if i.test == "residual_cd3")
    return dosing.Cd3Limit(item.upper_limit, item.upper_inclusive)


def _allocation(
    unit: Unit, w: Walk, recipient: Recipient, number: int, limit: dosing.Cd3Limit
) -> Allocation:
    """The allocation as the allocation service writes it, its dose worked out by the rules."""
    bag = w.bag
    level = next(lv for lv in unit.trial.dose_levels if lv.id == recipient.dose_level_id)
    target = dosing.DoseTarget(level.code, level.basis.value, level.dose_cells, level.tolerance_pct)
    dose = dosing.BagDose(
        bag.code, bag.viable_car_nk_cells, bag.volume_ml, bag.total_cells, residual_cd3_pct(bag.lot)
    )
    dose_plan = dosing.plan_dose(target, recipient.weight_kg, [dose])
    dosing.check_residual_cd3(dose_plan, limit)
    (line,) = dose_plan.lines
    ended = {"returned": "return", "thaw_discarded": "discard"}.get(w.outcome)
    return Allocation(
        bag_id=bag.id,
        recipient_id=recipient.id,
        infusion_number=number,
        volume_to_infuse_ml=line.volume_to_infuse_ml,
        active=ended is None,
        allocated_at=w.times["allocate"],
        allocated_by_id=unit.users["qa"].id,
        # Returned and discarded bags end their allocation by the nurse's scan.
        ended_at=w.times[ended] if ended else None,
        ended_by_id=unit.users["nurse"].id if ended else None,
        end_reason=REASONS.get(ended) or REASONS.get((ended, "thaw")) if ended else None,
        planned_cells=line.planned_cells,
        dose_level_id=level.id,
        weight_kg_used=recipient.weight_kg,
        residual_cd3_per_kg=round(dose_plan.residual_cd3_per_kg, 1),
    )


def _missing(unit: Unit, w: Walk) -> ShipmentDiscrepancy:
    return ShipmentDiscrepancy(
        shipment=w.trip.shipment,
        kind=DiscrepancyKind.MISSING,
        bag=w.bag,
        raw_scan=w.bag.code,
        note="Not in the dry shipper on arrival; courier and cell lab notified.",
        recorded_at=w.trip.arrived_at + 25 * MIN,
        recorded_by_id=unit.users["nurse"].id,
    )


def _readings(unit: Unit, trip: Trip, excursion: bool) -> list[ShipmentTemperature]:
    """The logger's record, one reading every 10 minutes from handoff to arrival (or now)."""
    end = trip.arrived_at or DEMO_NOW
    count = int((end - trip.handed_over_at) / (10 * MIN)) + 1
    peak = {count // 2: -147.5, count // 2 + 1: -139.8} if excursion else {}
    return [
        ShipmentTemperature(
            shipment_id=trip.shipment.id,
            recorded_at=trip.handed_over_at + 10 * MIN * k,
            temperature_c=peak.get(k, round(unit.rng.uniform(-188.0, -182.0), 1)),
        )
        for k in range(count)
    ]
