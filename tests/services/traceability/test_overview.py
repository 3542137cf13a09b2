"""The lab lead's overview: counts that match what was made, the infusions coming up with
their readiness, excursions and open items each listed until dealt with, and a fixed number
of statements whatever the amount of data."""

from __future__ import annotations

from datetime import timedelta

from custody.extensions import db
from custody.models import Lot
from custody.models.base import utcnow
from custody.services.bags import shipping
from custody.services.bags.scans import ScanRequest, scan
from custody.services.clinic.recipients import site_today
from custody.services.core.audit_trail import acting_as
from custody.services.manufacturing import batch_record
from custody.services.quality.alerts import acknowledge_alert
from custody.services.quality.results import ResultRequest, enter_result
from custody.services.traceability.overview import LAB_OUT_OF_STORAGE, overview
from tests.services.bags.test_storage import _statements as statements
from tests.services.clinic.test_recipients import infused

CLINIC_SITE = "Hope Clinic"


# --- building blocks (also used by the page and API tests) ----------------------------------


def logger_csv(start, temperatures, minutes: int = 10) -> str:
    """A logger file: one reading every `minutes` from `start`."""
    lines = [
        f"{(start + timedelta(minutes=minutes * n)).isoformat()},{celsius}"
        for n, celsius in enumerate(temperatures)
    ]
    return "timestamp,temperature_c\n" + "\n".join(lines) + "\n"


WARM_TRIP = (-185.0, -140.0, -120.5, -180.0)


def dispatched(tech, make_lot, destination: str = CLINIC_SITE, bags: int = 2):
    """A released lot's bags packed into a shipment and handed to the courier."""
    lot = make_lot(disposition="released", status="released", bags=bags)
    shipment = shipping.create_shipment(tech, destination, courier="Cryo Couriers")
    for bag in lot.bags:
        scan(tech, ScanRequest(action="pack", bag=bag.code, shipment=shipment.code))
    shipping.dispatch(tech, shipment.code, "Sam Rivera", lab_name="Cell Lab")
    return shipment, lot


def warm_trip(tech, make_lot, hours_ago: float = 3, temperatures=WARM_TRIP):
    """A dispatched shipment whose logger went above −150 °C `hours_ago` hours ago."""
    shipment, lot = dispatched(tech, make_lot)
    start = utcnow() - timedelta(hours=hours_ago)
    shipping.import_temperatures(tech, shipment.code, logger_csv(start, temperatures))
    return shipment, lot


def deviating_lot(tech, make_lot, **lot_fields):
    lot = make_lot(**lot_fields)
    batch_record.record_step(
        tech,
        lot.lot_number,
        batch_record.StepRequest(
            "CAR transduction",
            utcnow() - timedelta(days=2),
            deviation=True,
            deviation_reason="Vector held thawed 35 min beyond the allowed window.",
        ),
    )
    return lot


def alerted_lot(quality, make_lot, analyst):
    """A positive sterility culture after a conditional release: the lot's alert is open."""
    if quality.specification_missing():
        quality.specification()
    lot = make_lot()
    quality.results(lot.lot_number, by=analyst, skip=("sterility",))
    quality.sign(
        lot.lot_number,
        "conditional_release",
        signer=quality.qa,
        reason="Urgent",
        pending_tests=["sterility"],
    )
    enter_result(analyst, lot.lot_number, ResultRequest("sterility", value_text="positive"))
    return lot


def set_disposition(lot, disposition: str) -> None:
    with acting_as("system:test", reason="test setup"):
        db.session.get(Lot, lot.id).disposition = disposition
        db.session.commit()


def counts(result: dict) -> dict[str, int]:
    return {row["disposition"]: row["count"] for row in result["lots"]["by_disposition"]}


def matrix(result: dict) -> dict[tuple[str, str], dict[str, int]]:
    """(site, kind) → {state: count} for the states with bags."""
    return {
        (row["site"], row["kind"]): {s: n for s, n in row["counts"].items() if n}
        for row in result["bags"]["sites"]
    }


# --- lots -----------------------------------------------------------------------------------


def test_lots_are_counted_in_each_disposition_and_those_awaiting_qa_listed_with_age(make_lot):
    made = {"quarantine": 2, "released": 1, "conditionally_released": 1, "rejected": 3}
    lots = {d: [make_lot(disposition=d) for _ in range(n)] for d, n in made.items()}
    make_lot(bags=0)  # nothing filled yet: counted, but nothing for QA to decide on
    oldest = lots["quarantine"][0]
    now = oldest.created_at + timedelta(days=3, hours=12)
    result = overview(now)
    assert counts(result) == made | {"quarantine": 3}
    assert result["lots"]["total"] == 8
    awaiting = {row["lot"]: row for row in result["lots"]["awaiting_qa"]}
    expected = {lot.lot_number for lot in lots["quarantine"] + lots["conditionally_released"]}
    assert set(awaiting) == expected
    assert awaiting[oldest.lot_number]["age_days"] == 3.5
    assert awaiting[oldest.lot_number]["bags"] == 2
    assert awaiting[lots["conditionally_released"][0].lot_number]["disposition"] == (
        "conditionally_released"
    )
    assert result["lots"]["awaiting_qa"][0]["lot"] == oldest.lot_number  # oldest first


