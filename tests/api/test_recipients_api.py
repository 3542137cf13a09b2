"""Recipients and follow-up samples over the API: registration, the record with its calendar,
the wristband a scanner reads, status and orders, and a sample from the ward to the lab."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from custody.cli import custody_command
from custody.domain.wristband import read_wristband
from custody.extensions import db
from custody.models import AuditEntry, Recipient
from custody.services.clinic.recipients import site_today
from tests.api.responses import error, ok
from tests.services.clinic.test_follow_up_samples import read_svg_barcode

URL = "/api/v1/recipients"
NEW = {
    "subject_id": "CAR33-001-01",
    "hospital_record_number": "MRN0042",
    "name": "Ada Lovelace",
    "birth_date": "1961-12-10",
    "weight_kg": 64.5,
    "weight_measured_on": "2026-01-05",
    "site": "University Hospital",
    "phase": 1,
    "dose_level": "DL2",
}


def _count() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count(Recipient.id))),
        db.session.scalar(select(func.count(AuditEntry.id))),
    )


def _identity_of(structures: list[dict]) -> list[tuple[str, str]]:
    """What each parsed ISBT 128 structure says of the patient."""
    return [(s["structure"], s.get("patient_id") or s.get("date_of_birth")) for s in structures]


@pytest.fixture
def nurse(nurse, clinic):
    """Nina's headers, on a ward whose trial is set up (a recipient is registered into it)."""
    clinic.trial()
    return nurse


@pytest.mark.parametrize(("role", "status"), [("nurse", 201), ("admin", 201)])
def test_clinic_roles_register_and_see_the_record_with_its_calendar(
    client, make, clinic, role, status
):
    clinic.trial()
    body = ok(client.post(URL, json=NEW, headers=make.auth(role)), status)
    assert (body["subject_id"], body["status"], body["dose_level"], body["day0"]) == (
        "CAR33-001-01",
        "screening",
        "DL2",
        None,
    )
    (first,) = body["calendar"]
    assert first["kind"] == "infusion_1" and "not yet scheduled" in first["title"]
    assert ok(client.get(f"{URL}/CAR33-001-01", headers=make.auth("qa")), 200) == body
    # A technician sees the recipient by subject ID only (the field-level rule).
    shown = ok(client.get(f"{URL}/CAR33-001-01", headers=make.auth("technician")), 200)
    identifiers = {"name", "birth_date", "hospital_record_number"}
    assert shown == {key: value for key, value in body.items() if key not in identifiers}


@pytest.mark.parametrize("role", ["technician", "qa"])
def test_lab_roles_cannot_register_or_change_recipients(client, make, clinic, role):
    recipient = clinic.recipient(status="screening")
    headers, before = make.auth(role), _count()
    error(client.post(URL, json=NEW, headers=headers), 403, "forbidden")
    writes = {
        "weight": {"weight_kg": 60, "measured_on": site_today().isoformat(), "reason": "r"},
        "status": {"status": "enrolled", "reason": "r"},
        "dose-level": {"dose_level": "DL3", "reason": "r"},
        "second-infusion-order": {"ordered": True, "reason": "r"},
        "discharge": {"on": site_today().isoformat()},
        "transplant": {"on": site_today().isoformat(), "reason": "r"},
    }
    for path, body in writes.items():
        error(
            client.post(f"{URL}/{recipient.subject_id}/{path}", json=body, headers=headers),
            403,
            "forbidden",
        )
    assert _count() == before


@pytest.mark.parametrize(
    ("change", "status", "code", "words"),
    [
        ({"hospital_record_number": "MRN 42"}, 422, "invalid_barcode", "wristband"),
        ({"dose_level": "DL1"}, 409, "illegal_transition", "DL1 is closed"),
        ({"weight_kg": 0}, 422, "validation_error", "weight_kg"),
        ({"birth_date": "1961-13-40"}, 422, "validation_error", "birth_date"),
        ({"phase": 3}, 422, "validation_error", "phase"),
    ],
)
def test_refused_registrations_write_nothing(client, nurse, change, status, code, words):
    before = _count()
    body = error(client.post(URL, json=NEW | change, headers=nurse), status, code)
    assert words in body["message"]
    assert _count() == before


