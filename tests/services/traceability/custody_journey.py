"""A bag's journey from a donor's collection to its infusion, and reading its timeline back.

`infused_journey` takes a bag through the services themselves (collection, receipt,
manufacturing with a deviation, filling, storage, QA release, allocation, shipping with a
logger that saw an excursion, receipt, thaw, two-person bedside verification, infusion), so the
timeline is read from records exactly as the tracker writes them. The timeline tests here and
the page, report and browser tests use it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import Shipment, ShipmentItem
from custody.models.base import utcnow
from custody.services.bags import shipping
from custody.services.bags.lookup import bag_by_code
from custody.services.bags.scans import ScanRequest, scan
from custody.services.clinic.allocation import AllocationRequest, allocate
from custody.services.clinic.bedside import VerificationRequest, verify
from custody.services.clinic.infusions import complete_infusion, start_infusion
from custody.services.collection import donations as coll
from custody.services.collection import donors
from custody.services.core.facility import site_zone
from custody.services.manufacturing import batch_record
from custody.services.manufacturing import divisions as div
from custody.services.manufacturing import lots as mfg
from custody.services.traceability.timeline import vein_to_vein
from tests.factories import PASSWORD

_numbers = itertools.count(1)
FACILITY = "Apheresis Unit, Test Hospital"
DEVIATION = "Incubator door alarm: 4 min above 37.5 °C; QA informed"
PEAK_C = -141.5


@dataclass(frozen=True)
class Journey:
    """What the journey recorded, as the timeline must tell it."""

    code: str
    din: str
    lot: str
    donor: str
    subject_id: str
    site: str
    shipment: str
    position: str  # the storage position's path
    tech: str  # "Full Name (username)", as steps name people
    allocator: str
    signer: str
    nurse: str
    second_nurse: str


def _named(user) -> str:
    return f"{user.full_name} ({user.username})"


def infused_journey(make, quality, clinic, make_lot) -> Journey:
    """A bag from collection to infusion, every step through the services."""
    n = next(_numbers)
    tech = make.user("technician", name="Tess Okafor")
    allocator = make.user("qa", name="Grace Okafor")
    signer = make.user("qa", name="Lukas Meyer")
    nurse, second = make.user("nurse", name="Nora First"), make.user("nurse", name="Sam Second")
    clinic.trial()
    if quality.specification_missing():
        quality.specification()

    donor = f"DNR-V2V{n}"
    donors.register_donor(tech, donor, "F", date(1990, 5, 1))
    donors.determine_eligibility(allocator, donor, "eligible", "", ())
    collected = utcnow().replace(microsecond=0) - timedelta(hours=30)
    din = coll.record_collection(
        tech, coll.CollectionRequest(donor, collected, "Europe/Berlin", FACILITY, 240.0), "W9999"
    ).din
    coll.receive_collection(
        tech, coll.ReceiptRequest(f"={din}00", "intact, cool box sealed", 6.5, "Receipt bench")
    )
    lot = mfg.create_lot(
        tech, mfg.LotRequest([din], "D0001", expires_at=utcnow() + timedelta(days=300)), "W9999"
    ).lot_number
    reagent = batch_record.MaterialRequest("reagent", "IL-2", "IL2-2604")
    batch_record.record_step(
        tech,
        lot,
        batch_record.StepRequest(
            "NK expansion start", utcnow(), equipment="BSC-02 cabinet", materials=[reagent]
        ),
    )
    batch_record.record_step(
        tech,
        lot,
        batch_record.StepRequest(
            "CAR transduction", utcnow(), deviation=True, deviation_reason=DEVIATION
        ),
    )
    (bag,) = div.fill_bags(tech, lot, [div.BagSpec(20.0, 1.5e9, 1.2e9, dose_level="DL2")])
    code = bag.code
    (position,) = make_lot.positions(1)
    scan(tech, ScanRequest("quarantine", code, temperature_c=4.0, station="Fill bench"))
    scan(tech, ScanRequest("store", code, location=position.code, temperature_c=-185.0))

    quality.results(lot)
    quality.sign(lot, signer=signer)
    scan(tech, ScanRequest("release", code))
    recipient = clinic.recipient(dose_level="DL2")
    allocate(allocator, AllocationRequest(recipient.subject_id, 1, [code]))

    shipment = shipping.create_shipment(tech, recipient.site, courier="Cryo Couriers").code
    scan(tech, ScanRequest("pack", code, shipment=shipment, temperature_c=-186.0))
    shipping.dispatch(tech, shipment, "Sam Rivera", lab_name="Cell lab", temperature_c=-190.0)
    scan(
        nurse,
        ScanRequest(
            "receive", code, shipment=shipment, temperature_c=-184.0, station="Ward 7 bench"
        ),
    )
    _logger_saw_an_excursion(tech, shipment, bag.id)

    scan(nurse, ScanRequest("thaw_start", code, station="Ward 7 bench"))
    scan(nurse, ScanRequest("thaw", code, temperature_c=37.0, condition="no leaks"))
    bag = bag_by_code(code)
    checked = verify(
        nurse,
        VerificationRequest(
            recipient=wristband_data(recipient.hospital_record_number, recipient.birth_date),
            bag=bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone()),
            second_verifier={"username": second.username, "password": PASSWORD},
        ),
    )
    assert checked.passed, checked.checks
    start_infusion(nurse, checked.uid)
    complete_infusion(nurse, code, None, 19.5, "none")
    return Journey(
        code=code,
        din=din,
        lot=lot,
        donor=donor,
        subject_id=recipient.subject_id,
        site=recipient.site,
        shipment=shipment,
        position=f"Site {position.code.split('-')[1]}",
        tech=_named(tech),
        allocator=_named(allocator),
        signer=_named(signer),
        nurse=_named(nurse),
        second_nurse=_named(second),
    )


def _logger_saw_an_excursion(tech, shipment_code: str, bag_id: int) -> None:
    """The shipper's log: cold before the courier took it, above -150 °C while with the
    courier, cold again when the site scanned the bag in."""
    shipment = db.session.scalar(select(Shipment).where(Shipment.code == shipment_code))
    item = db.session.scalar(select(ShipmentItem).where(ShipmentItem.bag_id == bag_id))
    handed, received = shipment.handed_over_at, item.received_at
    middle = handed + (received - handed) / 2
    rows = [(handed - timedelta(minutes=20), -190.0), (middle, PEAK_C), (received, -187.0)]
    csv = "timestamp,temperature_c\n" + "".join(f"{t.isoformat()},{c}\n" for t, c in rows)
    shipping.import_temperatures(tech, shipment_code, csv)


# The actions of the journey's steps, in order.
EXPECTED_ACTIONS = [
    "collect",
    "receive_collection",
    "batch_step",
    "batch_step",
    "fill",
    "quarantine",
    "store",
    "released",  # QA's signed decision on the lot
    "release",  # the bag's release scan
    "allocate",
    "pack",
    "handoff",
    "receive",
    "thaw_start",
    "thaw",
    "verify",
    "infuse",
]


def timeline_of(code: str, **kw):
    """The bag's vein-to-vein timeline, read afresh from the database."""
    db.session.expire_all()
    return vein_to_vein(bag_by_code(code), **kw)


def flags_of(timeline, kind: str):
    """(step, flag) for each flag of this kind, in step order."""
    return [(step, flag) for step, flag in timeline.flags if flag.kind == kind]
