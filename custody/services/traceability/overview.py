"""The lab lead's overview: lots by disposition, bags by state and site, infusions coming up,
temperature excursions and what is still open — the whole operation on one page.

Read-only, and built from a fixed number of set-based queries (GROUP BY counts, one query per
list), whatever the number of lots, bags, recipients or logger readings: no query per row.
Upcoming infusions come from the clinic dashboard (`dashboard.dashboard`), so the
overview and the clinic never disagree on who is due and who still lacks a usable bag.

**Where a bag is** ("site"), one rule, from what the database records:

1. a bag in a storage position is at the storage site at the root of that position's tree
   (site → freezer → rack → box → position), e.g. the cell therapy lab;
2. otherwise a bag whose state says it has left the lab (shipped, received, thawed, verified,
   infused, and a discarded or rejected bag that had been shipped) is at the destination of the
   latest shipment it travelled in that was dispatched: on its way there while "shipped";
3. every other bag is at the lab but out of storage: filled and not yet stored, taken out of
   storage, packed in a shipper not yet dispatched, or returned from a site and not yet stored.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from custody.domain import eligibility, excursions
from custody.domain.schedule import DONE, NOT_APPLICABLE
from custody.extensions import db
from custody.models import (
    Allocation,
    Bag,
    BagStatus,
    BatchStep,
    DiscrepancyKind,
    Disposition,
    Lot,
    Recipient,
    Shipment,
    ShipmentDiscrepancy,
    ShipmentItem,
    ShipmentStatus,
    ShipmentTemperature,
    StorageLocation,
)
from custody.models.base import utcnow
from custody.services.bags.queries import lot_determinations
from custody.services.clinic import dashboard
from custody.services.core.facility import site_zone
from custody.services.quality.alerts import list_alerts
from custody.services.quality.disposition import NEEDS_STATEMENTS

# Who reads the overview: the lab lead's team. Nurses have the clinic and bedside pages.
UPCOMING_DAYS = 14
# Excursions and unexpected-bag discrepancies this recent are listed.
RECENT_DAYS = 30
# A dry shipper holds its temperature for about ten days: a trip handed to the courier longer
# than this before the recent period cannot reach into it, and its log is not read.
LONGEST_TRIP = timedelta(days=14)
# Lots a QA decision is still awaited for: not yet dispositioned, or released on condition.
AWAITING_QA = (Disposition.QUARANTINE, Disposition.CONDITIONALLY_RELEASED)
# Bags that, once shipped, stay at the site they were sent to (rule 2 of the module's words).
AWAY_STATES = frozenset(
    {"shipped", "received", "thawed", "verified", "infused", "discarded", "rejected"}
)
STATES = tuple(s.value for s in BagStatus)
STORAGE, LAB, CLINICAL = "storage", "lab", "clinical"
LAB_OUT_OF_STORAGE = "Lab, out of storage"


def overview(now: datetime | None = None) -> dict:
    """Everything the overview page and `GET /api/v1/overview` show, as at `now`."""
    now = now or utcnow()
    lots = lots_overview(now)
    return {
        "generated_at": now,
        "lots": lots,
        "bags": bags_by_state_and_site(),
        "upcoming_infusions": upcoming_infusions(now.astimezone(site_zone()).date()),
        "excursions": recent_excursions(now),
        "deviations": open_deviations(now, lots["awaiting_qa"]),
    }


# --- lots -----------------------------------------------------------------------------------


def lots_overview(now: datetime) -> dict:
    """Lots counted by disposition (every disposition, zero included), and the lots with
    bags filled that still await a QA decision, oldest first, with their age."""
    counts = dict(
        db.session.execute(select(Lot.disposition, func.count()).group_by(Lot.disposition)).all()
    )
    by_disposition = [{"disposition": d.value, "count": counts.get(d, 0)} for d in Disposition]
    return {
        "by_disposition": by_disposition,
        "total": sum(row["count"] for row in by_disposition),
        "awaiting_qa": _awaiting_qa(now),
    }


def _awaiting_qa(now: datetime) -> list[dict]:
    rows = db.session.execute(
        select(Lot.id, Lot.lot_number, Lot.disposition, Lot.created_at, func.count(Bag.id))
        .join(Bag, Bag.lot_id == Lot.id)
        .where(Lot.disposition.in_(AWAITING_QA))
        .group_by(Lot.id, Lot.lot_number, Lot.disposition, Lot.created_at)
        .order_by(Lot.created_at, Lot.id)
    ).all()
    determinations = lot_determinations({row.id for row in rows})
    return [
        {
            "lot": number,
            "disposition": disposition.value,
            "created_at": created,
            "age_days": round((now - created).total_seconds() / 86400, 1),
            "bags": bags,
            "donor_eligibility": determinations[lot_id],
        }
        for lot_id, number, disposition, created, bags in rows
    ]


# --- bags -----------------------------------------------------------------------------------


def bags_by_state_and_site() -> dict:
    """Bags counted by state at each site (see the module's words for where a bag is): a
    matrix with a row per site and a count for every state, and the totals per state."""
    cells: dict[tuple[str, str, str | None], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(STATES, 0)
    )
    for status, root_name, root_code, destination, count in db.session.execute(_bag_counts()):
        cells[_site(status.value, root_name, root_code, destination)][status.value] += count
    sites = sorted(cells, key=_site_order)
    rows = [
        {
            "site": name,
            "kind": kind,
            "location": code,
            "counts": cells[(name, kind, code)],
            "total": sum(cells[(name, kind, code)].values()),
        }
        for name, kind, code in sites
    ]
    by_state = {state: sum(row["counts"][state] for row in rows) for state in STATES}
    return {
        "states": list(STATES),
        "sites": rows,
        "by_state": by_state,
        "total": sum(by_state.values()),
    }


def _bag_counts():
    """One GROUP BY over every bag: state, the root of its storage position's tree (a position
    hangs four levels below its site), and the destination of its latest dispatched shipment."""
    position, box, rack, freezer, root = (aliased(StorageLocation) for _ in range(5))
    latest = (
        select(ShipmentItem.bag_id, func.max(ShipmentItem.id).label("item_id"))
        .join(Shipment, Shipment.id == ShipmentItem.shipment_id)
        .where(Shipment.status != ShipmentStatus.PACKING)
        .group_by(ShipmentItem.bag_id)
        .subquery()
    )
    item, shipment = aliased(ShipmentItem), aliased(Shipment)
    return (
        select(Bag.status, root.name, root.code, shipment.destination_site, func.count())
        .select_from(Bag)
        .outerjoin(position, position.id == Bag.storage_position_id)
        .outerjoin(box, box.id == position.parent_id)
        .outerjoin(rack, rack.id == box.parent_id)
        .outerjoin(freezer, freezer.id == rack.parent_id)
        .outerjoin(root, root.id == freezer.parent_id)
        .outerjoin(latest, latest.c.bag_id == Bag.id)
        .outerjoin(item, item.id == latest.c.item_id)
        .outerjoin(shipment, shipment.id == item.shipment_id)
        .group_by(Bag.status, root.name, root.code, shipment.destination_site)
    )


def _site(
    status: str, root_name: str | None, root_code: str | None, destination: str | None
) -> tuple[str, str, str | None]:
    """(name, kind, storage location code) of where a bag is, by the module's three rules."""
    if root_name is not None:
        return root_name, STORAGE, root_code
    if destination is not None and status in AWAY_STATES:
        return destination, CLINICAL, None
    return LAB_OUT_OF_STORAGE, LAB, None


