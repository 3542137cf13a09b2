"""A realistic, deterministic demo data set: same seed, same data.

One scale unit holds 4 donors (eligible, incomplete, ineligible), 8 collections received at
the lab, 8 lots with their batch records, 25 bags per lot spread over every state of the life
cycle, the storage they sit in, shipments to the clinical site (one in transit, one with a
missing bag, one with a temperature excursion), recipients at every step of the schedule
(awaiting product, allocated, thawed, infused once and twice, in follow-up, gone to
transplant), allocations, thaws, two-person bedside checks (one wrong patient caught) and
infusions: about a thousand custody events, so `--scale 100` gives about 10^5.

Every lot is judged by the one approved specification and holds the QC results reported by
now; QA signed what its disposition says (two released, one of them exceptionally, and one
with a corrected result; one conditionally released with sterility pending; two rejected),
each with its certificate. Three lots wait in quarantine: one with every result in, one with
results still coming, and one sent back by a positive sterility after its conditional release,
with the alert naming its bags and recipients.

Each bag walks a path through the life-cycle table: `bag_lifecycle.plan` is asked at every
step, so the demo cannot hold a history the rules would refuse; each QA decision passes the
release service's checks likewise. Times come from fixed epochs and the seeded generator only.
Rows are built in their final state and written in bulk, a few flushes per unit, so the audit
trail records each row once (a correction, a certificate and the alert update rows, as the
services do).

The work is split by side: `scenario` holds the tables, `storage` the freezer, `lab` donors to
batch records, `journeys` each bag's path and shipment, `clinic` recipients to infusions,
`quality` results, signatures, certificates and the alert, `labelling` the labels printed and
applied; `summary` counts what was loaded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from custody.config import settings
from custody.extensions import db
from custody.models import (
    Allocation,
    Bag,
    BatchStep,
    BedsideVerification,
    CustodyEvent,
    DemoMark,
    Donation,
    Donor,
    DoseBasis,
    DoseLevel,
    DoseLevelStatus,
    FollowUpSample,
    Infusion,
    LocationKind,
    Lot,
    QcResult,
    QualityAlert,
    Recipient,
    ReleaseDecision,
    Shipment,
    ShipmentTemperature,
    StorageLocation,
    Thaw,
    Trial,
    User,
)
from custody.services.core.audit_trail import acting_as
from custody.services.demo import clinic, journeys, lab, labelling, quality
from custody.services.demo.scenario import ACTOR, DEMO_ACCOUNTS, DEMO_PASSWORD, LAB, Unit
from custody.services.demo.storage import build_storage

__all__ = ["DEMO_ACCOUNTS", "DEMO_PASSWORD", "DemoSummary", "database_is_empty", "load_demo"]


@dataclass
class DemoSummary:
    counts: dict[str, int] = field(default_factory=dict)
    accounts: list[tuple[str, str, str]] = field(default_factory=list)


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(User))


def load_demo(scale: int = 1, seed: int = 1) -> DemoSummary:
    rng = random.Random(seed)
    # Only a database that held nothing becomes a demo database (see DemoMark).
    first_load = database_is_empty()
    with acting_as(ACTOR, reason="demo data"):
        if first_load:
            db.session.add(DemoMark(scale=scale, seed=seed))
        users = _accounts()
        trial = _trial()
        site = StorageLocation(code="LOC-SITE1", name=LAB, kind=LocationKind.SITE)
        db.session.add(site)
        shipments = _shipment_numbers()
        pdc = settings().product_description_code
        specification = quality.approved_specification(users, pdc)
        labelling.approve_templates(users)
        templates = labelling.Templates()
        for number in range(scale):
            unit = Unit(rng, number, users, trial, specification=specification)
            build_storage(unit, site)
            _build(unit, shipments, templates)
            db.session.commit()
    return summary()


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
        # Phase 1 (dose escalation) is enrolling; DL3 is already declared the recommended dose.
        current_phase=1,
        # The product setting: thawed cells may wait at most 60 min for the infusion.
        post_thaw_minutes=60,
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


def _build(unit: Unit, shipment_codes, templates: labelling.Templates) -> None:
    """Donors, collections and lots of one unit, their bags' journeys, the clinic side, then
    QC and QA (last: the alert must find every allocation and infusion already there)."""
    lots = lab.lots(unit)
    journeys.send(unit, lots, shipment_codes)
    db.session.add_all(unit.rows)
    db.session.flush()
    clinic.finish(unit)
    quality.review(unit, lots)
    labelling.label_lots(unit, lots, templates)


def summary() -> DemoSummary:
    """How many rows of each kind the database holds, and the demo accounts."""
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
        ("thaws", Thaw),
        ("bedside verifications", BedsideVerification),
        ("infusions", Infusion),
        ("follow-up samples", FollowUpSample),
        ("QC results", QcResult),
        ("signed lot decisions", ReleaseDecision),
        ("quality alerts", QualityAlert),
    ):
        summary.counts[label] = db.session.scalar(select(func.count()).select_from(model))
    summary.accounts = [(u, r.value, n) for u, r, n in DEMO_ACCOUNTS]
    return summary
