"""Each bag's journey: its path checked step by step against the life-cycle rules, the time of
every step, and what packing, handoff and receipt record on its shipment.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from custody.domain.bag_lifecycle import BagSituation, plan
from custody.domain.scan_targets import bag_scan_data
from custody.models import (
    Bag,
    BagStatus,
    CustodyEvent,
    Disposition,
    Lot,
    Shipment,
    ShipmentItem,
    ShipmentStatus,
    User,
)
from custody.services.demo.clinic import recipient_for
from custody.services.demo.scenario import (
    ACTORS,
    ALLOCATION_ORDER,
    AT_SITE,
    COURIER,
    DAY,
    DECIDED_AFTER,
    DEMO_NOW,
    HOUR,
    LAB,
    LAB_STATION,
    MIN,
    MIX,
    NOT_SCANNED,
    ON_TRIP,
    PATHS,
    REASONS,
    SHIPPED_AFTER,
    SITE,
    TEMPERATURES,
    WARD_STATION,
    Trip,
    Unit,
    Walk,
)


def send(unit: Unit, lots: list[Lot], shipment_codes) -> None:
    """Each lot's bags along their paths; released lots ship to the site, one trip still away.

    QA's decision time is kept on the unit: the signed decisions are dated by it."""
    in_transit = new_trip(unit, next(shipment_codes), DEMO_NOW - 11 * HOUR, arrive=False)
    missing_done = False
    for lot in lots:
        mix = outcomes(unit, lot.disposition)
        decided = trip = None
        if lot.disposition in SHIPPED_AFTER:
            if not missing_done:
                mix[mix.index("received")] = "missing"
                missing_done = True
            decided = lot.manufactured_at + DECIDED_AFTER[lot.disposition]
            decided += HOUR * unit.rng.randrange(2, 8)
            packed = decided + SHIPPED_AFTER[lot.disposition]
            trip = new_trip(unit, next(shipment_codes), packed, arrive=True)
        elif lot.disposition in DECIDED_AFTER:
            decided = lot.manufactured_at + DECIDED_AFTER[lot.disposition]
        if decided is not None:
            unit.decided[lot.lot_number] = decided
        walk_bags(unit, lot, lots.index(lot), mix, decided, trip, in_transit)


def outcomes(unit: Unit, disposition: Disposition) -> list[str]:
    mix = [outcome for outcome, count in MIX[disposition].items() for _ in range(count)]
    unit.rng.shuffle(mix)
    return mix


def new_trip(unit: Unit, code: str, packed: datetime, arrive: bool) -> Trip:
    handed = packed + 45 * MIN
    arrived = handed + MIN * unit.rng.randrange(300, 420) if arrive else None
    shipment = Shipment(
        code=code,
        destination_site=SITE,
        courier=COURIER,
        shipper_id=f"DS-{unit.rng.randrange(1, 13):02d}",
        status=ShipmentStatus.RECEIVED if arrive else ShipmentStatus.IN_TRANSIT,
        created_at=packed - 30 * MIN,
        created_by_id=unit.users["tech"].id,
        handed_over_at=handed,
        handed_over_to=f"{COURIER} (J. Novak)",
        received_at=arrived + 30 * MIN if arrive else None,
        received_by_id=unit.users["nurse"].id if arrive else None,
    )
    trip = Trip(shipment, packed, handed, arrived)
    unit.rows.append(shipment)
    unit.trips.append(trip)
    return trip


def walk_bags(unit, lot, n, mix, decided, trip, in_transit) -> None:
    rng = unit.rng
    level = rng.choice(unit.trial.dose_levels)
    pdc = lot.product_description_code
    walks = []
    for b, outcome in enumerate(mix):
        product_code = f"{pdc}V{chr(ord('A') + b)}0"
        viable = level.dose_cells * rng.uniform(0.95, 1.1)
        filled = lot.manufactured_at + 3 * MIN * b
        bag = Bag(
            lot=lot,
            din=lot.din,
            product_code=product_code,
            code=f"{lot.din}-{product_code}",
            volume_ml=20.0,
            total_cells=round(viable / rng.uniform(0.7, 0.85), -6),
            viable_car_nk_cells=round(viable, -6),
            dose_level_id=level.id,
            expires_at=lot.expires_at,
            created_at=filled,
        )
        walk = Walk(bag, outcome, b, filled, decided and decided + MIN * b, unit.boxes[n][b])
        walk.trip = {"in_transit": in_transit}.get(outcome, trip if outcome in ON_TRIP else None)
        if walk.trip:
            walk.trip.bags.append(bag)
        walks.append(walk)
    allocated = sorted(
        (w for w in walks if w.outcome in ALLOCATION_ORDER),
        key=lambda w: ALLOCATION_ORDER.index(w.outcome),
    )
    for i in range(0, len(allocated), 2):
        pair = allocated[i : i + 2]
        for number, w in enumerate(pair, start=1):
            if w.trip and w.trip.arrived_at:
                w.infusion_at = w.trip.arrived_at + DAY * (1 + 7 * (number - 1)) + 3 * HOUR
        recipient = recipient_for(unit, level, lot, pair)
        unit.allocations += [(w, recipient, k) for k, w in enumerate(pair, start=1)]
    for w in walks:
        _walk(unit, lot, w)