def _site_order(site: tuple[str, str, str | None]) -> tuple[int, str]:
    name, kind, _ = site
    return (STORAGE, LAB, CLINICAL).index(kind), name


# --- infusions ------------------------------------------------------------------------------


def upcoming_infusions(today: date, days: int = UPCOMING_DAYS) -> list[dict]:
    """Recipients whose next infusion is due within `days` (or overdue), and those awaiting
    infusion 1 (which has no date until it is given: day 0 is the day of infusion 1), each
    with whether a released, allocated bag is ready, and the bags allocated to it.

    Readiness is the clinic dashboard's own verdict: a recipient it lists as still lacking a
    usable bag is not ready, with its reason."""
    board = dashboard.dashboard(today, days)
    needs = {(n["subject_id"], n["infusion_number"]): n["reason"] for n in board["needs_bag"]}
    due = [
        _infusion_row(item, 2, item["due_from"], item["status"])
        for item in board["items"]
        if _is_next_infusion(item)
    ]
    rows = [*due, *(_infusion_row(r, 1, None, "awaiting") for r in _awaiting_first())]
    bags = _allocated_bags([row["subject_id"] for row in rows])
    for row in rows:
        key = (row["subject_id"], row["infusion_number"])
        row["ready"] = key not in needs
        row["problem"] = needs.get(key)
        row["bags"] = bags.get(key, [])
    return sorted(rows, key=lambda r: (r["due_on"] is None, r["due_on"] or today, r["subject_id"]))


