"""Two-person bedside verification: the last check before a bag reaches a patient.

`verify()` is the one use case. The second nurse's password is checked first, on its own (a
wrong one counts towards their lockout and is committed, like a failed sign-in). Then one
transaction locks the bag, reads every fact the checks need, lets
`custody.domain.bedside_checks` decide, and records the attempt whatever the outcome: a wrong
patient caught at the bedside is exactly what the audit trail must show. Only a verification
that passed moves the bag (life cycle `verify`) with a custody event.

Two pairs of nurses verifying the same bag at once are serialised by the bag's row lock; both
attempts are recorded, each seeing the bag as the other left it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select

from custody.domain import bedside_checks as rules
from custody.domain.errors import (
    AuthenticationFailed,
    DomainError,
    Forbidden,
    InvalidBarcode,
    ValidationFailed,
)
from custody.domain.permissions import (
    UseCase,
    allows,
)
from custody.domain.scan_targets import read_scan
from custody.domain.wristband import read_wristband
from custody.extensions import db
from custody.models import (
    Allocation,
    Bag,
    BedsideVerification,
    DoseLevel,
    Infusion,
    Recipient,
    Shipment,
    ShipmentItem,
    User,
)
from custody.models.base import utcnow
from custody.services.bags.lookup import bag_from_scan
from custody.services.bags.moves import move_bag
from custody.services.bags.queries import lot_determinations
from custody.services.bags.recall_status import active_recall_codes
from custody.services.bags.thawing import active_allocation, thaw_of
from custody.services.clinic.verification_record import (
    VerificationResult,
    check_dict,
    verification_result,
)
from custody.services.core.accounts import authenticate
from custody.services.core.audit_trail import acting_as
from custody.services.core.facility import site_zone
from custody.services.core.transactions import write
from custody.services.quality.release_signature import release_holds

MAX_STORED_SCAN = 200
MAX_TYPED_REASON = 500


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


@dataclass(frozen=True)
class VerificationRequest:
    recipient: str
    bag: str
    second_verifier: Credentials | Mapping | None = None
    warnings_acknowledged: bool = False
    station: str | None = None
    # Why the bag's label was typed by hand (the scan field names no reason for a scanner read).
    typed_reason: str = ""

    def __post_init__(self) -> None:
        # Accept the API's {"username", "password"} as it comes.
        if isinstance(self.second_verifier, Mapping):
            given = Credentials(
                str(self.second_verifier.get("username") or ""),
                str(self.second_verifier.get("password") or ""),
            )
            object.__setattr__(self, "second_verifier", given)


def check_bedside_role(user: User) -> None:
    """Only nurses verify and infuse at the bedside; an administrator's account may not."""
    if not allows(user.role, UseCase.VERIFY_AT_BEDSIDE):
        raise Forbidden(
            "Only a nurse may verify or infuse at the bedside; you are signed in as "
            f"{user.role.value}.",
            role=user.role.value,
        )


def verify(user: User, request: VerificationRequest) -> VerificationResult:
    """Run every bedside check and record the attempt (committed); pass or stop."""
    check_bedside_role(user)
    typed_reason = _typed_reason(request)
    second, second_user = _second_verifier(user, request.second_verifier)
    race = (
        "Someone else recorded a verification of this bag at the same moment and it was saved "
        "first. Nothing of yours was saved: scan the wristband and the bag again."
    )
    with write(user, "bedside verification", race, bag=_text(request.bag)[:60]):
        now = utcnow()
        bag, bag_error, unreadable = _scanned_bag(request.bag)
        allocation = active_allocation(bag) if bag else None
        facts = _facts(request, bag, bag_error, allocation, second, now, unreadable)
        verdict = rules.evaluate(facts)
        row = BedsideVerification(
            uid=str(uuid.uuid4()),
            attempted_at=now,
            first_verifier_id=user.id,
            second_verifier_id=second_user.id if _accepted(verdict, "second_verifier") else None,
            wristband_scan=_text(request.recipient)[:MAX_STORED_SCAN],
            bag_scan=_text(request.bag)[:MAX_STORED_SCAN],
            bag_id=bag.id if bag else None,
            recipient_id=allocation.recipient_id if allocation else None,
            allocation_id=allocation.id if allocation else None,
            infusion_number=allocation.infusion_number if allocation else None,
            passed=verdict.passed,
            checks=json.dumps([check_dict(c) for c in verdict.checks]),
            station=(request.station or "")[:64] or None,
            typed_reason=typed_reason,
        )
        # The audit entries say what happened, not only that something did.
        with acting_as(user.username, reason=_audit_reason(verdict, typed_reason)):
            db.session.add(row)
            if verdict.passed:
                _move_to_verified(bag, row, user, second_user, request, now)
            db.session.flush()
        result = verification_result(row, verdict, now)
    return result


def _accepted(verdict: rules.Verdict, name: str) -> bool:
    return next(c for c in verdict.checks if c.check == name).passed


def _second_verifier(
    user: User, given: Credentials | None
) -> tuple[rules.SecondVerifierFacts, User | None]:
    """Check the second nurse's own credentials, before the verification's transaction.

    A wrong password is committed as a failed sign-in (21 CFR 11.300(d)); the caller's own
    username is never checked, so one nurse cannot stand in for two.
    """
    if given is None or not given.username.strip():
        return rules.SecondVerifierFacts(), None
    username = given.username.strip().lower()
    if username == user.username:
        return rules.SecondVerifierFacts(username=username, same_person=True), None
    try:
        second = authenticate(username, given.password)
    except AuthenticationFailed as refused:
        db.session.rollback()
        return rules.SecondVerifierFacts(
            username=username, credential_problem=refused.message
        ), None
    facts = rules.SecondVerifierFacts(
        username=second.username, full_name=second.full_name, role=second.role.value
    )
    # End the sign-in's transaction: its row lock must not be held through the verification.
    db.session.commit()
    return facts, second


