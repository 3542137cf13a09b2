"""Shipments through the API, the parts the browser journey needs: the logger's ID, the courier
handoff as an electronic signature, a discrepancy's resolution as a record of its own, and the
one rule (`shipment_actions`) that both refuses an action and tells a page not to offer it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from custody.extensions import db
from custody.models import AuditEntry, CustodyEvent, DiscrepancyResolution, Shipment
from custody.services.bags import shipment_actions
from custody.services.bags.lookup import shipment_by_code
from custody.services.bags.scans import ScanRequest, scan
from custody.services.core.audit_trail import acting_as
from tests.factories import PASSWORD


def _create(client, headers, **body):
    body = {"destination_site": "University Hospital", "courier": "Cryo Couriers", **body}
    response = client.post("/api/v1/shipments", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def _packed(client, tech, make_lot, bags=2):
    code = _create(client, tech)["code"]
    lot = make_lot(disposition="released", status="released", bags=bags)
    for bag in lot.bags:
        scan(tech.user, ScanRequest(action="pack", bag=bag.code, shipment=code))
    return code, [b.code for b in lot.bags]


def _dispatch(client, tech, code, **body):
    body = {"courier_person": "Sam Rivera", **body}
    return client.post(f"/api/v1/shipments/{code}/dispatch", json=body, headers=tech)


def _in_transit(client, tech, make_lot, bags=2):
    code, codes = _packed(client, tech, make_lot, bags)
    assert _dispatch(client, tech, code).status_code == 200
    return code, codes


def _missing(client, headers, code, bag, note="Not in the shipper"):
    body = {"kind": "missing", "bag": bag, "note": note}
    response = client.post(f"/api/v1/shipments/{code}/discrepancies", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def _resolve(client, headers, code, number, outcome, reason="Courier confirmed the loss"):
    body = {"outcome": outcome, "reason": reason}
    url = f"/api/v1/shipments/{code}/discrepancies/{number}/resolution"
    return client.post(url, json=body, headers=headers)


# --- the logger's ID ------------------------------------------------------------------------


def test_the_logger_id_is_kept_listed_and_shown(client, tech):
    created = _create(client, tech, shipper_id="DS-7", logger_id="TL-0042")
    assert created["logger_id"] == "TL-0042"
    listed = client.get("/api/v1/shipments", headers=tech).json["items"]
    assert [s["logger_id"] for s in listed] == ["TL-0042"]
    shown = client.get(f"/api/v1/shipments/{created['code']}", headers=tech).json
    assert (shown["shipper_id"], shown["logger_id"]) == ("DS-7", "TL-0042")
    # Without one the field is empty, never missing.
    assert _create(client, tech)["logger_id"] == ""
    too_long = client.post(
        "/api/v1/shipments", json={"destination_site": "Site", "logger_id": "L" * 41}, headers=tech
    )
    assert too_long.status_code == 422


# --- the handoff as an electronic signature -------------------------------------------------


def test_a_signed_dispatch_shows_its_signature_bound_to_the_handoff(client, tech, make_lot):
    code, _ = _packed(client, tech, make_lot)
    signed = {"username": "tess", "password": PASSWORD}
    response = _dispatch(client, tech, code, condition="intact", temperature_c=-190, **signed)
    assert response.status_code == 200, response.json
    signature = response.json["handoff_signature"]
    assert signature["printed_name"] == "Tess Tech" and signature["username"] == "tess"
    assert signature["meaning"].startswith("Handed to the courier")
    assert signature["valid"] is True
    # A handoff record changed afterwards, outside the services: the signature no longer holds.
    with acting_as("system:test", reason="test: a handoff record edited after signing"):
        event = db.session.scalars(
            select(CustodyEvent).where(CustodyEvent.action == "handoff")
        ).first()
        event.condition = "dented"
        db.session.commit()
    again = client.get(f"/api/v1/shipments/{code}", headers=tech).json["handoff_signature"]
    assert again["valid"] is False


def test_a_wrong_password_dispatches_nothing(client, tech, make_lot):
    code, _ = _packed(client, tech, make_lot)
    response = _dispatch(client, tech, code, username="tess", password="not it")
    assert response.status_code == 403 and response.json["error"]["code"] == "signature_refused"
    assert client.get(f"/api/v1/shipments/{code}", headers=tech).json["status"] == "packing"
    handoffs = select(CustodyEvent).where(CustodyEvent.action == "handoff")
    assert db.session.scalars(handoffs).all() == []
    other = _dispatch(client, tech, code, username="someone.else", password=PASSWORD)
    assert other.status_code == 403 and "your own user ID" in other.json["error"]["message"]
    half = _dispatch(client, tech, code, username="tess")
    assert half.status_code == 422


def test_dispatch_without_credentials_still_works_and_records_no_signature(client, tech, make_lot):
    code, _ = _in_transit(client, tech, make_lot)
    shown = client.get(f"/api/v1/shipments/{code}", headers=tech).json
    assert shown["status"] == "in_transit" and shown["handoff_signature"] is None


# --- a discrepancy's resolution -------------------------------------------------------------


def test_a_resolution_is_a_record_with_who_when_why_and_is_audited(client, tech, make, make_lot):
    code, bags = _in_transit(client, tech, make_lot)
    nurse = make.auth("nurse")
    recorded = _missing(client, nurse, code, bags[1])
    assert recorded["number"] == 1 and recorded["resolution"] is None

    response = _resolve(client, tech, code, 1, "confirmed_lost")
    assert response.status_code == 201, response.json
    (line,) = response.json["discrepancies"]
    resolution = line["resolution"]
    assert (resolution["outcome"], resolution["reason"], resolution["resolved_by"]) == (
        "confirmed_lost",
        "Courier confirmed the loss",
        "Tess Tech",
    )
    assert resolution["resolved_at"]
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.record_type == "discrepancy_resolutions")
    )
    assert entry.action == "create" and entry.actor == "tess"
    assert entry.reason == "shipment discrepancy resolved: confirmed_lost"


def test_one_resolution_per_discrepancy_the_second_is_409(client, tech, qa, make_lot):
    code, bags = _in_transit(client, tech, make_lot)
    _missing(client, tech, code, bags[0])
    assert _resolve(client, tech, code, 1, "confirmed_lost").status_code == 201
    second = _resolve(client, qa, code, 1, "destroyed", "Found broken")
    assert second.status_code == 409 and "already resolved" in second.json["error"]["message"]
    assert db.session.query(DiscrepancyResolution).count() == 1
    shown = client.get(f"/api/v1/shipments/{code}", headers=tech).json
    assert shown["discrepancies"][0]["resolution"]["outcome"] == "confirmed_lost"


def test_a_resolution_needs_a_reason_and_an_outcome_of_its_kind(client, tech, make_lot):
    code, bags = _in_transit(client, tech, make_lot)
    _missing(client, tech, code, bags[0])
    blank = _resolve(client, tech, code, 1, "confirmed_lost", reason="   ")
    assert blank.status_code == 422 and blank.json["error"]["details"]["field"] == "reason"
    wrong_kind = _resolve(client, tech, code, 1, "returned_to_sender")
    assert wrong_kind.status_code == 422
    assert wrong_kind.json["error"]["details"]["allowed"] == [
        "found_and_received",
        "confirmed_lost",
        "destroyed",
    ]
    assert _resolve(client, tech, code, 1, "misplaced").status_code == 422
    assert _resolve(client, tech, code, 2, "confirmed_lost").status_code == 404
    assert _resolve(client, tech, code, 0, "confirmed_lost").status_code == 404
    assert _resolve(client, tech, code, 10**30, "confirmed_lost").status_code == 404
    assert db.session.query(DiscrepancyResolution).count() == 0


def test_found_and_received_only_once_the_bag_was_scanned_in(client, tech, make_lot):
    code, bags = _in_transit(client, tech, make_lot)
    _missing(client, tech, code, bags[0], note="Not in the shipper at opening")
    early = _resolve(client, tech, code, 1, "found_and_received", "Found under the rack")
    assert early.status_code == 409 and "has not been scanned in" in early.json["error"]["message"]
    arrived = client.post(
        "/api/v1/scans", json={"action": "receive", "bag": bags[0], "shipment": code}, headers=tech
    )
    assert arrived.status_code == 201
    done = _resolve(client, tech, code, 1, "found_and_received", "Found under the rack")
    assert done.status_code == 201


@pytest.mark.parametrize(("role", "status"), [("nurse", 403), ("qa", 201), ("admin", 201)])
def test_who_resolves(client, tech, make, make_lot, role, status):
    code, bags = _in_transit(client, tech, make_lot, bags=1)
    _missing(client, tech, code, bags[0])
    assert _resolve(client, make.auth(role), code, 1, "confirmed_lost").status_code == status


# --- one rule: what blocks an action is what the server refuses -----------------------------


def _blocked(code: str, action: str) -> list[str]:
    db.session.expire_all()
    return [b.message for b in shipment_actions.blockers(shipment_by_code(code), action)]


def test_what_blocks_dispatch_and_receipt_is_exactly_what_the_api_refuses(client, tech, make_lot):
    code = _create(client, tech)["code"]
    (reason,) = _blocked(code, "dispatch")
    refused = _dispatch(client, tech, code)
    assert refused.status_code == 409 and refused.json["error"]["message"] == reason
    assert _blocked(code, "complete_receipt")  # not yet in transit

    lot = make_lot(disposition="released", status="released", bags=2)
    for bag in lot.bags:
        scan(tech.user, ScanRequest(action="pack", bag=bag.code, shipment=code))
    assert _blocked(code, "dispatch") == []
    assert _dispatch(client, tech, code).status_code == 200

    (reason,) = _blocked(code, "complete_receipt")
    refused = client.post(f"/api/v1/shipments/{code}/receipt", headers=tech)
    assert refused.status_code == 409 and refused.json["error"]["message"] == reason
    for bag in lot.bags:
        scan(tech.user, ScanRequest(action="receive", bag=bag.code, shipment=code))
    assert _blocked(code, "complete_receipt") == []
    assert client.post(f"/api/v1/shipments/{code}/receipt", headers=tech).status_code == 200
    assert db.session.scalar(select(Shipment.status).where(Shipment.code == code)) == "received"


def test_the_scan_station_is_told_which_mode_a_shipment_takes(client, tech, make_lot):
    code, bags = _packed(client, tech, make_lot, bags=1)

    def looked_up(data):
        response = client.post("/api/v1/scans/lookup", json={"data": data}, headers=tech)
        assert response.status_code == 200, response.json
        return response.json

    packing = looked_up(code)["shipment"]["refusals"]
    assert packing["pack"] is None
    assert packing["receive"].startswith(f"Shipment {code} is still being packed")
    # A bag in a shipment still being packed is not offered 'receive', only 'unpack'.
    actions = looked_up(bags[0])["bag"]["allowed_actions"]
    assert "unpack" in actions and "receive" not in actions

    assert _dispatch(client, tech, code).status_code == 200
    moving = looked_up(code)["shipment"]["refusals"]
    assert moving["receive"] is None and "has left the lab" in moving["pack"]
    actions = looked_up(bags[0])["bag"]["allowed_actions"]
    assert "receive" in actions and "unpack" not in actions
