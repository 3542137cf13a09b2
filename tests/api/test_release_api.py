"""Specifications, QC results, QA's signed disposition, the certificate, the review queue and
quality alerts, through the API: every endpoint's answers and refusals."""

from __future__ import annotations

import hashlib
import io
import re

import pypdf
import pytest

from tests.api import responses
from tests.factories import PASSING_RESULTS, PASSWORD

API = "/api/v1"
SIGN = {"username": "quinn", "password": PASSWORD}
UNTOUCHED = {"status": "quarantine", "release": None}


@pytest.fixture
def lot(quality, make_lot) -> str:
    """A quarantined lot with two bags, judged by the approved standard specification."""
    quality.specification()
    return make_lot().lot_number


def _enter_all(client, lot: str, headers: dict, skip=(), **overrides) -> None:
    for test, fields in PASSING_RESULTS.items():
        if test not in skip:
            body = {"test": test, **overrides.get(test, fields)}
            responses.ok(client.post(f"{API}/lots/{lot}/results", json=body, headers=headers), 201)


def _dispose(client, lot: str, headers: dict, action: str = "release", **fields):
    body = {"action": action, **SIGN, **fields}
    return client.post(f"{API}/lots/{lot}/disposition", json=body, headers=headers)


def _release(client, lot: str, qa: dict, tech: dict) -> dict:
    _enter_all(client, lot, tech)
    return responses.ok(_dispose(client, lot, qa), 201)


def _lot(client, lot: str, headers: dict) -> dict:
    return responses.ok(client.get(f"{API}/lots/{lot}", headers=headers), 200)


def _quality(client, lot: str, headers: dict) -> dict:
    return responses.ok(client.get(f"{API}/lots/{lot}/quality", headers=headers), 200)


def _test(client, lot: str, headers: dict, test: str) -> dict:
    return next(t for t in _quality(client, lot, headers)["tests"] if t["test"] == test)


def _state(client, lot: str, headers: dict) -> dict:
    shown = _lot(client, lot, headers)
    return {"status": shown["status"], "release": shown["release"]}


def _pdf_text(pdf: bytes) -> str:
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    return " ".join(re.sub(r"\s+", " ", page.extract_text()) for page in pages)


# --- specifications ----------------------------------------------------------------------------

CRITERIA = [
    {"test": "sterility", "title": "Sterility", "kind": "qualitative", "expected_text": "Negative"},
    {"test": "viability", "title": "Viability", "unit": "%", "lower": 70},
    {"test": "endotoxin", "title": "Endotoxin", "unit": "EU/mL", "upper": 5},
]


def test_qa_drafts_a_specification_and_approves_it_by_signature(client, qa, tech):
    made = responses.ok(
        client.post(f"{API}/specifications", json={"tests": CRITERIA}, headers=qa), 201
    )
    assert (made["product_description_code"], made["version"], made["status"]) == (
        "D0001",  # the site's product when none is named
        1,
        "draft",
    )
    assert [t["criterion"] for t in made["tests"]] == ["Negative", "≥ 70 %", "< 5 EU/mL"]
    assert made["approval"] is None

    url = f"{API}/specifications/D0001/1/approval"
    refused = client.post(url, json={**SIGN, "password": "wrong"}, headers=qa)
    assert (
        "password is not correct" in responses.error(refused, 403, "signature_refused")["message"]
    )
    responses.error(client.post(url, json=SIGN, headers=tech), 403, "forbidden")
    shown = responses.ok(client.get(f"{API}/specifications/D0001/1", headers=tech), 200)
    assert (shown["status"], shown["approval"]) == ("draft", None)

    approved = responses.ok(client.post(url, json=SIGN, headers=qa), 201)
    assert approved["status"] == "approved" and approved["approved_at"]
    assert approved["approval"]["printed_name"] == "Quinn Assurance"
    assert approved["approval"]["username"] == "quinn"
    assert approved["approval"]["meaning"] == "Approved specification"
    responses.error(client.post(url, json=SIGN, headers=qa), 409, "illegal_transition")

    body = {"product_description_code": "D0001", "tests": CRITERIA[:2], "notes": "v2"}
    responses.ok(client.post(f"{API}/specifications", json=body, headers=qa), 201)
    responses.ok(client.post(f"{API}/specifications/D0001/2/approval", json=SIGN, headers=qa), 201)
    listed = responses.ok(client.get(f"{API}/specifications?product=D0001", headers=tech), 200)
    assert [(s["version"], s["status"]) for s in listed["items"]] == [
        (1, "retired"),
        (2, "approved"),
    ]
    other = responses.ok(client.get(f"{API}/specifications?product=D0002", headers=tech), 200)
    assert other["items"] == []


