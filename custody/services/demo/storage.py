"""Where the bags sit: one rack of boxes per scale unit, a home position for every bag."""

from __future__ import annotations

from sqlalchemy import select

from custody.extensions import db
from custody.models import LocationKind, StorageLocation
from custody.services.demo.scenario import BAGS_PER_LOT, LAB, Unit


def build_storage(unit: Unit, site: StorageLocation) -> None:
    """One rack per unit (ten racks a freezer): a box of 25 positions per lot, and a spare box.

    Each bag has its own home position in its lot's box and only ever goes back there, and a
    move takes a spare position nobody used before: no position ever holds two bags at once.
    """
    freezer_no, rack_no = divmod(unit.number, 10)
    code = f"LOC-LN2-{freezer_no + 1:02d}"
    freezer = db.session.scalar(select(StorageLocation).where(StorageLocation.code == code))
    if freezer is None:
        freezer = StorageLocation(
            code=code, name=f"LN2 freezer {freezer_no + 1}", kind=LocationKind.FREEZER, parent=site
        )
    rack = _child(freezer, LocationKind.RACK, f"R{rack_no + 1:02d}", f"Rack {rack_no + 1}")
    nodes = [freezer, rack]
    for box_no in range(1, 10):
        box = _child(rack, LocationKind.BOX, f"B{box_no:02d}", f"Box {box_no}")
        nodes.append(box)
        positions = []
        for pos in range(1, BAGS_PER_LOT + 1):
            node = _child(box, LocationKind.POSITION, f"P{pos:02d}", f"Position {pos}")
            unit.paths[id(node)] = " › ".join((LAB, freezer.name, rack.name, box.name, node.name))
            positions.append(node)
        unit.boxes.append(positions)
        nodes += positions
    unit.spare = unit.boxes.pop()
    db.session.add_all(nodes)
    db.session.flush()


def _child(parent: StorageLocation, kind: LocationKind, suffix: str, name: str) -> StorageLocation:
    # Codes are short enough to print: each extends its parent's code.
    return StorageLocation(code=f"{parent.code}-{suffix}", name=name, kind=kind, parent=parent)
