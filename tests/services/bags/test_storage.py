"""The storage tree: kinds in order, printable codes, a box with its positions, who holds what."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from custody.domain.errors import Conflict, NotFound, ValidationFailed
from custody.domain.scan_targets import read_scan
from custody.extensions import db
from custody.models import AuditEntry, StorageLocation
from custody.services.bags.scans import ScanRequest, scan
from custody.services.bags.storage import (
    LocationRequest,
    create_location,
    list_locations,
    location_detail,
)
from tests.races import race


def _create(user, kind, parent=None, **kw):
    return create_location(user, LocationRequest(kind=kind, parent=parent, **kw))


def _tree(user, positions=3):
    """A site, a freezer, a rack and a box with `positions` positions; returns their codes."""
    site = _create(user, "site", name="Cell therapy lab")
    freezer = _create(user, "freezer", site.code, name="LN2 freezer 1")
    rack = _create(user, "rack", freezer.code)
    box = _create(user, "box", rack.code, positions=positions)
    return site.code, freezer.code, rack.code, box.code


def _count_locations() -> int:
    return db.session.scalar(select(func.count()).select_from(StorageLocation))


def test_codes_are_made_from_the_parent_and_a_box_brings_its_positions(make):
    tech = make.user("technician", username="tina")
    site, freezer, rack, box = _tree(tech, positions=3)
    assert (site, freezer, rack, box) == (
        "LOC-SITE01",
        "LOC-F01",
        "LOC-F01-R01",
        "LOC-F01-R01-B01",
    )
    detail = location_detail(box)
    assert detail["kind"] == "box" and detail["parent"] == rack
    assert detail["path"] == "Cell therapy lab › LN2 freezer 1 › Rack 1 › Box 1"
    assert [(c["code"], c["name"], c["kind"]) for c in detail["children"]] == [
        (f"{box}-P{n:02d}", f"Position {n}", "position") for n in (1, 2, 3)
    ]
    # Every code is one a scan recognises as a location.
    for code in (site, freezer, rack, box, f"{box}-P03"):
        assert read_scan(code).kind == "location"
    second_rack = _create(tech, "rack", freezer)
    assert second_rack.code == "LOC-F01-R02" and second_rack.name == "Rack 2"


def test_every_location_created_is_in_the_audit_trail_under_its_creator(make):
    tech = make.user("technician", username="tina")
    _, _, _, box = _tree(tech, positions=2)
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.record_type == "storage_locations")
    ).all()
    assert len(entries) == _count_locations() == 6
    assert {e.actor for e in entries} == {"tina"}
    assert {e.action for e in entries} == {"create"}
    assert f"{box}-P02" in {e.record_key for e in entries}


@pytest.mark.parametrize(
    ("kind", "parent_kind", "words"),
    [
        ("site", "site", "has no parent"),
        ("freezer", None, "goes inside a site"),
        ("rack", "site", "goes inside a freezer"),
        ("box", "freezer", "goes inside a rack"),
        ("position", "rack", "goes inside a box"),
        ("position", "position", "goes inside a box"),
    ],
)
def test_each_kind_goes_under_the_kind_above_it(make, kind, parent_kind, words):
    tech = make.user("technician")
    codes = dict(zip(("site", "freezer", "rack", "box"), _tree(tech, positions=1), strict=True))
    codes["position"] = f"{codes['box']}-P01"
    before = _count_locations()
    with pytest.raises(ValidationFailed, match=words) as refused:
        _create(tech, kind, codes.get(parent_kind))
    assert refused.value.details["field"] == "parent"
    assert _count_locations() == before


def test_an_unknown_parent_or_kind_is_refused(make):
    tech = make.user("technician")
    with pytest.raises(NotFound, match="LOC-NOWHERE"):
        _create(tech, "freezer", "loc-nowhere")
    with pytest.raises(ValidationFailed, match="Kinds are"):
        _create(tech, "shelf", None)
    assert _count_locations() == 0


def test_given_codes_are_upper_cased_and_must_be_printable_location_codes(make):
    tech = make.user("technician")
    site = _create(tech, "site", code=" loc-lab-a ")
    assert site.code == "LOC-LAB-A"
    for bad in ("FRZ-1", "LOC-", "LOC--1", "LOC-F 1", "LOC-É1", "LOC-F1-", "LOC-" + "X" * 40):
        with pytest.raises(ValidationFailed) as refused:
            _create(tech, "freezer", site.code, code=bad)
        assert refused.value.details["field"] == "code"
    assert _count_locations() == 1


def test_codes_and_names_too_long_to_print_are_refused(make):
    tech = make.user("technician")
    _, _, rack, _ = _tree(tech, positions=0)
    long_box = "LOC-" + "B" * 33  # 37 characters: its positions would need 41
    with pytest.raises(ValidationFailed, match="position codes") as refused:
        _create(tech, "box", rack, code=long_box, positions=2)
    assert refused.value.details["field"] == "code"
    with pytest.raises(ValidationFailed, match="at most 100") as refused:
        _create(tech, "box", rack, name="x" * 101)
    assert refused.value.details["field"] == "name"
    assert _create(tech, "box", rack, code=long_box).code == long_box  # without positions


def test_a_code_in_use_is_refused_naming_where_it_is(make):
    tech = make.user("technician")
    site, freezer, _, _ = _tree(tech, positions=0)
    before = _count_locations()
    with pytest.raises(Conflict, match=r"LOC-F01 is already used by Cell therapy lab › LN2"):
        _create(tech, "freezer", site, code="LOC-F01")
    # A box whose positions would take a code in use is refused whole.
    _create(tech, "rack", freezer, code="LOC-F01-R09")
    _create(tech, "box", "LOC-F01-R09", code="LOC-X-P01")
    with pytest.raises(Conflict, match="LOC-X-P01"):
        _create(tech, "box", "LOC-F01-R09", code="LOC-X", positions=2)
    assert _count_locations() == before + 2


def test_a_made_code_steps_over_a_hand_made_one(make):
    tech = make.user("technician")
    _, freezer, _, _ = _tree(tech, positions=0)
    _create(tech, "rack", freezer, code="LOC-F01-R03")
    rack = _create(tech, "rack", freezer)
    assert (rack.code, rack.name) == ("LOC-F01-R04", "Rack 4")
    assert _create(tech, "rack", freezer).code == "LOC-F01-R05"


def test_only_a_box_is_created_with_positions(make):
    tech = make.user("technician")
    site, *_ = _tree(tech, positions=0)
    with pytest.raises(ValidationFailed, match="Only a box"):
        _create(tech, "freezer", site, positions=4)


def test_a_hundred_position_box_numbers_its_positions_with_three_digits(make):
    tech = make.user("technician")
    *_, box = _tree(tech, positions=100)
    codes = [c["code"] for c in location_detail(box)["children"]]
    assert codes[0] == f"{box}-P001" and codes[-1] == f"{box}-P100" and len(codes) == 100


def test_positions_show_the_bag_they_hold(make, make_lot):
    tech = make.user("technician")
    *_, rack, box = _tree(tech, positions=3)
    lot = make_lot(bags=1)
    bag = lot.bags[0]
    scan(tech, ScanRequest(action="store", bag=bag.code, location=f"{box}-P02"))
    children = location_detail(box)["children"]
    assert [(c["bag"], c["bag_status"]) for c in children] == [
        (None, None),
        (bag.code, "stored"),
        (None, None),
    ]
    position = location_detail(f"{box}-p02")  # any case
    assert position["bag"] == bag.code and position["children"] == []
    two_levels = location_detail(rack, depth=2)
    assert two_levels["children"][0]["children"][1]["bag"] == bag.code


def test_listing_filters_by_parent_and_kind(make):
    tech = make.user("technician")
    site, _, _, box = _tree(tech, positions=2)
    _create(tech, "freezer", site, name="LN2 freezer 2")
    freezers = list_locations(kind="freezer")
    assert [f["code"] for f in freezers] == ["LOC-F01", "LOC-F02"]
    assert {f["parent"] for f in freezers} == {site}
    assert freezers[1]["path"] == "Cell therapy lab › LN2 freezer 2"
    positions = list_locations(parent=box)
    assert [p["code"] for p in positions] == [f"{box}-P01", f"{box}-P02"]
    assert list_locations(parent=box, kind="rack") == []
    assert [s["code"] for s in list_locations(kind="site")] == [site]
    assert list_locations(kind="site")[0]["parent"] is None
    with pytest.raises(NotFound):
        list_locations(parent="LOC-NONE")


def _statements(run) -> int:
    count = 0

    def counted(*args):
        nonlocal count
        count += 1

    event.listen(db.engine, "before_cursor_execute", counted)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", counted)
    return count


def test_reading_a_box_costs_the_same_whatever_it_holds(make, make_lot):
    tech = make.user("technician")
    _, _, rack, small = _tree(tech, positions=2)
    large = _create(tech, "box", rack, positions=40).code
    lot = make_lot(bags=3)
    for n, bag in enumerate(lot.bags, start=1):
        scan(tech, ScanRequest(action="store", bag=bag.code, location=f"{large}-P{n:02d}"))
    db.session.commit()
    cost_small = _statements(lambda: location_detail(small))
    db.session.commit()
    cost_large = _statements(lambda: location_detail(large))
    assert cost_small == cost_large
    db.session.commit()
    # The list, the ancestors one tree level at a time, and SQLite's BEGIN.
    assert _statements(lambda: list_locations(kind="position")) <= 6


def test_two_people_adding_racks_to_one_freezer_get_different_codes(app, make):
    tech = make.user("technician", username="tina")
    make.user("technician", username="theo")
    _, freezer, _, _ = _tree(tech, positions=0)
    made = race(
        app,
        ("tina", lambda user: _create(user, "rack", freezer).code),
        ("theo", lambda user: _create(user, "rack", freezer).code),
    )
    assert sorted(made) == ["LOC-F01-R02", "LOC-F01-R03"], made
