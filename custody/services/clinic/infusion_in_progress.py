"""An infusion under way, found again from the recipient's wristband on any device.

The server is the memory of the ward: a nurse who reloads the bedside page, or picks up another
tablet, scans the wristband and sees the infusion running (the bag, who started it and when)
with the form to record its end. What changed since the start is checked again: a recall or a
release that no longer holds is shown as a stop (stop the infusion, call the lab) above the
form, and never keeps what already happened from being recorded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from custody.domain import isbt128
from custody.domain.wristband import read_wristband
from custody.extensions import db
from custody.models import Allocation, Bag, Infusion, Lot, Recipient, User
from custody.services.bags.recall_status import active_recall_codes
from custody.services.clinic.verification_record import recipient_brief
from custody.services.quality.release_signature import release_holds


def at_bedside(wristband_scan: str) -> dict[str, Any]:
    """What a wristband scan finds: the wristband's own data, the recipient it names (None when
    no recipient has it, which the bag's verification then stops on) and the infusion under
    way for them. An unreadable scan is refused (InvalidBarcode): scan it again."""
    band = read_wristband(wristband_scan)
    recipient = db.session.scalar(
        select(Recipient).where(
            Recipient.hospital_record_number == band.patient_number,
            Recipient.birth_date == band.birth_date,
        )
    )
    running = _running_infusion(recipient) if recipient else None
    return {
        "wristband": {"patient_number": band.patient_number, "birth_date": band.birth_date},
        "recipient": recipient_brief(recipient) if recipient else None,
        "infusion_in_progress": in_progress_view(running) if running else None,
    }


def in_progress() -> list[dict[str, Any]]:
    """Every infusion started and not yet ended, oldest first (the clinic dashboard's list), in
    a fixed number of queries. The stops are checked where the infusion is resumed, at the
    bedside, not here (`stops` is None)."""
    rows = db.session.execute(
        select(Infusion, Bag, Lot.lot_number, Recipient.subject_id, Allocation.volume_to_infuse_ml)
        .join(Bag, Bag.id == Infusion.bag_id)
        .join(Lot, Lot.id == Bag.lot_id)
        .join(Recipient, Recipient.id == Infusion.recipient_id)
        .join(Allocation, Allocation.id == Infusion.allocation_id)
        .where(Infusion.ended_at.is_(None))
        .order_by(Infusion.started_at)
    ).all()
    people = _names({i for row in rows for i in _people_of(row.Infusion)})
    return [
        _view(row.Infusion, row.Bag, row.lot_number, row.subject_id, row.volume_to_infuse_ml)
        | _by(row.Infusion, people)
        | {"stops": None}
        for row in rows
    ]


def in_progress_view(infusion: Infusion) -> dict[str, Any]:
    """The running infusion as the bedside shows it, with any stop that arose since it began."""
    bag = db.session.get(Bag, infusion.bag_id)
    view = _view(
        infusion,
        bag,
        bag.lot.lot_number,
        infusion.recipient.subject_id,
        infusion.allocation.volume_to_infuse_ml,
    )
    return view | _by(infusion, _names(_people_of(infusion))) | {"stops": _stops_since_start(bag)}


def _view(infusion: Infusion, bag: Bag, lot: str, subject_id: str, planned_ml) -> dict[str, Any]:
    return {
        "bag": bag.code,
        "din": bag.din,
        "check_character": isbt128.check_character(bag.din),
        "product_code": bag.product_code,
        "lot": lot,
        "recipient": subject_id,
        "infusion_number": infusion.infusion_number,
        "started_at": infusion.started_at,
        "volume_ml": infusion.volume_ml,
        "volume_to_infuse_ml": planned_ml or bag.volume_ml,
    }


def _by(infusion: Infusion, people: dict[int, str]) -> dict[str, Any]:
    return {
        "started_by": people.get(infusion.recorded_by_id or infusion.first_verifier_id),
        "first_verifier": people[infusion.first_verifier_id],
        "second_verifier": people[infusion.second_verifier_id],
    }


def _people_of(infusion: Infusion) -> set[int]:
    ids = {infusion.first_verifier_id, infusion.second_verifier_id, infusion.recorded_by_id}
    return ids - {None}


def _names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all())


def _running_infusion(recipient: Recipient) -> Infusion | None:
    return db.session.scalar(
        select(Infusion)
        .where(Infusion.recipient_id == recipient.id, Infusion.ended_at.is_(None))
        .order_by(Infusion.started_at.desc())
        .limit(1)
    )


def _stops_since_start(bag: Bag) -> list[str]:
    """What would stop this bag now: the infusion must be stopped and the lab called."""
    stops = []
    recall = active_recall_codes(bag.lot_id)
    if recall:
        stops.append(
            f"STOP the infusion: QA has recalled this product ({recall}). Record the volume "
            "given, and call the cell therapy lab."
        )
    holds, why = release_holds(bag.lot)
    if not holds:
        stops.append(
            f"STOP the infusion: QA's release of lot {bag.lot.lot_number} no longer holds "
            f"({why}). Record the volume given, and call QA."
        )
    return stops
