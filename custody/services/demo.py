"""A realistic, deterministic demo data set: same seed, same data.

One scale unit holds 4 donors (eligible, incomplete, ineligible), 8 collections received at
the lab, 8 lots (two per disposition) with their batch records, 25 bags per lot spread over
every state of the life cycle, the storage they sit in, shipments to the clinical site (one in
transit, one with a missing bag, one with a temperature excursion), recipients, allocations
and infusions: about a thousand custody events, so `--scale 100` gives about 10^5.

Each bag walks a path through the life-cycle table: `bag_lifecycle.plan` is asked at every
step, so the demo cannot hold a history the rules would refuse. Times come from fixed epochs
and the seeded generator only. Rows are built in their final state and written in bulk, a few
flushes per unit, so the audit trail records each row once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from custody.domain import isbt128
from custody.domain.bag_lifecycle import BagSituation, plan
from custody.domain.scan_targets import bag_scan_data
from custody.extensions import db
from custody.models import (
    Allocation,
    Bag,
    BatchMaterial,
    BatchStep,
    CustodyEvent,
    DiscrepancyKind,
    Disposition,
    Donation,
    Donor,
    DonorTest,
    DoseBasis,
    DoseLevel,
    DoseLevelStatus,
    Eligibility,
    Infusion,
    LocationKind,
    Lot,
    MaterialKind,
    Recipient,
    RecipientStatus,
    Role,
    Shipment,
    ShipmentDiscrepancy,
    ShipmentItem,
    ShipmentStatus,
    ShipmentTemperature,
    StorageLocation,
    Trial,
    User,
)
from custody.services.audit_trail import acting_as
from custody.services.identifiers import take_dins

DEMO_PASSWORD = "demo-password-2026"
DEMO_ACCOUNTS = [
    ("tech", Role.TECHNICIAN, "Tomás Herrera"),
    ("tech2", Role.TECHNICIAN, "Aiko Tanaka"),
    ("qa", Role.QA, "Grace Okafor"),
    ("qa2", Role.QA, "Lukas Meyer"),
    ("nurse", Role.NURSE, "Priya Raman"),
    ("nurse2", Role.NURSE, "Daniel Moreau"),
    ("admin", Role.ADMIN, "Sam Whitfield"),
]
ACTOR = "system:demo"
# Collections fall in the first half of 2026; everything still under way (the shipments in
# transit) is seen as at DEMO_NOW.
EPOCH = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
DEMO_NOW = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
BAGS_PER_LOT = 25
SITE = "University Hospital"
COURIER = "Cryo Couriers"
LAB = "Cell therapy lab"
MIN, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)

# The actions each kind of bag goes through after "fill", in order.
_STORED = ("quarantine", "store")
_RELEASED = (*_STORED, "release")
_ALLOCATED = (*_RELEASED, "allocate")
_SHIPPED = (*_ALLOCATED, "retrieve", "pack", "handoff")
_RECEIVED = (*_SHIPPED, "receive")
_THAWED = (*_RECEIVED, "thaw")
_VERIFIED = (*_THAWED, "verify")
PATHS: dict[str, tuple[str, ...]] = {"filled": (), "quarantined": ("quarantine",)}
PATHS |= {"stored": _STORED, "moved": (*_STORED, "move"), "discarded": (*_STORED, "discard")}
PATHS |= {"inspected": (*_STORED, "retrieve", "store"), "rejected": (*_STORED, "reject")}
PATHS |= {"rejected_discarded": (*_STORED, "reject", "retrieve", "discard")}
PATHS |= {"released": _RELEASED, "allocated": _ALLOCATED, "in_transit": _SHIPPED}
PATHS |= {"missing": _SHIPPED, "received": _RECEIVED, "thawed": _THAWED, "verified": _VERIFIED}
PATHS |= {"infused": (*_VERIFIED, "infuse"), "thaw_discarded": (*_THAWED, "discard")}
PATHS |= {"returned": (*_RECEIVED, "return", "store")}
# What becomes of the 25 bags of a lot, by the lot's disposition.
_RELEASED_MIX = {"stored": 1, "released": 8, "allocated": 3, "in_transit": 3, "received": 2}
_RELEASED_MIX |= {"thawed": 1, "verified": 1, "infused": 3, "thaw_discarded": 1}
_RELEASED_MIX |= {"returned": 1, "discarded": 1}
_QUARANTINE_MIX = {"filled": 3, "quarantined": 3, "stored": 14, "moved": 2, "inspected": 2}
_QUARANTINE_MIX |= {"discarded": 1}
MIX = {
    Disposition.QUARANTINE: _QUARANTINE_MIX,
    Disposition.REJECTED: {"rejected": 18, "rejected_discarded": 7},
    Disposition.RELEASED: _RELEASED_MIX,
    Disposition.CONDITIONALLY_RELEASED: _RELEASED_MIX,
}
# Bags allocated to a recipient, most advanced first: pairs of them become infusions 1 and 2.
ALLOCATION_ORDER = ("infused", "verified", "thawed", "thaw_discarded", "received", "missing")
ALLOCATION_ORDER += ("returned", "in_transit", "allocated")
# Bags that travel in their lot's shipment to the site (which has arrived).
ON_TRIP = frozenset(ALLOCATION_ORDER[:7])
# Donors of a unit and the dispositions their two collections' lots end in.
DONORS = (
    (Eligibility.ELIGIBLE, (Disposition.RELEASED, Disposition.RELEASED)),
    (Eligibility.ELIGIBLE, (Disposition.QUARANTINE, Disposition.CONDITIONALLY_RELEASED)),
    (Eligibility.INCOMPLETE, (Disposition.CONDITIONALLY_RELEASED, Disposition.QUARANTINE)),
    (Eligibility.INELIGIBLE, (Disposition.REJECTED, Disposition.REJECTED)),
)
FACILITIES = (
    ("Apheresis Unit, University Hospital", "America/Chicago"),
    ("Regional Blood Center, Apheresis", "America/New_York"),
)
# Batch record: step, day after expansion start, duration (h), equipment, materials.
BATCH_STEPS = (
    ("NK expansion start", 0, 3, "BSC-02 biosafety cabinet; G-Rex 100M-CS", ("il2", "feeder")),
    ("CAR transduction", 4, 4, "BSC-02 biosafety cabinet; incubator INC-04", ("vector", "vf1")),
    ("Expansion day 14", 14, 1, "Incubator INC-04; cell counter NC-202", ("il2",)),
    ("Harvest and formulation", 15, 3, "Sepax C-Pro; BSC-02 biosafety cabinet", ("plyte", "hsa")),
)
MATERIALS = {
    "il2": (MaterialKind.REAGENT, "IL-2 (aldesleukin)", "IL2-"),
    "feeder": (MaterialKind.REAGENT, "K562-mbIL21 feeder cells", "FDR-"),
    "vector": (MaterialKind.VECTOR, "CD33 CAR lentiviral vector", "LV33-"),
    "vf1": (MaterialKind.REAGENT, "Vectofusin-1", "VF1-"),
    "plyte": (MaterialKind.REAGENT, "Plasma-Lyte A", "PLA-"),
    "hsa": (MaterialKind.REAGENT, "Human serum albumin 25 %", "HSA-"),
    "cs10": (MaterialKind.REAGENT, "CryoStor CS10", "CS10-"),
}
DEVIATIONS = {
    Disposition.REJECTED: (
        "Expansion day 14",
        "Viability 61 % at day 14, below the 70 % in-process limit; lot referred to QA.",
    ),
    Disposition.CONDITIONALLY_RELEASED: (
        "CAR transduction",
        "Vector held thawed 35 min beyond the allowed window; QA impact assessment: none "
        "expected, 14-day sterility pending at release.",
    ),
}


@dataclass
class DemoSummary:
    counts: dict[str, int] = field(default_factory=dict)
    accounts: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class _Trip:
    """A shipment's timeline; bags are packed one a minute, in the order they join."""

    shipment: Shipment
    packed_at: datetime
    handed_over_at: datetime
    arrived_at: datetime | None
    bags: list[Bag] = field(default_factory=list)