@pytest.mark.parametrize(
    ("tests", "words"),
    [
        ([{"test": "potency", "title": "Potency", "unit": "%"}], "give a lower limit"),
        ([{"test": "sterility", "title": "Sterility", "kind": "qualitative"}], "expected result"),
        ([CRITERIA[1], {**CRITERIA[1], "title": "Again"}], "viability is listed twice"),
        ([{"test": "x", "title": "X", "lower": 5, "upper": 1}], "lower limit is above"),
        ([{"test": "x", "title": "X", "kind": "fuzzy", "lower": 1}], "kind"),
        ([], "tests"),
    ],
)
def test_a_specification_that_cannot_be_judged_is_refused(client, qa, tests, words):
    refused = client.post(f"{API}/specifications", json={"tests": tests}, headers=qa)
    assert words in responses.error(refused, 422, "validation_error")["message"]
    assert responses.ok(client.get(f"{API}/specifications", headers=qa), 200)["items"] == []


def test_specification_refusals_by_role_and_name(client, qa, tech, make):
    body = {"tests": CRITERIA}
    responses.error(client.post(f"{API}/specifications", json=body, headers=tech), 403, "forbidden")
    admin = make.auth("admin")
    responses.ok(client.post(f"{API}/specifications", json=body, headers=admin), 201)
    approval = f"{API}/specifications/D0001/1/approval"
    responses.error(client.post(approval, json=SIGN, headers=admin), 403, "forbidden")
    responses.error(client.get(f"{API}/specifications/D0001/7", headers=tech), 404, "not_found")
    responses.error(
        client.post(f"{API}/specifications/D0001/7/approval", json=SIGN, headers=qa),
        404,
        "not_found",
    )


# --- results -----------------------------------------------------------------------------------


def test_a_result_is_entered_judged_and_corrected_in_the_open(client, lot, tech, make):
    url = f"{API}/lots/{lot}/results"
    body = {"test": "viability", "value_numeric": 19.5, "method": "7-AAD", "instrument": "FACS-1"}
    entered = responses.ok(client.post(url, json=body, headers=tech), 201)
    assert entered["within_spec"] is False and entered["needs_investigation"] is True
    assert (entered["value"], entered["entered_by"]) == ("19.5 %", "Tess Tech")

    again = client.post(url, json={"test": "viability", "value_numeric": 91.5}, headers=tech)
    assert "correct it" in responses.error(again, 409, "conflict")["message"]

    fix = {"value_numeric": 91.5, "reason": "transcription error"}
    corrected = responses.ok(
        client.post(f"{url}/viability/corrections", json=fix, headers=make.auth("qa")), 201
    )
    assert corrected["within_spec"] is True
    assert corrected["correction_reason"] == "transcription error"
    assert corrected["superseded"] is False
    shown = _test(client, lot, tech, "viability")
    assert shown["verdict"] == "pass" and shown["result"]["id"] == corrected["id"]
    assert [(h["value_numeric"], h["superseded"]) for h in shown["history"]] == [(19.5, True)]


def test_an_out_of_spec_result_waits_for_its_investigation(client, lot, tech):
    url = f"{API}/lots/{lot}/results"
    responses.ok(
        client.post(url, json={"test": "endotoxin", "value_numeric": 7.1}, headers=tech), 201
    )
    quality = _quality(client, lot, tech)
    assert "Endotoxin (LAL) is out of specification" in quality["release_problems"]
    investigated = responses.ok(
        client.post(f"{url}/endotoxin/investigation", json={"note": "INV-12"}, headers=tech), 201
    )
    assert investigated["needs_investigation"] is False
    assert investigated["investigation_note"] == "INV-12"

    responses.ok(
        client.post(url, json={"test": "viability", "value_numeric": 90}, headers=tech), 201
    )
    in_spec = client.post(f"{url}/viability/investigation", json={"note": "n/a"}, headers=tech)
    assert (
        "Only an out-of-specification"
        in responses.error(in_spec, 422, "validation_error")["message"]
    )


