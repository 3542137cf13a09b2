"""The two-person bedside check (DOMAIN.md §5): every named check, in order, and the outcome.

The service reads what the records say (BedsideFacts); this module decides. Every check is
always listed, in the same order, so a nurse, the page and the audit trail see the whole
picture: a check that cannot be evaluated (an unknown bag, no allocation) still appears,
failed, saying why it could not be checked. Any failure other than the two a nurse can still
complete at the bedside (acknowledging the donor-eligibility statements, a second verifier)
is a hard stop, and no field of the request can override it.

Pure Python: no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from custody.domain import eligibility, schedule
from custody.domain.permissions import UseCase, roles_for

PASSED = "passed"
INCOMPLETE = "incomplete"
STOPPED = "stopped"
# A read failed (a garbled scan, a wrong check character K): scan again. Not a stop, which is
# for a true mismatch: the wrong patient or bag, an unknown identifier, a product not usable.
UNREADABLE = "unreadable"

# The two checks nurses can still put right at the bedside; every other failure stops.
COMPLETABLE = frozenset({"eligibility_warnings", "second_verifier"})
OFF_STUDY = frozenset({"withdrawn", "off_study", "deceased"})
RELEASED = frozenset({"released", "conditionally_released"})
USABLE_STATES = frozenset({"thawed", "verified"})
# How long a post-thaw use window may be set, at most: a day (the database's own limit).
MAX_POST_THAW_MINUTES = 1440


@dataclass(frozen=True)
class Check:
    check: str
    passed: bool
    message: str
    # False when the check could not run because something it needs is missing; such a line
    # repeats no finding of its own, so a stop lists only the checks that ran and failed.
    checked: bool = True
    # True when the check failed because a read failed: the remedy is to scan again.
    rescan: bool = False


@dataclass(frozen=True)
class WristbandFacts:
    patient_number: str
    birth_date: date


@dataclass(frozen=True)
class BagFacts:
    code: str
    status: str
    expires_at: datetime | None
    lot_number: str
    lot_disposition: str
    release_holds: bool
    release_why: str
    # The worst donor-eligibility determination behind the lot.
    determination: str
    # Destination sites of the shipments the bag was received from.
    received_at_sites: tuple[str, ...]
    has_infusion: bool
    # Codes of QA's active recalls covering the bag's lot ("" when none).
    recall: str = ""


@dataclass(frozen=True)
class RecipientFacts:
    """The recipient the bag is allocated to (not whoever the wristband names)."""

    subject_id: str
    name: str
    hospital_record_number: str
    birth_date: date
    status: str
    site: str
    dose_level_id: int | None
    dose_level_code: str | None
    infusions_given: frozenset[int]
    second_infusion_ordered: bool


@dataclass(frozen=True)
class AllocationFacts:
    infusion_number: int
    dose_level_id: int | None
    dose_level_code: str | None


@dataclass(frozen=True)
class ThawFacts:
    started_at: datetime
    ended_at: datetime | None
    use_by: datetime | None


@dataclass(frozen=True)
class SecondVerifierFacts:
    """Who was named as second verifier and what checking their credentials found."""

    username: str | None = None
    full_name: str | None = None
    role: str | None = None
    same_person: bool = False
    # Why their credentials were not accepted (wrong password, locked, retired); None if they were.
    credential_problem: str | None = None


@dataclass(frozen=True)
class BedsideFacts:
    now: datetime
    wristband: WristbandFacts | None
    wristband_error: str | None
    bag: BagFacts | None
    bag_error: str | None
    recipient: RecipientFacts | None
    allocation: AllocationFacts | None
    thaw: ThawFacts | None
    warnings_acknowledged: bool
    second_verifier: SecondVerifierFacts
    zone: tzinfo = UTC
    # The bag's scan could not be read (garbled, a wrong K, not a bag's label, a DIN without its
    # product code), as against read and naming no bag known here.
    bag_unreadable: bool = False


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]
    outcome: str
    stop_reason: str | None
    warnings: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.outcome == PASSED


class NotChecked(Exception):
    """A check's precondition is missing; the message says why it could not be checked."""


class ScanAgain(Exception):
    """A read failed; the message says what to scan again."""


def evaluate(facts: BedsideFacts) -> Verdict:
    """Every check in order, then the outcome: passed, incomplete, unreadable or stopped."""
    checks = tuple(_run(name, rule, facts) for name, rule in CHECKS)
    warnings = tuple(eligibility.warnings_for(facts.bag.determination)) if facts.bag else ()
    return Verdict(checks, *outcome_of(checks), warnings)


