"""The ward side of a unit's allocations: the thaws, the two-person bedside checks and the
infusions they cleared, each as the services record them (`thawing`, `bedside`, `infusions`).

Apart from `clinic`, which decides who receives what, because these rows only follow the times
each bag's walk gave them. Each bedside check is asked of `bedside_checks.evaluate` on the facts
as they stood at that moment, so the demo cannot hold a verification the tracker would refuse;
the one stopped attempt per unit (a wrong patient's wristband) is stopped by the rules too.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict

from custody.domain import bedside_checks as rules
from custody.domain import eligibility
from custody.domain.bag_lifecycle import BagSituation, plan
from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import read_wristband, wristband_data
from custody.models import (
    Allocation,
    Bag,
    BedsideVerification,
    CustodyEvent,
    DoseLevel,
    Infusion,
    Recipient,
    RecipientStatus,
    Thaw,
)
from custody.services.core.facility import site_zone
from custody.services.demo.scenario import INFUSING_NOW, MIN, WARD_STATION, Unit, Walk

THAW_MINUTES = 15
WRONG_PATIENT_BEFORE = 4 * MIN


def thaw(unit: Unit, w: Walk, allocation: Allocation) -> Thaw:
    """Started at the thaw-start scan, ended at the thaw scan; the window runs from the end."""
    nurse, ended = unit.users["nurse"].id, w.times["thaw"]
    window = unit.trial.post_thaw_minutes
    return Thaw(
        bag_id=w.bag.id,
        allocation=allocation,
        started_at=ended - THAW_MINUTES * MIN,
        started_by_id=nurse,
        ended_at=ended,
        ended_by_id=nurse,
        window_minutes=window,
        use_by=ended + window * MIN,
    )


def thaw_start(w: Walk, recipient: Recipient, number: int, thaw: Thaw) -> CustodyEvent:
    """The scan that put the bag in the thawer, as `thawing.start_thaw` records it."""
    return CustodyEvent(
        bag_id=w.bag.id,
        action="thaw_start",
        from_status="received",
        to_status=plan("thaw_start", BagSituation("received", w.bag.lot.disposition.value)),
        occurred_at=thaw.started_at,
        actor_id=thaw.started_by_id,
        raw_scan=_scan(w.bag),
        condition="intact",
        station=WARD_STATION,
        notes=f"thaw started for {recipient.subject_id}, infusion {number}",
    )


def verifications(unit: Unit, entries: list, thaws: dict[int, Thaw]) -> list:
    """A passed two-person check for each bag verified at the bedside, at its verify scan; and
    before the unit's first infusion, the other patient's wristband scanned by mistake."""
    infused = {(r.id, n): w.times["infuse"] for w, r, n, _ in entries if w.outcome == "infused"}
    checks = []
    for w, recipient, _, allocation in entries:
        if "verify" in w.times:
            at = w.times["verify"]
            done = {n for n in (1, 2) if infused.get((recipient.id, n), at) < at}
            row, verdict = _check(unit, w, recipient, allocation, thaws[w.bag.id], at, done)
            if not verdict.passed:
                raise RuntimeError(f"demo bedside check refused: {verdict.stop_reason}")
            checks.append(row)
    first = next(e for e in entries if e[0].outcome == "infused" and e[2] == 1)
    other = next(r for w, r, *_ in entries if w.outcome == "infused" and r is not first[1])
    w, recipient, _, allocation = first
    at = w.times["verify"] - WRONG_PATIENT_BEFORE
    row, verdict = _check(unit, w, recipient, allocation, thaws[w.bag.id], at, set(), other)
    failed = [c.check for c in verdict.checks if not c.passed]
    if verdict.outcome != rules.STOPPED or failed != ["recipient_identity"]:
        raise RuntimeError(f"demo wrong-patient check not stopped as planned: {failed}")
    return [row, *checks]


def _check(unit, w, recipient, allocation, thaw, at, done, wearer=None):
    """One attempt, judged by the bedside rules on the facts at `at`: the nurses scan the
    wristband of `wearer` (the recipient, unless a wrong patient's) and the bag."""
    wearer = wearer or recipient
    band = wristband_data(wearer.hospital_record_number, wearer.birth_date)
    read = read_wristband(band)
    nurse, second = unit.users["nurse"], unit.users["nurse2"]
    level = next(lv for lv in unit.trial.dose_levels if lv.id == allocation.dose_level_id)
    facts = rules.BedsideFacts(
        now=at,
        wristband=rules.WristbandFacts(read.patient_number, read.birth_date),
        wristband_error=None,
        bag=_bag_facts(w),
        bag_error=None,
        recipient=_recipient_facts(recipient, level, frozenset(done)),
        allocation=rules.AllocationFacts(allocation.infusion_number, level.id, level.code),
        thaw=rules.ThawFacts(thaw.started_at, thaw.ended_at, thaw.use_by),
        warnings_acknowledged=True,
        second_verifier=rules.SecondVerifierFacts(second.username, second.full_name, "nurse"),
        zone=site_zone(),
    )
    verdict = rules.evaluate(facts)
    row = BedsideVerification(
        uid=str(uuid.UUID(int=unit.rng.getrandbits(128), version=4)),
        attempted_at=at,
        first_verifier_id=nurse.id,
        second_verifier_id=second.id,
        wristband_scan=band,
        bag_scan=_scan(w.bag),
        bag_id=w.bag.id,
        recipient_id=recipient.id,
        allocation=allocation,
        infusion_number=allocation.infusion_number,
        passed=verdict.passed,
        checks=json.dumps([asdict(c) for c in verdict.checks]),
        station=WARD_STATION,
    )
    return row, verdict


def _bag_facts(w: Walk) -> rules.BagFacts:
    """The bag at the bedside, just thawed. QA's signature is written later in the load
    (`quality.review`) but dated before the bag left the lab, and withdrawn (the alert) only
    after the last bedside step of its lot, so it held at every check."""
    bag, lot = w.bag, w.bag.lot
    return rules.BagFacts(
        code=bag.code,
        status="thawed",
        expires_at=bag.expires_at,
        lot_number=lot.lot_number,
        lot_disposition=lot.disposition.value,
        release_holds=True,
        release_why="",
        determination=eligibility.worst(d.donor.eligibility.value for d in lot.donations),
        received_at_sites=(w.trip.shipment.destination_site,),
        has_infusion=False,
    )


def _recipient_facts(recipient: Recipient, level: DoseLevel, done: frozenset[int]):
    """The recipient as they were at the check: before infusion 1 in lymphodepletion."""
    status = RecipientStatus.INFUSED if done else RecipientStatus.LYMPHODEPLETION
    return rules.RecipientFacts(
        subject_id=recipient.subject_id,
        name=recipient.name,
        hospital_record_number=recipient.hospital_record_number,
        birth_date=recipient.birth_date,
        status=status.value,
        site=recipient.site,
        dose_level_id=level.id,
        dose_level_code=level.code,
        infusions_given=done,
        second_infusion_ordered=recipient.second_infusion_ordered,
    )


def infusion(unit, w: Walk, number: int, allocation, check: BedsideVerification) -> Infusion:
    return Infusion(
        allocation_id=allocation.id,
        bag_id=w.bag.id,
        recipient_id=allocation.recipient_id,
        infusion_number=number,
        started_at=w.times["infuse"],
        # The unit's infusion under way has no end yet.
        ended_at=None if w.infusion_at == INFUSING_NOW else w.times["infuse"] + 15 * MIN,
        volume_ml=allocation.volume_to_infuse_ml,
        first_verifier_id=check.first_verifier_id,
        second_verifier_id=check.second_verifier_id,
        verification_id=check.id,
        recorded_by_id=unit.users["nurse"].id,
    )


def _scan(bag: Bag) -> str:
    return bag_scan_data(bag.din, bag.product_code, bag.expires_at)
