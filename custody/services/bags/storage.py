"""The storage tree: sites, freezers, racks, boxes and positions, each with a printable code.

A location is created under a parent of the kind just above it (site → freezer → rack → box →
position), so a bag's storage position always names the box, rack, freezer and site it sits in.
Codes are what a location's barcode carries: `LOC-` then upper-case letters, digits and '-'.
When no code is given one is made from the parent's, the way the demo data names its tree:
freezers hang off `LOC-` (short labels), everything below off its parent's code.

Reads are set-based: a location's children come with the bag each position holds in one query,
and paths are resolved one tree level at a time, never one query per location.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from custody.domain.errors import Conflict, NotFound, ValidationFailed
from custody.domain.scan_targets import LOCATION_PREFIX
from custody.domain.storage_tree import MAX_DEPTH, MAX_LOCATION_CODE
from custody.extensions import db
from custody.models import Bag, LocationKind, StorageLocation, User
from custody.services.bags.lookup import location_path
from custody.services.core.transactions import write

# The kind each kind hangs under; a site is a root.
PARENT_KIND: dict[LocationKind, LocationKind | None] = {
    LocationKind.SITE: None,
    LocationKind.FREEZER: LocationKind.SITE,
    LocationKind.RACK: LocationKind.FREEZER,
    LocationKind.BOX: LocationKind.RACK,
    LocationKind.POSITION: LocationKind.BOX,
}
# Generated codes end in the kind's letter(s) and the next free number among its siblings.
SUFFIX = {
    LocationKind.SITE: "SITE",
    LocationKind.FREEZER: "F",
    LocationKind.RACK: "R",
    LocationKind.BOX: "B",
    LocationKind.POSITION: "P",
}
MAX_NAME = 100
_CODE = re.compile(r"^LOC-[A-Z0-9]+(?:-[A-Z0-9]+)*$")
PATH_SEPARATOR = " › "


@dataclass(frozen=True)
class LocationRequest:
    """A location to create; a box may bring its `positions` (P01 … Pnn) in the same call."""

    kind: str
    parent: str | None = None
    code: str | None = None
    name: str | None = None
    positions: int = 0


def create_location(user: User, request: LocationRequest) -> StorageLocation:
    """Create a location (and a box's positions) in one transaction, audited as `user`."""
    kind = _kind(request.kind)
    race = (
        "Someone created a location with the same code at the same moment. Nothing "
        "was saved: look at the storage tree again, then repeat if still needed."
    )
    with write(user, f"storage: create {kind.value}", race, code=request.code):
        location = _create(kind, request)
    return location


def _create(kind: LocationKind, request: LocationRequest) -> StorageLocation:
    parent = _parent_for(kind, request.parent)
    if request.positions and kind is not LocationKind.BOX:
        raise ValidationFailed(
            f"Only a box is created with positions; a {kind.value} is not. Create the "
            f"{kind.value} without positions.",
            field="positions",
        )
    number = _next_number(parent, kind)
    if request.code:
        code = _given_code(request.code)
    else:
        code, number = _generated_code(parent, kind, number)
    width = len(str(request.positions))
    positions = [
        _child_code(code, LocationKind.POSITION, n, width) for n in range(1, request.positions + 1)
    ]
    if positions and len(positions[-1]) > MAX_LOCATION_CODE:
        raise ValidationFailed(
            f"The box's position codes ({positions[-1]}) would be longer than {MAX_LOCATION_CODE} "
            "characters, too long to print. Give the box a shorter code.",
            field="code",
        )
    _check_codes_free([code, *positions])
    location = StorageLocation(
        code=code, name=_name(request.name, kind, number), kind=kind, parent=parent
    )
    db.session.add(location)
    for n, position in enumerate(positions, start=1):
        db.session.add(
            StorageLocation(
                code=position, name=f"Position {n}", kind=LocationKind.POSITION, parent=location
            )
        )
    db.session.flush()
    return location


def _kind(value: str) -> LocationKind:
    try:
        return LocationKind(value)
    except ValueError:
        kinds = ", ".join(k.value for k in LocationKind)
        raise ValidationFailed(
            f"'{value}' is not a kind of storage location. Kinds are: {kinds}.", field="kind"
        ) from None


def _parent_for(kind: LocationKind, parent_code: str | None) -> StorageLocation | None:
    wanted = PARENT_KIND[kind]
    if wanted is None:
        if parent_code:
            raise ValidationFailed(
                "A site is the top of the storage tree: it has no parent. Leave the parent out.",
                field="parent",
            )
        return None
    if not parent_code:
        raise ValidationFailed(
            f"A {kind.value} goes inside a {wanted.value}: give the {wanted.value}'s code "
            "as the parent.",
            field="parent",
        )
    # Locked: two people adding racks to one freezer get R03 and R04, not R03 twice.
    parent = location_by_code(parent_code, lock=True)
    if parent.kind is not wanted:
        raise ValidationFailed(
            f"{parent.code} is a {parent.kind.value}; a {kind.value} goes inside a "
            f"{wanted.value}. Choose a {wanted.value} as the parent.",
            field="parent",
            parent=parent.code,
            parent_kind=parent.kind.value,
        )
    return parent


def _given_code(raw: str) -> str:
    code = raw.strip().upper()
    if not code.startswith(LOCATION_PREFIX):
        raise ValidationFailed(
            f"A location code starts with {LOCATION_PREFIX} so that a scan recognises it "
            f"(e.g. {LOCATION_PREFIX}LN2-01). Leave the code out to have one made.",
            field="code",
        )
    if len(code) > MAX_LOCATION_CODE or not _CODE.match(code):
        raise ValidationFailed(
            f"A location code holds {LOCATION_PREFIX} and then letters, digits and single "
            f"'-' between them, at most {MAX_LOCATION_CODE} characters; "
            f"'{raw.strip()[:60]}' does not.",
            field="code",
        )
    return code


def _generated_code(
    parent: StorageLocation | None, kind: LocationKind, number: int
) -> tuple[str, int]:
    """The next code under `parent` (and its number), stepping over codes already in use."""
    # Sites and freezers hang off "LOC" so that the labels below them stay short.
    short = kind in (LocationKind.SITE, LocationKind.FREEZER)
    base = LOCATION_PREFIX.rstrip("-") if short or parent is None else parent.code
    taken = set(
        db.session.scalars(
            select(StorageLocation.code).where(StorageLocation.code.like(f"{base}-{SUFFIX[kind]}%"))
        )
    )
    code = _child_code(base, kind, number)
    while code in taken:  # a hand-made code may sit where the next number would go
        number += 1
        code = _child_code(base, kind, number)
    if len(code) > MAX_LOCATION_CODE:
        raise ValidationFailed(
            f"The code made for this {kind.value} ({code}) would be longer than "
            f"{MAX_LOCATION_CODE} characters, too long to print. Give a shorter code, or "
            "shorter parent codes.",
            field="code",
        )
    return code, number


def _child_code(parent_code: str, kind: LocationKind, number: int, width: int = 2) -> str:
    return f"{parent_code}-{SUFFIX[kind]}{number:0{max(width, 2)}d}"


def _next_number(parent: StorageLocation | None, kind: LocationKind) -> int:
    query = select(func.count()).select_from(StorageLocation).where(StorageLocation.kind == kind)
    if parent is not None:
        query = query.where(StorageLocation.parent_id == parent.id)
    else:
        query = query.where(StorageLocation.parent_id.is_(None))
    return (db.session.scalar(query) or 0) + 1


def _name(given: str | None, kind: LocationKind, number: int) -> str:
    name = " ".join((given or "").split())
    if len(name) > MAX_NAME:
        raise ValidationFailed(
            f"A location's name is at most {MAX_NAME} characters (it goes on the label); "
            f"this one has {len(name)}.",
            field="name",
        )
    return name or f"{kind.value.title()} {number}"


def _check_codes_free(codes: list[str]) -> None:
    taken = _taken(set(codes))
    if taken:
        first = sorted(taken)[0]
        holder = location_by_code(first)
        raise Conflict(
            f"Code {first} is already used by {location_path(holder)} ({holder.kind.value}). "
            "Choose another code, or leave it out to have one made.",
            code=first,
        )


def _taken(codes: set[str]) -> set[str]:
    if not codes:
        return set()
    found = db.session.scalars(select(StorageLocation.code).where(StorageLocation.code.in_(codes)))
    return set(found)


# --- reading the tree ----------------------------------------------------------------------


def normalise_code(raw: str) -> str:
    return raw.strip().upper()


def location_by_code(code: str, *, lock: bool = False) -> StorageLocation:
    """The location `code` names (any case); NotFound in words a technician can act on."""
    query = select(StorageLocation).where(StorageLocation.code == normalise_code(code))
    if lock:
        query = query.with_for_update()
    location = db.session.scalar(query)
    if location is None:
        raise NotFound(
            f"No storage location {normalise_code(code)[:60]} is known here. Check the label, "
            "or list the locations to find the right code.",
            location=normalise_code(code)[:60],
        )
    return location


def list_locations(
    parent: str | None = None, kind: str | None = None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    """Locations (under `parent`, of `kind`), each with its path and the bag a position holds."""
    query: Select = _with_bag(select(StorageLocation))
    if parent:
        query = query.where(StorageLocation.parent_id == location_by_code(parent).id)
    if kind:
        query = query.where(StorageLocation.kind == _kind(kind))
    rows = db.session.execute(query.order_by(StorageLocation.code).limit(limit).offset(offset))
    rows = rows.all()
    paths = location_paths([location for location, *_ in rows])
    return [_node(location, bag, status, paths) for location, bag, status in rows]


def location_detail(code: str, depth: int = 1) -> dict[str, Any]:
    """One location with its path, its bag (a position) and its subtree `depth` levels down."""
    location, bag, status = _one_with_bag(code)
    node = _node(location, bag, status, location_paths([location]))
    _add_children({location.id: node}, max(1, min(depth, MAX_DEPTH)))
    return node


def _one_with_bag(code: str):
    row = db.session.execute(
        _with_bag(select(StorageLocation)).where(StorageLocation.code == normalise_code(code))
    ).first()
    if row is None:
        location_by_code(code)  # raises NotFound with its message
    return row


def _add_children(nodes: dict[int, dict], depth: int) -> None:
    """Give each node its `children`, `depth` levels deep: one query per level, bags included."""
    for node in nodes.values():
        node["children"] = []
    rows = db.session.execute(
        _with_bag(select(StorageLocation))
        .where(StorageLocation.parent_id.in_(list(nodes)))
        .order_by(StorageLocation.code)
    ).all()
    below: dict[int, dict] = {}
    for location, bag, status in rows:
        child = _node(location, bag, status, None)
        nodes[location.parent_id]["children"].append(child)
        below[location.id] = child
    if depth > 1 and below:
        _add_children(below, depth - 1)


def _with_bag(query: Select) -> Select:
    return query.add_columns(Bag.code, Bag.status).outerjoin(
        Bag, Bag.storage_position_id == StorageLocation.id
    )


def _node(location, bag_code, bag_status, paths: dict[int, str] | None) -> dict[str, Any]:
    node = {
        "code": location.code,
        "name": location.name,
        "kind": location.kind.value,
        "bag": bag_code,
        "bag_status": bag_status.value if bag_status is not None else None,
    }
    if paths is not None:
        node["path"] = paths[location.id]
        node["parent"] = paths.get(("code", location.parent_id))
    return node


def location_paths(locations: list[StorageLocation]) -> dict:
    """{id: "Site › Freezer › …"} for `locations`, and {("code", id): code} for their parents.

    Ancestors are fetched one tree level at a time (at most four queries), whatever the count.
    """
    known: dict[int, tuple[str, str, int | None]] = {
        loc.id: (loc.code, loc.name, loc.parent_id) for loc in locations
    }
    missing = {loc.parent_id for loc in locations if loc.parent_id is not None} - set(known)
    while missing:
        rows = db.session.execute(
            select(
                StorageLocation.id,
                StorageLocation.code,
                StorageLocation.name,
                StorageLocation.parent_id,
            ).where(StorageLocation.id.in_(missing))
        ).all()
        known.update({row.id: (row.code, row.name, row.parent_id) for row in rows})
        missing = {row.parent_id for row in rows if row.parent_id is not None} - set(known)
    out: dict = {}
    for loc in locations:
        names, node = [], loc.id
        while node is not None:
            _, name, node = known[node]
            names.append(name)
        out[loc.id] = PATH_SEPARATOR.join(reversed(names))
        if loc.parent_id is not None:
            out[("code", loc.parent_id)] = known[loc.parent_id][0]
    return out