def outcome_of(checks: tuple[Check, ...]) -> tuple[str, str | None]:
    """(outcome, stop reason): a stop names the first failed check's message.

    Checks that could not run say nothing of their own: the outcome follows the checks that
    ran. When every one of those that failed is a failed read, the answer is "scan again".
    """
    failed = [c for c in checks if not c.passed]
    if not failed:
        return PASSED, None
    ran = [c for c in failed if c.checked]
    # The two checks nurses complete at the bedside are no mismatch: they wait.
    mismatches = [c for c in ran if not c.rescan and c.check not in COMPLETABLE]
    rescans = [c for c in ran if c.rescan]
    if rescans and not mismatches:
        return UNREADABLE, rescans[0].message
    if all(c.check in COMPLETABLE for c in failed):
        return INCOMPLETE, None
    # A stop names the first true mismatch, ahead of any read that failed beside it.
    return STOPPED, (mismatches or failed)[0].message


def _run(name: str, rule: Callable[[BedsideFacts], tuple[bool, str]], facts) -> Check:
    try:
        passed, message = rule(facts)
    except NotChecked as missing:
        return Check(name, False, f"Not checked: {missing}", checked=False)
    except ScanAgain as unread:
        return Check(name, False, str(unread), rescan=True)
    return Check(name, passed, message)


# --- what each check needs -----------------------------------------------------------------


def _needs_bag(f: BedsideFacts) -> BagFacts:
    if f.bag is None:
        raise NotChecked("the bag label could not be read or the bag is not known. Do not infuse.")
    return f.bag


def _needs_recipient(f: BedsideFacts) -> RecipientFacts:
    _needs_bag(f)
    if f.recipient is None or f.allocation is None:
        raise NotChecked(
            "this bag is not allocated to any recipient, so there is nobody to check it "
            "against. Do not infuse; call the cell therapy lab."
        )
    return f.recipient


def _needs_thaw_end(f: BedsideFacts) -> ThawFacts:
    _needs_bag(f)
    if f.thaw is None or f.thaw.ended_at is None or f.thaw.use_by is None:
        raise NotChecked("the bag has not been thawed (no thaw end was scanned).")
    return f.thaw