def test_result_refusals(client, lot, tech, make):
    url = f"{API}/lots/{lot}/results"
    unknown = client.post(url, json={"test": "colour", "value_text": "red"}, headers=tech)
    message = responses.error(unknown, 422, "validation_error")["message"]
    assert "'colour' is not a release test" in message and "sterility, mycoplasma" in message

    other_unit = {"test": "viability", "value_numeric": 0.9, "unit": "fraction"}
    message = responses.error(
        client.post(url, json=other_unit, headers=tech), 422, "validation_error"
    )["message"]
    assert "specified in %, not fraction" in message

    nurse = make.auth("nurse")
    body = {"test": "viability", "value_numeric": 91.0}
    responses.error(client.post(url, json=body, headers=nurse), 403, "forbidden")
    responses.error(
        client.post(f"{API}/lots/NOPE/results", json=body, headers=tech), 404, "not_found"
    )
    responses.ok(client.post(url, json=body, headers=tech), 201)
    correction = f"{url}/viability/corrections"
    responses.error(
        client.post(correction, json={"value_numeric": 90}, headers=tech), 422, "validation_error"
    )
    responses.error(
        client.post(correction, json={"value_numeric": 90, "reason": "x"}, headers=nurse),
        403,
        "forbidden",
    )
    responses.error(
        client.post(
            f"{url}/potency/corrections", json={"value_numeric": 9, "reason": "x"}, headers=tech
        ),
        404,
        "not_found",
    )
    assert _test(client, lot, tech, "viability")["history"] == []
    responses.error(client.get(f"{API}/lots/NOPE/quality", headers=tech), 404, "not_found")


# --- disposition by e-signature ----------------------------------------------------------------


def _manifests_quinn(release: dict, meaning: str = "Approved for release") -> None:
    signature = release["signature"]
    assert (signature["printed_name"], signature["username"], signature["meaning"]) == (
        "Quinn Assurance",
        "quinn",
        meaning,
    )
    assert signature["signed_at"]


def test_qa_releases_and_every_view_of_the_lot_shows_the_signature(client, lot, qa, tech):
    decision = _release(client, lot, qa, tech)
    _manifests_quinn(decision)
    assert (decision["disposition"], decision["previous_disposition"]) == ("released", "quarantine")
    assert decision["signature_valid"] is True and decision["invalid_because"] == ""
    assert decision["certificate_number"] == f"COA-{lot}-1"
    assert re.fullmatch(r"[0-9a-f]{64}", decision["certificate_sha256"])

    shown = _lot(client, lot, tech)
    assert shown["status"] == "released"
    _manifests_quinn(shown["release"])
    assert shown["release"]["signature_valid"] is True
    assert shown["release"]["certificate_sha256"] == decision["certificate_sha256"]

    listed = responses.ok(client.get(f"{API}/lots?status=released", headers=tech), 200)["items"]
    assert [item["lot"] for item in listed] == [lot]
    _manifests_quinn(listed[0]["release"])
    waiting = responses.ok(client.get(f"{API}/lots?status=quarantine", headers=tech), 200)
    assert lot not in [item["lot"] for item in waiting["items"]]

    (signed,) = _quality(client, lot, tech)["decisions"]
    _manifests_quinn(signed)
    assert signed["signature_valid"] is True


def test_a_wrong_password_signs_nothing(client, lot, qa, tech):
    _enter_all(client, lot, tech)
    refused = _dispose(client, lot, qa, password="not the password")
    assert "nothing was signed" in responses.error(refused, 403, "signature_refused")["message"]
    someone_else = _dispose(client, lot, qa, username="somebody")
    assert "your own user ID" in responses.error(someone_else, 403, "signature_refused")["message"]
    assert _state(client, lot, tech) == UNTOUCHED
    assert _quality(client, lot, tech)["decisions"] == []
    responses.error(
        client.get(f"{API}/lots/{lot}/certificate.pdf", headers=tech), 409, "illegal_transition"
    )


