"""What the scan station shows for whatever was scanned (a bag, a collection, a location, a
shipment, a command), and the day's log of what was done at a station."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from custody.domain import eligibility
from custody.domain.isbt128 import check_character
from custody.domain.scan_targets import COMMAND_PREFIX, read_scan
from custody.extensions import db
from custody.models import CustodyEvent, Donation, ShipmentItem
from custody.models.base import utcnow
from custody.services.bags import shipment_actions
from custody.services.bags.lookup import (
    bag_from_scan,
    location_from_scan,
    shipment_from_scan,
)
from custody.services.bags.queries import bag_detail, event_summary
from custody.services.bags.storage import location_detail
from custody.services.core.facility import site_zone


def describe_scan(raw: str) -> dict[str, Any]:
    target = read_scan(raw)
    if target.kind == "command":
        return {"kind": "command", "command": target.code.removeprefix(COMMAND_PREFIX).lower()}
    if target.kind == "location":
        # One location's view, shared with the storage API: path, positions and their bags.
        return {"kind": "location", "location": location_detail(location_from_scan(raw).code)}
    if target.kind == "shipment":
        return {"kind": "shipment", "shipment": describe_shipment(shipment_from_scan(raw))}
    if target.kind == "din":
        donation = db.session.scalar(select(Donation).where(Donation.din == target.din))
        if donation is not None:
            return {"kind": "donation", "donation": describe_donation(donation)}
    bag, _ = bag_from_scan(raw)
    detail = bag_detail(bag.code)
    # The station offers what the bag's shipment takes now, not only what its state allows.
    detail["allowed_actions"] = shipment_actions.offered_bag_actions(bag, detail["allowed_actions"])
    return {"kind": "bag", "bag": detail}


def describe_donation(donation: Donation) -> dict[str, Any]:
    """A collection as the lab receives it: DIN with K, donor eligibility and receipt."""
    determination = donation.donor.eligibility.value
    return {
        "din": donation.din,
        "check_character": check_character(donation.din),
        "donor": donation.donor.donor_code,
        "donor_eligibility": determination,
        "warnings": eligibility.warnings_for(determination),
        "collected_at": donation.collected_at.isoformat(),
        "facility": donation.facility,
        "volume_ml": donation.volume_ml,
        "received_at": donation.received_at.isoformat() if donation.received_at else None,
    }


def describe_shipment(shipment) -> dict[str, Any]:
    """A shipment as the station shows it, with why each station mode would refuse it now
    (None: the server takes bags scanned in that mode), from the rule the scans obey."""
    packed = db.session.scalar(
        select(func.count())
        .select_from(ShipmentItem)
        .where(ShipmentItem.shipment_id == shipment.id)
    )
    return {
        "code": shipment.code,
        "status": shipment.status.value,
        "destination_site": shipment.destination_site,
        "courier": shipment.courier,
        "bags": packed,
        "refusals": {
            mode: _first_words(shipment_actions.blockers(shipment, mode))
            for mode in ("pack", "receive")
        },
    }


def _first_words(found: list[shipment_actions.Blocker]) -> str | None:
    return found[0].message if found else None


MAX_LOGGED = 200


def station_log(station: str, now: datetime | None = None) -> list[dict[str, Any]]:
    """Today's custody actions at one station (the site's day), newest first: the list a
    station shows beside its scans, read again from the records whatever device shows it."""
    zone = site_zone()
    today = (now or utcnow()).astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    events = db.session.scalars(
        select(CustodyEvent)
        .where(
            CustodyEvent.station == station,
            CustodyEvent.occurred_at >= today,
            CustodyEvent.occurred_at < _next_midnight(today),
        )
        .options(
            selectinload(CustodyEvent.actor),
            selectinload(CustodyEvent.location),
            selectinload(CustodyEvent.shipment),
            selectinload(CustodyEvent.bag),
        )
        .order_by(CustodyEvent.occurred_at.desc(), CustodyEvent.id.desc())
        .limit(MAX_LOGGED)
    ).all()
    return [_logged(event) for event in events]


def _next_midnight(midnight: datetime) -> datetime:
    """The site's next midnight: a day of 23 or 25 hours where the clocks change."""
    zone = midnight.tzinfo
    day = (midnight + timedelta(hours=26)).date()
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _logged(event: CustodyEvent) -> dict[str, Any]:
    bag = event.bag
    return event_summary(event) | {
        "bag": bag.code if bag else None,
        "din": bag.din if bag else None,
        "check_character": check_character(bag.din) if bag else None,
        "product_code": bag.product_code if bag else None,
    }
