"""A realistic, deterministic demo data set: same seed, same data.

One scale unit holds 4 donors, 8 donations, 8 lots (two per disposition) of 25 bags each and
about a thousand custody events; `--scale 100` gives about 10^5 events. Accounts for every
role are created once, with one shared demo password that `make run` prints.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from custody.extensions import db
from custody.models import (
    Bag,
    BagStatus,
    CustodyEvent,
    Disposition,
    Donation,
    Donor,
    DonorTest,
    DoseBasis,
    DoseLevel,
    DoseLevelStatus,
    Eligibility,
    LocationKind,
    Lot,
    Recipient,
    RecipientStatus,
    Role,
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
EPOCH = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
BAGS_PER_LOT = 25
# The path a bag travels, in order; a demo bag stops somewhere along it.
PATH = [
    BagStatus.FILLED,
    BagStatus.QUARANTINED,
    BagStatus.STORED,
    BagStatus.RELEASED,
    BagStatus.ALLOCATED,
    BagStatus.SHIPPED,
    BagStatus.RECEIVED,
]
# How far along the path bags of a lot go, by the lot's disposition.
FURTHEST = {
    Disposition.QUARANTINE: BagStatus.STORED,
    Disposition.REJECTED: BagStatus.STORED,
    Disposition.CONDITIONALLY_RELEASED: BagStatus.RELEASED,
    Disposition.RELEASED: BagStatus.RECEIVED,
}


@dataclass
class DemoSummary:
    counts: dict[str, int] = field(default_factory=dict)
    accounts: list[tuple[str, str, str]] = field(default_factory=list)


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(User))


def load_demo(scale: int = 1, seed: int = 1) -> DemoSummary:
    rng = random.Random(seed)
    with acting_as(ACTOR, reason="demo data"):
        users = _accounts()
        trial = _trial()
        freezer_positions = _storage(scale)
        for unit in range(scale):
            _unit(rng, unit, users, trial, freezer_positions)
            db.session.commit()
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


def _storage(scale: int) -> list[StorageLocation]:
    """One site, freezers of 10 racks × 10 boxes × 25 positions, enough for every bag."""
    site = StorageLocation(code="LOC-SITE1", name="Cell therapy lab", kind=LocationKind.SITE)
    db.session.add(site)
    positions: list[StorageLocation] = []
    needed = scale * 8 * BAGS_PER_LOT
    freezer_no = 0
    while len(positions) < needed:
        freezer_no += 1
        freezer = _child(
            site, LocationKind.FREEZER, f"LN2-{freezer_no:02d}", f"LN2 freezer {freezer_no}"
        )
        for rack_no in range(1, 11):
            rack = _child(freezer, LocationKind.RACK, f"R{rack_no:02d}", f"Rack {rack_no}")
            for box_no in range(1, 11):
                box = _child(rack, LocationKind.BOX, f"B{box_no:02d}", f"Box {box_no}")
                for pos in range(1, BAGS_PER_LOT + 1):
                    positions.append(
                        _child(box, LocationKind.POSITION, f"P{pos:02d}", f"Position {pos}")
                    )
    db.session.flush()
    return positions


def _child(parent: StorageLocation, kind: LocationKind, suffix: str, name: str) -> StorageLocation:
    node = StorageLocation(
        # Codes are short enough to print: freezers hang off "LOC", the rest off their parent.
        code=f"{'LOC' if parent.kind is LocationKind.SITE else parent.code}-{suffix}",
        name=name,
        kind=kind,
        parent=parent,
    )
    db.session.add(node)
    return node


def _unit(rng, unit, users, trial, positions) -> None:
    config = current_app.config
    fin = config["CUSTODY_FIN"]
    pdc = config["CUSTODY_PRODUCT_DESCRIPTION_CODE"]
    dins = take_dins(fin, 26, 16)  # 8 donations + 8 lot DINs
    eligibilities = [
        Eligibility.ELIGIBLE,
        Eligibility.ELIGIBLE,
        Eligibility.INCOMPLETE,
        Eligibility.INELIGIBLE,
    ]
    donations = []
    for d, eligibility in enumerate(eligibilities):
        donor = _donor(rng, unit, d, eligibility, users["qa"])
        for _ in range(2):
            donations.append(_donation(rng, donor, dins.pop(0)))
    dispositions = [
        Disposition.RELEASED,
        Disposition.RELEASED,
        Disposition.CONDITIONALLY_RELEASED,
        Disposition.CONDITIONALLY_RELEASED,
        Disposition.QUARANTINE,
        Disposition.QUARANTINE,
        Disposition.REJECTED,
        Disposition.REJECTED,
    ]
    for n, (donation, disposition) in enumerate(zip(donations, dispositions, strict=True)):
        lot = Lot(
            lot_number=f"L26-{unit:04d}-{n + 1:02d}",
            din=donation.din,
            product_description_code=pdc,
            disposition=disposition,
            manufactured_at=donation.collected_at + timedelta(days=14),
            expires_at=donation.collected_at + timedelta(days=365),
        )
        lot.donations.append(donation)
        db.session.add(lot)
        _bags(rng, lot, pdc, trial, users, positions)
    _recipients(rng, unit, trial)


def _donor(rng, unit, d, eligibility, determiner) -> Donor:
    donor = Donor(
        donor_code=f"DNR-{unit:04d}-{d + 1}",
        sex=rng.choice("FM"),
        birth_date=date(1975 + rng.randrange(25), rng.randrange(1, 13), rng.randrange(1, 28)),
        eligibility=eligibility,
        eligibility_determined_at=EPOCH - timedelta(days=30),
        eligibility_determined_by_id=determiner.id,
        eligibility_notes={
            Eligibility.INCOMPLETE: "Determination incomplete: urgent medical need documented.",
            Eligibility.INELIGIBLE: "HBV NAT reactive.",
        }.get(eligibility, ""),
    )
    for test in ("HIV-1/2", "HBV", "HCV", "HTLV-I/II", "Syphilis", "WNV", "CMV"):
        reactive = eligibility is Eligibility.INELIGIBLE and test == "HBV"
        pending = eligibility is Eligibility.INCOMPLETE and test == "WNV"
        result = "reactive" if reactive else "pending" if pending else "non-reactive"
        donor.tests.append(
            DonorTest(test=test, result=result, sampled_on=(EPOCH - timedelta(days=37)).date())
        )
    db.session.add(donor)
    db.session.flush()
    return donor


def _donation(rng, donor: Donor, din: str) -> Donation:
    donation = Donation(
        din=din,
        donor=donor,
        collected_at=EPOCH + timedelta(days=rng.randrange(0, 300), hours=rng.randrange(8)),
        collection_timezone="America/Chicago",
        facility="Demonstration Apheresis Unit",
        volume_ml=round(rng.uniform(180, 320), 1),
        total_nucleated_cells=round(rng.uniform(1.0, 3.0), 2) * 1e10,
    )
    db.session.add(donation)
    return donation


def _bags(rng, lot: Lot, pdc: str, trial: Trial, users, positions) -> None:
    furthest = PATH.index(FURTHEST[lot.disposition])
    level = rng.choice(trial.dose_levels)
    for b in range(BAGS_PER_LOT):
        division = f"{chr(ord('A') + b)}0"
        product_code = f"{pdc}V{division}"
        bag = Bag(
            lot=lot,
            din=lot.din,
            product_code=product_code,
            code=f"{lot.din}-{product_code}",
            volume_ml=20.0,
            total_cells=level.dose_cells * 1.25,
            viable_car_nk_cells=level.dose_cells * rng.uniform(0.9, 1.1),
            dose_level_id=level.id,
            expires_at=lot.expires_at,
        )
        db.session.add(bag)
        stop = rng.randrange(0, furthest + 1)
        _walk(bag, stop, lot.manufactured_at, users, positions)


def _walk(bag: Bag, stop: int, start: datetime, users, positions) -> None:
    """Append the custody events of a bag's path up to PATH[stop] and leave it there."""
    actor = users["tech"]
    previous = None
    position = None
    for i, status in enumerate(PATH[: stop + 1]):
        if status is BagStatus.STORED:
            position = positions.pop()
        if status is BagStatus.SHIPPED:
            position = None  # out of the freezer and into the dry shipper
        db.session.add(
            CustodyEvent(
                bag=bag,
                action=status.value,
                from_status=previous,
                to_status=status.value,
                occurred_at=start + timedelta(hours=6 * i),
                actor_id=actor.id,
                location=position,
                condition="intact",
                temperature_c=20.0 if status is BagStatus.FILLED else -180.0,
            )
        )
        previous = status.value
    bag.status = PATH[stop]
    bag.storage_position = position


