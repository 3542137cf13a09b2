"""Donors, eligibility, collections and receipt through the API, by token and by session."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from custody.domain import eligibility
from custody.domain.isbt128 import check_character
from custody.models.base import utcnow
from tests.api import responses
from tests.conftest import change_settings
from tests.factories import PASSWORD

DONOR = {"donor_code": "DNR-0100", "sex": "F", "birth_date": "1991-07-14"}
TESTS = ("HIV-1/2", "HBV", "HCV", "HTLV-I/II", "Syphilis", "WNV")


def _collection(**overrides) -> dict:
    return {
        "donor": "DNR-0100",
        "collected_at": (utcnow() - timedelta(hours=2)).astimezone().isoformat(),
        "collection_timezone": "America/Chicago",
        "facility": "Apheresis unit 2",
        "volume_ml": 260.0,
        "total_nucleated_cells": 2.1e10,
        "nk_cells": 2.5e9,
        "viability_pct": 98.0,
    } | overrides


@pytest.fixture
def donation(client, tech) -> dict:
    responses.ok(client.post("/api/v1/donors", json=DONOR, headers=tech), 201)
    return responses.ok(client.post("/api/v1/donations", json=_collection(), headers=tech), 201)


def test_a_donor_through_tests_to_an_eligible_determination(client, make, tech):
    qa = make.auth("qa", name="Quinn QA")
    donor = responses.ok(client.post("/api/v1/donors", json=DONOR, headers=tech), 201)
    assert donor["donor_eligibility"] == "pending"
    assert donor["warnings"] == [eligibility.NOT_EVALUATED, eligibility.ADVISE_PATIENT]
    assert donor["outstanding_tests"] == list(TESTS)

    refused = client.post(
        "/api/v1/donors/DNR-0100/eligibility", json={"determination": "eligible"}, headers=qa
    )
    assert "no result for HIV-1/2" in responses.error(refused, 422, "validation_error")["message"]

    for test in TESTS:
        body = {"test": test, "result": "non-reactive", "sampled_on": "2026-01-05"}
        responses.ok(client.post("/api/v1/donors/DNR-0100/tests", json=body, headers=tech), 201)
    done = responses.ok(
        client.post(
            "/api/v1/donors/DNR-0100/eligibility", json={"determination": "eligible"}, headers=qa
        ),
        200,
    )
    assert done["donor_eligibility"] == "eligible" and done["warnings"] == []
    assert done["eligibility_determined_by"] == "Quinn QA"
    assert done["outstanding_tests"] == []
    listed = responses.ok(client.get("/api/v1/donors?eligibility=eligible", headers=qa), 200)
    assert [d["donor_code"] for d in listed["items"]] == ["DNR-0100"]


def test_the_required_tests_are_a_setting(app, client, make, tech):
    change_settings(app, CUSTODY_DONOR_TESTS="HIV-1/2, HBV")
    responses.ok(client.post("/api/v1/donors", json=DONOR, headers=tech), 201)
    for test in ("HIV-1/2", "HBV"):
        body = {"test": test, "result": "non-reactive", "sampled_on": "2026-01-05"}
        responses.ok(client.post("/api/v1/donors/DNR-0100/tests", json=body, headers=tech), 201)
    response = client.post(
        "/api/v1/donors/DNR-0100/eligibility",
        json={"determination": "eligible"},
        headers=make.auth("qa"),
    )
    assert responses.ok(response, 200)["required_tests"] == ["HIV-1/2", "HBV"]


@pytest.mark.parametrize("role", ["technician", "nurse"])
def test_only_qa_or_admin_determine_eligibility(client, make, tech, role):
    responses.ok(client.post("/api/v1/donors", json=DONOR, headers=tech), 201)
    response = client.post(
        "/api/v1/donors/DNR-0100/eligibility",
        json={"determination": "ineligible", "notes": "HBV reactive"},
        headers=make.auth(role),
    )
    responses.error(response, 403, "forbidden")
    donor = responses.ok(client.get("/api/v1/donors/DNR-0100", headers=tech), 200)
    assert donor["donor_eligibility"] == "pending"


def test_a_duplicate_donor_and_an_unknown_one(client, tech):
    responses.ok(client.post("/api/v1/donors", json=DONOR, headers=tech), 201)
    responses.error(client.post("/api/v1/donors", json=DONOR, headers=tech), 409, "conflict")
    responses.error(client.get("/api/v1/donors/DNR-9", headers=tech), 404, "not_found")


def test_a_collection_is_answered_with_its_din_and_check_character(client, donation, tech):
    din = donation["din"]
    assert re.fullmatch(r"W9999\d{8}", din)
    assert donation["check_character"] == check_character(din)
    assert donation["status"] == "collected"
    assert donation["donor_eligibility"] == "pending" and donation["warnings"]
    typed = din + donation["check_character"]
    assert responses.ok(client.get(f"/api/v1/donations/{typed}", headers=tech), 200)["din"] == din
    listed = responses.ok(
        client.get("/api/v1/donations?donor=DNR-0100&received=false", headers=tech), 200
    )
    assert [d["din"] for d in listed["items"]] == [din]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"collected_at": "2026-01-10T09:30:00"}, "collected_at"),
        ({"collection_timezone": "Atlantis/Central"}, "collection_timezone"),
        ({"volume_ml": 0}, "volume_ml"),
        ({"viability_pct": 101}, "viability_pct"),
        ({"collected_at": "9999-12-31T23:59:59-05:00"}, "collected_at"),
    ],
)
def test_a_collection_that_cannot_be_right_is_422(client, tech, overrides, field):
    responses.ok(client.post("/api/v1/donors", json=DONOR, headers=tech), 201)
    response = client.post("/api/v1/donations", json=_collection(**overrides), headers=tech)
    error = responses.error(response, 422, "validation_error")
    assert field in str(error)
    assert responses.ok(client.get("/api/v1/donations", headers=tech), 200)["items"] == []


def test_only_the_lab_records_collections(client, make, tech):
    responses.ok(client.post("/api/v1/donors", json=DONOR, headers=tech), 201)
    for role in ("nurse", "qa"):
        response = client.post("/api/v1/donations", json=_collection(), headers=make.auth(role))
        responses.error(response, 403, "forbidden")


def test_receipt_by_scan_then_a_second_receipt_names_the_first(client, make, donation, tech):
    din = donation["din"]
    body = {"scan": f"={din}00", "condition": "intact, 4 °C pack", "temperature_c": 5.5}
    received = responses.ok(client.post("/api/v1/donations/receipts", json=body, headers=tech), 201)
    event = received["event"]
    assert (event["action"], event["from_status"], event["to_status"]) == (
        "receive_collection",
        "collected",
        "received",
    )
    assert event["donation"] == din and event["raw_scan"] == f"={din}00"
    assert (event["to_party"], event["temperature_c"]) == ("cell lab", 5.5)
    assert event["actor"] == "Tess Tech"
    assert received["donation"]["status"] == "received"
    assert received["donation"]["received_condition"] == "intact, 4 °C pack"

    again = client.post(
        "/api/v1/donations/receipts",
        json=body | {"scan": din + check_character(din)},
        headers=make.auth("technician"),
    )
    error = responses.error(again, 409, "conflict")
    assert "already received" in error["message"] and "Tess Tech" in error["message"]


def test_a_wrong_check_character_is_422_and_changes_nothing(client, donation, tech):
    din = donation["din"]
    wrong = "A" if donation["check_character"] != "A" else "B"
    body = {"scan": din + wrong, "condition": "intact", "temperature_c": 5.0}
    response = client.post("/api/v1/donations/receipts", json=body, headers=tech)
    responses.error(response, 422, "wrong_check_character")
    assert (
        responses.ok(client.get(f"/api/v1/donations/{din}", headers=tech), 200)["received_at"]
        is None
    )


def test_receipt_needs_condition_and_temperature(client, donation, tech):
    body = {"scan": f"={donation['din']}00"}
    error = responses.error(
        client.post("/api/v1/donations/receipts", json=body, headers=tech), 422, "validation_error"
    )
    assert "condition" in str(error) and "temperature_c" in str(error)


def test_receipt_from_the_browser_scan_station_needs_the_csrf_token(client, make, donation):
    user = make.user("technician", username="station1")
    csrf = _csrf_token(client.get("/login"))
    login = {"username": user.username, "password": PASSWORD, "csrf_token": csrf}
    assert client.post("/login", data=login).status_code == 302
    csrf = _csrf_token(client.get("/"))
    body = {"scan": f"={donation['din']}00", "condition": "intact", "temperature_c": 6.0}

    without = client.post("/api/v1/donations/receipts", json=body)
    assert without.status_code == 400 and "CSRF" in without.get_json()["error"]["message"]
    with_token = client.post("/api/v1/donations/receipts", json=body, headers={"X-CSRFToken": csrf})
    assert responses.ok(with_token, 201)["event"]["actor_username"] == "station1"


def _csrf_token(page) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))[1]
