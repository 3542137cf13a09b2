"""Everything a bag's vein-to-vein timeline reads, loaded in a fixed number of queries.

One query per kind of record (donations, batch steps, custody events, storage paths, shipment
items, logger readings, QA decisions, allocations, thaw, bedside verifications, infusion, the
people named), whatever the length of the bag's history: a bag with 200 custody events costs
the same number of round trips as one with 5.

The timeline is the product's record (the bag page, the custody report for a sponsor or an
inspector): it names the recipient by subject ID only, so a stopped bedside check's reason is
read with the patient identifiers it held withheld.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from custody.domain import bedside_checks
from custody.domain.excursions import Reading
from custody.domain.permissions import withhold_identifiers_in_text
from custody.extensions import db
from custody.models import (
    Allocation,
    Bag,
    BatchStep,
    BedsideVerification,
    CustodyEvent,
    Donation,
    Infusion,
    ReleaseDecision,
    ShipmentItem,
    ShipmentTemperature,
    Signature,
    StorageLocation,
    Thaw,
    User,
    lot_donations,
)
from custody.services.clinic.verification_record import verification_identifiers
from custody.services.quality.queries import decision_summary

# How a storage path reads: "Cell therapy lab › LN2 freezer 1 › Rack 1 › Box 2 › Position 7".
PATH_SEPARATOR = " › "


@dataclass
class Records:
    bag: Bag
    donations: list[Donation]
    batch_steps: list[BatchStep]
    events: list[CustodyEvent]  # the bag's, its parent's before the division, its donations'
    paths: dict[int, str]  # storage location id -> path
    items: list[ShipmentItem]
    readings: dict[int, list[Reading]]  # shipment id -> logger readings, in time order
    decisions: list[ReleaseDecision]  # oldest first
    allocations: list[Allocation]  # oldest first, ended ones included
    thaw: Thaw | None
    verifications: list[BedsideVerification]
    outcomes: dict[int, tuple[str, str | None]]  # verification id -> (outcome, stop reason)
    infusion: Infusion | None
    users: dict[int, User] = field(default_factory=dict)

    def user(self, user_id: int | None) -> User | None:
        return self.users.get(user_id) if user_id is not None else None

    def name(self, user_id: int | None) -> str | None:
        user = self.user(user_id)
        return f"{user.full_name} ({user.username})" if user else None

    @cached_property
    def release_summaries(self) -> list[dict]:
        """Each signed decision as the pages show it; only the latest one's signature is
        checked against the lot as it is now (earlier ones were replaced anyway)."""
        latest = self.decisions[-1] if self.decisions else None
        return [decision_summary(d, check=d is latest) for d in self.decisions]

    @property
    def parent_code(self) -> str | None:
        return self.bag.parent.code if self.bag.parent else None

    @property
    def recipient(self):
        """Who the bag went to (its infusion), else who it is allocated to now."""
        if self.infusion is not None:
            return self.infusion.recipient
        active = [a for a in self.allocations if a.active]
        return active[-1].recipient if active else None

    @property
    def site(self) -> str | None:
        recipient = self.recipient
        return recipient.site if recipient is not None else None


def load_records(bag: Bag) -> Records:
    bag = _bag(bag.id)
    donations = _donations(bag.lot_id)
    events = _events(bag, [d.id for d in donations])
    items = _items(bag.id)
    verifications = _verifications(bag.id)
    records = Records(
        bag=bag,
        donations=donations,
        batch_steps=_batch_steps(bag.lot_id),
        events=events,
        paths=_paths({e.location_id for e in events if e.location_id is not None}),
        items=items,
        readings=_readings({i.shipment_id for i in items}),
        decisions=_decisions(bag.lot_id),
        allocations=_allocations(bag.id),
        thaw=db.session.scalar(select(Thaw).where(Thaw.bag_id == bag.id)),
        verifications=verifications,
        outcomes={v.id: _outcome(v) for v in verifications},
        infusion=db.session.scalar(
            select(Infusion)
            .where(Infusion.bag_id == bag.id)
            .options(joinedload(Infusion.recipient))
        ),
    )
    records.users = _users(_people(records))
    return records


def _bag(bag_id: int) -> Bag:
    return db.session.scalar(
        select(Bag).where(Bag.id == bag_id).options(joinedload(Bag.lot), joinedload(Bag.parent))
    )


def _donations(lot_id: int) -> list[Donation]:
    return list(
        db.session.scalars(
            select(Donation)
            .join(lot_donations, lot_donations.c.donation_id == Donation.id)
            .where(lot_donations.c.lot_id == lot_id)
            .options(joinedload(Donation.donor))
            .order_by(Donation.collected_at, Donation.id)
        )
    )


def _batch_steps(lot_id: int) -> list[BatchStep]:
    return list(
        db.session.scalars(
            select(BatchStep)
            .where(BatchStep.lot_id == lot_id)
            .options(joinedload(BatchStep.operator), selectinload(BatchStep.materials))
            .order_by(BatchStep.sequence)
        ).unique()
    )


def _events(bag: Bag, donation_ids: list[int]) -> list[CustodyEvent]:
    """The bag's events; for a divided bag, its parent's up to the division; the receipt of
    the donations behind its lot."""
    bag_ids = [bag.id] + ([bag.parent_bag_id] if bag.parent_bag_id else [])
    events = db.session.scalars(
        select(CustodyEvent)
        .where(or_(CustodyEvent.bag_id.in_(bag_ids), CustodyEvent.donation_id.in_(donation_ids)))
        .options(joinedload(CustodyEvent.actor), joinedload(CustodyEvent.shipment))
        .order_by(CustodyEvent.occurred_at, CustodyEvent.id)
    ).all()
    own = [e.occurred_at for e in events if e.bag_id == bag.id]
    divided = own[0] if bag.parent_bag_id and own else None
    return [
        e
        for e in events
        if e.bag_id != bag.parent_bag_id or (divided is not None and e.occurred_at < divided)
    ]


def _paths(location_ids: set[int]) -> dict[int, str]:
    """Each location's path from the top of the storage tree, in one recursive query."""
    if not location_ids:
        return {}
    start = select(StorageLocation.id, StorageLocation.parent_id, StorageLocation.name)
    tree = start.where(StorageLocation.id.in_(location_ids)).cte("tree", recursive=True)
    up = select(StorageLocation.id, StorageLocation.parent_id, StorageLocation.name)
    tree = tree.union(up.join(tree, StorageLocation.id == tree.c.parent_id))
    nodes = {row.id: row for row in db.session.execute(select(tree))}
    return {i: _path(i, nodes) for i in location_ids}