@dataclass
class _Walk:
    """One bag on its way: the clock, the state and where it is."""

    bag: Bag
    outcome: str
    index: int
    filled_at: datetime
    decided_at: datetime | None
    home: StorageLocation
    trip: _Trip | None = None
    infusion_at: datetime | None = None
    item: ShipmentItem | None = None
    times: dict[str, datetime] = field(default_factory=dict)


@dataclass
class _Unit:
    """What the rows of one scale unit share while they are built."""

    rng: random.Random
    number: int
    users: dict[str, User]
    trial: Trial
    # Where each position is, in words (for 'move' notes); a box of positions per lot.
    paths: dict[int, str] = field(default_factory=dict)
    boxes: list[list[StorageLocation]] = field(default_factory=list)
    spare: list[StorageLocation] = field(default_factory=list)
    rows: list = field(default_factory=list)
    allocations: list = field(default_factory=list)
    recipients: list[Recipient] = field(default_factory=list)
    trips: list[_Trip] = field(default_factory=list)


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(User))


def load_demo(scale: int = 1, seed: int = 1) -> DemoSummary:
    rng = random.Random(seed)
    with acting_as(ACTOR, reason="demo data"):
        users = _accounts()
        trial = _trial()
        site = StorageLocation(code="LOC-SITE1", name=LAB, kind=LocationKind.SITE)
        db.session.add(site)
        shipments = _shipment_numbers()
        for number in range(scale):
            unit = _Unit(rng, number, users, trial)
            _storage(unit, site)
            _build(unit, shipments)
            db.session.commit()
    return _summary()