def test_a_subject_id_twice_is_a_conflict(client, nurse):
    ok(client.post(URL, json=NEW, headers=nurse), 201)
    body = error(client.post(URL, json=NEW, headers=nurse), 409, "conflict")
    assert "already registered" in body["message"]


def test_listing_filters_by_status_and_site(client, make, clinic):
    a = clinic.recipient(status="enrolled")
    b = clinic.recipient(status="enrolled", site="Cancer Centre")
    clinic.recipient(status="screening")
    headers = make.auth("qa")
    items = ok(client.get(f"{URL}?status=enrolled", headers=headers), 200)["items"]
    assert [r["subject_id"] for r in items] == sorted([a.subject_id, b.subject_id])
    items = ok(client.get(f"{URL}?status=enrolled&site=Cancer Centre", headers=headers), 200)
    assert [r["subject_id"] for r in items["items"]] == [b.subject_id]
    error(client.get(f"{URL}?status=cured", headers=headers), 422, "validation_error")
    error(client.get(f"{URL}/CAR33-404", headers=headers), 404, "not_found")


def test_the_wristband_string_is_what_the_scanner_and_bedside_read(client, make, runner, nurse):
    ok(client.post(URL, json=NEW, headers=nurse), 201)
    withheld = ok(client.get(f"{URL}/car33-001-01/wristband", headers=make.auth("technician")), 200)
    assert withheld == {"subject_id": "CAR33-001-01"}  # a technician sees no wristband data
    band = ok(client.get(f"{URL}/car33-001-01/wristband", headers=make.auth("qa")), 200)
    assert band["subject_id"] == "CAR33-001-01" and band["name"] == "Ada Lovelace"
    assert (band["birth_date"], band["hospital_record_number"]) == ("1961-12-10", "MRN0042")
    identity = read_wristband(band["wristband"])
    assert (identity.patient_number, identity.birth_date) == ("MRN0042", date(1961, 12, 10))
    expected = [("patient_id", "MRN0042"), ("patient_date_of_birth", "1961-12-10")]
    parsed = ok(
        client.post("/api/v1/isbt128/parse", json={"data": band["wristband"]}, headers=nurse), 200
    )
    assert _identity_of(parsed["items"]) == expected
    result = runner.invoke(custody_command, ["isbt128", "parse", band["wristband"]])
    assert result.exit_code == 0, result.output
    assert _identity_of(json.loads(result.output)) == expected
    error(client.get(f"{URL}/CAR33-404/wristband", headers=nurse), 404, "not_found")


def test_status_changes_follow_the_table_and_say_what_is_allowed(client, nurse, clinic):
    recipient = clinic.recipient(status="lymphodepletion")
    url = f"{URL}/{recipient.subject_id}/status"
    before = _count()
    body = error(
        client.post(url, json={"status": "infused", "reason": "given"}, headers=nurse),
        409,
        "illegal_transition",
    )
    assert "record the infusion" in body["message"]
    assert body["details"]["current_status"] == "lymphodepletion"
    assert body["details"]["allowed"] == ["off_study", "withdrawn", "deceased"]
    assert _count() == before
    today = site_today().isoformat()
    early = {"status": "withdrawn", "reason": "consent withdrawn", "on": "2001-01-02"}
    body = error(client.post(url, json=early, headers=nurse), 422, "validation_error")
    assert "between the recipient's registration" in body["message"]
    changed = ok(client.post(url, json=early | {"on": today}, headers=nurse), 200)
    assert changed["status"] == "withdrawn"
    assert changed["status_reason"] == f"{today}: consent withdrawn"
    error(client.post(url, json={"status": "enrolled"}, headers=nurse), 422, "validation_error")


