"""Donors, eligibility, collections and their receipt at the lab: the rules and the record."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from custody.domain import eligibility
from custody.domain.errors import (
    Conflict,
    Forbidden,
    InvalidBarcode,
    NotFound,
    ValidationFailed,
    WrongCheckCharacter,
)
from custody.domain.isbt128 import check_character
from custody.extensions import db
from custody.models import AuditEntry, CustodyEvent, Donation, Donor
from custody.models.base import utcnow
from custody.services.collection import donations as svc
from custody.services.collection import donors
from tests.races import race

REQUIRED = ("HIV-1/2", "HBV", "HCV")


def _donor(tech, code="DNR-0001", **kw):
    return donors.register_donor(tech, code, kw.get("sex", "F"), kw.get("birth", date(1990, 5, 4)))


def _collect(tech, donor_code="DNR-0001", **overrides):
    fields = {
        "donor_code": donor_code,
        "collected_at": utcnow() - timedelta(hours=3),
        "collection_timezone": "America/Chicago",
        "facility": "Apheresis unit 2",
        "volume_ml": 250.0,
        "total_nucleated_cells": 2.0e10,
        "nk_cells": 3.0e9,
        "viability_pct": 97.5,
    } | overrides
    return svc.record_collection(tech, svc.CollectionRequest(**fields), "W9999")


def _receive(user, scan, condition="intact, cool", temperature_c=6.5):
    return svc.receive_collection(user, svc.ReceiptRequest(scan, condition, temperature_c))


def _negative_tests(user, code, names=REQUIRED):
    for name in names:
        donors.record_donor_test(user, code, name, "non-reactive", date(2026, 1, 5))


def test_a_new_donor_is_pending_and_flagged(make):
    tech = make.user("technician")
    _donor(tech, "dnr-0001")
    detail = donors.donor_detail("DNR-0001", REQUIRED)
    assert detail["donor_code"] == "DNR-0001"
    assert detail["donor_eligibility"] == "pending"
    assert eligibility.NOT_EVALUATED in detail["warnings"]
    assert detail["outstanding_tests"] == list(REQUIRED)


def test_a_donor_code_is_registered_once(make):
    tech = make.user("technician")
    _donor(tech)
    with pytest.raises(Conflict, match="already registered"):
        _donor(tech, "dnr-0001")
    assert db.session.query(Donor).count() == 1


@pytest.mark.parametrize("birth", [date(1850, 1, 1), date(2999, 1, 1)])
def test_an_impossible_birth_date_is_refused(make, birth):
    with pytest.raises(ValidationFailed, match="date of birth"):
        _donor(make.user("technician"), birth=birth)


def test_eligible_needs_every_required_test_non_reactive(make):
    tech, qa = make.user("technician"), make.user("qa", name="Quinn QA")
    _donor(tech)
    donors.record_donor_test(tech, "DNR-0001", "HIV-1/2", "non-reactive", date(2026, 1, 5))
    donors.record_donor_test(tech, "DNR-0001", "HBV", "reactive", date(2026, 1, 5))
    with pytest.raises(ValidationFailed) as refused:
        donors.determine_eligibility(qa, "DNR-0001", "eligible", "", REQUIRED)
    assert refused.value.details["missing_tests"] == ["HCV"]
    assert refused.value.details["not_negative"] == {"HBV": "reactive"}
    assert "HCV" in refused.value.message and "HBV is reactive" in refused.value.message
    db.session.expire_all()
    assert donors.donor_detail("DNR-0001")["donor_eligibility"] == "pending"

    # A retest on a later sample decides; names are matched without regard to case.
    donors.record_donor_test(tech, "DNR-0001", "hbv", "non-reactive", date(2026, 1, 20))
    donors.record_donor_test(tech, "DNR-0001", "HCV", "non-reactive", date(2026, 1, 20))
    donors.determine_eligibility(qa, "DNR-0001", "eligible", "", REQUIRED)
    detail = donors.donor_detail("DNR-0001", REQUIRED)
    assert detail["donor_eligibility"] == "eligible"
    assert detail["warnings"] == []
    assert detail["eligibility_determined_by"] == "Quinn QA"
    assert detail["eligibility_determined_at"] is not None


def test_only_qa_or_admin_determine_eligibility(make):
    tech = make.user("technician")
    _donor(tech)
    with pytest.raises(Forbidden, match="Only QA"):
        donors.determine_eligibility(tech, "DNR-0001", "ineligible", "HBV reactive", REQUIRED)
    donors.determine_eligibility(make.user("admin"), "DNR-0001", "ineligible", "HBV", REQUIRED)
    assert donors.donor_detail("DNR-0001")["donor_eligibility"] == "ineligible"


@pytest.mark.parametrize("determination", ["ineligible", "incomplete"])
def test_ineligible_and_incomplete_need_the_reason(make, determination):
    tech, qa = make.user("technician"), make.user("qa")
    _donor(tech)
    with pytest.raises(ValidationFailed, match="Say why"):
        donors.determine_eligibility(qa, "DNR-0001", determination, "  ", REQUIRED)
    donors.determine_eligibility(qa, "DNR-0001", determination, "urgent medical need", REQUIRED)
    detail = donors.donor_detail("DNR-0001")
    assert detail["eligibility_notes"] == "urgent medical need"
    assert eligibility.ADVISE_PATIENT in detail["warnings"]


def test_a_reactive_result_after_eligibility_reopens_the_determination(make):
    tech, qa = make.user("technician"), make.user("qa")
    _donor(tech)
    _negative_tests(tech, "DNR-0001")
    donors.determine_eligibility(qa, "DNR-0001", "eligible", "", REQUIRED)
    donors.record_donor_test(tech, "DNR-0001", "HCV", "reactive", date(2026, 2, 1))
    detail = donors.donor_detail("DNR-0001", REQUIRED)
    assert detail["donor_eligibility"] == "pending"
    assert "HCV reactive" in detail["eligibility_notes"]
    assert detail["outstanding_tests"] == ["HCV"]


def test_a_collection_gets_a_din_and_keeps_its_time_zone(make):
    tech = make.user("technician")
    _donor(tech)
    chicago = timezone(timedelta(hours=-6))
    collected = datetime(2026, 1, 10, 9, 30, tzinfo=chicago)
    donation = _collect(tech, collected_at=collected)
    detail = svc.donation_detail(donation.din)
    assert detail["din"].startswith("W9999") and len(detail["din"]) == 13
    assert detail["check_character"] == check_character(donation.din)
    assert detail["barcode"] == f"={donation.din}00"
    assert detail["collected_at"] == datetime(2026, 1, 10, 15, 30, tzinfo=UTC)
    assert detail["collected_at_local"] == "2026-01-10T09:30:00-06:00"
    assert detail["status"] == "collected"
    assert detail["donor_eligibility"] == "pending" and detail["warnings"]
    second = _collect(tech)
    assert second.din != donation.din


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"collection_timezone": "Mars/Olympus_Mons"}, "collection_timezone"),
        ({"collection_timezone": "../../etc/passwd"}, "collection_timezone"),
        ({"collected_at": datetime(2026, 1, 10, 9, 30)}, "collected_at"),
        ({"collected_at": utcnow() + timedelta(days=1)}, "collected_at"),
        ({"nk_cells": 5e10}, "nk_cells"),
        ({"facility": "  "}, "facility"),
    ],
)
def test_a_collection_that_cannot_be_right_is_refused(make, overrides, field):
    tech = make.user("technician")
    _donor(tech)
    with pytest.raises(ValidationFailed) as refused:
        _collect(tech, **overrides)
    assert refused.value.details["field"] == field
    assert db.session.query(Donation).count() == 0


def test_a_collection_from_an_unknown_donor_is_refused(make):
    with pytest.raises(NotFound, match="Register the donor"):
        _collect(make.user("technician"), "DNR-9999")


def test_receipt_by_scanning_the_din_barcode_records_who_when_condition(make):
    tech = make.user("technician", name="Tess Tech")
    _donor(tech)
    donation = _collect(tech)
    event = _receive(tech, f"={donation.din}00")
    assert (event.action, event.from_status, event.to_status) == (
        "receive_collection",
        "collected",
        "received",
    )
    assert event.bag_id is None and event.donation_id == donation.id
    assert (event.raw_scan, event.condition, event.temperature_c) == (
        f"={donation.din}00",
        "intact, cool",
        6.5,
    )
    assert (event.from_party, event.to_party) == ("Apheresis unit 2", "cell lab")
    detail = svc.donation_detail(donation.din)
    assert detail["status"] == "received"
    assert detail["received_by"] == "Tess Tech"
    assert detail["received_condition"] == "intact, cool"
    assert detail["received_temperature_c"] == 6.5


def test_receiving_twice_says_when_and_by_whom(make):
    tech = make.user("technician", name="Tess Tech")
    _donor(tech)
    donation = _collect(tech)
    _receive(tech, f"={donation.din}00")
    with pytest.raises(Conflict, match=r"already received .* by Tess Tech"):
        _receive(make.user("technician"), donation.din + check_character(donation.din))
    assert db.session.query(CustodyEvent).count() == 1


def test_a_typed_din_needs_the_right_check_character(make):
    tech = make.user("technician")
    _donor(tech)
    donation = _collect(tech)
    right = check_character(donation.din)
    wrong = "A" if right != "A" else "B"
    with pytest.raises(WrongCheckCharacter):
        _receive(tech, donation.din + wrong)
    db.session.expire_all()
    assert db.session.get(Donation, donation.id).received_at is None
    assert _receive(tech, f"{donation.din} {right}").to_status == "received"


def test_a_bag_label_or_unknown_din_is_not_a_collection(make, make_lot):
    tech = make.user("technician")
    lot = make_lot(bags=1)
    with pytest.raises(InvalidBarcode, match="not a collection"):
        _receive(tech, lot.bags[0].code)
    with pytest.raises(NotFound, match="No collection"):
        _receive(tech, "=W99992699999900")


def test_a_collection_from_an_ineligible_donor_is_flagged_on_the_way(make):
    tech, qa = make.user("technician"), make.user("qa")
    _donor(tech)
    donors.determine_eligibility(qa, "DNR-0001", "ineligible", "HBV NAT reactive", REQUIRED)
    donation = _collect(tech)
    _receive(tech, f"={donation.din}00")
    (listed,) = svc.list_donations(donor="DNR-0001", received=True)
    assert listed["donor_eligibility"] == "ineligible"
    assert listed["warnings"] == [eligibility.BIOHAZARD, eligibility.ADVISE_PATIENT]


def test_every_write_is_audited_with_its_actor(make):
    tech = make.user("technician", username="tess")
    _donor(tech)
    donation = _collect(tech)
    _receive(tech, f"={donation.din}00")
    rows = db.session.execute(
        select(AuditEntry.record_type, AuditEntry.action, AuditEntry.reason).where(
            AuditEntry.actor == "tess"
        )
    ).all()
    assert ("donors", "create", "donor registered") in rows
    assert ("donations", "create", "collection recorded") in rows
    assert ("donations", "update", "collection received at the cell lab") in rows
    assert ("custody_events", "create", "collection received at the cell lab") in rows


def test_two_people_receiving_at_once_one_wins(app, make):
    tech1, tech2 = make.user("technician"), make.user("technician")
    _donor(tech1)
    din = _collect(tech1).din
    outcomes = race(
        app,
        (tech1.username, lambda user: _receive(user, f"={din}00").id),
        (tech2.username, lambda user: _receive(user, f"={din}00").id),
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "int"], outcomes
    assert db.session.query(CustodyEvent).filter_by(action="receive_collection").count() == 1