def _accounts() -> dict[str, User]:
    users = {}
    password_hash = generate_password_hash(DEMO_PASSWORD)
    for username, role, name in DEMO_ACCOUNTS:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(username=username, role=role, full_name=name, password_hash=password_hash)
            db.session.add(user)
        users[username] = user
    db.session.flush()
    return users


def _trial() -> Trial:
    trial = db.session.scalar(select(Trial).where(Trial.protocol_id == "NCT07026942"))
    if trial:
        return trial
    trial = Trial(
        protocol_id="NCT07026942",
        title="Universal-donor CD33 CAR-NK cells for relapsed/refractory AML (Phase 1/2)",
        product_name="CD33 CAR-NK cells",
    )
    levels = [
        ("DL1", 1, 6e8, DoseLevelStatus.CLOSED),
        ("DL2", 1, 1.2e9, DoseLevelStatus.OPEN),
        ("DL3", 1, 1.8e9, DoseLevelStatus.RECOMMENDED),
    ]
    for code, phase, cells, status in levels:
        trial.dose_levels.append(
            DoseLevel(
                code=code,
                phase=phase,
                basis=DoseBasis.FLAT,
                dose_cells=cells,
                tolerance_pct=20.0,
                status=status,
            )
        )
    db.session.add(trial)
    db.session.flush()
    return trial


def _shipment_numbers():
    """SHP-2026-nnnn numbers after any the database already holds."""
    taken = db.session.scalar(select(func.count()).where(Shipment.code.like("SHP-2026-%")))
    number = taken or 0
    while True:
        number += 1
        yield f"SHP-2026-{number:04d}"


# --- storage ------------------------------------------------------------------------------


def _storage(unit: _Unit, site: StorageLocation) -> None:
    """One rack per unit (ten racks a freezer): a box of 25 positions per lot, and a spare box.

    Each bag has its own home position in its lot's box and only ever goes back there, and a
    move takes a spare position nobody used before: no position ever holds two bags at once.
    """
    freezer_no, rack_no = divmod(unit.number, 10)
    code = f"LOC-LN2-{freezer_no + 1:02d}"
    freezer = db.session.scalar(select(StorageLocation).where(StorageLocation.code == code))
    if freezer is None:
        freezer = StorageLocation(
            code=code, name=f"LN2 freezer {freezer_no + 1}", kind=LocationKind.FREEZER, parent=site
        )
    rack = _child(freezer, LocationKind.RACK, f"R{rack_no + 1:02d}", f"Rack {rack_no + 1}")
    nodes = [freezer, rack]
    for box_no in range(1, 10):
        box = _child(rack, LocationKind.BOX, f"B{box_no:02d}", f"Box {box_no}")
        nodes.append(box)
        positions = []
        for pos in range(1, BAGS_PER_LOT + 1):
            node = _child(box, LocationKind.POSITION, f"P{pos:02d}", f"Position {pos}")
            unit.paths[id(node)] = " › ".join((LAB, freezer.name, rack.name, box.name, node.name))
            positions.append(node)
        unit.boxes.append(positions)
        nodes += positions
    unit.spare = unit.boxes.pop()
    db.session.add_all(nodes)
    db.session.flush()


def _child(parent: StorageLocation, kind: LocationKind, suffix: str, name: str) -> StorageLocation:
    # Codes are short enough to print: each extends its parent's code.
    return StorageLocation(code=f"{parent.code}-{suffix}", name=name, kind=kind, parent=parent)