def test_weight_dose_level_order_and_discharge(client, nurse, clinic):
    today = site_today()
    waiting = clinic.recipient(
        status="enrolled", dose_level="DL2", weight_measured_on=today - timedelta(7)
    )
    url = f"{URL}/{waiting.subject_id}"
    body = ok(
        client.post(
            f"{url}/weight",
            json={"weight_kg": 71.5, "measured_on": today.isoformat(), "reason": "weighed"},
            headers=nurse,
        ),
        200,
    )
    assert body["weight_kg"] == 71.5
    body = ok(
        client.post(
            f"{url}/dose-level", json={"dose_level": "DL3", "reason": "cohort"}, headers=nurse
        ),
        200,
    )
    assert body["dose_level"] == "DL3"
    error(
        client.post(
            f"{url}/second-infusion-order", json={"ordered": True, "reason": "PI"}, headers=nurse
        ),
        409,
        "illegal_transition",
    )
    infused = clinic.recipient(status="infused", day0=today - timedelta(10))
    url = f"{URL}/{infused.subject_id}"
    body = ok(
        client.post(
            f"{url}/discharge", json={"on": (today - timedelta(2)).isoformat()}, headers=nurse
        ),
        200,
    )
    assert body["discharged_on"] == (today - timedelta(2)).isoformat()
    visits = [i for i in body["calendar"] if i["kind"] == "clinic_visit"]
    assert [v["due_from"] for v in visits] == [
        (infused.day0 + timedelta(d)).isoformat() for d in (14, 21, 28, 35)
    ]
    calendar = ok(client.get(f"{url}/calendar", headers=nurse), 200)
    assert calendar["day0"] == infused.day0.isoformat() and calendar["items"] == body["calendar"]


def test_a_sample_from_transplant_to_the_lab(client, make, clinic):
    today = site_today()
    nurse, tech = make.auth("nurse"), make.auth("technician")
    recipient = clinic.recipient(status="follow_up", day0=today - timedelta(100))
    body = ok(
        client.post(
            f"{URL}/{recipient.subject_id}/transplant",
            json={"on": (today - timedelta(29)).isoformat(), "reason": "allogeneic HSCT"},
            headers=nurse,
        ),
        201,
    )
    (sample,) = body["samples"]
    code = sample["code"]
    assert (sample["stage"], sample["kind"]) == ("due", "post_transplant_blood")
    assert sample["due_on"] == (today + timedelta(1)).isoformat()
    assert [i["kind"] for i in body["calendar"]][-1] == "post_transplant_sample"
    url = f"/api/v1/samples/{code}"
    svg = client.get(f"{url}/barcode.svg", headers=tech)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert read_svg_barcode(svg.data) == code
    error(client.post(f"{url}/dispatch", json={}, headers=nurse), 409, "illegal_transition")
    body = error(
        client.post(f"{url}/collection", json={"scan": "SMP-00000000"}, headers=nurse),
        422,
        "validation_error",
    )
    assert "not sample" in body["message"]
    error(client.post(f"{url}/collection", json={"scan": code}, headers=tech), 403, "forbidden")
    taken = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    collected = ok(
        client.post(f"{url}/collection", json={"scan": code, "at": taken}, headers=nurse), 200
    )
    assert collected["stage"] == "collected" and collected["collected_by"].startswith("nurse")
    error(
        client.post(f"{url}/dispatch", json={"at": "2026-01-01T10:00:00"}, headers=nurse),
        422,
        "validation_error",
    )
    ok(client.post(f"{url}/dispatch", json={}, headers=nurse), 200)
    error(
        client.post(f"{url}/receipt", json={"condition": "intact"}, headers=nurse), 403, "forbidden"
    )
    received = ok(client.post(f"{url}/receipt", json={"condition": "intact"}, headers=tech), 200)
    assert received["stage"] == "received" and received["received_condition"] == "intact"
    after = ok(client.get(f"{URL}/{recipient.subject_id}", headers=tech), 200)
    assert after["status"] == "off_study"
    assert after["status_reason"] == "Left the study after the post-transplant sample (protocol)"
    assert ok(client.get(url, headers=make.auth("qa")), 200) == received
    error(client.get("/api/v1/samples/SMP-00000000", headers=tech), 404, "not_found")
    error(client.get("/api/v1/samples/LOC-1", headers=tech), 422, "invalid_barcode")
