"""A bag's vein-to-vein timeline: every step from the donor's collection to the infusion (or to
where the bag is now), with its time, place, person and temperature, the chain of identity,
and the flags an inspector looks for: gaps in custody, temperature excursions, manufacturing
deviations and a QA signature that no longer holds.

The bag page draws it and the custody report prints it, from this one read model. Records are
loaded in bulk (`timeline_records`), so the number of queries does not grow with the
length of the bag's history; the steps themselves are built in `timeline_steps`.

The gap rule: custody is accounted for while the bag sits in a storage position (from `store`
or `move` until the scan that takes it out) and while it travels in a shipment (from `pack`
until `receive`: there the shipper's logger keeps the record, and its own gaps are reported as
logger gaps). Anywhere else the bag is in someone's hands, and two consecutive custody records
further apart than CUSTODY_LOGGER_GAP_MINUTES (30 min by default, the limit a logger gap uses
too) are a gap. So is the time since the last record of a bag that is still neither stored nor
shipped, nor yet infused or discarded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

from custody.config import settings
from custody.documents.custody_report import ReportContext, render_custody_report
from custody.domain import excursions, isbt128
from custody.domain.bag_lifecycle import FINAL_STATES
from custody.domain.custody_timeline import (
    ALERT,
    WARNING,
    Flag,
    IdentityLink,
    Step,
    Timeline,
    din_words,
    duration_words,
)
from custody.domain.time_zones import local_time, zone_named
from custody.models import Bag, User
from custody.models.base import utcnow
from custody.services.bags.lookup import bag_by_code
from custody.services.core.facility import establishment, product_name, site_zone
from custody.services.traceability.timeline_records import Records, load_records
from custody.services.traceability.timeline_steps import steps_of

# Where custody is held after each action: in a storage position, in a shipment, or (None) in
# someone's hands. Actions not listed leave it where it was.
_HELD_AFTER = {"store": "storage", "move": "storage", "pack": "shipment"}
_HELD_AFTER |= {"retrieve": None, "receive": None, "unpack": None, "discard": None}


def gap_limit() -> timedelta:
    """The longest stretch without a record that is not yet a gap (a site setting)."""
    return settings().logger_gap


def vein_to_vein(bag: Bag, now: datetime | None = None, limit: timedelta | None = None) -> Timeline:
    """The bag's timeline as at `now`: steps in order with the time since the one before and
    their flags, the chain of identity, and QA's latest signed decision."""
    now = now or utcnow()
    limit = limit or gap_limit()
    records = load_records(bag)
    bag = records.bag
    steps = steps_of(records)
    _flag_gaps(steps, limit, now, still_moving=bag.status.value not in FINAL_STATES)
    _flag_shipments(steps, records, limit)
    for previous, step in pairwise(steps):
        step.since_previous = step.at - previous.at
    recipient = records.recipient
    return Timeline(
        bag=bag.code,
        din=bag.din,
        check_character=isbt128.check_character(bag.din),
        product_code=bag.product_code,
        division=bag.division,
        status=bag.status.value,
        lot=bag.lot.lot_number,
        disposition=bag.lot.disposition.value,
        recipient=recipient.subject_id if recipient else None,
        parent=records.parent_code,
        identity=identity_chain(records),
        steps=steps,
        release=records.release_summaries[-1] if records.decisions else None,
        gap_limit=limit,
        zone=site_zone().key,
        as_of=now,
    )


def custody_report(code: str, user: User, now: datetime | None = None) -> tuple[bytes, str]:
    """The printable chain-of-identity and chain-of-custody record of a bag, and its file name."""
    now = now or utcnow()
    timeline = vein_to_vein(bag_by_code(code), now)
    facility, address = establishment()
    context = ReportContext(
        generated_at=now,
        generated_by=f"{user.full_name} ({user.username})",
        facility_name=facility,
        facility_address=address,
        product_name=product_name(),
    )
    return render_custody_report(timeline, context), f"custody-report-{timeline.bag}.pdf"


# --- the chain of identity --------------------------------------------------------------------


def identity_chain(r: Records) -> list[IdentityLink]:
    """Donor → donation (DIN) → lot → parent bag (a division) → bag → recipient."""
    links: list[IdentityLink] = []
    for code, eligibility in dict.fromkeys(
        (d.donor.donor_code, d.donor.eligibility.value) for d in r.donations
    ):
        links.append(IdentityLink("donor", "Donor", code, f"eligibility: {eligibility}"))
    for d in r.donations:
        collected = local_time(d.collected_at, zone_named(d.collection_timezone))
        note = f"collected {collected} at {d.facility}"
        links.append(IdentityLink("donation", "Donation (DIN)", din_words(d.din), note, d.din))
    lot = r.bag.lot
    note = f"disposition: {lot.disposition.value.replace('_', ' ')}"
    if lot.din not in {d.din for d in r.donations}:
        note += f"; pooled product DIN {din_words(lot.din)}"
    links.append(IdentityLink("lot", "Lot", lot.lot_number, note))
    parent = r.bag.parent
    if parent is not None:
        note = f"product code {parent.product_code}, divided into this bag"
        links.append(IdentityLink("parent", "Parent bag", parent.code, note, parent.din))
    note = f"product code {r.bag.product_code}, division {r.bag.division}"
    links.append(IdentityLink("bag", "Bag", r.bag.code, note, r.bag.din))
    links.append(_recipient_link(r))
    return links