def _walk(unit: Unit, lot: Lot, w: Walk) -> None:
    """Append the bag's custody events along its path; leave it where the path ends."""
    bag = w.bag
    scan = bag_scan_data(bag.din, bag.product_code, bag.expires_at)
    status = position = removed = at = prev = None
    for action in ("fill", *PATHS[w.outcome]):
        when = _anchor(action, prev, w, unit.rng)
        moment = when if isinstance(when, datetime) else at + when
        if at is not None and moment <= at:
            raise RuntimeError(f"demo schedule out of order: {action} after {prev}")
        at = moment
        # Until QA decides, the lot is in quarantine; the rules then see its final disposition.
        decided = w.decided_at is not None and at >= w.decided_at
        disposition = lot.disposition.value if decided else Disposition.QUARANTINE.value
        here = BagSituation(status, disposition, False, position is not None)
        to = "filled" if action == "fill" else plan(action, here)
        actor = unit.users[_actor(action, prev, w)]
        event = CustodyEvent(
            bag=bag,
            action=action,
            from_status=status,
            to_status=to,
            occurred_at=at,
            actor_id=actor.id,
            raw_scan=None if action in NOT_SCANNED else scan,
            condition="thawed at 37 °C, no leaks" if action == "thaw" else "intact",
            temperature_c=TEMPERATURES.get(action),
            station=None if action in NOT_SCANNED else _station(action, prev),
            notes=REASONS.get(action) or REASONS.get((action, prev)) or "",
        )
        if action == "store":
            position, event.location = w.home, w.home
            if removed is not None:
                event.out_of_storage_s = (at - removed).total_seconds()
            removed = None
        elif action == "move":
            event.notes = f"from {unit.paths[id(position)]}"
            position = event.location = unit.spare.pop(0)
        elif action in ("retrieve", "discard") and position is not None:
            event.location, position, removed = position, None, at
        _shipping(unit, w, event, actor, status)
        unit.rows.append(event)
        w.times[action] = at
        status, prev = to, action
    bag.status, bag.storage_position = BagStatus(status), position
    bag.removed_from_storage_at = removed


def _anchor(action: str, prev: str | None, w: Walk, rng) -> datetime | timedelta:
    """When `action` happens to this bag: a time, or a delay after its previous event."""
    trip, slot = w.trip, MIN * (w.trip.bags.index(w.bag) if w.trip else 0)
    if action == "store":
        delays = {"quarantine": None, "retrieve": MIN * rng.randrange(3, 10), "return": 8 * HOUR}
        return delays[prev] or w.filled_at + 4 * HOUR
    if action == "retrieve":
        if trip:
            return trip.packed_at + slot - 10 * MIN
        return w.decided_at + 5 * DAY if prev == "reject" else w.filled_at + 6 * DAY
    if action == "discard":
        return {"thaw": 3 * HOUR, "retrieve": 15 * MIN}.get(prev) or w.filled_at + 10 * DAY
    fixed = {
        "fill": lambda: w.filled_at,
        "quarantine": lambda: w.filled_at + 90 * MIN,
        "move": lambda: w.filled_at + 3 * DAY,
        "reject": lambda: w.decided_at + HOUR,
        "release": lambda: w.decided_at + 2 * HOUR,
        "allocate": lambda: w.decided_at + DAY,
        "pack": lambda: trip.packed_at + slot,
        "handoff": lambda: trip.handed_over_at,
        "receive": lambda: trip.arrived_at + slot,
        "thaw": lambda: w.infusion_at - 40 * MIN,
        "verify": lambda: w.infusion_at - 10 * MIN,
        "infuse": lambda: w.infusion_at,
        "return": lambda: trip.arrived_at + 2 * DAY,
    }
    return fixed[action]()


def _actor(action: str, prev: str | None, w: Walk) -> str:
    if action == "discard" and prev == "thaw":
        return "nurse"
    name = ACTORS.get(action, "tech")
    return "tech2" if name == "tech" and w.index % 2 else name


def _station(action: str, prev: str | None) -> str:
    at_site = action in AT_SITE or (action == "discard" and prev == "thaw")
    return WARD_STATION if at_site else LAB_STATION


def _shipping(unit: Unit, w: Walk, event: CustodyEvent, actor: User, before) -> None:
    """Who hands the bag to whom, and what packing and receipt record on the shipment."""
    if event.action == "return":
        event.from_party, event.to_party = SITE, "cell lab"
    if event.action not in ("pack", "handoff", "receive"):
        return
    shipment = event.shipment = w.trip.shipment
    if event.action == "pack":
        event.to_party = SITE
        w.item = ShipmentItem(shipment=shipment, bag=w.bag, packed_at=event.occurred_at)
        w.item.packed_by_id, w.item.status_before = actor.id, before
        unit.rows.append(w.item)
    elif event.action == "handoff":
        event.from_party = f"{LAB}: {actor.full_name}"
        event.to_party = shipment.handed_over_to
        event.condition = "shipper sealed, logger running"
    else:
        event.from_party, event.to_party = COURIER, SITE
        w.item.received_at, w.item.received_by_id = event.occurred_at, actor.id
