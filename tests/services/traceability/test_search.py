"""Search: each kind of record found from every form it is scanned or typed in, as each role
may find it; recipients by identifier only for roles that see identifiers (never by name);
nothing found said as such; bad input refused in words, never a crash."""

from __future__ import annotations

from datetime import date

import pytest

from custody.domain.errors import InvalidBarcode, ValidationFailed, WrongCheckCharacter
from custody.domain.isbt128 import ALPHABET, check_character, eye_readable_din
from custody.domain.permissions import Role, sees_patient_identifiers
from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.services.core.audit_trail import acting_as
from custody.services.traceability.search import PAGES, find, searchable
from tests.services.traceability.lookback_world import build_world

ROLES = list(Role)


def found(query: str, role: Role | str = Role.TECHNICIAN) -> list[tuple[str, str]]:
    return [(hit.kind, hit.key) for hit in find(query, role)]


def test_a_bag_is_found_from_every_form_it_is_scanned_or_typed_in(make_lot):
    (bag,) = make_lot(bags=1).bags
    din, product, code = bag.din, bag.product_code, bag.code
    k = check_character(din)
    forms = {
        "label Data Matrix": bag_scan_data(din, product, bag.expires_at),
        "Code 128 DIN and product, concatenated": f"={din}00=<{product}",
        "bag code": code,
        "bag code in lower case": code.lower(),
        "typed DIN, K and product code": f"{din}{k} {product}",
        "typed in lower case, printed grouping": f"{eye_readable_din(din)} {k} {product}".lower(),
        "DIN barcode alone (the DIN has one bag)": f"={din}00",
        "DIN typed with K": f"{din}{k}".lower(),
        "DIN without K": din,
        "DIN as printed, without K": eye_readable_din(din),
        "with the scanner's spaces around it": f"  {code}\t",
    }
    for form, query in forms.items():
        for role in ROLES:
            hits = find(query, role)
            assert [(h.kind, h.key) for h in hits] == [("bag", code)], (form, role)
            assert (hits[0].endpoint, dict(hits[0].values)) == ("lab.bag_page", {"code": code})
    (hit,) = find(code, Role.NURSE)
    assert hit.label == f"Bag {eye_readable_din(din)} {k} {product}"
    assert "quarantined" in hit.detail and bag.lot.lot_number in hit.detail
    assert [(r.kind, r.key, r.endpoint) for r in hit.related] == [
        ("lot", bag.lot.lot_number, "qa.lot_page")
    ]


def test_a_din_finds_its_bags_else_its_lot_or_its_collection(make, clinic):
    w = build_world(make, clinic)
    # Lot S was made from one donation: its bags carry that DIN.
    assert found(w.din["a2"]) == [("bag", w.bag["S-A0"]), ("bag", w.bag["S-B0"])]
    # The pooled lot's bags carry its own DIN (the divided parent, discarded, among them).
    assert found(f"={w.din['P']}00") == [
        ("bag", w.bag[name]) for name in ("P-A0", "P-Aa", "P-Ab", "P-B0")
    ]
    # A pooled donation's DIN is on no bag: its collection, opening the lot it went into.
    for role in ROLES:
        (hit,) = find(w.din["a1"], role)
        assert (hit.kind, hit.key) == ("donation", w.din["a1"])
        assert (hit.endpoint, dict(hit.values)) == ("qa.lot_page", {"lot": w.lot["P"]})
        assert [(r.kind, r.key) for r in hit.related] == [("lot", w.lot["P"])]
        assert (w.donor["A"] in hit.detail) is (role is not Role.NURSE)  # nurses read no donors
    # A collection in no lot yet: the scan station shows it, to the roles that use it.
    keyed = f"{w.din['d']}{check_character(w.din['d'])}"
    (tech,) = find(keyed, Role.TECHNICIAN)
    assert (tech.kind, tech.endpoint, dict(tech.values)) == (
        "donation",
        "lab.scan_station",
        {"scan": keyed},
    )
    assert "not yet made into a lot" in tech.detail
    (nurse,) = find(keyed, Role.NURSE)
    assert (nurse.endpoint, nurse.related) == (None, ())


def test_lots_donors_and_recipients_are_found_by_their_codes_as_each_role_may(make, clinic):
    w = build_world(make, clinic)
    for role in ROLES:
        (lot,) = find(w.lot["S"].lower(), role)
        assert (lot.kind, lot.key, lot.endpoint) == ("lot", w.lot["S"], "qa.lot_page")
        assert lot.label == f"Lot {w.lot['S']}" and "released · 2 bags" in lot.detail
        # Every role finds a recipient by subject ID, in any case, and may open the record.
        (recipient,) = find(w.subject["R1"].lower(), role)
        assert (recipient.kind, recipient.key) == ("recipient", w.subject["R1"])
        assert (recipient.endpoint, dict(recipient.values)) == (
            "clinic.recipient_page",
            {"subject_id": w.subject["R1"]},
        )
    # Donors: for those who read donors, with the lots made from their collections.
    for role in (Role.TECHNICIAN, Role.QA, Role.ADMIN):
        (donor,) = find(w.donor["A"].lower(), role)
        assert (donor.kind, donor.key, donor.endpoint) == ("donor", w.donor["A"], None)
        assert [(r.kind, r.key) for r in donor.related] == [
            ("lot", w.lot["P"]),
            ("lot", w.lot["S"]),
        ]
        assert "2 collections · 2 lots" in donor.detail
    assert found(w.donor["A"], Role.NURSE) == []
    (empty,) = find(w.donor["E"], Role.QA)
    assert (empty.related, "no collections · no lots" in empty.detail) == ((), True)