# --- bags -----------------------------------------------------------------------------------


def test_bags_are_counted_by_state_where_they_are(tech, make_lot):
    positions = make_lot.positions(3, prefix="ALPHA")
    waiting = make_lot(bags=3)
    for bag, position in zip(waiting.bags[:2], positions, strict=False):
        scan(tech, ScanRequest(action="store", bag=bag.code, location=position.code))
    shipment, travelling = dispatched(tech, make_lot)
    scan(tech, ScanRequest(action="receive", bag=travelling.bags[0].code, shipment=shipment.code))
    packed = make_lot(disposition="released", status="released", bags=1)
    not_yet = shipping.create_shipment(tech, "Elsewhere Hospital")
    scan(tech, ScanRequest(action="pack", bag=packed.bags[0].code, shipment=not_yet.code))

    result = overview()
    assert matrix(result) == {
        ("Site ALPHA", "storage"): {"stored": 2},
        (LAB_OUT_OF_STORAGE, "lab"): {"quarantined": 1, "shipped": 1},
        (CLINIC_SITE, "clinical"): {"received": 1, "shipped": 1},
    }
    assert [row["site"] for row in result["bags"]["sites"]] == [
        "Site ALPHA",
        LAB_OUT_OF_STORAGE,
        CLINIC_SITE,
    ]
    assert result["bags"]["sites"][0]["location"] == "LOC-ALPHA-SITE"
    by_state = {s: n for s, n in result["bags"]["by_state"].items() if n}
    assert by_state == {"stored": 2, "quarantined": 1, "shipped": 2, "received": 1}
    assert result["bags"]["total"] == 6


# --- infusions ------------------------------------------------------------------------------


def test_upcoming_infusions_are_listed_with_whether_a_released_bag_is_ready(clinic, make_lot):
    today = site_today()
    ready = clinic.recipient(status="lymphodepletion")
    (bag,) = clinic.released_bags(1)
    clinic.allocate(bag, ready)
    lacking = clinic.recipient(status="enrolled")
    held = clinic.recipient(status="lymphodepletion")
    clinic.allocate(make_lot(status="released", bags=1).bags[0], held)
    second = clinic.recipient(
        status="infused", day0=today - timedelta(3), second_infusion_ordered=True
    )
    infused(clinic, second, 1, days_ago=3)
    no_second = clinic.recipient(status="infused", day0=today - timedelta(3))
    infused(clinic, no_second, 1, days_ago=3)
    clinic.recipient(status="screening")

    rows = {(r["subject_id"], r["infusion_number"]): r for r in overview()["upcoming_infusions"]}
    assert set(rows) == {
        (ready.subject_id, 1),
        (lacking.subject_id, 1),
        (held.subject_id, 1),
        (second.subject_id, 2),
    }
    assert rows[(ready.subject_id, 1)]["ready"] is True
    assert rows[(ready.subject_id, 1)]["bags"] == [{"code": bag.code, "status": "allocated"}]
    assert rows[(lacking.subject_id, 1)]["ready"] is False
    assert "No bag is allocated" in rows[(lacking.subject_id, 1)]["problem"]
    assert "in quarantine" in rows[(held.subject_id, 1)]["problem"]
    due = rows[(second.subject_id, 2)]
    assert (due["due_on"], due["schedule"], due["ready"]) == (
        today + timedelta(4),
        "upcoming",
        False,
    )


# --- excursions -----------------------------------------------------------------------------


def test_a_recent_shipper_excursion_is_listed_and_an_old_one_is_not(tech, make_lot):
    recent, _ = warm_trip(tech, make_lot, hours_ago=3)
    warm_trip(tech, make_lot, hours_ago=24 * 40)
    cold, _ = dispatched(tech, make_lot)
    start = utcnow() - timedelta(hours=2)
    shipping.import_temperatures(tech, cold.code, logger_csv(start, (-185.0, -182.0)))

    (excursion,) = overview()["excursions"]
    assert excursion["shipment"] == recent.code
    assert excursion["destination"] == CLINIC_SITE
    assert (excursion["peak_c"], excursion["readings"], excursion["ongoing"]) == (-120.5, 2, False)
    assert excursion["duration_minutes"] == 20.0
    assert excursion["storage_limit_c"] == -150.0


# --- what is open ---------------------------------------------------------------------------


def test_batch_step_deviations_are_listed_until_the_lot_is_dispositioned(tech, make_lot):
    open_lot = deviating_lot(tech, make_lot)
    decided = deviating_lot(tech, make_lot)
    set_disposition(decided, "rejected")
    (row,) = overview()["deviations"]["batch_steps"]
    assert (row["lot"], row["sequence"], row["step"]) == (
        open_lot.lot_number,
        1,
        "CAR transduction",
    )
    assert "35 min" in row["reason"]


