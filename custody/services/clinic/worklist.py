"""The site's worklist for one day: what the lab and the ward must do today, on one sheet.

- **Infusions due**: infusion 2 due or overdue on the clinic's calendar (`dashboard`), and
  infusion 1 for every recipient in lymphodepletion (the tracker records day 0 only when
  infusion 1 is given, so a recipient in lymphodepletion is the one awaiting it). Each comes
  with the bags allocated to it: DIN with its check character, product code, where the bag is
  (its storage position's path, its shipment) and the next step (pull and thaw, receive,
  in the thawer, infuse by).
- **Thaws due**, the pull list: those bags not yet in the thawer, in storage-path order, so
  one walk along the freezers collects them.
- **Shipments expected**: shippers handed to the courier and not yet received.
- **Lots awaiting QA**: QA's review queue.

Read-only; a fixed number of queries whatever the number of recipients and bags. Times stay
datetimes (UTC): the page shows them in the site's zone with the zone named.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from custody.domain import isbt128, schedule
from custody.domain.time_zones import local_time
from custody.extensions import db
from custody.models import (
    Allocation,
    Bag,
    Infusion,
    Recipient,
    RecipientStatus,
    Shipment,
    ShipmentItem,
    StorageLocation,
    Thaw,
)
from custody.models.base import utcnow
from custody.services.bags.shipment_queries import list_shipments
from custody.services.bags.storage import location_paths
from custody.services.clinic.dashboard import dashboard
from custody.services.clinic.recipients import site_today
from custody.services.core.facility import site_zone
from custody.services.quality.queries import review_queue

INFUSION_KINDS = {"infusion_1": 1, "infusion_2": 2}
DUE_STATUSES = frozenset({schedule.DUE, schedule.OVERDUE})
# Bags that will not go to the thawer again: their story ended, or the thaw is recorded.
PAST_THAWING = frozenset({"infused", "discarded", "rejected", "returned", "thawed", "verified"})
# Shipments on their way: handed to the courier, not yet received.
MAX_SHIPMENTS = 200


def worklist(today: date | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The day's worklist at the site (its today unless told)."""
    today = today or site_today()
    now = now or utcnow()
    due = infusions_due(today, now)
    return {
        "today": today,
        "zone": site_zone().key,
        "infusions": due,
        "thaws": pull_list(due),
        "shipments": shipments_expected(),
        "lots": review_queue(),
    }


def infusions_due(today: date, now: datetime) -> list[dict[str, Any]]:
    """Each infusion due today (or overdue) with its allocated bags, oldest due first."""
    board = dashboard(today, 0)
    rows = [
        item | {"infusion_number": INFUSION_KINDS[item["kind"]]}
        for item in board["items"]
        if item["kind"] in INFUSION_KINDS and item["status"] in DUE_STATUSES
    ]
    rows += _awaiting_first_infusion()
    ids = dict(
        db.session.execute(
            select(Recipient.subject_id, Recipient.id).where(
                Recipient.subject_id.in_(sorted({row["subject_id"] for row in rows}))
            )
        ).all()
    )
    bags = _allocated_bags(set(ids.values()), now)
    for row in rows:
        row["bags"] = bags.get((ids[row["subject_id"]], row["infusion_number"]), [])
    rows.sort(key=lambda r: (r["due_from"] or today, r["subject_id"], r["infusion_number"]))
    return rows


