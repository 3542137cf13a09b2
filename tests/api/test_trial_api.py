"""The trial's configuration and the clinic dashboard over the API: who may read and change
it, refusals in words, and what the dashboard lists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from custody.extensions import db
from custody.models import AuditEntry
from custody.services.clinic.recipients import site_today
from tests.api.responses import error, ok

URL = "/api/v1/trial"
SETUP = {
    "protocol_id": "NCT07026942",
    "title": "CD33 CAR-NK cells for relapsed/refractory AML",
    "product_name": "CD33 CAR-NK cells",
    "post_thaw_minutes": 60,
    "reason": "set up from the approved protocol",
}
LEVEL = {"code": "DL2", "basis": "flat", "dose_cells": 1.2e9, "reason": "protocol dose level"}


def _audits() -> int:
    return db.session.scalar(select(func.count(AuditEntry.id)))


@pytest.fixture
def configured(client, admin):
    ok(client.post(URL, json=SETUP, headers=admin), 200)
    ok(client.post(f"{URL}/dose-levels", json=LEVEL, headers=admin), 201)
    ok(client.post(f"{URL}/dose-levels", json=LEVEL | {"code": "DL3"}, headers=admin), 201)


def test_before_configuration_the_trial_is_404_with_words(client, make):
    body = error(client.get(URL, headers=make.auth("nurse")), 404, "not_found")
    assert "administrator first sets up the trial" in body["message"]


def test_an_admin_configures_the_trial_and_every_role_reads_it(client, make, admin, configured):
    changed = ok(
        client.post(
            URL, json=SETUP | {"post_thaw_minutes": 90, "reason": "amendment"}, headers=admin
        ),
        200,
    )
    assert changed["post_thaw_minutes"] == 90 and changed["version"] == 2
    for role in ("technician", "qa", "nurse", "admin"):
        trial = ok(client.get(URL, headers=make.auth(role)), 200)
        assert trial["protocol_id"] == "NCT07026942" and trial["current_phase"] == 1
        assert trial["settings"] == {
            "post_thaw_minutes": 90,
            "current_phase": 1,
            "product_name": "CD33 CAR-NK cells",
        }
        assert [(lv["code"], lv["status"], lv["basis"]) for lv in trial["dose_levels"]] == [
            ("DL2", "open", "flat"),
            ("DL3", "open", "flat"),
        ]
        assert trial["dose_levels"][0]["tolerance_pct"] == 20.0
        assert trial["recommended_dose_level"] is None


@pytest.mark.parametrize("role", ["technician", "qa", "nurse"])
def test_only_admins_change_the_trial(client, make, configured, role):
    headers, before = make.auth(role), _audits()
    writes = [
        (URL, SETUP),
        (f"{URL}/phase", {"phase": 2, "reason": "r"}),
        (f"{URL}/dose-levels", LEVEL | {"code": "DL9"}),
        (f"{URL}/dose-levels/DL2/status", {"status": "closed", "reason": "r"}),
    ]
    for url, body in writes:
        message = error(client.post(url, json=body, headers=headers), 403, "forbidden")["message"]
        assert "Only admin" in message
    assert _audits() == before


def test_unauthenticated_calls_are_refused(client, configured):
    error(client.get(URL), 401, "authentication_failed")
    error(client.post(URL, json=SETUP), 401, "authentication_failed")
    error(client.get(f"{URL}/dashboard"), 401, "authentication_failed")


def test_phase_2_after_a_recommended_level_only_one_recommended(client, admin, configured):
    before = _audits()
    body = error(
        client.post(f"{URL}/phase", json={"phase": 2, "reason": "go"}, headers=admin),
        409,
        "illegal_transition",
    )
    assert "Declare the recommended dose level first" in body["message"]
    assert _audits() == before
    level = ok(
        client.post(
            f"{URL}/dose-levels/dl2/status",
            json={"status": "recommended", "reason": "safety review"},
            headers=admin,
        ),
        200,
    )
    assert level["status"] == "recommended"
    body = error(
        client.post(
            f"{URL}/dose-levels/DL3/status",
            json={"status": "recommended", "reason": "x"},
            headers=admin,
        ),
        409,
        "illegal_transition",
    )
    assert body["details"]["recommended"] == "DL2"
    trial = ok(client.post(f"{URL}/phase", json={"phase": 2, "reason": "go"}, headers=admin), 200)
    assert trial["current_phase"] == 2 and trial["recommended_dose_level"] == "DL2"


def test_dose_level_refusals(client, admin, configured):
    body = error(client.post(f"{URL}/dose-levels", json=LEVEL, headers=admin), 409, "conflict")
    assert "DL2 already exists" in body["message"]
    error(
        client.post(f"{URL}/dose-levels", json=LEVEL | {"basis": "per_m2"}, headers=admin),
        422,
        "validation_error",
    )
    error(
        client.post(f"{URL}/dose-levels", json=LEVEL | {"dose_cells": -1}, headers=admin),
        422,
        "validation_error",
    )
    error(
        client.post(f"{URL}/dose-levels", json={"code": "DL7"}, headers=admin),
        422,
        "validation_error",
    )
    error(
        client.post(
            f"{URL}/dose-levels/DL8/status", json={"status": "open", "reason": "x"}, headers=admin
        ),
        404,
        "not_found",
    )
    error(client.post(URL, json=SETUP | {"reason": ""}, headers=admin), 422, "validation_error")


def test_the_dashboard_lists_due_items_and_missing_bags(client, make, clinic):
    today = site_today()
    biopsy = clinic.recipient(status="follow_up", day0=today - timedelta(30))
    waiting = clinic.recipient(status="enrolled")
    board = ok(client.get(f"{URL}/dashboard?days=7", headers=make.auth("technician")), 200)
    assert board["today"] == today.isoformat() and board["days_ahead"] == 7
    (item,) = board["items"]
    assert (item["subject_id"], item["kind"], item["status"]) == (
        biopsy.subject_id,
        "bone_marrow_biopsy",
        "due",
    )
    (need,) = board["needs_bag"]
    assert (need["subject_id"], need["infusion_number"]) == (waiting.subject_id, 1)
    assert "No bag is allocated for infusion 1" in need["reason"]
    error(
        client.get(f"{URL}/dashboard?days=999", headers=make.auth("nurse")), 422, "validation_error"
    )
