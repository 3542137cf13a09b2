"""What a lot is judged by, through the API: release specifications drafted and approved by QA's
signature, and QC results entered, judged, corrected in the open and investigated; refusals,
including numbers that are not finite."""

from __future__ import annotations

import pytest

from tests.api import responses
from tests.api.lot_quality_calls import (
    API,
    SIGN,
    enter_all,
    lot_quality,
    quality_test,
    raw_post,
)

# --- specifications ----------------------------------------------------------------------------

CRITERIA = [
    {
        "test": "sterility",
        "title": "Sterility",
        "kind": "qualitative",
        "expected_text": "Negative",
        "allowed_values": ["negative", "positive", "indeterminate"],
    },
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
    shown = quality_test(client, lot, tech, "viability")
    assert shown["verdict"] == "pass" and shown["result"]["id"] == corrected["id"]
    assert [(h["value_numeric"], h["superseded"]) for h in shown["history"]] == [(19.5, True)]


def test_an_out_of_spec_result_waits_for_its_investigation(client, lot, tech):
    url = f"{API}/lots/{lot}/results"
    responses.ok(
        client.post(url, json={"test": "endotoxin", "value_numeric": 7.1}, headers=tech), 201
    )
    quality = lot_quality(client, lot, tech)
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
    assert quality_test(client, lot, tech, "viability")["history"] == []
    responses.error(client.get(f"{API}/lots/NOPE/quality", headers=tech), 404, "not_found")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", '"abc"', "1e999"])
def test_a_result_that_is_not_a_finite_number_is_refused(client, lot, tech, number):
    # NaN would compare false against every limit and infinity passes a lower one.
    enter_all(client, lot, tech, skip=("viability",))
    body = f'{{"test": "viability", "value_numeric": {number}}}'
    error = responses.error(
        raw_post(client, f"{API}/lots/{lot}/results", body, tech), 422, "validation_error"
    )
    assert "value_numeric" in error["details"]["fields"]["json"]
    assert quality_test(client, lot, tech, "viability")["result"] is None