def _is_next_infusion(item: dict) -> bool:
    # Infusion 1 with a date is done (day 0 is its date); infusion 2 is the one ahead.
    return (
        item["kind"] == "infusion_2"
        and item["status"] not in (DONE, NOT_APPLICABLE)
        and item["recipient_status"] in dashboard.AWAITING_SECOND
    )


def _infusion_row(recipient: dict, number: int, due_on: date | None, schedule: str) -> dict:
    who = {k: recipient[k] for k in ("subject_id", "name", "site", "recipient_status")}
    return who | {"infusion_number": number, "due_on": due_on, "schedule": schedule}


def _awaiting_first() -> list[dict]:
    rows = db.session.execute(
        select(Recipient.subject_id, Recipient.name, Recipient.site, Recipient.status)
        .where(Recipient.status.in_(sorted(dashboard.AWAITING_FIRST)))
        .order_by(Recipient.subject_id)
    )
    return [
        {"subject_id": subject_id, "name": name, "site": site, "recipient_status": status.value}
        for subject_id, name, site, status in rows
    ]


def _allocated_bags(subject_ids: list[str]) -> dict[tuple[str, int], list[dict]]:
    rows = db.session.execute(
        select(Recipient.subject_id, Allocation.infusion_number, Bag.code, Bag.status)
        .join(Allocation, Allocation.recipient_id == Recipient.id)
        .join(Bag, Bag.id == Allocation.bag_id)
        .where(Allocation.active, Recipient.subject_id.in_(subject_ids))
        .order_by(Bag.code)
    )
    found: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for subject_id, number, code, status in rows:
        found[(subject_id, number)].append({"code": code, "status": status.value})
    return found


# --- excursions -----------------------------------------------------------------------------


def recent_excursions(now: datetime, days: int = RECENT_DAYS) -> list[dict]:
    """Shipper temperature excursions above each shipment's storage limit that lasted into
    the last `days` days, newest first. One query reads the logger readings of only those
    shipments with a reading above their limit in the period; the domain finds the intervals.

    Storage (freezer) temperatures are not recorded by the tracker, so only shipments have
    excursions here."""
    since = now - timedelta(days=days)
    warm = (
        select(ShipmentTemperature.shipment_id)
        .join(Shipment, Shipment.id == ShipmentTemperature.shipment_id)
        .where(
            Shipment.handed_over_at >= since - LONGEST_TRIP,
            ShipmentTemperature.temperature_c > Shipment.storage_limit_c,
            ShipmentTemperature.recorded_at >= since,
        )
    )
    rows = db.session.execute(
        select(
            Shipment.code,
            Shipment.destination_site,
            Shipment.storage_limit_c,
            ShipmentTemperature.recorded_at,
            ShipmentTemperature.temperature_c,
        )
        .join(Shipment, Shipment.id == ShipmentTemperature.shipment_id)
        .where(ShipmentTemperature.shipment_id.in_(warm))
        .order_by(Shipment.code, ShipmentTemperature.recorded_at)
    )
    logs: dict[tuple[str, str, float], list[excursions.Reading]] = defaultdict(list)
    for code, destination, limit_c, at, celsius in rows:
        logs[(code, destination, limit_c)].append(excursions.Reading(at, celsius))
    found = [
        _excursion(code, destination, limit_c, e)
        for (code, destination, limit_c), readings in logs.items()
        for e in excursions.find_excursions(readings, limit_c)
        if e.end >= since
    ]
    return sorted(found, key=lambda e: (e["start"], e["shipment"]), reverse=True)


