"""A populated world for the patient-data tests: the demo, plus one recipient of our own.

The demo (scale 1, seed 1) brings recipients at every step, allocations, tie-tags, thaws,
bedside checks with a wrong patient stopped, infusions in progress and done, a post-transplant
sample and a quality alert. On top of it, `build` takes one recipient with a name no page could
show by accident, Zyxwa Quartzfield, through the tracker's own API: registered by an
administrator into phase 2 (at the recommended DL3), enrolled by a nurse, a released bag
allocated by QA, its tie-tag printed by a technician, shipped, received and thawed at the site,
a wrong wristband stopped at the bedside, then verified by two nurses, infused and completed,
weighed again, and the lot recalled by QA. Every recipient's identifiers, as the tracker
writes them, are then what a role that may not see patient identifiers must never be shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from custody.domain.permissions import Role, printed_identifiers
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import (
    Bag,
    BagStatus,
    BedsideVerification,
    CustodyEvent,
    Disposition,
    FollowUpSample,
    LabelPrint,
    Lot,
    QcSpecification,
    Recipient,
    Shipment,
    ShipmentTemperature,
    StorageLocation,
)
from custody.services.clinic.recipients import site_today
from tests.conftest import IsolatedClient
from tests.factories import PASSWORD, Factories, Headers

SITE = "University Hospital"
ZQ_SUBJECT = "CAR33-ZQ-01"
ZQ_NAME = "Zyxwa Quartzfield"
ZQ_BORN = date(1947, 3, 29)
ZQ_RECORD = "ZQ90417"
ZQ_WRISTBAND = wristband_data(ZQ_RECORD, ZQ_BORN)
# The people who act, one per role (CAST in tests/factories.py): Tess, Quinn, Ann, Ada; Nina
# is the second nurse at the bedside.
ACTORS = {Role.TECHNICIAN: "tech", Role.QA: "qa", Role.NURSE: "ann", Role.ADMIN: "admin"}


@dataclass
class World:
    app: object
    client: IsolatedClient
    headers: dict[Role, Headers]
    subject_id: str = ZQ_SUBJECT
    bag: str = ""
    lot: str = ""
    din: str = ""
    donor: str = ""
    shipment: str = ""
    location: str = ""
    sample: str = ""
    recall: str = ""
    specification: tuple[str, int] = ("", 0)
    tie_tag_label: int = 0
    # Another released bag, with its label issued; a shipment with logger readings.
    labelled_bag: str = ""
    bag_label: int = 0
    logged_shipment: str = ""
    station: str = ""
    verifications: list[str] = field(default_factory=list)
    # The demo's: a recipient, and the bag of its wrong-patient check.
    demo_subject_id: str = ""
    demo_stopped_bag: str = ""

    def username(self, role: Role) -> str:
        return self.headers[role].user.username


def build(app) -> World:
    """Our recipient's journey on top of the loaded demo (inside its app context)."""
    app.test_client_class = IsolatedClient
    make = Factories(app)
    people = {role: make.headers(make.person(who)) for role, who in ACTORS.items()}
    make.person("nurse")  # Nina, the second verifier
    world = World(app, app.test_client(), people)
    _register(world)
    _allocate(world)
    world.tie_tag_label = _ok(world, Role.TECHNICIAN, "get", f"/bags/{world.bag}/tie-tag.pdf")
    _ship_to_the_site(world)
    _thaw(world)
    _bedside(world)
    _recall(world)
    _records(world)
    return world


def _ok(world: World, role: Role, method: str, path: str, body=None, status: int = 200):
    answer = world.client.open(
        f"/api/v1{path}", method=method.upper(), json=body, headers=world.headers[role]
    )
    assert answer.status_code == status, (path, answer.status_code, answer.get_data(as_text=True))
    if answer.is_json:
        return answer.get_json()
    return int(answer.headers.get("X-Label-Id", 0))


def _register(world: World) -> None:
    """Phase 2 opens (the demo's lots released for infusion are at the recommended DL3)."""
    phase = {"phase": 2, "reason": "DL3 declared the recommended dose"}
    _ok(world, Role.ADMIN, "post", "/trial/phase", phase)
    _ok(
        world,
        Role.ADMIN,
        "post",
        "/recipients",
        {
            "subject_id": ZQ_SUBJECT,
            "hospital_record_number": ZQ_RECORD,
            "name": ZQ_NAME,
            "birth_date": ZQ_BORN.isoformat(),
            "weight_kg": 70,
            "weight_measured_on": site_today().isoformat(),
            "site": SITE,
            "phase": 2,
        },
        201,
    )
    for status in ("enrolled", "lymphodepletion"):
        body = {"status": status, "reason": "per protocol"}
        _ok(world, Role.NURSE, "post", f"/recipients/{ZQ_SUBJECT}/status", body)


def _allocate(world: World) -> None:
    """One released DL3 bag, of a lot QA released."""
    bag = db.session.scalar(
        select(Bag)
        .join(Lot, Lot.id == Bag.lot_id)
        .where(Bag.status == BagStatus.RELEASED, Lot.disposition == Disposition.RELEASED)
        .where(Bag.viable_car_nk_cells > 1.5e9)
        .order_by(Bag.code)
        .limit(1)
    )
    world.bag, world.lot, world.din = bag.code, bag.lot.lot_number, bag.din
    world.donor = bag.lot.donations[0].donor.donor_code
    body = {"recipient": ZQ_SUBJECT, "infusion_number": 1, "bags": [bag.code]}
    _ok(world, Role.QA, "post", "/allocations", body, 201)