@pytest.mark.parametrize("role", ["nurse", "technician", "admin"])
def test_only_qa_gives_a_disposition(client, lot, tech, make, role):
    _enter_all(client, lot, tech)
    headers = make.auth(role, username=f"{role}x")
    body = {"action": "release", "username": f"{role}x", "password": PASSWORD}
    refused = client.post(f"{API}/lots/{lot}/disposition", json=body, headers=headers)
    responses.error(refused, 403, "forbidden")
    assert _state(client, lot, tech) == UNTOUCHED


def test_release_with_results_missing_or_out_of_spec_is_refused_with_each_problem(
    client, lot, qa, tech
):
    _enter_all(client, lot, tech, skip=("sterility", "potency"), viability={"value_numeric": 60})
    error = responses.error(_dispose(client, lot, qa), 409, "illegal_transition")
    assert error["details"]["problems"] == [
        "Sterility (14-day culture) has no result",
        "Viability (7-AAD) is out of specification",
        "Potency: cytotoxicity vs CD33+ targets has no result",
    ]
    assert f"Lot {lot} cannot be released" in error["message"]
    assert _state(client, lot, tech) == UNTOUCHED


def test_reject_needs_a_reason_and_issues_a_certificate(client, lot, qa, tech):
    _enter_all(client, lot, tech)
    no_reason = responses.error(_dispose(client, lot, qa, "reject"), 422, "validation_error")
    assert "needs its reason" in no_reason["message"]
    rejected = responses.ok(_dispose(client, lot, qa, "reject", reason="Bag integrity"), 201)
    _manifests_quinn(rejected, "Rejected")
    assert rejected["signature"]["reason"] == "Bag integrity"
    assert _lot(client, lot, tech)["status"] == "rejected"
    again = responses.error(_dispose(client, lot, qa), 409, "illegal_transition")
    assert "Allowed now: nothing" in again["message"]
    pdf = client.get(f"{API}/lots/{lot}/certificate.pdf", headers=tech)
    assert pdf.status_code == 200 and "Disposition: Rejected" in _pdf_text(pdf.data)


def test_an_edit_after_signing_sends_the_lot_back_for_review(client, lot, qa, tech):
    _release(client, lot, qa, tech)
    fix = {"value_numeric": 90.0, "reason": "transcription error"}
    responses.ok(
        client.post(f"{API}/lots/{lot}/results/viability/corrections", json=fix, headers=tech),
        201,
    )
    shown = _lot(client, lot, tech)
    assert shown["status"] == "quarantine"
    assert shown["release"]["signature_valid"] is False
    assert shown["release"]["invalid_because"] == (
        "viability result corrected after QA signed the lot"
    )
    _manifests_quinn(shown["release"])  # who signed what stays visible
    listed = responses.ok(client.get(f"{API}/lots?status=quarantine", headers=tech), 200)
    assert (
        next(i for i in listed["items"] if i["lot"] == lot)["release"]["signature_valid"] is False
    )
    (queued,) = responses.ok(client.get(f"{API}/quality/queue", headers=tech), 200)["items"]
    assert (queued["lot"], queued["reopened"]) == (lot, True)
    assert queued["reopened_because"] == "viability result corrected after QA signed the lot"

    again = responses.ok(_dispose(client, lot, qa), 201)
    assert again["certificate_number"] == f"COA-{lot}-2"
    assert _lot(client, lot, tech)["release"]["signature_valid"] is True


def test_exceptional_release_records_the_physicians_request(client, lot, qa, tech):
    _enter_all(client, lot, tech, viability={"value_numeric": 60})
    url = f"{API}/lots/{lot}/results/viability/investigation"
    responses.ok(client.post(url, json={"note": "INV-3: thaw handling"}, headers=tech), 201)
    request = {
        "exceptional": True,
        "physician": "Dr A. Osler",
        "physician_request": "REQ-17: no alternative product",
        "justification": "Benefit outweighs risk",
    }
    incomplete = _dispose(client, lot, qa, **{**request, "justification": ""})
    assert "the justification" in responses.error(incomplete, 422, "validation_error")["message"]
    decision = responses.ok(_dispose(client, lot, qa, **request), 201)
    assert decision["exceptional"] is True
    assert (decision["physician"], decision["justification"]) == (
        "Dr A. Osler",
        "Benefit outweighs risk",
    )
    text = _pdf_text(client.get(f"{API}/lots/{lot}/certificate.pdf", headers=tech).data)
    assert "EXCEPTIONAL RELEASE Requesting physician: Dr A. Osler" in text


