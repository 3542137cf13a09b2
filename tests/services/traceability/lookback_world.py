"""The small world the lookback tests read, and names for what an answer holds.

Donors A and B pooled into lot P (its first bag divided: Aa infused into R1, Ab de-allocated
from R2 and then R3's), donor A's second donation in lot S (S-A0 infused into R1, who so had
two infusions; S-B0 R2's), donor C's lot T sharing the reagent lot IL2-SHARED with S, donor D
whose collection is in no lot yet, donor E with no collection, and R4 with no bag. Built through
the services where they exist (collections, lots, batch records, filling, division); the
clinic's rows are written as test setup, as ClinicFactory does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from custody.extensions import db
from custody.models import Donation, Infusion, Lot
from custody.services.collection import donations as coll
from custody.services.collection import donors
from custody.services.core.audit_trail import acting_as
from custody.services.manufacturing import batch_record
from custody.services.manufacturing import divisions as div
from tests.services.manufacturing.test_lots import _lot, _received, _spec

# Infusions two weeks and one week ago: every time the services check is in the past.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=14)
ENDED = "Recipient febrile: infusion postponed, bag returned."


@dataclass
class World:
    donor: dict[str, str]  # A..E → donor code
    din: dict[str, str]  # a1, a2, b, c, d → DIN; P → the pooled lot's own DIN
    lot: dict[str, str]  # P, S, T → lot number
    bag: dict[str, str]  # P-A0, P-Aa, P-Ab, P-B0, S-A0, S-B0, T-A0 → bag code
    subject: dict[str, str]  # R1, R2, R3, R4 → subject ID


def build_world(make, clinic) -> World:
    tech = make.user("technician")
    dins = {name: _received(tech) for name in ("a1", "b", "c", "d")}
    dins["a2"] = _second_donation(tech, dins["a1"])
    codes = {name.upper(): _donor_code(dins[name]) for name in ("b", "c", "d")}
    codes["A"] = _donor_code(dins["a1"])
    codes["E"] = donors.register_donor(tech, "DNR-LB-EMPTY", "F", date(1990, 5, 1)).donor_code
    lots = {
        "P": _lot(tech, dins["a1"], dins["b"]),
        "S": _lot(tech, dins["a2"]),
        "T": _lot(tech, dins["c"]),
    }
    dins["P"] = lots["P"].din
    bags = _manufacture(tech, lots)
    subjects = _treat(make, clinic, bags)
    return World(
        donor=codes,
        din=dins,
        lot={name: lot.lot_number for name, lot in lots.items()},
        bag={name: bag.code for name, bag in bags.items()},
        subject=subjects,
    )


def _manufacture(tech, lots: dict[str, Lot]) -> dict:
    """Batch records, bags filled (P's first bag divided in two), lots P and S released."""
    pooled, single, third = (lots[name].lot_number for name in "PST")
    _batch_record(tech, pooled, ("reagent", "IL-2", "IL2-P"), ("vector", "CD33 CAR", "LV-P"))
    _batch_record(tech, single, ("reagent", "IL-2", "IL2-SHARED"), ("vector", "CD33 CAR", "LV-S"))
    _batch_record(tech, third, ("reagent", "IL-2", "IL2-SHARED"))
    bags = {}
    for name, count in (("P", 2), ("S", 2), ("T", 1)):
        for bag in div.fill_bags(tech, lots[name].lot_number, [_spec()] * count):
            bags[f"{name}-{bag.division}"] = bag
    for child in div.split_bag(tech, pooled, bags["P-A0"].code, div.SplitRequest(parts=2)):
        bags[f"P-{child.division}"] = child
    _release(lots["P"], lots["S"])
    return bags


def _treat(make, clinic, bags: dict) -> dict[str, str]:
    """R1 infused twice (P-Aa, S-A0); P-Ab de-allocated from R2, then R3's; S-B0 R2's."""
    nurses = (make.user("nurse"), make.user("nurse"))
    r1, r2, r3 = (clinic.recipient(subject_id=f"LB-R{n}") for n in (1, 2, 3))
    r4 = clinic.recipient(subject_id="LB-R4", status="enrolled")
    _infuse(clinic, nurses, bags["P-Aa"], r1, 1, T0)
    _infuse(clinic, nurses, bags["S-A0"], r1, 2, T0 + timedelta(days=7))
    _deallocate(clinic.allocate(bags["P-Ab"], r2), T0 - timedelta(days=2), T0 - timedelta(days=1))
    clinic.allocate(bags["P-Ab"], r3)
    clinic.allocate(bags["S-B0"], r2)
    return {f"R{n}": r.subject_id for n, r in enumerate((r1, r2, r3, r4), start=1)}


def _second_donation(tech, din: str) -> str:
    donor = _donor_code(din)
    request = coll.CollectionRequest(
        donor_code=donor,
        collected_at=T0 - timedelta(days=30),
        collection_timezone="Europe/Berlin",
        facility="Second apheresis unit",
        volume_ml=230.0,
    )
    second = coll.record_collection(tech, request, "W9999").din
    coll.receive_collection(tech, coll.ReceiptRequest(f"={second}00", "intact", 6.5))
    return second


def _donor_code(din: str) -> str:
    return db.session.scalar(select(Donation).where(Donation.din == din)).donor.donor_code


def _batch_record(tech, lot_number: str, *materials) -> None:
    """Two steps, the first material used in both: a lot names a reagent lot once."""
    used = [batch_record.MaterialRequest(*m) for m in materials]
    for day, step in enumerate(("Expansion day 0", "Expansion day 7")):
        request = batch_record.StepRequest(
            step=step,
            started_at=datetime.now(UTC) - timedelta(hours=4 - day),
            materials=used if day == 0 else used[:1],
        )
        batch_record.record_step(tech, lot_number, request)


def _release(*lots: Lot) -> None:
    """Released lots with released bags (the divided parent stays discarded)."""
    with acting_as("system:test", reason="test setup"):
        for lot in lots:
            lot.disposition = "released"
            for bag in lot.bags:
                if bag.status.value != "discarded":
                    bag.status = "released"
        db.session.commit()


def _infuse(clinic, nurses, bag, recipient, number: int, started: datetime) -> None:
    """An allocation and its infusion record, as the bedside would have left them."""
    allocation = clinic.allocate(bag, recipient, number)
    with acting_as("system:test", reason="test setup"):
        db.session.add(
            Infusion(
                allocation_id=allocation.id,
                bag_id=bag.id,
                recipient_id=recipient.id,
                infusion_number=number,
                started_at=started,
                ended_at=started + timedelta(minutes=15),
                volume_ml=10.0,
                first_verifier_id=nurses[0].id,
                second_verifier_id=nurses[1].id,
            )
        )
        bag.status = "infused"
        db.session.commit()


def _deallocate(allocation, allocated: datetime, ended: datetime) -> None:
    with acting_as("system:test", reason="test setup"):
        allocation.allocated_at = allocated
        allocation.active = False
        allocation.ended_at = ended
        allocation.ended_by_id = allocation.allocated_by_id
        allocation.end_reason = ENDED
        allocation.bag.status = "released"
        db.session.commit()


# --- what the answers hold, named -----------------------------------------------------------


def codes(answer: dict, key: str, field: str) -> list:
    return [item[field] for item in answer[key]]


def bag_rows(answer: dict) -> list[tuple]:
    return [
        (b["code"], b["division"], b["status"], b["recipient"], b["infused"])
        for b in answer["bags"]
    ]


def recipient_rows(answer: dict) -> list[tuple]:
    return [(r["subject_id"], r["bags"], r["infused_bags"]) for r in answer["recipients"]]


def allocation_rows(answer: dict) -> list[tuple]:
    return [
        (a["bag"], a["recipient"], a["infusion_number"], a["active"]) for a in answer["allocations"]
    ]


def infusion_rows(answer: dict) -> list[tuple]:
    return [
        (i["bag"], i["recipient"], i["infusion_number"], i["started_at"])
        for i in answer["infusions"]
    ]


def pooled_bags(w: World) -> list[tuple]:
    """Lot P's bags: A0 divided (so discarded), Aa infused into R1, Ab now R3's, B0 free."""
    return [
        (w.bag["P-A0"], "A0", "discarded", None, False),
        (w.bag["P-Aa"], "Aa", "infused", w.subject["R1"], True),
        (w.bag["P-Ab"], "Ab", "allocated", w.subject["R3"], False),
        (w.bag["P-B0"], "B0", "released", None, False),
    ]