def _text(raw: object) -> str:
    return raw if isinstance(raw, str) else ""


def _typed_reason(request: VerificationRequest) -> str | None:
    """A bag label typed by hand is taken only with the reason it was typed (recorded)."""
    try:
        typed = read_scan(_text(request.bag)).typed
    except DomainError:
        return None  # an unreadable scan is a recorded attempt: the checks say so
    reason = (request.typed_reason or "").strip()
    if typed and not reason:
        raise ValidationFailed(
            "The bag's label was typed by hand: say why it could not be scanned (label damaged, "
            "scanner not working). The reason is kept with the verification.",
            field="typed_reason",
        )
    return reason[:MAX_TYPED_REASON] if typed else None


def _scanned_bag(raw: object) -> tuple[Bag | None, str | None, bool]:
    """The scanned bag, locked; or why the scan names no usable bag, and whether that is a
    read to do again (garbled, a wrong check character, not a bag's label) rather than a label
    read well that names no bag known here (a stop)."""
    try:
        bag, _ = bag_from_scan(_text(raw), lock=True)
    except InvalidBarcode as unread:
        return None, unread.message, True
    except DomainError as unusable:
        return None, unusable.message, False
    return bag, None, False


def _facts(request, bag, bag_error, allocation, second, now, bag_unreadable) -> rules.BedsideFacts:
    try:
        band = read_wristband(request.recipient)
        wristband, wristband_error = (
            rules.WristbandFacts(band.patient_number, band.birth_date),
            None,
        )
    except DomainError as unreadable:
        wristband, wristband_error = None, unreadable.message
    thaw = thaw_of(bag) if bag else None
    return rules.BedsideFacts(
        now=now,
        wristband=wristband,
        wristband_error=wristband_error,
        bag=_bag_facts(bag) if bag else None,
        bag_error=bag_error,
        recipient=_recipient_facts(allocation.recipient) if allocation else None,
        allocation=_allocation_facts(allocation) if allocation else None,
        thaw=rules.ThawFacts(thaw.started_at, thaw.ended_at, thaw.use_by) if thaw else None,
        warnings_acknowledged=request.warnings_acknowledged is True,
        second_verifier=second,
        zone=site_zone(),
        bag_unreadable=bag_unreadable,
    )


def _allocation_facts(allocation: Allocation) -> rules.AllocationFacts:
    level = (
        db.session.get(DoseLevel, allocation.dose_level_id) if allocation.dose_level_id else None
    )
    return rules.AllocationFacts(
        allocation.infusion_number, allocation.dose_level_id, level.code if level else None
    )


def _bag_facts(bag: Bag) -> rules.BagFacts:
    lot = bag.lot
    holds, why = release_holds(lot)
    sites = db.session.scalars(
        select(Shipment.destination_site)
        .join(ShipmentItem, ShipmentItem.shipment_id == Shipment.id)
        .where(ShipmentItem.bag_id == bag.id, ShipmentItem.received_at.is_not(None))
    ).all()
    infused = db.session.scalar(select(Infusion.id).where(Infusion.bag_id == bag.id))
    return rules.BagFacts(
        code=bag.code,
        status=bag.status.value,
        expires_at=bag.expires_at,
        lot_number=lot.lot_number,
        lot_disposition=lot.disposition.value,
        release_holds=holds,
        release_why=why,
        determination=lot_determinations({lot.id})[lot.id],
        received_at_sites=tuple(dict.fromkeys(sites)),
        has_infusion=infused is not None,
        recall=active_recall_codes(lot.id),
    )


def _recipient_facts(recipient: Recipient) -> rules.RecipientFacts:
    given = db.session.scalars(
        select(Infusion.infusion_number).where(Infusion.recipient_id == recipient.id)
    ).all()
    return rules.RecipientFacts(
        subject_id=recipient.subject_id,
        name=recipient.name,
        hospital_record_number=recipient.hospital_record_number,
        birth_date=recipient.birth_date,
        status=recipient.status.value,
        site=recipient.site,
        dose_level_id=recipient.dose_level_id,
        dose_level_code=recipient.dose_level.code if recipient.dose_level else None,
        infusions_given=frozenset(given),
        second_infusion_ordered=recipient.second_infusion_ordered,
    )


def _move_to_verified(bag, row, user, second, request, now) -> None:
    move_bag(
        bag,
        "verify",
        user,
        now,
        raw_scan=row.bag_scan,
        station=row.station,
        notes=(
            f"Two-person bedside verification {row.uid}: {user.full_name} with "
            f"{second.full_name} ({second.username}), infusion {row.infusion_number}."
        ),
    )


def _audit_reason(verdict: rules.Verdict, typed_reason: str | None) -> str:
    typed = f" (bag label typed by hand: {typed_reason})" if typed_reason else ""
    if verdict.outcome == rules.STOPPED:
        return f"bedside verification stopped: {verdict.stop_reason}{typed}"
    if verdict.outcome == rules.UNREADABLE:
        return f"bedside verification could not read a label: {verdict.stop_reason}{typed}"
    if verdict.outcome == rules.INCOMPLETE:
        missing = [c.check for c in verdict.checks if not c.passed]
        return f"bedside verification incomplete: {', '.join(missing)}{typed}"
    return f"bedside verification passed{typed}"