# --- the certificate ---------------------------------------------------------------------------


def test_the_certificate_is_issued_at_signing_and_served_byte_for_byte(client, lot, qa, tech, make):
    url = f"{API}/lots/{lot}/certificate.pdf"
    before = responses.error(client.get(url, headers=tech), 409, "illegal_transition")
    assert "in quarantine" in before["message"]
    decision = _release(client, lot, qa, tech)

    first, second = client.get(url, headers=tech), client.get(url, headers=make.auth("nurse"))
    assert first.status_code == 200 and first.mimetype == "application/pdf"
    assert f'filename="COA-{lot}-1.pdf"' in first.headers["Content-Disposition"]
    assert first.data == second.data
    assert hashlib.sha256(first.data).hexdigest() == decision["certificate_sha256"]

    text = _pdf_text(first.data)
    assert "Electronically signed by Quinn Assurance (quinn) on" in text
    assert "Meaning: Approved for release" in text
    assert f"Certificate number COA-{lot}-1" in text
    for test in _quality(client, lot, tech)["tests"]:
        row = f"{test['title']} {test['criterion']} {test['result']['value']}"
        assert f"{row} {test['verdict'].upper()}" in text, row
    responses.error(client.get(f"{API}/lots/NOPE/certificate.pdf", headers=tech), 404, "not_found")


def test_returning_a_lot_to_quarantine_withdraws_its_certificate(client, lot, qa, tech):
    _release(client, lot, qa, tech)
    responses.ok(_dispose(client, lot, qa, "quarantine", reason="Label review"), 201)
    url = f"{API}/lots/{lot}/certificate.pdf"
    responses.error(client.get(url, headers=tech), 409, "illegal_transition")


def test_an_edit_after_signing_withdraws_the_certificate(client, lot, qa, tech):
    _release(client, lot, qa, tech)
    fix = {"value_numeric": 90.0, "reason": "transcription error"}
    url = f"{API}/lots/{lot}/results/viability/corrections"
    responses.ok(client.post(url, json=fix, headers=tech), 201)
    certificate = client.get(f"{API}/lots/{lot}/certificate.pdf", headers=tech)
    assert certificate.status_code == 409, certificate.mimetype
    responses.error(certificate, 409, "illegal_transition")


# --- conditional release, alerts and the queue -------------------------------------------------


def _conditional(client, lot: str, qa: dict, tech: dict) -> dict:
    _enter_all(client, lot, tech, skip=("sterility",))
    return responses.ok(
        _dispose(
            client, lot, qa, "conditional_release", reason="Urgent", pending_tests=["sterility"]
        ),
        201,
    )


def test_the_lot_list_shows_each_lots_latest_decision_and_none_before_signing(
    client, lot, qa, tech, make_lot
):
    unsigned = make_lot().lot_number
    _conditional(client, lot, qa, tech)
    _enter_all(client, lot, tech, skip=set(PASSING_RESULTS) - {"sterility"})
    responses.ok(_dispose(client, lot, qa), 201)

    listed = responses.ok(client.get(f"{API}/lots", headers=tech), 200)["items"]
    releases = {item["lot"]: item["release"] for item in listed}
    assert releases[unsigned] is None
    _manifests_quinn(releases[lot])
    assert releases[lot]["disposition"] == "released"
    assert releases[lot]["certificate_number"] == f"COA-{lot}-2"


def test_an_awaited_result_in_spec_puts_the_lot_in_the_queue_for_final_release(
    client, lot, qa, tech
):
    decision = _conditional(client, lot, qa, tech)
    _manifests_quinn(decision, "Approved for conditional release")
    assert decision["pending_tests"] == ["sterility"]
    assert client.get(f"{API}/lots/{lot}/certificate.pdf", headers=tech).status_code == 200
    queue = f"{API}/quality/queue"
    assert responses.ok(client.get(queue, headers=tech), 200)["items"] == []

    body = {"test": "sterility", "value_text": "Negative"}
    responses.ok(client.post(f"{API}/lots/{lot}/results", json=body, headers=tech), 201)
    assert _lot(client, lot, tech)["status"] == "conditionally_released"
    (queued,) = responses.ok(client.get(queue, headers=tech), 200)["items"]
    assert (queued["status"], queued["release_problems"]) == ("conditionally_released", [])
    final = responses.ok(_dispose(client, lot, qa), 201)
    assert final["previous_disposition"] == "conditionally_released"


