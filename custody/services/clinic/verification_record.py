"""A bedside verification as recorded, read back: what the bedside page and the API answer,
and what a role that may not see patient identifiers is shown of it.

`verify` (bedside.py) answers with the same `verification_result` it records, so the answer
at the bedside and the one read back later are built in one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from custody.domain import bedside_checks as rules
from custody.domain import eligibility, isbt128
from custody.domain.errors import DomainError, NotFound
from custody.domain.permissions import (
    Role,
    printed_identifiers,
    sees_patient_identifiers,
    withhold_identifiers_in_text,
    without_patient_identifiers,
)
from custody.domain.wristband import read_wristband
from custody.extensions import db
from custody.models import Allocation, Bag, BedsideVerification, Recipient, User
from custody.models.base import utcnow
from custody.services.bags.queries import lot_determinations
from custody.services.bags.thawing import seconds_left, thaw_of


@dataclass(frozen=True)
class VerificationResult:
    uid: str
    passed: bool
    outcome: str
    stop_reason: str | None
    checks: list[dict[str, Any]]
    bag: dict[str, Any] | None
    recipient: dict[str, Any] | None
    infusion_number: int | None
    thaw: dict[str, Any] | None
    warnings: list[str]
    attempted_at: Any = None
    first_verifier: str | None = None
    second_verifier: str | None = None
    station: str | None = None
    # What the allocation says to give: the infusion form starts from it.
    volume_to_infuse_ml: float | None = None
    typed_reason: str | None = None


def check_dict(check: rules.Check) -> dict[str, Any]:
    return {
        "check": check.check,
        "passed": check.passed,
        "message": check.message,
        "checked": check.checked,
        "rescan": check.rescan,
    }


def get_verification(uid: str, reader: Role | str) -> VerificationResult:
    """A recorded verification as `reader` may see it: to a role that may not see patient
    identifiers, the recipient by subject ID only and the checks' words without them."""
    row = db.session.scalar(select(BedsideVerification).where(BedsideVerification.uid == uid))
    if row is None:
        raise NotFound(f"No bedside verification {uid} is recorded.", verification=uid)
    checks = tuple(rules.Check(**c) for c in json.loads(row.checks))
    verdict = rules.Verdict(checks, *rules.outcome_of(checks), ())
    result = verification_result(row, verdict, utcnow())
    if sees_patient_identifiers(reader):
        return result
    return _without_identifiers(result, verification_identifiers(row))


def verification_identifiers(row: BedsideVerification) -> frozenset[str]:
    """The identifiers a verification's words may hold: the allocated recipient's, and what the
    wristband scanned carries (another patient's record number and birth date, when it was
    the wrong wristband)."""
    recipient = row.recipient
    words = (
        printed_identifiers(recipient.name, recipient.birth_date, recipient.hospital_record_number)
        if recipient is not None
        else frozenset()
    )
    try:
        band = read_wristband(row.wristband_scan)
    except DomainError:
        return words
    worn = printed_identifiers(birth_date=band.birth_date, record_number=band.patient_number)
    return words | worn


def _without_identifiers(
    result: VerificationResult, identifiers: frozenset[str]
) -> VerificationResult:
    def words(text: str | None) -> str | None:
        return withhold_identifiers_in_text(text, identifiers) if text else text

    return replace(
        result,
        stop_reason=words(result.stop_reason),
        checks=[check | {"message": words(check["message"])} for check in result.checks],
        recipient=without_patient_identifiers(result.recipient) if result.recipient else None,
        typed_reason=words(result.typed_reason),
    )


def verification_result(
    row: BedsideVerification, verdict: rules.Verdict, now: datetime
) -> VerificationResult:
    """The answer the bedside page shows: checks, the allocated recipient, the bag, the clock."""
    bag = db.session.get(Bag, row.bag_id) if row.bag_id else None
    recipient = db.session.get(Recipient, row.recipient_id) if row.recipient_id else None
    thaw = thaw_of(bag) if bag else None
    warnings = list(verdict.warnings)
    if bag is not None and not warnings:  # read back: the statements as the lot has them now
        warnings = eligibility.warnings_for(lot_determinations({bag.lot_id})[bag.lot_id])
    second = db.session.get(User, row.second_verifier_id) if row.second_verifier_id else None
    allocation = db.session.get(Allocation, row.allocation_id) if row.allocation_id else None
    return VerificationResult(
        uid=row.uid,
        passed=row.passed,
        outcome=verdict.outcome,
        stop_reason=verdict.stop_reason,
        checks=[check_dict(c) for c in verdict.checks],
        bag=_bag_brief(bag) if bag else None,
        recipient=recipient_brief(recipient) if recipient else None,
        infusion_number=row.infusion_number,
        thaw=_thaw_brief(thaw, now) if thaw else None,
        warnings=warnings,
        attempted_at=row.attempted_at,
        first_verifier=db.session.get(User, row.first_verifier_id).full_name,
        second_verifier=second.full_name if second else None,
        station=row.station,
        volume_to_infuse_ml=allocation.volume_to_infuse_ml if allocation else None,
        typed_reason=row.typed_reason,
    )


def _bag_brief(bag: Bag) -> dict[str, Any]:
    return {
        "code": bag.code,
        "din": bag.din,
        "check_character": isbt128.check_character(bag.din),
        "product_code": bag.product_code,
        "lot": bag.lot.lot_number,
        "status": bag.status.value,
    }


def recipient_brief(recipient: Recipient) -> dict[str, Any]:
    return {
        "subject_id": recipient.subject_id,
        "name": recipient.name,
        "birth_date": recipient.birth_date,
        "hospital_record_number": recipient.hospital_record_number,
    }


def _thaw_brief(thaw, now) -> dict[str, Any]:
    return {
        "ended_at": thaw.ended_at,
        "use_by": thaw.use_by,
        "seconds_left": seconds_left(thaw, now),
    }
