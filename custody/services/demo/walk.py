"""The guided walk of a demo database: what a newcomer pastes into each page to try the three
journeys (a technician's scan, a QA release, a bedside check), read from the records as they
are now, so each string still leads somewhere the rules let the newcomer go.

It exists only in a database `custody demo` loaded into when it was empty (`DemoMark`):
scan strings to paste must never sit beside real patients.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select

from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import (
    Allocation,
    Bag,
    BagStatus,
    DemoMark,
    Disposition,
    Infusion,
    Lot,
    Role,
    User,
)
from custody.models.base import utcnow
from custody.services.bags.lookup import location_path
from custody.services.bags.recall_status import active_recall_codes
from custody.services.bags.release_status import release_holds
from custody.services.core.facility import site_zone
from custody.services.demo.scenario import DEMO_ACCOUNTS, DEMO_PASSWORD
from custody.services.quality.release_blockers import disposition_blockers


@dataclass(frozen=True)
class StationWalk:
    bag_code: str
    bag_scan: str
    position: str


@dataclass(frozen=True)
class ReleaseWalk:
    lot: str
    signer: str
    statements_to_acknowledge: bool


@dataclass(frozen=True)
class BedsideWalk:
    subject_id: str
    wristband: str
    bag_code: str
    bag_scan: str
    infusion_number: int


@dataclass(frozen=True)
class GuidedWalk:
    password: str
    accounts: list[tuple[str, str, str]]
    station: StationWalk | None
    release: ReleaseWalk | None
    bedside: BedsideWalk | None


def is_demo_database() -> bool:
    return bool(db.session.scalar(select(exists().where(DemoMark.id.isnot(None)))))


def guided_walk() -> GuidedWalk:
    """The three journeys' starting records; a journey the data no longer allows (its bag
    used, its lot signed) is None, and the page says so."""
    return GuidedWalk(
        password=DEMO_PASSWORD,
        accounts=[(username, role.value, name) for username, role, name in DEMO_ACCOUNTS],
        station=_station_walk(),
        release=_release_walk(),
        bedside=_bedside_walk(),
    )


def _bag_scan(bag: Bag) -> str:
    return bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone())


def _station_walk() -> StationWalk | None:
    """A bag stored in a position: looked up at the scan station, it shows where it is."""
    bag = db.session.scalar(
        select(Bag)
        .where(Bag.status == BagStatus.STORED, Bag.storage_position_id.isnot(None))
        .order_by(Bag.code)
        .limit(1)
    )
    if bag is None:
        return None
    return StationWalk(bag.code, _bag_scan(bag), location_path(bag.storage_position))


def _release_walk() -> ReleaseWalk | None:
    """A quarantined lot a demo QA account may release now: the release service's own
    blockers (`disposition_blockers`) leave nothing but what the dialog itself asks."""
    lots = db.session.scalars(
        select(Lot).where(Lot.disposition == Disposition.QUARANTINE).order_by(Lot.lot_number)
    )
    signers = _qa_accounts()
    for lot in lots:
        for signer in signers:
            blockers = disposition_blockers(lot, "release", signer)
            if not any(not b.in_dialog for b in blockers):
                statements = any(b.code == "statements" for b in blockers)
                return ReleaseWalk(lot.lot_number, signer.username, statements)
    return None


def _qa_accounts() -> list[User]:
    usernames = [username for username, role, _ in DEMO_ACCOUNTS if role == Role.QA]
    users = db.session.scalars(select(User).where(User.username.in_(usernames))).all()
    by_name = {u.username: u for u in users if u.is_active}
    return [by_name[name] for name in usernames if name in by_name]


def _bedside_walk() -> BedsideWalk | None:
    """A first infusion's bag received at the site, released, in date and not yet thawed: the
    nurse thaws it, then two nurses check it against the wristband."""
    candidates = db.session.scalars(
        select(Allocation)
        .join(Bag, Bag.id == Allocation.bag_id)
        .where(
            Allocation.active.is_(True),
            Allocation.infusion_number == 1,
            Bag.status == BagStatus.RECEIVED,
            Bag.expires_at > utcnow(),
            ~exists().where(Infusion.recipient_id == Allocation.recipient_id),
        )
        .order_by(Bag.code)
    )
    for allocation in candidates:
        bag = allocation.bag
        if release_holds(bag.lot)[0] and not active_recall_codes(bag.lot_id):
            recipient = allocation.recipient
            return BedsideWalk(
                subject_id=recipient.subject_id,
                wristband=wristband_data(recipient.hospital_record_number, recipient.birth_date),
                bag_code=bag.code,
                bag_scan=_bag_scan(bag),
                infusion_number=allocation.infusion_number,
            )
    return None