def test_a_missing_bag_stays_open_until_it_is_accounted_for(tech, make_lot, make):
    shipment, lot = dispatched(tech, make_lot)
    lost, arrived = lot.bags
    nurse = make.user("nurse")
    shipping.record_discrepancy(nurse, shipment.code, "missing", "Not in the shipper.", lost.code)
    scan(nurse, ScanRequest(action="receive", bag=arrived.code, shipment=shipment.code))
    shipping.record_discrepancy(
        nurse, shipment.code, "unexpected", "A bag of another lab.", "NOT-A-BAG-OF-OURS"
    )
    shipping.complete_receipt(nurse, shipment.code)

    open_now = overview()["deviations"]["discrepancies"]
    assert {(d["kind"], d["bag"], d["shipment"]) for d in open_now} == {
        ("missing", lost.code, shipment.code),
        ("unexpected", None, shipment.code),
    }
    unexpected = next(d for d in open_now if d["kind"] == "unexpected")
    assert unexpected["raw_scan"] == "NOT-A-BAG-OF-OURS"
    # The bag turns up and is sent back; the unexpected scan ages out of the recent period.
    scan(tech, ScanRequest(action="return", bag=lost.code, reason="Found at the courier."))
    assert overview(utcnow() + timedelta(days=31))["deviations"]["discrepancies"] == []


def test_an_unacknowledged_alert_is_listed_then_gone_after_acknowledgement(quality, make_lot, tech):
    lot = alerted_lot(quality, make_lot, tech)
    (alert,) = overview()["deviations"]["alerts"]
    assert alert["lot"] == lot.lot_number and len(alert["affected"]) == 2
    assert "out of specification" in alert["message"]
    acknowledge_alert(quality.qa, alert["id"], "Treating physicians informed.")
    assert overview()["deviations"]["alerts"] == []


def test_lots_in_quarantine_from_donors_not_eligible_are_listed(make_lot):
    incomplete = make_lot(eligibility="incomplete")
    pending = make_lot(eligibility="pending")
    make_lot(eligibility="eligible")
    make_lot(eligibility="incomplete", disposition="conditionally_released")
    rows = {r["lot"]: r for r in overview()["deviations"]["donor_eligibility"]}
    assert set(rows) == {incomplete.lot_number, pending.lot_number}
    assert rows[incomplete.lot_number]["determination"] == "incomplete"
    assert "NOT EVALUATED FOR INFECTIOUS SUBSTANCES" in rows[incomplete.lot_number]["statements"]
    assert "acknowledges" in rows[incomplete.lot_number]["action"]
    assert rows[pending.lot_number]["action"].startswith("No release")


# --- cost -----------------------------------------------------------------------------------


def grow(tech, make_lot, quality, clinic) -> None:
    """One more of everything the overview reads (set up cheaply: few new accounts)."""
    for disposition in ("quarantine", "released", "conditionally_released", "rejected"):
        make_lot(disposition=disposition, eligibility="incomplete")
    positions = make_lot.positions(2)
    for bag, position in zip(make_lot(bags=2).bags, positions, strict=True):
        scan(tech, ScanRequest(action="store", bag=bag.code, location=position.code))
    shipment, lot = warm_trip(tech, make_lot)
    shipping.record_discrepancy(tech, shipment.code, "missing", "Not found.", lot.bags[0].code)
    deviating_lot(tech, make_lot)
    alerted_lot(quality, make_lot, tech)
    waiting = clinic.recipient(status="lymphodepletion")
    clinic.allocate(make_lot(disposition="released", status="released", bags=1).bags[0], waiting)
    clinic.recipient(status="enrolled")
    # Day 0 set: infusion 1 is done as far as the calendar goes, infusion 2 is due in 4 days.
    day0 = site_today() - timedelta(3)
    clinic.recipient(status="infused", day0=day0, second_infusion_ordered=True)


def test_the_overview_reads_in_the_same_few_statements_however_much_there_is(
    tech, make_lot, quality, clinic
):
    grow(tech, make_lot, quality, clinic)
    db.session.commit()
    few = statements(overview)
    small = overview()
    for _ in range(3):
        grow(tech, make_lot, quality, clinic)
    db.session.commit()
    many = statements(overview)
    large = overview()
    assert many == few <= 16
    assert large["lots"]["total"] == 4 * small["lots"]["total"]
    assert len(large["excursions"]) == 4 * len(small["excursions"]) == 4
    for listed in ("batch_steps", "discrepancies", "alerts", "donor_eligibility"):
        assert len(large["deviations"][listed]) == 4 * len(small["deviations"][listed]) > 0
    assert len(large["upcoming_infusions"]) == 4 * len(small["upcoming_infusions"]) == 12