def test_a_positive_result_after_conditional_release_raises_an_alert_qa_acknowledges_once(
    client, lot, qa, tech, make
):
    _conditional(client, lot, qa, tech)
    body = {"test": "sterility", "value_text": "Positive"}
    responses.ok(client.post(f"{API}/lots/{lot}/results", json=body, headers=tech), 201)
    assert _lot(client, lot, tech)["status"] == "quarantine"

    (alert,) = responses.ok(client.get(f"{API}/quality/alerts?open=true", headers=tech), 200)[
        "items"
    ]
    assert alert["lot"] == lot and "out of specification" in alert["message"]
    bags = [b["code"] for b in _lot(client, lot, tech)["bags"]]
    assert sorted(a["bag"] for a in alert["affected"]) == sorted(bags)
    assert alert["recipients"] == [] and alert["acknowledged_at"] is None
    assert [a["id"] for a in _quality(client, lot, tech)["alerts"]] == [alert["id"]]

    url = f"{API}/quality/alerts/{alert['id']}/acknowledgement"
    note = {"note": "Treating physicians informed"}
    responses.error(client.post(url, json=note, headers=make.auth("nurse")), 403, "forbidden")
    responses.error(client.post(url, json={"note": ""}, headers=qa), 422, "validation_error")
    done = responses.ok(client.post(url, json=note, headers=qa), 201)
    assert done["acknowledged_by"] == "Quinn Assurance"
    assert done["acknowledgement"] == "Treating physicians informed" and done["acknowledged_at"]
    twice = responses.error(client.post(url, json=note, headers=qa), 409, "conflict")
    assert "acknowledged already" in twice["message"]

    assert (
        responses.ok(client.get(f"{API}/quality/alerts?open=true", headers=tech), 200)["items"]
        == []
    )
    (kept,) = responses.ok(client.get(f"{API}/quality/alerts", headers=tech), 200)["items"]
    assert kept["acknowledged_by"] == "Quinn Assurance"
    unknown = f"{API}/quality/alerts/no-such-alert/acknowledgement"
    responses.error(client.post(unknown, json=note, headers=qa), 404, "not_found")


def test_the_queue_lists_lots_awaiting_qa_ready_ones_first(client, quality, make_lot, qa, tech):
    quality.specification()
    incomplete, ready = make_lot().lot_number, make_lot().lot_number
    empty, released = make_lot(bags=0).lot_number, make_lot().lot_number
    _enter_all(client, incomplete, tech, skip=("potency",), endotoxin={"value_numeric": 9.0})
    _enter_all(client, ready, tech)
    _release(client, released, qa, tech)
    items = responses.ok(client.get(f"{API}/quality/queue", headers=tech), 200)["items"]
    assert [i["lot"] for i in items] == [ready, incomplete]
    assert empty not in [i["lot"] for i in items]
    first, second = items
    assert (first["results_in"], first["results_required"], first["bags"]) == (10, 10, 2)
    assert (first["release_problems"], first["reopened"]) == ([], False)
    assert (second["results_in"], second["out_of_spec"]) == (9, ["endotoxin"])
    assert second["release_problems"] == [
        "Endotoxin (LAL) is out of specification",
        "Potency: cytotoxicity vs CD33+ targets has no result",
    ]


# --- malformed requests: refused, never a crash ------------------------------------------------


def _raw(client, url: str, text: str, headers: dict):
    return client.post(url, data=text, content_type="application/json", headers=headers)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", '"abc"', "1e999"])
def test_a_result_that_is_not_a_finite_number_is_refused(client, lot, tech, number):
    # NaN would compare false against every limit and infinity passes a lower one.
    _enter_all(client, lot, tech, skip=("viability",))
    body = f'{{"test": "viability", "value_numeric": {number}}}'
    error = responses.error(
        _raw(client, f"{API}/lots/{lot}/results", body, tech), 422, "validation_error"
    )
    assert "value_numeric" in error["details"]["fields"]["json"]
    assert _test(client, lot, tech, "viability")["result"] is None


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
    assert _state(client, lot, tech) == UNTOUCHED


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
    response = _raw(client, API + path.format(lot=lot), text, qa)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.get_json()["error"]["message"]