def test_a_technician_never_finds_a_recipient_by_record_number_name_or_wristband(
    make, clinic, make_recipient
):
    clinic.trial()
    zq = make_recipient(
        subject_id="CAR33-ZQ-01",
        name="Zyxwa Quartzfield",
        birth_date=date(1947, 3, 29),
        hospital_record_number="ZQ90417",
    )
    wristband = wristband_data(zq.hospital_record_number, zq.birth_date)
    words = ("Zyxwa", "Quartzfield", "ZQ90417", "1947-03-29", "19470329")
    for role in ROLES:
        sees = sees_patient_identifiers(role)
        by_subject = find("car33-zq-01", role)
        assert [(h.kind, h.key) for h in by_subject] == [("recipient", "CAR33-ZQ-01")]
        shown = " ".join(f"{h.label} {h.detail}" for h in by_subject)
        assert any(word in shown for word in words) is sees, role
        # By name, never, whoever asks: a search field is not a patient index.
        for name in ("Zyxwa Quartzfield", "zyxwa", "Quartzfield"):
            assert found(name, role) == [], (role, name)
        by_record = [found(q, role) for q in ("ZQ90417", "zq90417")]
        expected = [("recipient", "CAR33-ZQ-01")] if sees else []
        assert by_record == [expected, expected], role
        if sees:
            (hit,) = find(wristband, role)
            assert (hit.key, hit.endpoint) == ("CAR33-ZQ-01", "clinic.recipient_page")
            assert "found by wristband" in hit.detail
        else:
            with pytest.raises(InvalidBarcode) as refused:
                find(wristband, role)
            assert "subject ID" in refused.value.message
            assert not any(word in refused.value.message for word in words)
    # The technician is told what they can search by: subject IDs, not identifiers.
    assert any("subject ID only" in words for words in searchable(Role.TECHNICIAN))
    assert not any("record number" in words for words in searchable(Role.TECHNICIAN))
    assert any("hospital record number" in words for words in searchable(Role.NURSE))


def test_shipments_and_storage_locations_are_found_from_their_barcodes(make_lot):
    shipment = make_lot.shipment(status="in_transit")
    positions = make_lot.positions(2)
    (bag,) = make_lot(bags=1).bags
    with acting_as("system:test", reason="test setup"):
        bag.storage_position_id, bag.status = positions[0].id, "stored"
        db.session.commit()
    for query in (shipment.code, shipment.code.lower(), f" {shipment.code} "):
        for role in ROLES:
            (hit,) = find(query, role)
            assert (hit.kind, hit.key, hit.endpoint) == (
                "shipment",
                shipment.code,
                "shipping.shipment",
            )
            assert hit.detail == "in transit · to University Hospital · no bags"
    position = positions[0].code
    (tech,) = find(position.lower(), Role.TECHNICIAN)
    assert (tech.kind, tech.key, tech.endpoint, dict(tech.values)) == (
        "location",
        position,
        "lab.scan_station",
        {"scan": position},
    )
    assert f"holds bag {bag.code}" in tech.detail and "Box" in tech.detail
    assert [(r.kind, r.key, r.endpoint) for r in tech.related] == [
        ("bag", bag.code, "lab.bag_page")
    ]
    (nurse,) = find(position, Role.NURSE)
    assert nurse.endpoint is None  # no location page a nurse may open: the bag is linked
    assert [r.endpoint for r in nurse.related] == ["lab.bag_page"]
    # A bag in storage says where, wherever it is found.
    (stored,) = find(bag.code, Role.NURSE)
    assert "Position 1" in stored.detail


def test_nothing_found_is_an_empty_answer_and_bad_input_is_refused_in_words(make_lot):
    (bag,) = make_lot(bags=1).bags
    din = bag.din
    for query in ("", "   ", "\t\n", None, 42):
        assert find(query, Role.QA) == []
    for query in ("LT-NOPE", "SHP-NONE", "LOC-NOWHERE", "x" * 500, "W999926999999", "?!"):
        assert found(query, Role.QA) == [], query
    with pytest.raises(ValidationFailed) as long:
        find("x" * 501, Role.QA)
    assert "501 characters" in long.value.message and long.value.details["field"] == "q"
    with pytest.raises(ValidationFailed):
        find("LT-1\x00", Role.QA)
    # A wrong check character is said, and the right one never shown.
    right = check_character(din)
    wrong = next(c for c in ALPHABET if c != right)
    for typed in (f"{din}{wrong}", f"{din}{wrong} {bag.product_code}"):
        with pytest.raises(WrongCheckCharacter) as refused:
            find(typed, Role.TECHNICIAN)
        assert "does not match" in refused.value.message
        assert right not in refused.value.message.replace(din[:5], "").replace(din[7:], "")
    # Broken ISBT 128 data and a station command are said in the scan reader's words.
    with pytest.raises(InvalidBarcode):
        find("=<D0001VA0", Role.TECHNICIAN)  # a product code alone names no bag
    with pytest.raises(InvalidBarcode) as command:
        find("CMD-STORE", Role.TECHNICIAN)
    assert "scan station command" in command.value.message


def test_a_hit_opens_only_a_page_its_views_let_the_role_open(app):
    for kind, (endpoint, _, use_case) in PAGES.items():
        view = app.view_functions[endpoint]
        assert view.use_case == use_case, kind


def test_a_din_of_a_large_lot_lists_the_first_bags_only(make_lot, monkeypatch):
    from custody.services.traceability import search

    lot = make_lot(bags=3)
    codes = sorted(b.code for b in lot.bags)
    assert found(lot.din) == [("bag", code) for code in codes]
    monkeypatch.setattr(search, "MAX_HITS", 2)
    assert found(lot.din) == [("bag", code) for code in codes[:2]]