# --- donors, collections, lots ------------------------------------------------------------


def _build(unit: _Unit, shipment_codes) -> None:
    """Donors, collections and lots of one unit, their bags' journeys, then the clinic side."""
    config = current_app.config
    dins = take_dins(config["CUSTODY_FIN"], 26, 8)
    lots = []
    for d, (eligibility, dispositions) in enumerate(DONORS):
        collected = EPOCH + DAY * unit.rng.randrange(0, 180) + HOUR * unit.rng.randrange(6)
        donor = _donor(unit, d, eligibility, collected)
        for k, disposition in enumerate(dispositions):
            donation = _donation(unit, donor, dins.pop(0), collected + DAY * k)
            lots.append(_lot(unit, len(lots), donation, disposition))
    in_transit = _trip(unit, next(shipment_codes), DEMO_NOW - 11 * HOUR, arrive=False)
    missing_done = False
    for lot in lots:
        mix = _outcomes(unit, lot.disposition)
        if lot.disposition in (Disposition.RELEASED, Disposition.CONDITIONALLY_RELEASED):
            if not missing_done:
                mix[mix.index("received")] = "missing"
                missing_done = True
            decided = lot.manufactured_at + 16 * DAY + HOUR * unit.rng.randrange(2, 8)
            trip = _trip(unit, next(shipment_codes), decided + 4 * DAY + 9 * HOUR, arrive=True)
        else:
            decided = lot.manufactured_at + 16 * DAY if lot.disposition == "rejected" else None
            trip = None
        _bags(unit, lot, lots.index(lot), mix, decided, trip, in_transit)
    db.session.add_all(unit.rows)
    db.session.flush()
    _finish(unit)


def _donor(unit: _Unit, d: int, eligibility: Eligibility, collected: datetime) -> Donor:
    rng = unit.rng
    determined = collected + (5 * DAY if eligibility is Eligibility.INELIGIBLE else -DAY)
    donor = Donor(
        donor_code=f"DNR-{unit.number:04d}-{d + 1}",
        sex=rng.choice("FM"),
        birth_date=date(1975 + rng.randrange(25), rng.randrange(1, 13), rng.randrange(1, 28)),
        eligibility=eligibility,
        eligibility_determined_at=determined,
        eligibility_determined_by_id=unit.users["qa"].id,
        eligibility_notes={
            Eligibility.INCOMPLETE: "Determination incomplete: urgent medical need documented.",
            Eligibility.INELIGIBLE: "HBV NAT reactive.",
        }.get(eligibility, ""),
        created_at=collected - 10 * DAY,
    )
    for test in ("HIV-1/2", "HBV", "HCV", "HTLV-I/II", "Syphilis", "WNV", "CMV"):
        reactive = eligibility is Eligibility.INELIGIBLE and test == "HBV"
        pending = eligibility is Eligibility.INCOMPLETE and test == "WNV"
        result = "reactive" if reactive else "pending" if pending else "non-reactive"
        donor.tests.append(
            DonorTest(test=test, result=result, sampled_on=(collected - 3 * DAY).date())
        )
    unit.rows.append(donor)
    return donor


def _donation(unit: _Unit, donor: Donor, din: str, collected: datetime) -> Donation:
    """A collection and its receipt at the cell lab a few hours later (a custody event)."""
    rng = unit.rng
    facility, zone = FACILITIES[rng.randrange(len(FACILITIES))]
    tnc = round(rng.uniform(1.0, 3.0), 2) * 1e10
    received = collected + HOUR * rng.uniform(3, 6)
    temperature = round(rng.uniform(4.0, 9.0), 1)
    tech = unit.users[rng.choice(("tech", "tech2"))]
    donation = Donation(
        din=din,
        donor=donor,
        collected_at=collected,
        collection_timezone=zone,
        facility=facility,
        volume_ml=round(rng.uniform(180, 320), 1),
        total_nucleated_cells=tnc,
        nk_cells=round(tnc * rng.uniform(0.08, 0.15), -6),
        viability_pct=round(rng.uniform(92, 99.5), 1),
        received_at=received,
        received_condition="intact, seals unbroken, cold packs present",
        received_temperature_c=temperature,
        received_by_id=tech.id,
        created_at=collected,
    )
    event = CustodyEvent(
        donation=donation,
        action="receive_collection",
        from_status="collected",
        to_status="received",
        occurred_at=received,
        actor_id=tech.id,
        raw_scan=isbt128.encode_din(din),
        condition=donation.received_condition,
        temperature_c=temperature,
        from_party=facility,
        to_party="cell lab",
        station="lab-scan-1",
    )
    unit.rows += [donation, event]
    return donation