def _recipients(rng, unit: int, trial: Trial) -> None:
    statuses = [
        RecipientStatus.SCREENING,
        RecipientStatus.ENROLLED,
        RecipientStatus.LYMPHODEPLETION,
    ]
    names = ["Maria Lopez", "James Chen", "Fatima Ali", "Olga Petrova", "John Smith", "Amina Yusuf"]
    for r, name in enumerate(rng.sample(names, 3)):
        db.session.add(
            Recipient(
                subject_id=f"CAR33-{unit + 1:03d}-{r + 1:02d}",
                hospital_record_number=f"MRN{rng.randrange(10**6, 10**7)}",
                name=name,
                birth_date=date(
                    1950 + rng.randrange(40), rng.randrange(1, 13), rng.randrange(1, 28)
                ),
                weight_kg=round(rng.uniform(50, 100), 1),
                weight_measured_on=(EPOCH + timedelta(days=300)).date(),
                site="University Hospital",
                phase=1,
                dose_level_id=trial.dose_levels[1].id,
                status=statuses[r],
            )
        )


def _summary() -> DemoSummary:
    summary = DemoSummary()
    for label, model in (
        ("users", User),
        ("donors", Donor),
        ("donations", Donation),
        ("lots", Lot),
        ("bags", Bag),
        ("custody events", CustodyEvent),
        ("recipients", Recipient),
    ):
        summary.counts[label] = db.session.scalar(select(func.count()).select_from(model))
    summary.accounts = [(u, r.value, n) for u, r, n in DEMO_ACCOUNTS]
    return summary