def _ship_to_the_site(world: World) -> None:
    shipment = _ok(world, Role.TECHNICIAN, "post", "/shipments", {"destination_site": SITE}, 201)
    world.shipment = shipment["code"]
    pack = {"action": "pack", "bag": world.bag, "shipment": world.shipment}
    _ok(world, Role.TECHNICIAN, "post", "/scans", pack, 201)
    dispatch = {"courier": "Cryo Couriers", "courier_person": "R. Driver", "temperature_c": -180}
    _ok(world, Role.TECHNICIAN, "post", f"/shipments/{world.shipment}/dispatch", dispatch)
    receive = {"action": "receive", "bag": world.bag, "shipment": world.shipment}
    _ok(world, Role.NURSE, "post", "/scans", receive, 201)
    _ok(world, Role.NURSE, "post", f"/shipments/{world.shipment}/receipt")


def _thaw(world: World) -> None:
    for action in ("thaw_start", "thaw"):
        _ok(world, Role.NURSE, "post", "/scans", {"action": action, "bag": world.bag}, 201)


def _bedside(world: World) -> None:
    """A wrong wristband first (a demo recipient's): stopped; then the right one: passed."""
    other = db.session.scalar(
        select(Recipient).where(Recipient.subject_id != ZQ_SUBJECT).order_by(Recipient.id)
    )
    world.demo_subject_id = other.subject_id
    second = {"username": "nina", "password": PASSWORD}
    for band, passed in (
        (wristband_data(other.hospital_record_number, other.birth_date), False),
        (ZQ_WRISTBAND, True),
    ):
        body = {"recipient": band, "bag": world.bag, "second_verifier": second}
        body["warnings_acknowledged"] = True
        answer = _ok(world, Role.NURSE, "post", "/bedside/verifications", body, 201)
        assert answer["passed"] is passed, answer
        world.verifications.append(answer["uid"])
    _ok(world, Role.NURSE, "post", "/infusions", {"verification": world.verifications[-1]}, 201)
    done = {"volume_ml": 11.0, "reactions": "none"}
    _ok(world, Role.NURSE, "post", f"/infusions/{world.bag}/completion", done)


def _recall(world: World) -> None:
    qa = world.headers[Role.QA].user.username
    body = {"scope": "lot", "value": world.lot, "reason": "Positive sterility on retest."}
    answer = _ok(
        world, Role.QA, "post", "/recalls", body | {"username": qa, "password": PASSWORD}, 201
    )
    world.recall = answer["code"]


def _records(world: World) -> None:
    """A new weight (an audited update of the recipient), and the codes the walks fill in."""
    weight = {"weight_kg": 69.5, "measured_on": site_today().isoformat(), "reason": "weighed"}
    _ok(world, Role.NURSE, "post", f"/recipients/{ZQ_SUBJECT}/weight", weight)
    world.labelled_bag = db.session.scalar(
        select(Bag.code)
        .join(Lot, Lot.id == Bag.lot_id)
        .where(Bag.status == BagStatus.RELEASED, Lot.disposition == Disposition.RELEASED)
        .where(Lot.lot_number != world.lot)
        .order_by(Bag.code)
        .limit(1)
    )
    label = f"/bags/{world.labelled_bag}/label.pdf"
    world.bag_label = _ok(world, Role.TECHNICIAN, "get", label)
    world.logged_shipment = db.session.scalar(
        select(Shipment.code)
        .join(ShipmentTemperature, ShipmentTemperature.shipment_id == Shipment.id)
        .order_by(Shipment.code)
        .limit(1)
    )
    world.station = db.session.scalar(
        select(CustodyEvent.station).where(CustodyEvent.station.is_not(None)).limit(1)
    )
    world.location = db.session.scalar(select(StorageLocation.code).order_by(StorageLocation.id))
    world.sample = db.session.scalar(select(FollowUpSample.code).order_by(FollowUpSample.id))
    spec = db.session.scalar(select(QcSpecification).order_by(QcSpecification.id))
    world.specification = (spec.product_description_code, spec.version)
    wrong_patient = '%"check": "recipient_identity", "passed": false%'
    stopped = db.session.scalar(
        select(BedsideVerification)
        .join(Recipient, Recipient.id == BedsideVerification.recipient_id)
        .where(BedsideVerification.checks.like(wrong_patient), Recipient.subject_id != ZQ_SUBJECT)
        .order_by(BedsideVerification.id)
    )
    world.demo_stopped_bag = stopped.bag.code
    world.verifications.append(stopped.uid)
    tie_tag = db.session.get(LabelPrint, world.tie_tag_label)
    assert tie_tag.purpose == "tie_tag"


def identifiers() -> dict[str, frozenset[str]]:
    """Every recipient's identifiers as the tracker writes them (name, record number, birth
    date as ISO and yyyymmdd, wristband data), by subject ID; ours also by each name alone."""
    found = {}
    for r in db.session.scalars(select(Recipient).order_by(Recipient.id)):
        words = printed_identifiers(r.name, r.birth_date, r.hospital_record_number)
        found[r.subject_id] = words | {wristband_data(r.hospital_record_number, r.birth_date)}
    found[ZQ_SUBJECT] |= set(ZQ_NAME.split())
    return found