def _excursion(code: str, destination: str, limit_c: float, e: excursions.Excursion) -> dict:
    return {
        "shipment": code,
        "destination": destination,
        "storage_limit_c": limit_c,
        "start": e.start,
        "end": e.end,
        "duration_minutes": round(e.duration.total_seconds() / 60, 1),
        "peak_c": e.peak_c,
        "readings": e.readings,
        "ongoing": e.ongoing,
    }


# --- what is still open ---------------------------------------------------------------------


def open_deviations(now: datetime, awaiting: list[dict], days: int = RECENT_DAYS) -> dict:
    """What someone still has to deal with: batch-record deviations of lots not yet
    dispositioned, shipment discrepancies not yet settled, quality alerts not yet
    acknowledged, and lots awaiting release whose donor eligibility is not settled."""
    return {
        "batch_steps": _step_deviations(),
        "discrepancies": _open_discrepancies(now - timedelta(days=days)),
        "alerts": list_alerts(open_only=True),
        "donor_eligibility": _eligibility_open(awaiting),
    }


def _step_deviations() -> list[dict]:
    rows = db.session.execute(
        select(
            Lot.lot_number,
            BatchStep.sequence,
            BatchStep.step,
            BatchStep.deviation_reason,
            BatchStep.started_at,
        )
        .join(Lot, Lot.id == BatchStep.lot_id)
        .where(BatchStep.deviation, Lot.disposition == Disposition.QUARANTINE)
        .order_by(Lot.lot_number, BatchStep.sequence)
    )
    return [
        {"lot": lot, "sequence": n, "step": step, "reason": reason, "started_at": started}
        for lot, n, step, reason, started in rows
    ]


def _open_discrepancies(since: datetime) -> list[dict]:
    """The tracker records no resolution of a discrepancy, so "open" is read from the bag: a
    bag recorded missing is open while it is still "shipped" (not found, returned or
    destroyed since); an unexpected arrival is listed for the recent period."""
    bag = aliased(Bag)
    still_missing = and_(
        ShipmentDiscrepancy.kind == DiscrepancyKind.MISSING, bag.status == BagStatus.SHIPPED
    )
    recent_unexpected = and_(
        ShipmentDiscrepancy.kind == DiscrepancyKind.UNEXPECTED,
        ShipmentDiscrepancy.recorded_at >= since,
    )
    rows = db.session.execute(
        select(
            ShipmentDiscrepancy.kind,
            ShipmentDiscrepancy.note,
            ShipmentDiscrepancy.raw_scan,
            ShipmentDiscrepancy.recorded_at,
            Shipment.code,
            Shipment.destination_site,
            bag.code,
            bag.status,
        )
        .join(Shipment, Shipment.id == ShipmentDiscrepancy.shipment_id)
        .outerjoin(bag, bag.id == ShipmentDiscrepancy.bag_id)
        .where(or_(still_missing, recent_unexpected))
        .order_by(ShipmentDiscrepancy.recorded_at.desc(), ShipmentDiscrepancy.id.desc())
    )
    return [
        {
            "kind": kind.value,
            "note": note,
            "raw_scan": raw,
            "recorded_at": recorded,
            "shipment": shipment,
            "destination": destination,
            "bag": code,
            "bag_status": status.value if status is not None else None,
        }
        for kind, note, raw, recorded, shipment, destination, code, status in rows
    ]


def _eligibility_open(awaiting: list[dict]) -> list[dict]:
    """Lots in quarantine whose donor is not (yet) eligible: QA must acknowledge the donor-
    eligibility statements when releasing them, or cannot release them while the
    determination is pending. A lot released on condition was signed with them already."""
    return [
        {
            "lot": lot["lot"],
            "determination": lot["donor_eligibility"],
            "statements": eligibility.warnings_for(lot["donor_eligibility"]),
            "action": _eligibility_action(lot["donor_eligibility"]),
        }
        for lot in awaiting
        if lot["disposition"] == Disposition.QUARANTINE.value
        and lot["donor_eligibility"] != "eligible"
    ]


def _eligibility_action(determination: str) -> str:
    if determination in NEEDS_STATEMENTS:
        return "QA acknowledges the donor-eligibility statements when signing the release."
    return "No release until the donor's eligibility is determined."