def _lot(unit: _Unit, n: int, donation: Donation, disposition: Disposition) -> Lot:
    started = donation.received_at + 20 * HOUR  # expansion starts the next morning
    filled = started + 15 * DAY + 5 * HOUR
    lot = Lot(
        lot_number=f"L26-{unit.number:04d}-{n + 1:02d}",
        din=donation.din,
        product_description_code=current_app.config["CUSTODY_PRODUCT_DESCRIPTION_CODE"],
        disposition=disposition,
        manufactured_at=filled,
        expires_at=filled + 730 * DAY,
        created_at=started - HOUR,
    )
    lot.donations.append(donation)
    lot.steps.extend(_batch_record(unit, lot, started, filled))
    unit.rows.append(lot)
    return lot


def _batch_record(unit: _Unit, lot: Lot, started: datetime, filled: datetime) -> list[BatchStep]:
    rng = unit.rng
    deviation = DEVIATIONS.get(lot.disposition, ("", ""))
    plan_ = [(s, started + DAY * day, HOUR * hours, eq, m) for s, day, hours, eq, m in BATCH_STEPS]
    plan_.append(
        ("Fill and cryopreservation", filled - 30 * MIN, 4 * HOUR, "CRF-01 rate freezer", ("cs10",))
    )
    steps = []
    for seq, (name, start, length, equipment, materials) in enumerate(plan_, start=1):
        viable = rng.uniform(1.5, 9.0) * 10 ** (8 + seq // 3)
        steps.append(
            BatchStep(
                sequence=seq,
                step=name,
                operator_id=unit.users[rng.choice(("tech", "tech2"))].id,
                started_at=start,
                ended_at=start + length,
                equipment=equipment,
                observations=f"Viable NK cells {viable:.2e}; viability {rng.uniform(88, 98):.0f} %",
                deviation=name == deviation[0],
                deviation_reason=deviation[1] if name == deviation[0] else "",
                recorded_at=start + length + 10 * MIN,
                materials=[
                    BatchMaterial(
                        kind=MATERIALS[m][0],
                        name=MATERIALS[m][1],
                        # One material lot per unit: a recall finds every lot it reached.
                        lot_number=f"{MATERIALS[m][2]}26{unit.number % 50 + 1:03d}",
                    )
                    for m in materials
                ],
            )
        )
    return steps


def _outcomes(unit: _Unit, disposition: Disposition) -> list[str]:
    mix = [outcome for outcome, count in MIX[disposition].items() for _ in range(count)]
    unit.rng.shuffle(mix)
    return mix


def _trip(unit: _Unit, code: str, packed: datetime, arrive: bool) -> _Trip:
    handed = packed + 45 * MIN
    arrived = handed + MIN * unit.rng.randrange(300, 420) if arrive else None
    shipment = Shipment(
        code=code,
        destination_site=SITE,
        courier=COURIER,
        shipper_id=f"DS-{unit.rng.randrange(1, 13):02d}",
        status=ShipmentStatus.RECEIVED if arrive else ShipmentStatus.IN_TRANSIT,
        created_at=packed - 30 * MIN,
        created_by_id=unit.users["tech"].id,
        handed_over_at=handed,
        handed_over_to=f"{COURIER} (J. Novak)",
        received_at=arrived + 30 * MIN if arrive else None,
        received_by_id=unit.users["nurse"].id if arrive else None,
    )
    trip = _Trip(shipment, packed, handed, arrived)
    unit.rows.append(shipment)
    unit.trips.append(trip)
    return trip


# --- bags and their custody -----------------------------------------------------------------

LAB_STATION, WARD_STATION = "LAB-SCAN-01", "WARD-SCAN-01"
AT_SITE = frozenset({"receive", "thaw", "verify", "infuse", "return"})
NOT_SCANNED = frozenset({"fill", "allocate", "handoff"})
ACTORS = {"release": "qa", "reject": "qa", "allocate": "qa"} | {a: "nurse" for a in AT_SITE}
TEMPERATURES = {"fill": 4.0, "quarantine": 4.0, "store": -185.0, "move": -185.0}
TEMPERATURES |= {"retrieve": -180.0, "pack": -186.0, "handoff": -186.0, "receive": -184.0}
TEMPERATURES |= {"thaw": 37.0, "verify": 22.0, "infuse": 22.0, "return": -182.0}
REASONS = {
    "reject": "Lot rejected by QA: day-14 viability below specification.",
    "return": "Infusion postponed (recipient febrile): bag returned to the cell lab.",
    ("discard", "thaw"): "Post-thaw use window exceeded before infusion.",
    ("discard", "retrieve"): "Rejected lot destroyed on QA instruction.",
    ("discard", "store"): "Bag integrity: crack at the port found on inspection.",
}
FIRST_NAMES = ("Maria", "James", "Fatima", "Olga", "John", "Amina", "Wei", "Lucía", "Kofi")
LAST_NAMES = ("Lopez", "Chen", "Ali", "Petrova", "Smith", "Yusuf", "Novak", "Haddad", "Berg")


def _bags(unit, lot, n, mix, decided, trip, in_transit) -> None:
    rng = unit.rng
    level = rng.choice(unit.trial.dose_levels)
    pdc = lot.product_description_code
    walks = []
    for b, outcome in enumerate(mix):
        product_code = f"{pdc}V{chr(ord('A') + b)}0"
        viable = level.dose_cells * rng.uniform(0.95, 1.1)
        filled = lot.manufactured_at + 3 * MIN * b
        bag = Bag(
            lot=lot,
            din=lot.din,
            product_code=product_code,
            code=f"{lot.din}-{product_code}",
            volume_ml=20.0,
            total_cells=round(viable / rng.uniform(0.7, 0.85), -6),
            viable_car_nk_cells=round(viable, -6),
            dose_level_id=level.id,
            expires_at=lot.expires_at,
            created_at=filled,
        )
        walk = _Walk(bag, outcome, b, filled, decided and decided + MIN * b, unit.boxes[n][b])
        walk.trip = {"in_transit": in_transit}.get(outcome, trip if outcome in ON_TRIP else None)
        if walk.trip:
            walk.trip.bags.append(bag)
        walks.append(walk)
    allocated = sorted(
        (w for w in walks if w.outcome in ALLOCATION_ORDER),
        key=lambda w: ALLOCATION_ORDER.index(w.outcome),
    )
    for i in range(0, len(allocated), 2):
        pair = allocated[i : i + 2]
        for number, w in enumerate(pair, start=1):
            if w.trip and w.trip.arrived_at:
                w.infusion_at = w.trip.arrived_at + DAY * (1 + 7 * (number - 1)) + 3 * HOUR
        recipient = _recipient(unit, level, lot, pair)
        unit.allocations += [(w, recipient, k) for k, w in enumerate(pair, start=1)]
    for w in walks:
        _walk(unit, lot, w)


def _walk(unit: _Unit, lot: Lot, w: _Walk) -> None:
    """Append the bag's custody events along its path; leave it where the path ends."""
    bag = w.bag
    scan = bag_scan_data(bag.din, bag.product_code, bag.expires_at)
    status = position = removed = at = prev = None
    for action in ("fill", *PATHS[w.outcome]):
        when = _anchor(action, prev, w, unit.rng)
        moment = when if isinstance(when, datetime) else at + when
        if at is not None and moment <= at:
            raise RuntimeError(f"demo schedule out of order: {action} after {prev}")
        at = moment
        # Until QA decides, the lot is in quarantine; the rules then see its final disposition.
        decided = w.decided_at is not None and at >= w.decided_at
        disposition = lot.disposition.value if decided else Disposition.QUARANTINE.value
        here = BagSituation(status, disposition, False, position is not None)
        to = "filled" if action == "fill" else plan(action, here)
        actor = unit.users[_actor(action, prev, w)]
        event = CustodyEvent(
            bag=bag,
            action=action,
            from_status=status,
            to_status=to,
            occurred_at=at,
            actor_id=actor.id,
            raw_scan=None if action in NOT_SCANNED else scan,
            condition="thawed at 37 °C, no leaks" if action == "thaw" else "intact",
            temperature_c=TEMPERATURES.get(action),
            station=None if action in NOT_SCANNED else _station(action, prev),
            notes=REASONS.get(action) or REASONS.get((action, prev)) or "",
        )
        if action == "store":
            position, event.location = w.home, w.home
            if removed is not None:
                event.out_of_storage_s = (at - removed).total_seconds()
            removed = None
        elif action == "move":
            event.notes = f"from {unit.paths[id(position)]}"
            position = event.location = unit.spare.pop(0)
        elif action in ("retrieve", "discard") and position is not None:
            event.location, position, removed = position, None, at
        _shipping(unit, w, event, actor, status)
        unit.rows.append(event)
        w.times[action] = at
        status, prev = to, action
    bag.status, bag.storage_position, bag.removed_from_storage_at = status, position, removed


def _anchor(action: str, prev: str | None, w: _Walk, rng) -> datetime | timedelta:
    """When `action` happens to this bag: a time, or a delay after its previous event."""
    trip, slot = w.trip, MIN * (w.trip.bags.index(w.bag) if w.trip else 0)
    if action == "store":
        delays = {"quarantine": None, "retrieve": MIN * rng.randrange(3, 10), "return": 8 * HOUR}
        return delays[prev] or w.filled_at + 4 * HOUR
    if action == "retrieve":
        if trip:
            return trip.packed_at + slot - 10 * MIN
        return w.decided_at + 5 * DAY if prev == "reject" else w.filled_at + 6 * DAY
    if action == "discard":
        return {"thaw": 3 * HOUR, "retrieve": 15 * MIN}.get(prev) or w.filled_at + 10 * DAY
    fixed = {
        "fill": lambda: w.filled_at,
        "quarantine": lambda: w.filled_at + 90 * MIN,
        "move": lambda: w.filled_at + 3 * DAY,
        "reject": lambda: w.decided_at + HOUR,
        "release": lambda: w.decided_at + 2 * HOUR,
        "allocate": lambda: w.decided_at + DAY,
        "pack": lambda: trip.packed_at + slot,
        "handoff": lambda: trip.handed_over_at,
        "receive": lambda: trip.arrived_at + slot,
        "thaw": lambda: w.infusion_at - 40 * MIN,
        "verify": lambda: w.infusion_at - 10 * MIN,
        "infuse": lambda: w.infusion_at,
        "return": lambda: trip.arrived_at + 2 * DAY,
    }
    return fixed[action]()


def _actor(action: str, prev: str | None, w: _Walk) -> str:
    if action == "discard" and prev == "thaw":
        return "nurse"
    name = ACTORS.get(action, "tech")
    return "tech2" if name == "tech" and w.index % 2 else name


def _station(action: str, prev: str | None) -> str:
    at_site = action in AT_SITE or (action == "discard" and prev == "thaw")
    return WARD_STATION if at_site else LAB_STATION


def _shipping(unit: _Unit, w: _Walk, event: CustodyEvent, actor: User, before) -> None:
    """Who hands the bag to whom, and what packing and receipt record on the shipment."""
    if event.action == "return":
        event.from_party, event.to_party = SITE, "cell lab"
    if event.action not in ("pack", "handoff", "receive"):
        return
    shipment = event.shipment = w.trip.shipment
    if event.action == "pack":
        event.to_party = SITE
        w.item = ShipmentItem(shipment=shipment, bag=w.bag, packed_at=event.occurred_at)
        w.item.packed_by_id, w.item.status_before = actor.id, before
        unit.rows.append(w.item)
    elif event.action == "handoff":
        event.from_party = f"{LAB}: {actor.full_name}"
        event.to_party = shipment.handed_over_to
        event.condition = "shipper sealed, logger running"
    else:
        event.from_party, event.to_party = COURIER, SITE
        w.item.received_at, w.item.received_by_id = event.occurred_at, actor.id


# --- recipients, allocations, infusions, shipment records -------------------------------------


def _recipient(unit: _Unit, level: DoseLevel, lot: Lot, pair: list[_Walk]) -> Recipient:
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


def _new_recipient(unit: _Unit, seen: datetime, status, level: DoseLevel) -> Recipient:
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


def _finish(unit: _Unit) -> None:
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


def _readings(unit: _Unit, trip: _Trip, excursion: bool) -> list[ShipmentTemperature]:
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


def _summary() -> DemoSummary:
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
    ):
        summary.counts[label] = db.session.scalar(select(func.count()).select_from(model))
    summary.accounts = [(u, r.value, n) for u, r, n in DEMO_ACCOUNTS]
    return summary
