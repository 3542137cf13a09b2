"""Every move towards a patient asks whether QA's release signature still holds, not only
whether the lot reads released. A QC result changed by SQL, as a database administrator
could, leaves the lot reading "released" but its signature no longer holding: allocation,
packing, hand-off, thaw, bedside verification and the start of an infusion are refused (409
through the API); recording the end of an infusion already under way never is.
"""

from __future__ import annotations

import pytest

from custody.domain.errors import IllegalTransition
from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import Bag, Lot
from custody.services.bags.queries import bag_detail
from custody.services.bags.scans import ScanRequest, scan
from custody.services.bags.shipping import dispatch
from custody.services.clinic.allocation import AllocationRequest, allocate
from custody.services.clinic.bedside import VerificationRequest, verify
from custody.services.clinic.infusions import complete_infusion, start_infusion
from custody.services.core.facility import site_zone
from custody.services.quality.release_signature import release_holds
from tests.factories import PASSWORD
from tests.services.audit.tampering import as_dba

HOLDS_NOT = "no longer holds (The lot's record changed after it was signed"


def change_result_by_sql(bag) -> None:
    """What a DBA could do: one QC result of the bag's lot changed, bypassing the tracker."""
    as_dba(
        "UPDATE qc_results SET value_numeric = 99.0 WHERE lot_id = :lot AND test = 'viability'",
        lot=bag.lot_id,
    )


def _scan(user, action, bag, **fields):
    return scan(user, ScanRequest(action=action, bag=bag_detail(bag.code)["scan"], **fields))


def _still_released(bag) -> None:
    """The lot still reads released (the column was not touched), but the signature fails."""
    lot = db.session.get(Lot, bag.lot_id)
    assert lot.disposition.value == "released"
    assert release_holds(lot) == (False, "The lot's record changed after it was signed.")


def _state(bag) -> str:
    db.session.expire_all()
    return db.session.get(Bag, bag.id).status.value


def test_allocation_is_refused(clinic, qa):
    (bag,) = clinic.released_bags(1)
    recipient = clinic.recipient()
    change_result_by_sql(bag)
    _still_released(bag)
    with pytest.raises(IllegalTransition, match="no longer holds"):
        allocate(qa, AllocationRequest(recipient.subject_id, 1, [bag.code], ""))
    assert _state(bag) == "released"


def test_packing_and_the_bags_own_release_scan_are_refused(clinic, make_lot, tech):
    (bag,) = clinic.released_bags(1)
    shipment = make_lot.shipment()
    change_result_by_sql(bag)
    with pytest.raises(IllegalTransition) as refused:
        _scan(tech, "pack", bag, shipment=shipment.code)
    assert refused.value.message == (
        f"'pack' of bag {bag.code} is refused: QA's release of lot {bag.lot.lot_number} "
        f"{HOLDS_NOT}). Nothing was done; QA must review the lot and sign it again."
    )
    assert refused.value.http_status == 409
    assert _state(bag) == "released"
    quarantined = clinic.released_bags(1)[0]
    clinic._set_status(quarantined, "quarantined")
    change_result_by_sql(quarantined)
    with pytest.raises(IllegalTransition, match=f"'release' of bag {quarantined.code} is refused"):
        _scan(tech, "release", quarantined)


def test_the_hand_off_to_the_courier_is_refused(clinic, make_lot, tech):
    (bag,) = clinic.released_bags(1)
    shipment = make_lot.shipment()
    _scan(tech, "pack", bag, shipment=shipment.code)  # packed while the release held
    change_result_by_sql(bag)
    with pytest.raises(IllegalTransition) as refused:
        dispatch(tech, shipment.code, "Ann Courier", "Cryo Couriers")
    assert f"{bag.code}: QA's release of its lot {bag.lot.lot_number} {HOLDS_NOT})" in (
        refused.value.message
    )
    assert _state(bag) == "shipped"  # packed, never handed over


def test_thaw_is_refused_at_its_start_and_its_end(clinic, nurse):
    bag, _, _ = clinic.at_bedside(thawed=False)
    change_result_by_sql(bag)
    with pytest.raises(IllegalTransition, match=f"'thaw_start' of bag {bag.code} is refused"):
        _scan(nurse, "thaw_start", bag)
    other, _, _ = clinic.at_bedside(thawed=False)
    _scan(nurse, "thaw_start", other)
    change_result_by_sql(other)
    with pytest.raises(IllegalTransition, match=f"'thaw' of bag {other.code} is refused"):
        _scan(nurse, "thaw", other)
    assert (_state(bag), _state(other)) == ("received", "received")


def _verify(ann, bag, recipient):
    return verify(
        ann,
        VerificationRequest(
            recipient=wristband_data(recipient.hospital_record_number, recipient.birth_date),
            bag=bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone()),
            second_verifier={"username": "nina", "password": PASSWORD},
        ),
    )


def test_bedside_verification_stops(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    change_result_by_sql(bag)
    result = _verify(ann, bag, recipient)
    assert not result.passed
    assert result.stop_reason.startswith("STOP: QA's release of lot")
    assert _state(bag) == "thawed"


def test_an_infusion_cannot_start_but_one_under_way_is_always_recorded_to_its_end(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    uid = _verify(ann, bag, recipient).uid
    change_result_by_sql(bag)
    with pytest.raises(IllegalTransition, match="no longer holds"):
        start_infusion(ann, uid)
    assert _state(bag) == "verified"

    running, recipient2, _ = clinic.at_bedside()
    started = start_infusion(ann, _verify(ann, running, recipient2).uid)
    change_result_by_sql(running)
    _still_released(running)
    done = complete_infusion(ann, running.code, None, 19.5, interruption_reason="")
    assert done["ended_at"] is not None and done["started_at"] == started["started_at"]
    assert _state(running) == "infused"


def test_through_the_api_pack_is_409_and_the_record_says_why(client, clinic, make, make_lot, tech):
    (bag,) = clinic.released_bags(1)
    shipment = make_lot.shipment()
    change_result_by_sql(bag)
    headers = make.headers(tech)
    shown = client.get(f"/api/v1/lots/{bag.lot.lot_number}", headers=headers).get_json()
    assert shown["status"] == "released" and shown["release"]["signature_valid"] is False
    answer = client.post(
        "/api/v1/scans",
        json={"action": "pack", "bag": bag.code, "shipment": shipment.code},
        headers=headers,
    )
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert error["code"] == "illegal_transition"
    assert error["message"].startswith(f"'pack' of bag {bag.code} is refused: QA's release")