def _recipient_link(r: Records) -> IdentityLink:
    if r.infusion is not None:
        i = r.infusion
        note = f"infusion {i.infusion_number}, {local_time(i.started_at, site_zone())}"
        return IdentityLink("recipient", "Recipient", i.recipient.subject_id, f"infused: {note}")
    recipient = r.recipient
    if recipient is None:
        return IdentityLink("recipient", "Recipient", "none", "not allocated to a recipient")
    active = next(a for a in reversed(r.allocations) if a.active)
    note = f"allocated for infusion {active.infusion_number}, not infused"
    return IdentityLink("recipient", "Recipient", recipient.subject_id, note)


# --- flags over the whole story ---------------------------------------------------------------


def _flag_gaps(steps: list[Step], limit: timedelta, now: datetime, still_moving: bool) -> None:
    """Flag each stretch longer than `limit` between custody records while the bag was in
    someone's hands (see the module's docstring), and the open one up to `now`."""
    held: str | None = None
    previous: Step | None = None
    for step in steps:
        if not step.custody:
            continue
        if previous is not None and held is None and step.at - previous.at > limit:
            step.flags.append(_gap(previous, step.at))
        held = _held_after(step.action, held)
        previous = step
    if still_moving and previous is not None and held is None and now - previous.at > limit:
        previous.flags.append(_gap(previous, now, open_until_now=True))


def _held_after(action: str, held: str | None) -> str | None:
    if action == "return":  # back from the site: out of the shipper, or still in storage there
        return None if held == "shipment" else held
    return _HELD_AFTER.get(action, held)


def _gap(previous: Step, end: datetime, open_until_now: bool = False) -> Flag:
    zone = site_zone()
    length = duration_words((end - previous.at).total_seconds())
    if open_until_now:
        words = (
            f"No custody record for {length} since '{previous.title}' "
            f"({local_time(previous.at, zone)}), up to {local_time(end, zone)}: the bag is "
            "neither in storage nor in a shipment."
        )
    else:
        words = (
            f"No custody record for {length}, between '{previous.title}' "
            f"({local_time(previous.at, zone)}) and this step, while the bag was neither in "
            "storage nor in a shipment."
        )
    return Flag("gap", WARNING, words, previous.at, end)


def _flag_shipments(steps: list[Step], r: Records, limit: timedelta) -> None:
    """Each trip's logger record on its receipt (or latest) step: excursions above the
    shipment's limit, stretches without readings, or no log at all once the trip is over."""
    for item in r.items:
        shipment = item.shipment
        trip = [s for s in steps if s.custody and s.shipment == shipment.code]
        if not trip:
            continue
        target = next((s for s in trip if s.action == "receive"), trip[-1])
        readings = r.readings.get(shipment.id, [])
        if not readings:
            if item.received_at is not None:
                target.flags.append(
                    Flag(
                        "no_logger",
                        WARNING,
                        f"No logger readings were imported for shipment {shipment.code}: the "
                        "temperature during the trip is not known.",
                    )
                )
            continue
        start = shipment.handed_over_at or item.packed_at
        end = item.received_at or readings[-1].recorded_at
        _logger_record(target, shipment, readings, start, end, limit)


def _logger_record(target: Step, shipment, readings, start, end, limit: timedelta) -> None:
    zone = site_zone()
    during = [x for x in readings if start <= x.recorded_at <= end]
    ceiling = shipment.storage_limit_c
    if during:
        coldest = min(x.temperature_c for x in during)
        warmest = max(x.temperature_c for x in during)
        target.details.append(
            (
                "Logger",
                f"{len(during)} readings from {coldest:.1f} °C to {warmest:.1f} °C "
                f"(limit {ceiling:g} °C)",
            )
        )
    for e in excursions.find_excursions(readings, ceiling):
        if e.end < start or e.start > end:
            continue
        still = "; the log ends above the limit" if e.ongoing else ""
        words = (
            f"Shipment {shipment.code} was above {ceiling:g} °C from {local_time(e.start, zone)} "
            f"to {local_time(e.end, zone)} ({duration_words(e.duration.total_seconds())}), "
            f"peak {e.peak_c:.1f} °C in {e.readings} reading{'s' if e.readings != 1 else ''}"
            f"{still}."
        )
        target.flags.append(Flag("excursion", ALERT, words, e.start, e.end))
    # The trip's ends count as readings' neighbours: a log that starts late or stops early
    # leaves part of the trip unrecorded, just as a stretch without readings inside it does.
    bounds = [excursions.Reading(start, 0.0), *during, excursions.Reading(end, 0.0)]
    for g in excursions.find_gaps(bounds, limit):
        words = (
            f"Shipment {shipment.code}'s logger has no reading from {local_time(g.start, zone)} "
            f"to {local_time(g.end, zone)} ({duration_words(g.duration.total_seconds())})."
        )
        target.flags.append(Flag("logger_gap", WARNING, words, g.start, g.end))
