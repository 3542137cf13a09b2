"""The clinic side of a unit: recipients, allocations, infusions, the shipments' logger
readings and discrepancies, and the summary of what was loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select

from custody.extensions import db
from custody.models import (
    Allocation,
    Bag,
    BatchStep,
    CustodyEvent,
    DiscrepancyKind,
    Donation,
    Donor,
    DoseLevel,
    Infusion,
    Lot,
    QcResult,
    QualityAlert,
    Recipient,
    RecipientStatus,
    ReleaseDecision,
    Shipment,
    ShipmentDiscrepancy,
    ShipmentTemperature,
    StorageLocation,
    User,
)
from custody.services.demo.scenario import (
    DAY,
    DEMO_ACCOUNTS,
    DEMO_NOW,
    FIRST_NAMES,
    LAST_NAMES,
    MIN,
    REASONS,
    SITE,
    Trip,
    Unit,
    Walk,
)


@dataclass
class DemoSummary:
    counts: dict[str, int] = field(default_factory=dict)
    accounts: list[tuple[str, str, str]] = field(default_factory=list)


def recipient_for(unit: Unit, level: DoseLevel, lot: Lot, pair: list[Walk]) -> Recipient:
    """A recipient for one or two allocated bags (infusion 1, and infusion 2 a week later)."""
    outcomes = {w.outcome for w in pair}
    if "infused" in outcomes:
        status, day0 = RecipientStatus.INFUSED, pair[0].infusion_at.date()
    elif outcomes == {"allocated"}:
        status, day0 = RecipientStatus.ENROLLED, None
    else:
        status, day0 = RecipientStatus.LYMPHODEPLETION, None
    recipient = _new_recipient(unit, lot.manufactured_at, status, level)
    recipient.day0 = day0
    return recipient


def _new_recipient(unit: Unit, seen: datetime, status, level: DoseLevel) -> Recipient:
    rng = unit.rng
    recipient = Recipient(
        subject_id=f"CAR33-{unit.number + 1:03d}-{len(unit.recipients) + 1:02d}",
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


def finish(unit: Unit) -> None:
    """Rows that need the ids of those just flushed: logger readings, allocations, infusions."""
    users = unit.users
    for _ in range(2):  # recipients still in screening, with nothing allocated
        _new_recipient(
            unit, DEMO_NOW - 5 * DAY, RecipientStatus.SCREENING, unit.trial.dose_levels[1]
        )
    rows: list = unit.recipients[-2:]
    excursion = True
    for trip in unit.trips:
        rows += _readings(unit, trip, excursion and trip.arrived_at is not None)
        excursion = excursion and trip.arrived_at is None
    allocations = []
    for w, recipient, number in unit.allocations:
        ended = (
            "return"
            if w.outcome == "returned"
            else "discard"
            if w.outcome == "thaw_discarded"
            else None
        )
        allocations.append(
            Allocation(
                bag_id=w.bag.id,
                recipient_id=recipient.id,
                infusion_number=number,
                volume_to_infuse_ml=w.bag.volume_ml,
                active=ended is None,
                allocated_at=w.times["allocate"],
                allocated_by_id=users["qa"].id,
                ended_at=w.times[ended] if ended else None,
                end_reason=REASONS.get(ended) or REASONS.get((ended, "thaw")) if ended else None,
            )
        )
        if w.outcome == "missing":
            rows.append(
                ShipmentDiscrepancy(
                    shipment=w.trip.shipment,
                    kind=DiscrepancyKind.MISSING,
                    bag=w.bag,
                    raw_scan=w.bag.code,
                    note="Not in the dry shipper on arrival; courier and cell lab notified.",
                    recorded_at=w.trip.arrived_at + 25 * MIN,
                    recorded_by_id=users["nurse"].id,
                )
            )
    db.session.add_all(rows + allocations)
    db.session.flush()
    db.session.add_all(
        Infusion(
            allocation_id=allocation.id,
            bag_id=w.bag.id,
            recipient_id=recipient.id,
            infusion_number=number,
            started_at=w.times["infuse"],
            ended_at=w.times["infuse"] + 15 * MIN,
            volume_ml=w.bag.volume_ml,
            first_verifier_id=users["nurse"].id,
            second_verifier_id=users["nurse2"].id,
        )
        for allocation, (w, recipient, number) in zip(allocations, unit.allocations, strict=True)
        if w.outcome == "infused"
    )
    db.session.flush()


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


def summary() -> DemoSummary:
    summary = DemoSummary()
    for label, model in (
        ("users", User),
        ("donors", Donor),
        ("donations", Donation),
        ("lots", Lot),
        ("batch steps", BatchStep),
        ("bags", Bag),
        ("custody events", CustodyEvent),
        ("storage locations", StorageLocation),
        ("shipments", Shipment),
        ("temperature readings", ShipmentTemperature),
        ("recipients", Recipient),
        ("allocations", Allocation),
        ("infusions", Infusion),
        ("QC results", QcResult),
        ("signed lot decisions", ReleaseDecision),
        ("quality alerts", QualityAlert),
    ):
        summary.counts[label] = db.session.scalar(select(func.count()).select_from(model))
    summary.accounts = [(u, r.value, n) for u, r, n in DEMO_ACCOUNTS]
    return summary
