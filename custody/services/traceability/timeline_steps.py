"""The steps of a bag's vein-to-vein timeline, built from its records: one per collection, lab
receipt, batch step, custody event and QA decision, plus the bedside and shipping records whose
custody event is missing (records loaded from elsewhere still count).

A custody event is told together with the record it belongs to: an allocation names the
recipient, a thaw its use-by time, a bedside verification and an infusion both people who
checked, an infusion its volume. Steps are in time order; steps at the same instant in the
order things happen to a product.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from custody.domain.custody_timeline import ALERT, WARNING, Flag, Step, din_words, duration_words
from custody.domain.time_zones import local_time
from custody.models import Allocation, CustodyEvent, User
from custody.services.collection.donations import CELL_LAB
from custody.services.core.facility import site_zone
from custody.services.traceability.timeline_records import Records

_RANK = {"collection": 0, "lab_receipt": 1, "manufacturing": 2, "custody": 3, "release": 4}
_RANK |= {"allocation": 5, "thaw": 6, "verification": 7, "infusion": 8}
LAB = CELL_LAB.capitalize()
QA_PLACE = "QA review (electronic signature)"
ACTION_TITLES = {
    "fill": "Filled into its bag",
    "divide": "Divided from its parent bag",
    "quarantine": "Taken into quarantine",
    "store": "Stored",
    "move": "Moved to another storage position",
    "retrieve": "Taken out of storage",
    "release": "Released for use",
    "allocate": "Allocated to a recipient",
    "deallocate": "Allocation ended",
    "pack": "Packed into a shipment",
    "unpack": "Unpacked from a shipment",
    "handoff": "Handed to the courier",
    "receive": "Received at the clinical site",
    "thaw_start": "Thaw started",
    "thaw": "Thawed",
    "verify": "Verified at the bedside by two people",
    "infuse": "Infused",
    "return": "Returned to the cell lab",
    "reject": "Rejected",
    "discard": "Discarded",
}
_DISPOSITION_TITLES = {
    "released": "Released by QA",
    "conditionally_released": "Conditionally released by QA",
    "rejected": "Rejected by QA",
    "quarantine": "Returned to quarantine by QA",
}
_AT_BEDSIDE = frozenset({"thaw_start", "thaw", "verify", "infuse"})
_INTO_STORAGE = frozenset({"store", "move"})
_OUT_OF_STORAGE = frozenset({"retrieve", "pack", "discard"})
# Which part of the story a custody event tells (the page draws each kind with its own icon).
_KINDS = {"thaw_start": "thaw", "thaw": "thaw", "verify": "verification", "infuse": "infusion"}
_KINDS |= {"allocate": "allocation", "deallocate": "allocation"}


def steps_of(r: Records) -> list[Step]:
    steps = [
        *_collection_steps(r),
        *_manufacturing_steps(r),
        *_custody_steps(r),
        *_release_steps(r),
        *_record_only_steps(r),
    ]
    order = {id(step): n for n, step in enumerate(steps)}
    return sorted(steps, key=lambda s: (s.at, _RANK[s.kind], order[id(s)]))


# --- the steps, record by record --------------------------------------------------------------


def _collection_steps(r: Records) -> Iterable[Step]:
    receipts = {e.donation_id: e for e in r.events if e.action == "receive_collection"}
    for d in r.donations:
        din = din_words(d.din)
        donor = f"{d.donor.donor_code} (eligibility: {d.donor.eligibility.value})"
        details = [("Donor", donor), ("DIN", din), ("Volume", f"{d.volume_ml:g} mL")]
        yield Step(
            "collection",
            "collect",
            "Collected from the donor",
            d.collected_at,
            place=d.facility,
            zone=d.collection_timezone,
            details=details,
        )
        if d.received_at is not None:
            yield _lab_receipt(r, d, receipts.get(d.id))


def _lab_receipt(r: Records, donation, event: CustodyEvent | None) -> Step:
    details = [("DIN", din_words(donation.din))]
    details.append(("Condition", donation.received_condition or "not recorded"))
    if event is not None and event.station:
        details.append(("Station", event.station))
    return Step(
        "lab_receipt",
        "receive_collection",
        "Collection received at the cell lab",
        donation.received_at,
        place=LAB,
        person=r.name(donation.received_by_id),
        temperature_c=donation.received_temperature_c,
        details=details,
    )


def _manufacturing_steps(r: Records) -> Iterable[Step]:
    for s in r.batch_steps:
        details = [("Lot", r.bag.lot.lot_number)]
        if s.ended_at is not None:
            details.append(("Ended", local_time(s.ended_at, site_zone(), seconds=True)))
        if s.equipment:
            details.append(("Equipment", s.equipment))
        if s.materials:
            used = "; ".join(f"{m.kind.value} {m.name} lot {m.lot_number}" for m in s.materials)
            details.append(("Materials", used))
        if s.observations:
            details.append(("Observations", s.observations))
        flags = [Flag("deviation", WARNING, s.deviation_reason)] if s.deviation else []
        yield Step(
            "manufacturing",
            "batch_step",
            f"Manufacturing step {s.sequence}: {s.step}",
            s.started_at,
            place=LAB,
            person=f"{s.operator.full_name} ({s.operator.username})",
            details=details,
            flags=flags,
        )


def _custody_steps(r: Records) -> Iterable[Step]:
    allocations = iter(r.allocations)
    verifications = iter(v for v in r.verifications if v.passed)
    position = None  # the storage position the bag sits in, between the scans
    for event in r.events:
        if event.bag_id is None:
            continue  # a collection's receipt: the lab receipt step tells it
        step = _event_step(r, event)
        if event.action in _INTO_STORAGE:
            position = step.place
        elif event.action in _OUT_OF_STORAGE:
            position = None
        elif position is not None:
            step.place = position  # released, allocated ... where it lies: in its position
        if event.action == "allocate":
            allocation = next(allocations, None)
            if allocation is not None:
                step.details.insert(0, ("Recipient", _allocated_to(allocation)))
        elif event.action in ("thaw_start", "thaw") and r.thaw is not None:
            _with_thaw(step, r)
        elif event.action == "verify":
            _with_verification(step, next(verifications, None))
        elif event.action == "infuse" and r.infusion is not None:
            _with_infusion(step, r)
        yield step


def _event_step(r: Records, event: CustodyEvent) -> Step:
    """A custody event as a step; its kind says which part of the story it belongs to."""
    shipment = event.shipment
    details = []
    if event.from_party or event.to_party:
        details.append(("Hand-over", f"{event.from_party or '—'} → {event.to_party or '—'}"))
    if shipment is not None and event.action in ("receive", "return"):  # else it is the place
        details.append(("Shipment", f"{shipment.code} to {shipment.destination_site}"))
    if event.location_id is not None and shipment is not None and event.action == "pack":
        details.append(("Taken out of", r.paths.get(event.location_id, "")))
    if event.condition:
        details.append(("Condition", event.condition))
    if event.notes:
        details.append(("Notes", event.notes))
    return Step(
        _KINDS.get(event.action, "custody"),
        event.action,
        ACTION_TITLES.get(event.action, event.action.replace("_", " ").capitalize()),
        event.occurred_at,
        place=_event_place(r, event),
        person=_person(event.actor),
        temperature_c=event.temperature_c,
        details=details,
        bag=r.parent_code if event.bag_id != r.bag.id else None,
        shipment=shipment.code if shipment else None,
        custody=True,
        event={
            "from_status": event.from_status,
            "to_status": event.to_status,
            "raw_scan": event.raw_scan,
            "station": event.station,
            "out_of_storage": duration_words(event.out_of_storage_s),
        },
    )


def _event_place(r: Records, event: CustodyEvent) -> str | None:
    """Where the step happened: the storage position (for a scan that takes the bag out, the
    one it left), the shipment it went into, the site it reached, or the scan station."""
    shipment = event.shipment
    if event.location_id is not None and not (shipment is not None and event.action == "pack"):
        return r.paths.get(event.location_id)
    if shipment is not None:
        if event.action in ("receive", "return"):
            return shipment.destination_site
        return f"Shipment {shipment.code} to {shipment.destination_site}"
    if event.action in _AT_BEDSIDE and r.site:
        return f"{r.site} ({event.station})" if event.station else r.site
    if event.action in ("fill", "divide"):
        return LAB
    return event.station or event.to_party


def _person(user: User | None) -> str | None:
    return f"{user.full_name} ({user.username})" if user is not None else None


def _allocated_to(allocation: Allocation) -> str:
    words = f"{allocation.recipient.subject_id}, infusion {allocation.infusion_number}"
    volume = allocation.volume_to_infuse_ml
    ended = f"; ended: {allocation.end_reason}" if not allocation.active else ""
    return f"{words}, {volume:g} mL to infuse{ended}" if volume else f"{words}{ended}"


def _with_thaw(step: Step, r: Records) -> None:
    thaw = r.thaw
    if step.action == "thaw_start":
        step.details.append(("Post-thaw window", f"{thaw.window_minutes} min from thaw end"))
    elif thaw.use_by is not None:
        step.details.append(("Use by", local_time(thaw.use_by, site_zone(), seconds=True)))


def _with_verification(step: Step, verification) -> None:
    if verification is None:
        return
    step.person = _two_people(verification.first_verifier, verification.second_verifier)
    step.details.insert(0, ("Verification", verification.uid))


def _with_infusion(step: Step, r: Records) -> None:
    i = r.infusion
    step.person = _two_people(r.user(i.first_verifier_id), r.user(i.second_verifier_id))
    volume = f"{i.volume_ml:g} mL" if i.volume_ml is not None else "not recorded"
    ended = local_time(i.ended_at, site_zone(), seconds=True) if i.ended_at else "not recorded"
    details = [
        ("Recipient", f"{i.recipient.subject_id}, infusion {i.infusion_number}"),
        ("Volume infused", volume),
        ("Ended", ended),
    ]
    if i.reactions:
        details.append(("Reactions", i.reactions))
    if i.recorded_by_id:
        details.append(("Recorded by", r.name(i.recorded_by_id) or "unknown"))
    step.details[:0] = details


def _two_people(first: User | None, second: User | None) -> str:
    return " and ".join(p for p in (_person(first), _person(second)) if p)


def _release_steps(r: Records) -> Iterable[Step]:
    latest = r.decisions[-1] if r.decisions else None
    for decision, summary in zip(r.decisions, r.release_summaries, strict=True):
        signature = summary["signature"]
        details = [("Meaning", signature["meaning"]), ("Lot", r.bag.lot.lot_number)]
        if decision.reason:
            details.append(("Reason", decision.reason))
        if decision.certificate_number:
            details.append(("Certificate", decision.certificate_number))
        yield Step(
            "release",
            decision.disposition,
            _DISPOSITION_TITLES.get(decision.disposition, f"QA decision: {decision.disposition}"),
            signature["signed_at"],
            place=QA_PLACE,
            person=f"{signature['printed_name']} ({signature['username']})",
            details=details,
            flags=_release_flags(summary, decision is latest),
        )


def _release_flags(summary: dict, latest: bool) -> list[Flag]:
    flags = []
    if summary["disposition"] == "conditionally_released":
        pending = ", ".join(summary["pending_tests"]) or "none named"
        words = f"Results still pending when QA released the lot: {pending}."
        flags.append(Flag("conditional_release", WARNING, words))
    if not summary["signature_valid"]:
        why = (summary["invalid_because"] or "the signed record changed").rstrip(".")
        later = "" if latest else " A later decision replaced it."
        flags.append(Flag("signature", ALERT if latest else WARNING, f"{why}.{later}"))
    return flags


# --- records whose custody event is missing ---------------------------------------------------


def _record_only_steps(r: Records) -> Iterable[Step]:
    actions = {e.action for e in r.events if e.bag_id == r.bag.id}
    allocated = sum(1 for e in r.events if e.bag_id == r.bag.id and e.action == "allocate")
    for allocation in r.allocations[allocated:]:
        yield Step(
            "allocation",
            "allocate",
            ACTION_TITLES["allocate"],
            allocation.allocated_at,
            person=r.name(allocation.allocated_by_id),
            details=[("Recipient", _allocated_to(allocation))],
        )
    yield from _shipping_records(r)
    yield from _bedside_records(r, actions)


def _shipping_records(r: Records) -> Iterable[Step]:
    logged = {(e.action, e.shipment_id) for e in r.events if e.bag_id == r.bag.id}
    for item in r.items:
        shipment = item.shipment
        if ("pack", shipment.id) not in logged:
            where = f"Shipment {shipment.code} to {shipment.destination_site}"
            yield _record("pack", item.packed_at, r.name(item.packed_by_id), where, shipment.code)
        if item.received_at is not None and ("receive", shipment.id) not in logged:
            person, site = r.name(item.received_by_id), shipment.destination_site
            yield _record("receive", item.received_at, person, site, shipment.code)


def _bedside_records(r: Records, actions: set[str]) -> Iterable[Step]:
    thaw = r.thaw
    if thaw is not None and "thaw_start" not in actions:
        step = _record("thaw_start", thaw.started_at, r.name(thaw.started_by_id), r.site)
        _with_thaw(step, r)
        yield step
    if thaw is not None and thaw.ended_at is not None and "thaw" not in actions:
        step = _record("thaw", thaw.ended_at, r.name(thaw.ended_by_id), r.site)
        _with_thaw(step, r)
        yield step
    for v in r.verifications:
        outcome, reason = r.outcomes[v.id]
        if outcome == "stopped" or (v.passed and "verify" not in actions):
            yield _verification(v, outcome, reason, r.site)
    if r.infusion is not None and "infuse" not in actions:
        step = _record("infuse", r.infusion.started_at, None, r.site)
        _with_infusion(step, r)
        yield step


def _record(action: str, at: datetime, person, place, shipment: str | None = None) -> Step:
    kind = _KINDS.get(action, "custody")
    return Step(
        kind, action, ACTION_TITLES[action], at, place, person, shipment=shipment, custody=True
    )


def _verification(v, outcome: str, reason: str | None, site: str | None) -> Step:
    step = _record("verify", v.attempted_at, None, site)
    step.person = _two_people(v.first_verifier, v.second_verifier)
    step.details.append(("Verification", v.uid))
    if v.station:
        step.details.append(("Station", v.station))
    if outcome == "stopped":
        step.action, step.title = "verification_stopped", "Bedside verification stopped"
        step.flags.append(Flag("verification", WARNING, reason or "A check failed."))
    return step
