"""Lookback both ways: from a donor, donation, lot or reagent lot forward to every bag and
recipient it reached; from a recipient back to every bag, lot, donation, donor and reagent lot
behind them.

Both directions answer the same keys, so one page or report renders either. The starting point
is resolved by `trace` (the same resolution a recall blocks by), then the rest
is read with a fixed handful of set-based queries (IN-lists and joins, never one query per
lot, bag or recipient), so the answer costs the same for a donor with one bag as for a vector
lot that reached hundreds: the design's budget is 100 ms at 10^6 custody events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select

from custody.domain.errors import ValidationFailed
from custody.extensions import db
from custody.models import (
    Allocation,
    Bag,
    BatchMaterial,
    BatchStep,
    Donation,
    Donor,
    Infusion,
    Lot,
    Recipient,
    lot_donations,
)
from custody.services.clinic.recipients import recipient_by_subject_id
from custody.services.traceability import trace

# What a lookback can start from: the trace's starting points forward, a recipient backward.
SCOPES = (*trace.SCOPES, "recipient")
SCOPE_WORDS = {**trace.SCOPE_WORDS, "recipient": "recipient (subject ID)"}


def starting_point(given: Mapping[str, str | None]) -> tuple[str, str]:
    """The one (scope, value) named in `given`; a lookback from two places at once (or from
    nowhere) would be read as one answer, so it is refused with words naming what exists."""
    named = [scope for scope in SCOPES if given.get(scope) is not None]
    if len(named) != 1:
        told = f"; you gave {' and '.join(named)}" if named else ""
        raise ValidationFailed(
            f"Look back from exactly one starting point: give one of {', '.join(SCOPES)}{told}.",
            parameters=list(SCOPES),
            given=named,
        )
    scope = named[0]
    return scope, given[scope]


def lookback(scope: str, value: str) -> dict[str, Any]:
    """Everything reached from (or behind) the starting point; NotFound if it is unknown."""
    if scope not in SCOPES:
        raise ValidationFailed(
            f"'{scope}' is not something to look back from. Use one of: {', '.join(SCOPES)}.",
            field="scope",
        )
    if scope == "recipient":
        return _backward(value)
    return _forward(scope, value)


# --- the two directions ---------------------------------------------------------------------


def _forward(scope: str, value: str) -> dict[str, Any]:
    value = trace.normalised(scope, value)
    lot_ids = trace.lot_ids_from(scope, value)
    bag_ids = select(Bag.id).where(Bag.lot_id.in_(lot_ids))
    found = _Found(lot_ids=lot_ids)
    _read_bags_and_links(found, bag_ids)
    _read_starting_donations(found, scope, value)
    _read_lots(found)
    return _answer(scope, value, found, shown=None)


def _backward(value: str) -> dict[str, Any]:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(
            f"Give the {SCOPE_WORDS['recipient']} to look back from.", field="recipient"
        )
    recipient = recipient_by_subject_id(value)
    bag_ids = (
        select(Allocation.bag_id)
        .where(Allocation.recipient_id == recipient.id)
        .union(select(Infusion.bag_id).where(Infusion.recipient_id == recipient.id))
    )
    found = _Found()
    found.recipients[recipient.id] = _recipient_fields(recipient)
    _read_bags_and_links(found, bag_ids)
    found.lot_ids = sorted({bag.lot_id for bag in found.bags})
    _read_lots(found)
    return _answer("recipient", recipient.subject_id, found, shown=recipient.id)


# --- reading: a fixed number of queries -----------------------------------------------------


@dataclass
class _Found:
    """What the queries read, keyed for assembly."""

    lot_ids: list[int] = field(default_factory=list)
    bags: list[Any] = field(default_factory=list)
    allocations: list[Any] = field(default_factory=list)
    infusions: list[Any] = field(default_factory=list)
    recipients: dict[int, dict[str, Any]] = field(default_factory=dict)
    lots: list[Any] = field(default_factory=list)
    lot_dins: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    reagent_lots: dict[int, set[tuple[str, str, str]]] = field(
        default_factory=lambda: defaultdict(set)
    )
    donations: dict[str, dict[str, Any]] = field(default_factory=dict)
    donors: dict[str, str] = field(default_factory=dict)


def _read_bags_and_links(found: _Found, bag_ids: Select) -> None:
    """The bags named by the `bag_ids` subquery, their allocations (active or ended) and
    infusions, each with its recipient: three queries however many bags."""
    found.bags = db.session.execute(
        select(Bag.id, Bag.code, Bag.din, Bag.product_code, Bag.status, Bag.lot_id, Lot.lot_number)
        .join(Lot, Lot.id == Bag.lot_id)
        .where(Bag.id.in_(bag_ids))
    ).all()
    found.allocations = db.session.execute(
        select(
            Allocation.bag_id,
            Allocation.recipient_id,
            Allocation.infusion_number,
            Allocation.active,
            Allocation.allocated_at,
            Allocation.ended_at,
            Allocation.end_reason,
            *_RECIPIENT_COLUMNS,
        )
        .join(Recipient, Recipient.id == Allocation.recipient_id)
        .where(Allocation.bag_id.in_(bag_ids))
    ).all()
    found.infusions = db.session.execute(
        select(
            Infusion.bag_id,
            Infusion.recipient_id,
            Infusion.infusion_number,
            Infusion.started_at,
            Infusion.ended_at,
            Infusion.volume_ml,
            *_RECIPIENT_COLUMNS,
        )
        .join(Recipient, Recipient.id == Infusion.recipient_id)
        .where(Infusion.bag_id.in_(bag_ids))
    ).all()
    for row in (*found.allocations, *found.infusions):
        found.recipients.setdefault(row.recipient_id, _recipient_fields(row))


_RECIPIENT_COLUMNS = (Recipient.subject_id, Recipient.status, Recipient.site)


def _recipient_fields(row) -> dict[str, Any]:
    return {"subject_id": row.subject_id, "status": row.status.value, "site": row.site}


def _read_starting_donations(found: _Found, scope: str, value: str) -> None:
    """A donor's or DIN's own donations, also those not (yet) made into a lot, so the answer
    names what was looked for even when it reached nothing."""
    columns = (Donor.donor_code, Donor.eligibility, *_DONATION_COLUMNS)
    if scope == "donor":
        query = select(*columns).select_from(Donor).outerjoin(Donation)
        query = query.where(Donor.donor_code == value)
    elif scope == "din":
        query = select(*columns).join(Donor, Donor.id == Donation.donor_id)
        query = query.where(Donation.din == value)
    else:
        return
    for row in db.session.execute(query):
        _add_donation(found, row)


_DONATION_COLUMNS = (Donation.din, Donation.collected_at, Donation.facility)


def _add_donation(found: _Found, row) -> None:
    found.donors[row.donor_code] = row.eligibility.value
    if row.din is not None:
        found.donations[row.din] = {
            "din": row.din,
            "donor": row.donor_code,
            "collected_at": row.collected_at,
            "facility": row.facility,
        }


def _read_lots(found: _Found) -> None:
    """The lots with their dispositions, donations and donors, and the reagent and vector
    lots their batch records name: three queries however many lots."""
    if not found.lot_ids:
        return
    found.lots = db.session.execute(
        select(Lot.id, Lot.lot_number, Lot.disposition, Lot.din).where(Lot.id.in_(found.lot_ids))
    ).all()
    donations = db.session.execute(
        select(lot_donations.c.lot_id, Donor.donor_code, Donor.eligibility, *_DONATION_COLUMNS)
        .join(Donation, Donation.id == lot_donations.c.donation_id)
        .join(Donor, Donor.id == Donation.donor_id)
        .where(lot_donations.c.lot_id.in_(found.lot_ids))
    )
    for row in donations:
        found.lot_dins[row.lot_id].add(row.din)
        _add_donation(found, row)
    materials = db.session.execute(
        select(BatchStep.lot_id, BatchMaterial.kind, BatchMaterial.name, BatchMaterial.lot_number)
        .join(BatchMaterial, BatchMaterial.step_id == BatchStep.id)
        .where(BatchStep.lot_id.in_(found.lot_ids))
        .distinct()
    )
    for lot_id, kind, name, number in materials:
        found.reagent_lots[lot_id].add((kind.value, name, number))


# --- the answer -----------------------------------------------------------------------------


def _answer(scope: str, value: str, found: _Found, shown: int | None) -> dict[str, Any]:
    """The answer's shape, sorted so the same data always reads the same. `shown` limits the
    recipients, allocations and infusions listed to one recipient (backward); each bag still
    says whom it is with now, whoever that is."""
    allocations = [a for a in found.allocations if shown in (None, a.recipient_id)]
    infusions = [i for i in found.infusions if shown in (None, i.recipient_id)]
    recipient_ids = {shown} if shown is not None else set(found.recipients)
    codes = {bag.id: bag.code for bag in found.bags}
    return {
        "query": {"scope": scope, "value": value},
        "donors": [
            {"donor": code, "eligibility": found.donors[code]} for code in sorted(found.donors)
        ],
        "donations": [found.donations[din] for din in sorted(found.donations)],
        "lots": _lot_entries(found),
        "bags": _bag_entries(found),
        "recipients": _recipient_entries(found, recipient_ids, allocations, infusions, codes),
        "allocations": _allocation_entries(allocations, codes),
        "infusions": _infusion_entries(infusions, codes),
    }


def _lot_entries(found: _Found) -> list[dict[str, Any]]:
    return [
        {
            "lot": lot.lot_number,
            "status": lot.disposition.value,
            "din": lot.din,
            "dins": sorted(found.lot_dins[lot.id]),
            "reagent_lots": [
                {"kind": kind, "name": name, "lot_number": number}
                for kind, name, number in sorted(found.reagent_lots[lot.id])
            ],
        }
        for lot in sorted(found.lots, key=lambda lot: lot.lot_number)
    ]


def _bag_entries(found: _Found) -> list[dict[str, Any]]:
    holder = _current_recipients(found)
    infused = {row.bag_id for row in found.infusions}
    return [
        {
            "code": bag.code,
            "din": bag.din,
            "product_code": bag.product_code,
            # The model's own reading of the product code, applied to the row.
            "division": Bag.division.fget(bag),
            "status": bag.status.value,
            "lot": bag.lot_number,
            "recipient": holder.get(bag.id),
            "infused": bag.id in infused,
        }
        for bag in sorted(found.bags, key=lambda bag: bag.code)
    ]


def _current_recipients(found: _Found) -> dict[int, str]:
    """Whom each bag is with: the recipient of its active allocation, else of its infusion."""
    holder = {row.bag_id: row.subject_id for row in found.infusions}
    holder.update({row.bag_id: row.subject_id for row in found.allocations if row.active})
    return holder


def _recipient_entries(found, recipient_ids, allocations, infusions, codes) -> list[dict]:
    bags: dict[int, set[str]] = defaultdict(set)
    infused: dict[int, set[str]] = defaultdict(set)
    for row in allocations:
        bags[row.recipient_id].add(codes[row.bag_id])
    for row in infusions:
        bags[row.recipient_id].add(codes[row.bag_id])
        infused[row.recipient_id].add(codes[row.bag_id])
    entries = [
        {
            **found.recipients[rid],
            "bags": sorted(bags[rid]),
            "infused_bags": sorted(infused[rid]),
        }
        for rid in recipient_ids
    ]
    return sorted(entries, key=lambda entry: entry["subject_id"])


def _allocation_entries(allocations, codes) -> list[dict[str, Any]]:
    entries = [
        {
            "bag": codes[row.bag_id],
            "recipient": row.subject_id,
            "infusion_number": row.infusion_number,
            "active": row.active,
            "allocated_at": row.allocated_at,
            "ended_at": row.ended_at,
            "end_reason": row.end_reason,
        }
        for row in allocations
    ]
    return sorted(entries, key=lambda e: (e["bag"], e["allocated_at"], e["recipient"]))


def _infusion_entries(infusions, codes) -> list[dict[str, Any]]:
    entries = [
        {
            "bag": codes[row.bag_id],
            "recipient": row.subject_id,
            "infusion_number": row.infusion_number,
            "started_at": row.started_at,
            "ended_at": row.ended_at,
            "volume_ml": row.volume_ml,
        }
        for row in infusions
    ]
    return sorted(entries, key=lambda e: (e["recipient"], e["infusion_number"], e["bag"]))