def pull_list(infusions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bags to take to the thawer today, in storage-path order (unstored ones last)."""
    thaws = [
        bag | {"subject_id": row["subject_id"], "infusion_number": row["infusion_number"]}
        for row in infusions
        for bag in row["bags"]
        if bag["thaw"] is None and bag["status"] not in PAST_THAWING
    ]
    return sorted(thaws, key=lambda b: (b["position"] is None, b["position"] or "", b["code"]))


def shipments_expected() -> list[dict[str, Any]]:
    """Shippers on their way (handed to the courier, not yet received), oldest hand-off first."""
    found = list_shipments(status="in_transit", limit=MAX_SHIPMENTS)
    rows = [
        {
            "code": s["shipment"].code,
            "destination_site": s["shipment"].destination_site,
            "courier": s["shipment"].courier,
            "handed_over_at": s["shipment"].handed_over_at,
            "handed_over_to": s["shipment"].handed_over_to,
            "bags": s["bag_count"],
        }
        for s in found
    ]
    return sorted(rows, key=lambda r: (r["handed_over_at"] is None, r["handed_over_at"] or 0))


# --- loading ------------------------------------------------------------------------------


def _awaiting_first_infusion() -> list[dict[str, Any]]:
    """Recipients in lymphodepletion, with no infusion recorded: infusion 1 is theirs next."""
    infused = select(Infusion.recipient_id)
    recipients = db.session.scalars(
        select(Recipient)
        .where(Recipient.status == RecipientStatus.LYMPHODEPLETION, Recipient.id.notin_(infused))
        .order_by(Recipient.subject_id)
    ).all()
    return [
        {
            "subject_id": r.subject_id,
            "name": r.name,
            "site": r.site,
            "recipient_status": r.status.value,
            "kind": "infusion_1",
            "title": "Infusion 1 (day 0): the recipient is in lymphodepletion",
            "due_from": None,
            "due_to": None,
            "status": schedule.DUE,
            "infusion_number": 1,
        }
        for r in recipients
    ]


def _allocated_bags(recipient_ids: set[int], now: datetime) -> dict[tuple, list[dict]]:
    """(recipient id, infusion number) -> its actively allocated bags, each described."""
    if not recipient_ids:
        return {}
    rows = db.session.execute(
        select(Allocation.recipient_id, Allocation.infusion_number, Bag, Thaw)
        .join(Bag, Bag.id == Allocation.bag_id)
        .outerjoin(Thaw, Thaw.bag_id == Bag.id)
        .where(Allocation.active, Allocation.recipient_id.in_(sorted(recipient_ids)))
        .order_by(Bag.code)
    ).all()
    bags = [bag for *_, bag, _ in rows]
    positions = db.session.scalars(
        select(StorageLocation).where(
            StorageLocation.id.in_(sorted({b.storage_position_id for b in bags} - {None}))
        )
    ).all()
    paths = location_paths(list(positions))
    codes = {p.id: p.code for p in positions}
    shipments = _latest_shipments([b.id for b in bags if b.storage_position_id is None])
    found: dict[tuple, list[dict]] = defaultdict(list)
    for recipient_id, number, bag, thaw in rows:
        shipment = shipments.get(bag.id)
        found[(recipient_id, number)].append(
            _bag_row(bag, thaw, paths.get(bag.storage_position_id), shipment, now)
            | {"position_code": codes.get(bag.storage_position_id)}
        )
    return found


def _latest_shipments(bag_ids: list[int]) -> dict[int, Shipment]:
    """Each bag's newest shipment, for bags not in storage (in transit or received)."""
    if not bag_ids:
        return {}
    rows = db.session.execute(
        select(ShipmentItem.bag_id, Shipment)
        .join(Shipment, Shipment.id == ShipmentItem.shipment_id)
        .where(ShipmentItem.bag_id.in_(bag_ids))
        .order_by(ShipmentItem.packed_at, ShipmentItem.id)
    ).all()
    return dict(rows)


def _bag_row(
    bag: Bag, thaw: Thaw | None, position: str | None, shipment: Shipment | None, now: datetime
) -> dict[str, Any]:
    return {
        "code": bag.code,
        "din": bag.din,
        "check_character": isbt128.check_character(bag.din),
        "din_words": isbt128.eye_readable_din(bag.din),
        "product_code": bag.product_code,
        "status": bag.status.value,
        "expires_at": bag.expires_at,
        "position": position,
        "shipment": shipment.code if shipment is not None else None,
        "thaw": _thaw(thaw),
        "next_step": _next_step(bag, thaw, position, shipment, now),
    }


def _thaw(thaw: Thaw | None) -> dict[str, Any] | None:
    if thaw is None:
        return None
    return {"started_at": thaw.started_at, "ended_at": thaw.ended_at, "use_by": thaw.use_by}


def _next_step(
    bag: Bag, thaw: Thaw | None, position: str | None, shipment: Shipment | None, now: datetime
) -> str:
    """What to do with the bag next, in words (times local, with the zone)."""
    zone = site_zone()
    status = bag.status.value
    if status in ("infused", "discarded", "rejected", "returned"):
        return f"The bag is {status}: nothing more to do with it."
    if thaw is not None and thaw.use_by is not None:
        if thaw.use_by <= now:
            return (
                f"The post-thaw window ended at {local_time(thaw.use_by, zone)}: do not infuse; "
                "tell QA."
            )
        return f"Thawed: infuse by {local_time(thaw.use_by, zone)}."
    if thaw is not None:
        return f"In the thawer since {local_time(thaw.started_at, zone)}."
    if position is not None:
        return f"Pull from {position} and thaw."
    if shipment is not None and status == "shipped":
        return f"On its way in shipment {shipment.code} to {shipment.destination_site}."
    if shipment is not None and status == "received":
        return f"Received at {shipment.destination_site}: thaw at the bedside."
    return f"The bag is {status} and not in a storage position: find it before thawing."
