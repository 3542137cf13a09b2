"""The recalls API: preview, the signed recall, its effect on scans and the bedside, lifting.

Every refusal is a 4xx with the error envelope and leaves nothing behind; never a 500.
"""

from __future__ import annotations

import pytest

from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import Recall
from custody.services.core.facility import site_zone
from tests.api.responses import error, ok
from tests.factories import PASSWORD

API = "/api/v1/recalls"
REASON = "Late positive sterility culture on the retained sample"


def _body(scope, value, **extra):
    return (
        {"scope": scope, "value": value, "reason": REASON, "username": "quinn"}
        | {"password": PASSWORD}
        | extra
    )


def _recalls() -> int:
    return db.session.scalar(db.select(db.func.count(Recall.id)))


def test_a_signed_recall_answers_the_order_and_blocks_a_scan(client, qa, clinic, make):
    bags = clinic.released_bags(2)
    recipient = clinic.recipient()
    clinic.allocate(bags[1], recipient)
    lot_number = bags[0].lot.lot_number

    body = ok(client.post(API, json=_body("lot", lot_number), headers=qa), 201)

    assert body["code"].startswith("RCL-") and body["active"] is True
    assert body["lots"] == [lot_number] and body["blocked_count"] == 2
    assert body["allocated_recipients"] == [
        {"subject_id": recipient.subject_id, "bags": [bags[1].code]}
    ]
    assert body["signature"]["printed_name"] == "Quinn Assurance"
    scan = bag_scan_data(bags[0].din, bags[0].product_code, bags[0].expires_at, site_zone())
    refused = error(
        client.post(
            "/api/v1/scans",
            json={"action": "pack", "bag": scan, "shipment": "SHP-NONE"},
            headers=make.auth("technician"),
        ),
        409,
        "illegal_transition",
    )
    assert body["code"] in refused["message"]
    shown = ok(client.get(f"{API}/{body['code']}", headers=qa), 200)
    assert [b["bag"] for b in shown["bags"]] == sorted(b.code for b in bags)
    listed = ok(client.get(f"{API}?active=true", headers=qa), 200)["items"]
    assert [r["code"] for r in listed] == [body["code"]]


def test_the_bedside_api_stops_a_recalled_bag(client, qa, clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    recall = ok(client.post(API, json=_body("lot", bag.lot.lot_number), headers=qa), 201)

    answer = ok(
        client.post(
            "/api/v1/bedside/verifications",
            json={
                "recipient": wristband_data(recipient.hospital_record_number, recipient.birth_date),
                "bag": bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone()),
                "second_verifier": {"username": "nina", "password": PASSWORD},
            },
            headers=ann,
        ),
        201,
    )

    assert answer["passed"] is False and answer["outcome"] == "stopped"
    assert recall["code"] in answer["stop_reason"]


def test_a_preview_writes_nothing(client, qa, clinic):
    (bag,) = clinic.released_bags(1)

    body = ok(client.get(f"{API}/preview?scope=lot&value={bag.lot.lot_number}", headers=qa), 200)

    assert body["blocked_count"] == 1 and body["bags"][0]["bag"] == bag.code
    assert _recalls() == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"scope": "batch"}, 422, "validation_error"),
        ({"value": "LT-NOSUCH"}, 404, "not_found"),
        ({"reason": ""}, 422, "validation_error"),
        ({"password": "wrong"}, 403, "signature_refused"),
        ({"username": "someone-else"}, 403, "signature_refused"),
    ],
)
def test_a_bad_request_is_refused_with_words_and_writes_nothing(
    client, qa, make_lot, body, status, code
):
    lot = make_lot()
    request = _body("lot", lot.lot_number) | body

    error(client.post(API, json=request, headers=qa), status, code)

    assert _recalls() == 0


@pytest.mark.parametrize("role", ["technician", "nurse", "admin"])
def test_only_qa_signs_a_recall(client, make, make_lot, role):
    lot = make_lot()
    headers = make.auth(role, username="someone")

    response = client.post(
        API, json=_body("lot", lot.lot_number, username="someone"), headers=headers
    )

    assert response.status_code == 403 and _recalls() == 0


def test_nurses_cannot_read_recalls_and_an_unknown_recall_is_not_found(client, make, qa):
    error(client.get(API, headers=make.auth("nurse")), 403, "forbidden")
    error(client.get(f"{API}/RCL-NOSUCH", headers=qa), 404, "not_found")
    lift = {"reason": "mistaken", "username": "quinn", "password": PASSWORD}
    error(client.post(f"{API}/RCL-NOSUCH/lift", json=lift, headers=qa), 404, "not_found")


def test_lifting_answers_the_lifted_order(client, qa, make_lot):
    lot = make_lot()
    code = ok(client.post(API, json=_body("lot", lot.lot_number), headers=qa), 201)["code"]
    lift = {"reason": "Culture was a contaminant", "username": "quinn", "password": PASSWORD}

    body = ok(client.post(f"{API}/{code}/lift", json=lift, headers=qa), 200)

    assert body["active"] is False and body["lift_reason"] == "Culture was a contaminant"
    assert body["lift_signature"]["meaning"] == "recall lifted"
    error(client.post(f"{API}/{code}/lift", json=lift, headers=qa), 409, "conflict")
