"""The lab side of a unit: donors and their tests, collections received, lots, batch records."""

from __future__ import annotations

from datetime import date, datetime

from custody.config import settings
from custody.domain import isbt128
from custody.domain.formatting import cell_count
from custody.models import (
    BatchMaterial,
    BatchStep,
    CustodyEvent,
    Disposition,
    Donation,
    Donor,
    DonorTest,
    Eligibility,
    Lot,
)
from custody.services.core.identifiers import take_dins
from custody.services.demo.scenario import (
    BATCH_STEPS,
    DAY,
    DEVIATIONS,
    DONORS,
    EPOCH,
    FACILITIES,
    HOUR,
    MATERIALS,
    MIN,
    RECENT_COLLECTIONS,
    Unit,
)


def lots(unit: Unit) -> list[Lot]:
    """A unit's donors, their collections as received at the lab, and the lots made of them."""
    dins = take_dins(settings().fin, 26, 8)
    lots = []
    for d, (eligibility, dispositions) in enumerate(DONORS):
        collected = EPOCH + DAY * unit.rng.randrange(0, 180) + HOUR * unit.rng.randrange(6)
        collected = RECENT_COLLECTIONS.get(d, collected)
        donor = _donor(unit, d, eligibility, collected)
        for k, disposition in enumerate(dispositions):
            donation = _donation(unit, donor, dins.pop(0), collected + DAY * k)
            lots.append(_lot(unit, len(lots), donation, disposition))
    return lots


def _donor(unit: Unit, d: int, eligibility: Eligibility, collected: datetime) -> Donor:
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


def _donation(unit: Unit, donor: Donor, din: str, collected: datetime) -> Donation:
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


def _lot(unit: Unit, n: int, donation: Donation, disposition: Disposition) -> Lot:
    started = donation.received_at + 20 * HOUR  # expansion starts the next morning
    filled = started + 15 * DAY + 5 * HOUR
    lot = Lot(
        lot_number=f"L26-{unit.number:04d}-{n + 1:02d}",
        din=donation.din,
        product_description_code=settings().product_description_code,
        disposition=disposition,
        # Made under the specification in force, which judges it for good (a new version
        # applies to new lots only).
        specification=unit.specification,
        manufactured_at=filled,
        expires_at=filled + 730 * DAY,
        created_at=started - HOUR,
    )
    lot.donations.append(donation)
    lot.steps.extend(_batch_record(unit, lot, started, filled))
    unit.rows.append(lot)
    return lot


def _batch_record(unit: Unit, lot: Lot, started: datetime, filled: datetime) -> list[BatchStep]:
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
                observations=f"Viable NK cells {cell_count(viable)}; "
                f"viability {rng.uniform(88, 98):.0f} %",
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