def _path(location_id: int, nodes: dict) -> str:
    names, seen, current = [], set(), nodes.get(location_id)
    while current is not None and current.id not in seen:
        seen.add(current.id)
        names.append(current.name)
        current = nodes.get(current.parent_id)
    return PATH_SEPARATOR.join(reversed(names))


def _items(bag_id: int) -> list[ShipmentItem]:
    return list(
        db.session.scalars(
            select(ShipmentItem)
            .where(ShipmentItem.bag_id == bag_id)
            .options(joinedload(ShipmentItem.shipment))
            .order_by(ShipmentItem.packed_at, ShipmentItem.id)
        )
    )


def _readings(shipment_ids: set[int]) -> dict[int, list[Reading]]:
    found: dict[int, list[Reading]] = defaultdict(list)
    if not shipment_ids:
        return found
    rows = db.session.execute(
        select(
            ShipmentTemperature.shipment_id,
            ShipmentTemperature.recorded_at,
            ShipmentTemperature.temperature_c,
        )
        .where(ShipmentTemperature.shipment_id.in_(shipment_ids))
        .order_by(ShipmentTemperature.shipment_id, ShipmentTemperature.recorded_at)
    )
    for shipment_id, at, celsius in rows:
        found[shipment_id].append(Reading(at, celsius))
    return found


def _decisions(lot_id: int) -> list[ReleaseDecision]:
    return list(
        db.session.scalars(
            select(ReleaseDecision)
            .where(ReleaseDecision.lot_id == lot_id)
            .options(joinedload(ReleaseDecision.signature).joinedload(Signature.signer))
            .order_by(ReleaseDecision.id)
        )
    )


def _allocations(bag_id: int) -> list[Allocation]:
    return list(
        db.session.scalars(
            select(Allocation)
            .where(Allocation.bag_id == bag_id)
            .options(joinedload(Allocation.recipient))
            .order_by(Allocation.allocated_at, Allocation.id)
        )
    )


def _verifications(bag_id: int) -> list[BedsideVerification]:
    return list(
        db.session.scalars(
            select(BedsideVerification)
            .where(BedsideVerification.bag_id == bag_id)
            .options(
                joinedload(BedsideVerification.first_verifier),
                joinedload(BedsideVerification.second_verifier),
            )
            .order_by(BedsideVerification.attempted_at, BedsideVerification.id)
        )
    )


def _outcome(verification: BedsideVerification) -> tuple[str, str | None]:
    """Passed, incomplete (waiting for the second person) or stopped, with the stop reason
    (its patient identifiers withheld)."""
    try:
        checks = tuple(bedside_checks.Check(**c) for c in json.loads(verification.checks))
    except (TypeError, ValueError):
        return (bedside_checks.PASSED, None) if verification.passed else ("stopped", None)
    outcome, reason = bedside_checks.outcome_of(checks)
    if reason:
        reason = withhold_identifiers_in_text(reason, verification_identifiers(verification))
    return outcome, reason


def _people(r: Records) -> set[int]:
    ids = {d.received_by_id for d in r.donations}
    ids |= {i.packed_by_id for i in r.items} | {i.received_by_id for i in r.items}
    ids |= {a.allocated_by_id for a in r.allocations}
    if r.thaw is not None:
        ids |= {r.thaw.started_by_id, r.thaw.ended_by_id}
    if r.infusion is not None:
        i = r.infusion
        ids |= {i.first_verifier_id, i.second_verifier_id, i.recorded_by_id}
    return {i for i in ids if i is not None}


def _users(ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
