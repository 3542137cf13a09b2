"""Scan-driven custody actions: the life cycle enforced, storage, packing, and what is recorded."""

import pytest

from custody.domain.errors import Conflict, IllegalTransition, InvalidBarcode, WrongCheckCharacter
from custody.domain.isbt128 import check_character
from custody.extensions import db
from custody.models import AuditEntry, Bag, CustodyEvent
from custody.services.bags.queries import bag_detail
from custody.services.bags.scans import ScanRequest, scan


def _scan(user, action, bag, **kw):
    return scan(user, ScanRequest(action=action, bag=bag, **kw))


def _code(bag):
    return bag.code


def test_store_then_move_then_retrieve_records_positions_and_time_out(make, make_lot):
    tech = make.user("technician")
    lot = make_lot(bags=1)
    bag = lot.bags[0]
    p1, p2 = make_lot.positions(2)
    event = _scan(tech, "store", bag_detail(bag.code)["scan"], location=p1.code, temperature_c=-190)
    assert (event.from_status, event.to_status, event.location.code) == (
        "quarantined",
        "stored",
        p1.code,
    )
    _scan(tech, "move", bag.code, location=p2.code)
    db.session.expire_all()
    assert db.session.get(Bag, bag.id).storage_position.code == p2.code
    _scan(tech, "retrieve", bag.code)
    stored_again = _scan(tech, "store", bag.code, location=p1.code)
    db.session.expire_all()
    bag = db.session.get(Bag, bag.id)
    assert bag.status.value == "stored" and bag.storage_position.code == p1.code
    assert stored_again.out_of_storage_s is not None and stored_again.out_of_storage_s >= 0
    actions = [e["action"] for e in bag_detail(bag.code)["history"]]
    assert actions == ["store", "move", "retrieve", "store"]


def test_a_position_holds_one_bag(make, make_lot):
    tech = make.user("technician")
    lot = make_lot(bags=2)
    (position,) = make_lot.positions(1)
    _scan(tech, "store", lot.bags[0].code, location=position.code)
    with pytest.raises(Conflict, match="already holds"):
        _scan(tech, "store", lot.bags[1].code, location=position.code)
    db.session.expire_all()
    assert db.session.get(Bag, lot.bags[1].id).status.value == "quarantined"


def test_shipping_a_quarantined_bag_is_refused_naming_state_and_allowed_actions(make, make_lot):
    tech = make.user("technician")
    lot = make_lot(bags=1)
    shipment = make_lot.shipment()
    events_before = db.session.query(CustodyEvent).count()
    audit_before = db.session.query(AuditEntry).count()
    with pytest.raises(IllegalTransition) as refused:
        _scan(tech, "pack", lot.bags[0].code, shipment=shipment.code)
    assert "QUARANTINED" in refused.value.message
    assert "store" in refused.value.details["allowed_actions"]
    assert "pack" not in refused.value.details["allowed_actions"]
    assert db.session.query(CustodyEvent).count() == events_before
    assert db.session.query(AuditEntry).count() == audit_before


def test_released_lot_bag_packs_and_unpacks_back_to_its_state(make, make_lot):
    tech = make.user("technician")
    lot = make_lot(disposition="released", status="released", bags=1)
    (position,) = make_lot.positions(1)
    shipment = make_lot.shipment()
    _scan(tech, "store", lot.bags[0].code, location=position.code)
    event = _scan(tech, "pack", lot.bags[0].code, shipment=shipment.code)
    assert event.to_status == "shipped" and event.location.code == position.code
    db.session.expire_all()
    assert db.session.get(Bag, lot.bags[0].id).storage_position is None
    with pytest.raises(Exception, match="reason"):
        _scan(tech, "unpack", lot.bags[0].code, shipment=shipment.code)
    back = _scan(tech, "unpack", lot.bags[0].code, shipment=shipment.code, reason="wrong site")
    assert back.to_status == "released"


def test_expired_bag_cannot_be_packed(make, make_lot):
    tech = make.user("technician")
    lot = make_lot(disposition="released", status="released", bags=1, expires_in_days=-1)
    with pytest.raises(IllegalTransition, match="expired"):
        _scan(tech, "pack", lot.bags[0].code, shipment=make_lot.shipment().code)


def test_final_bag_refuses_everything(make, make_lot):
    tech = make.user("technician")
    lot = make_lot(bags=1, status="infused", disposition="released")
    (position,) = make_lot.positions(1)
    with pytest.raises(IllegalTransition, match=r"INFUSED.*final"):
        _scan(tech, "store", lot.bags[0].code, location=position.code)


def test_typed_din_with_check_character(make, make_lot):
    tech = make.user("technician")
    lot = make_lot(bags=1)
    bag = lot.bags[0]
    (position,) = make_lot.positions(1)
    k = check_character(bag.din)
    wrong = "A" if k != "A" else "B"
    with pytest.raises(WrongCheckCharacter):
        _scan(tech, "store", f"{bag.din}{wrong} {bag.product_code}", location=position.code)
    event = _scan(tech, "store", f"{bag.din}{k} {bag.product_code}", location=position.code)
    assert event.to_status == "stored"


def test_unknown_bag_and_wrong_kind_of_barcode(make, make_lot):
    tech = make.user("technician")
    lot = make_lot(bags=1)
    (position,) = make_lot.positions(1)
    with pytest.raises(Exception, match="No bag"):
        _scan(tech, "quarantine", "W999999999999-D0001VA0")
    with pytest.raises(InvalidBarcode, match="not a bag"):
        _scan(tech, "store", position.code, location=position.code)
    with pytest.raises(InvalidBarcode):
        _scan(tech, "store", lot.bags[0].code, location=lot.bags[0].code)


def test_stale_version_is_a_conflict_naming_the_winner(make, make_lot):
    tech, tech2 = make.user("technician"), make.user("technician", name="Aiko Tanaka")
    lot = make_lot(bags=1)
    (position,) = make_lot.positions(1)
    seen = bag_detail(lot.bags[0].code)["version"]
    _scan(tech2, "discard", lot.bags[0].code, reason="bag leaking")
    with pytest.raises(Conflict, match="Aiko Tanaka"):
        _scan(tech, "store", lot.bags[0].code, location=position.code, expected_version=seen)