def _time(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


# --- the checks, in order ------------------------------------------------------------------


def _wristband(f: BedsideFacts) -> tuple[bool, str]:
    if f.wristband is None:
        raise ScanAgain(
            f"The wristband could not be read: scan it again. {f.wristband_error or ''}".strip()
        )
    w = f.wristband
    return True, f"Wristband read: patient number {w.patient_number}, born {w.birth_date}."


def _bag_label(f: BedsideFacts) -> tuple[bool, str]:
    if f.bag is None and f.bag_unreadable:
        raise ScanAgain(
            f"The bag label could not be read: scan it again. {f.bag_error or ''}".strip()
        )
    if f.bag is None:
        return False, f"STOP: the bag label could not be used. {f.bag_error or ''}".strip()
    return True, f"Bag {f.bag.code} of lot {f.bag.lot_number} is known."


def _recipient_identity(f: BedsideFacts) -> tuple[bool, str]:
    recipient = _needs_recipient(f)
    if f.wristband is None:
        raise NotChecked("the wristband could not be read. Do not infuse; scan the wristband.")
    w = f.wristband
    who = f"{recipient.name} ({recipient.subject_id}), born {recipient.birth_date}"
    if (w.patient_number, w.birth_date) == (recipient.hospital_record_number, recipient.birth_date):
        return True, (
            f"The wristband is {recipient.name}'s ({recipient.subject_id}, born "
            f"{recipient.birth_date}), patient number {w.patient_number}."
        )
    differs = []
    if w.patient_number != recipient.hospital_record_number:
        differs.append(f"patient number {w.patient_number}")
    if w.birth_date != recipient.birth_date:
        differs.append(f"date of birth {w.birth_date}")
    return False, (
        f"STOP: this bag is for {who}; the wristband is for another patient. Do not infuse. "
        f"(The wristband carries {' and '.join(differs)}.)"
    )


def _allocation(f: BedsideFacts) -> tuple[bool, str]:
    bag = _needs_bag(f)
    if f.allocation is None or f.recipient is None:
        return False, (
            f"STOP: bag {bag.code} is not allocated to any recipient. Do not infuse; call the "
            "cell therapy lab."
        )
    return True, (
        f"Bag {bag.code} is allocated to {f.recipient.subject_id} for infusion "
        f"{f.allocation.infusion_number}."
    )


def next_infusion(given: frozenset[int], second_ordered: bool) -> int | None:
    """The recipient's next due infusion: 1, then 2 only if ordered; None when none is due."""
    if 1 not in given:
        return 1
    if second_ordered and 2 not in given:
        return 2
    return None


def _infusion_number(f: BedsideFacts) -> tuple[bool, str]:
    recipient = _needs_recipient(f)
    number = f.allocation.infusion_number
    due = next_infusion(recipient.infusions_given, recipient.second_infusion_ordered)
    if number == due:
        return True, f"Infusion {number} is {recipient.subject_id}'s next infusion."
    if due is None:
        why = (
            "no further infusion is due (infusion 2 has not been ordered)"
            if 2 not in recipient.infusions_given
            else "both infusions have been given"
        )
    else:
        why = f"the next infusion due is infusion {due}"
    return False, (
        f"STOP: this bag is for infusion {number} of {recipient.subject_id}, but {why}. "
        "Do not infuse; check the infusion order."
    )


def _recipient_on_study(f: BedsideFacts) -> tuple[bool, str]:
    recipient = _needs_recipient(f)
    status = recipient.status
    if status in OFF_STUDY:
        words = status.replace("_", " ")
        return False, (
            f"STOP: {recipient.subject_id} is {words}; no product may be given. Do not infuse; "
            "call the investigator."
        )
    number = f.allocation.infusion_number if f.allocation else None
    ready = schedule.INFUSION_FROM.get(number, frozenset())
    if number is not None and not ready:
        return False, (
            f"STOP: the protocol has no infusion {number}. Do not infuse; check the infusion "
            "order with the investigator."
        )
    if number is not None and status not in ready:
        expected = " or ".join(sorted(s.replace("_", " ") for s in ready))
        return False, (
            f"STOP: {recipient.subject_id} is {status.replace('_', ' ')}; infusion {number} "
            f"is given only to a recipient who is {expected}. Do not infuse; check the "
            "recipient's status with the investigator."
        )
    return True, f"{recipient.subject_id} is on study ({status.replace('_', ' ')})."


def _lot_released(f: BedsideFacts) -> tuple[bool, str]:
    bag = _needs_bag(f)
    words = bag.lot_disposition.replace("_", " ")
    if bag.lot_disposition not in RELEASED:
        return False, (
            f"STOP: lot {bag.lot_number} is {words}, not released by QA. Do not infuse; set "
            "the bag apart and call the cell therapy lab."
        )
    if not bag.release_holds:
        return False, (
            f"STOP: QA's release of lot {bag.lot_number} no longer holds ({bag.release_why}). "
            "Do not infuse; call QA."
        )
    return True, f"Lot {bag.lot_number} is {words} by QA; the signature holds."


def _not_recalled(f: BedsideFacts) -> tuple[bool, str]:
    bag = _needs_bag(f)
    if bag.recall:
        return False, (
            f"STOP: QA has recalled this product ({bag.recall}). Do not infuse; set the bag "
            "apart and call the cell therapy lab."
        )
    return True, "No recall or quarantine order covers this product."


def _product_expiry(f: BedsideFacts) -> tuple[bool, str]:
    bag = _needs_bag(f)
    if bag.expires_at is None:
        return False, f"STOP: bag {bag.code} has no expiry recorded. Do not infuse."
    when = _time(bag.expires_at, f.zone)
    if bag.expires_at <= f.now:
        return False, f"STOP: the product expired at {when}. Do not infuse."
    return True, f"The product is in date (expires {when})."


def _thawed(f: BedsideFacts) -> tuple[bool, str]:
    bag = _needs_bag(f)
    if f.thaw is None or f.thaw.ended_at is None:
        started = "its thaw was started but not ended" if f.thaw else "it has not been thawed"
        return False, (
            f"STOP: bag {bag.code} is {bag.status}: {started}. Scan thaw start and thaw end "
            "before the bedside check."
        )
    if bag.status not in USABLE_STATES:
        return False, f"STOP: bag {bag.code} is {bag.status}, not ready at the bedside."
    return True, f"Thawed at {_time(f.thaw.ended_at, f.zone)}."


def _thaw_window(f: BedsideFacts) -> tuple[bool, str]:
    thaw = _needs_thaw_end(f)
    when = _time(thaw.use_by, f.zone)
    if thaw.use_by <= f.now:
        return False, (
            f"STOP: the post-thaw window closed at {when}. Do not infuse; set the bag apart "
            "and call the cell therapy lab."
        )
    minutes = int((thaw.use_by - f.now).total_seconds() // 60)
    return True, f"Use by {when} ({minutes} min left)."


def _received_at_site(f: BedsideFacts) -> tuple[bool, str]:
    bag = _needs_bag(f)
    recipient = _needs_recipient(f)
    if recipient.site in bag.received_at_sites:
        return True, f"Received at {recipient.site}."
    if not bag.received_at_sites:
        where = "has no record of being received at any site"
    else:
        where = f"was received at {', '.join(bag.received_at_sites)}"
    return False, (
        f"STOP: bag {bag.code} {where}, not at {recipient.site} where {recipient.subject_id} "
        "is treated. Do not infuse; call the cell therapy lab."
    )


def _dose_level(f: BedsideFacts) -> tuple[bool, str]:
    recipient = _needs_recipient(f)
    allocated = f.allocation
    if allocated.dose_level_id is not None and allocated.dose_level_id == recipient.dose_level_id:
        return True, f"Dose level {recipient.dose_level_code} as allocated."
    return False, (
        f"STOP: the bag was allocated for dose level {allocated.dose_level_code or 'unknown'}, "
        f"but {recipient.subject_id} is now assigned dose level "
        f"{recipient.dose_level_code or 'none'}. Do not infuse; call the investigator."
    )


def _never_infused(f: BedsideFacts) -> tuple[bool, str]:
    bag = _needs_bag(f)
    if bag.has_infusion or bag.status == "infused":
        return False, f"STOP: bag {bag.code} has already been infused. Do not infuse it again."
    return True, "The bag has not been infused."


def _eligibility_warnings(f: BedsideFacts) -> tuple[bool, str]:
    bag = _needs_bag(f)
    warnings = eligibility.warnings_for(bag.determination)
    if not warnings:
        return True, "No donor-eligibility warnings."
    quoted = "; ".join(f'"{w}"' for w in warnings)
    if f.warnings_acknowledged:
        return True, f"Acknowledged: the label warns {quoted}."
    return False, (
        f"The donor-eligibility determination is {bag.determination}; the label warns {quoted}. "
        "Confirm the patient was advised, then acknowledge the warnings."
    )


def _second_verifier(f: BedsideFacts) -> tuple[bool, str]:
    s = f.second_verifier
    if s.username is None:
        return False, "A second nurse must verify with their own user ID and password."
    if s.same_person:
        return False, (
            "The second verifier must be another person: you cannot verify twice. Ask a second "
            "nurse to enter their own user ID and password."
        )
    if s.credential_problem is not None:
        # Failures count towards that nurse's lockout, so the way on is said at once: another
        # nurse can verify, and an administrator can unlock (an account is not the bedside's).
        return False, (
            f"The second verifier was not accepted: {s.credential_problem} Another qualified "
            "nurse may verify instead; an administrator can unlock a locked account."
        )
    # Qualified means allowed to verify at the bedside: the permissions table decides.
    if s.role not in roles_for(UseCase.VERIFY_AT_BEDSIDE):
        return False, (
            f"{s.full_name} is a {s.role}; the second verifier must be a nurse qualified to "
            "verify at the bedside."
        )
    return True, f"Second verifier: {s.full_name} ({s.username})."


CHECKS: tuple[tuple[str, Callable[[BedsideFacts], tuple[bool, str]]], ...] = (
    ("wristband", _wristband),
    ("bag_label", _bag_label),
    ("recipient_identity", _recipient_identity),
    ("allocation", _allocation),
    ("infusion_number", _infusion_number),
    ("recipient_on_study", _recipient_on_study),
    ("lot_released", _lot_released),
    ("not_recalled", _not_recalled),
    ("product_expiry", _product_expiry),
    ("thawed", _thawed),
    ("thaw_window", _thaw_window),
    ("received_at_site", _received_at_site),
    ("dose_level", _dose_level),
    ("never_infused", _never_infused),
    ("eligibility_warnings", _eligibility_warnings),
    ("second_verifier", _second_verifier),
)
CHECK_NAMES = tuple(name for name, _ in CHECKS)
