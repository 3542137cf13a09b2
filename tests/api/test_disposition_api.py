"""QA's signed disposition of a lot through the API: release, rejection and return to
quarantine, each refusal, an edit after signing that sends the lot back, the certificate issued
and withdrawn; malformed requests to the quality endpoints are refused, never a crash."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.api import responses
from tests.api.lot_quality_calls import (
    API,
    SIGN,
    UNTOUCHED,
    dispose,
    enter_all,
    lot_detail,
    lot_quality,
    lot_state,
    manifests_quinn,
    pdf_text,
    raw_post,
    release_lot,
)
from tests.factories import PASSWORD


def test_qa_releases_and_every_view_of_the_lot_shows_the_signature(client, lot, qa, tech):
    decision = release_lot(client, lot, qa, tech)
    manifests_quinn(decision)
    assert (decision["disposition"], decision["previous_disposition"]) == ("released", "quarantine")
    assert decision["signature_valid"] is True and decision["invalid_because"] == ""
    assert decision["certificate_number"] == f"COA-{lot}-1"
    assert re.fullmatch(r"[0-9a-f]{64}", decision["certificate_sha256"])

    shown = lot_detail(client, lot, tech)
    assert shown["status"] == "released"
    manifests_quinn(shown["release"])
    assert shown["release"]["signature_valid"] is True
    assert shown["release"]["certificate_sha256"] == decision["certificate_sha256"]

    listed = responses.ok(client.get(f"{API}/lots?status=released", headers=tech), 200)["items"]
    assert [item["lot"] for item in listed] == [lot]
    manifests_quinn(listed[0]["release"])
    waiting = responses.ok(client.get(f"{API}/lots?status=quarantine", headers=tech), 200)
    assert lot not in [item["lot"] for item in waiting["items"]]

    (signed,) = lot_quality(client, lot, tech)["decisions"]
    manifests_quinn(signed)
    assert signed["signature_valid"] is True


def test_a_wrong_password_signs_nothing(client, lot, qa, tech):
    enter_all(client, lot, tech)
    refused = dispose(client, lot, qa, password="not the password")
    assert "nothing was signed" in responses.error(refused, 403, "signature_refused")["message"]
    someone_else = dispose(client, lot, qa, username="somebody")
    assert "your own user ID" in responses.error(someone_else, 403, "signature_refused")["message"]
    assert lot_state(client, lot, tech) == UNTOUCHED
    assert lot_quality(client, lot, tech)["decisions"] == []
    responses.error(
        client.get(f"{API}/lots/{lot}/certificate.pdf", headers=tech), 409, "illegal_transition"
    )


@pytest.mark.parametrize("role", ["nurse", "technician", "admin"])
def test_only_qa_gives_a_disposition(client, lot, tech, make, role):
    enter_all(client, lot, tech)
    headers = make.auth(role, username=f"{role}x")
    body = {"action": "release", "username": f"{role}x", "password": PASSWORD}
    refused = client.post(f"{API}/lots/{lot}/disposition", json=body, headers=headers)
    responses.error(refused, 403, "forbidden")
    assert lot_state(client, lot, tech) == UNTOUCHED


def test_release_with_results_missing_or_out_of_spec_is_refused_with_each_problem(
    client, lot, qa, tech
):
    enter_all(client, lot, tech, skip=("sterility", "potency"), viability={"value_numeric": 60})
    error = responses.error(dispose(client, lot, qa), 409, "illegal_transition")
    assert error["details"]["problems"] == [
        "Sterility (14-day culture) has no result",
        "Viability (7-AAD) is out of specification",
        "Potency: cytotoxicity vs CD33+ targets has no result",
    ]
    assert f"Lot {lot} cannot be released" in error["message"]
    assert lot_state(client, lot, tech) == UNTOUCHED


def test_reject_needs_a_reason_and_issues_a_certificate(client, lot, qa, tech):
    enter_all(client, lot, tech)
    no_reason = responses.error(dispose(client, lot, qa, "reject"), 422, "validation_error")
    assert "needs its reason" in no_reason["message"]
    rejected = responses.ok(dispose(client, lot, qa, "reject", reason="Bag integrity"), 201)
    manifests_quinn(rejected, "Rejected")
    assert rejected["signature"]["reason"] == "Bag integrity"
    assert lot_detail(client, lot, tech)["status"] == "rejected"
    again = responses.error(dispose(client, lot, qa), 409, "illegal_transition")
    assert "Allowed now: nothing" in again["message"]
    pdf = client.get(f"{API}/lots/{lot}/certificate.pdf", headers=tech)
    assert pdf.status_code == 200 and "Disposition: Rejected" in pdf_text(pdf.data)


def test_an_edit_after_signing_sends_the_lot_back_for_review(client, lot, qa, tech):
    release_lot(client, lot, qa, tech)
    fix = {"value_numeric": 90.0, "reason": "transcription error"}
    responses.ok(
        client.post(f"{API}/lots/{lot}/results/viability/corrections", json=fix, headers=tech),
        201,
    )
    shown = lot_detail(client, lot, tech)
    assert shown["status"] == "quarantine"
    assert shown["release"]["signature_valid"] is False
    assert shown["release"]["invalid_because"] == (
        "viability result corrected after QA signed the lot"
    )
    manifests_quinn(shown["release"])  # who signed what stays visible
    listed = responses.ok(client.get(f"{API}/lots?status=quarantine", headers=tech), 200)
    assert (
        next(i for i in listed["items"] if i["lot"] == lot)["release"]["signature_valid"] is False
    )
    (queued,) = responses.ok(client.get(f"{API}/quality/queue", headers=tech), 200)["items"]
    assert (queued["lot"], queued["reopened"]) == (lot, True)
    assert queued["reopened_because"] == "viability result corrected after QA signed the lot"

    again = responses.ok(dispose(client, lot, qa), 201)
    assert again["certificate_number"] == f"COA-{lot}-2"
    assert lot_detail(client, lot, tech)["release"]["signature_valid"] is True


def test_exceptional_release_records_the_physicians_request(client, lot, qa, tech):
    enter_all(client, lot, tech, viability={"value_numeric": 60})
    url = f"{API}/lots/{lot}/results/viability/investigation"
    responses.ok(client.post(url, json={"note": "INV-3: thaw handling"}, headers=tech), 201)
    request = {
        "exceptional": True,
        "physician": "Dr A. Osler",
        "physician_request": "REQ-17: no alternative product",
        "justification": "Benefit outweighs risk",
    }
    incomplete = dispose(client, lot, qa, **{**request, "justification": ""})
    assert "the justification" in responses.error(incomplete, 422, "validation_error")["message"]
    decision = responses.ok(dispose(client, lot, qa, **request), 201)
    assert decision["exceptional"] is True
    assert (decision["physician"], decision["justification"]) == (
        "Dr A. Osler",
        "Benefit outweighs risk",
    )
    text = pdf_text(client.get(f"{API}/lots/{lot}/certificate.pdf", headers=tech).data)
    assert "EXCEPTIONAL RELEASE Requesting physician: Dr A. Osler" in text


# --- the certificate ---------------------------------------------------------------------------


CERTIFICATE_VERDICTS = {
    "pass": "PASS",
    "at allocation": "Judged per recipient at allocation",
}


def test_the_certificate_is_issued_at_signing_and_served_byte_for_byte(client, lot, qa, tech, make):
    url = f"{API}/lots/{lot}/certificate.pdf"
    before = responses.error(client.get(url, headers=tech), 409, "illegal_transition")
    assert "in quarantine" in before["message"]
    decision = release_lot(client, lot, qa, tech)

    first, second = client.get(url, headers=tech), client.get(url, headers=make.auth("nurse"))
    assert first.status_code == 200 and first.mimetype == "application/pdf"
    assert f'filename="COA-{lot}-1.pdf"' in first.headers["Content-Disposition"]
    assert first.data == second.data
    assert hashlib.sha256(first.data).hexdigest() == decision["certificate_sha256"]

    text = pdf_text(first.data)
    assert "Electronically signed by Quinn Assurance (quinn) on" in text
    assert "Meaning: Approved for release" in text
    assert f"Certificate number COA-{lot}-1" in text
    for test in lot_quality(client, lot, tech)["tests"]:
        row = f"{test['title']} {test['criterion']} {test['result']['value']}"
        # No verdict on the lot for a limit judged per recipient (cells/kg) at allocation.
        words = CERTIFICATE_VERDICTS[test["verdict"]]
        assert f"{row} {words}" in text, row
    responses.error(client.get(f"{API}/lots/NOPE/certificate.pdf", headers=tech), 404, "not_found")


def test_returning_a_lot_to_quarantine_withdraws_its_certificate(client, lot, qa, tech):
    release_lot(client, lot, qa, tech)
    responses.ok(dispose(client, lot, qa, "quarantine", reason="Label review"), 201)
    url = f"{API}/lots/{lot}/certificate.pdf"
    responses.error(client.get(url, headers=tech), 409, "illegal_transition")


def test_an_edit_after_signing_withdraws_the_certificate(client, lot, qa, tech):
    release_lot(client, lot, qa, tech)
    fix = {"value_numeric": 90.0, "reason": "transcription error"}
    url = f"{API}/lots/{lot}/results/viability/corrections"
    responses.ok(client.post(url, json=fix, headers=tech), 201)
    certificate = client.get(f"{API}/lots/{lot}/certificate.pdf", headers=tech)
    assert certificate.status_code == 409, certificate.mimetype
    responses.error(certificate, 409, "illegal_transition")


# --- malformed requests: refused, never a crash ------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"action": "approve"},
        {"action": "release", "pending_tests": "sterility"},
        {"action": "release", "password": ""},
        {"action": "release", "exceptional": "perhaps"},
        {"action": "release", "colour": "red"},
        {"action": None},
    ],
)
def test_a_malformed_disposition_is_refused(client, lot, qa, tech, body):
    refused = client.post(f"{API}/lots/{lot}/disposition", json={**SIGN, **body}, headers=qa)
    responses.error(refused, 422, "validation_error")
    assert lot_state(client, lot, tech) == UNTOUCHED


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/lots/{lot}/disposition", "not json"),
        ("/lots/{lot}/disposition", '["release"]'),
        ("/lots/{lot}/results", '{"test": "viability", "value_numeric": 91, "unit": 5}'),
        ("/lots/{lot}/results/viability/corrections", '{"reason": "x", "value_numeric": NaN}'),
        ("/lots/{lot}/results/viability/investigation", '{"note": null}'),
        ("/specifications", '{"tests": [{"test": "v", "title": "V", "lower": NaN}]}'),
        ("/specifications", '{"tests": "viability"}'),
        ("/specifications/D0001/1/approval", '{"username": "quinn"}'),
        ("/quality/alerts/x/acknowledgement", "{}"),
    ],
)
def test_malformed_bodies_are_a_4xx_never_a_500(client, lot, qa, path, text):
    response = raw_post(client, API + path.format(lot=lot), text, qa)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.get_json()["error"]["message"]
