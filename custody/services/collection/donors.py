"""Donors and the determination of their eligibility, from their infectious-disease tests.

21 CFR 1271 subpart C: a donor is determined eligible only on complete, non-reactive
infectious-disease testing; an ineligible or incomplete determination does not stop a
collection, but the product is flagged wherever it travels (custody.domain.eligibility).
Each write is one transaction under `acting_as`, so the audit trail says who and why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from custody.config import settings
from custody.domain import eligibility
from custody.domain.eligibility import DETERMINATIONS, TEST_RESULTS
from custody.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from custody.domain.permissions import UseCase, allows
from custody.extensions import db
from custody.models import Donor, DonorTest, Eligibility, User
from custody.models.base import utcnow
from custody.services.core.transactions import write

# 21 CFR 1271.85(a) and (b) for viable, leukocyte-rich cells, plus WNV (FDA donor guidance).
# CMV is tested too, but a reactive CMV result does not by itself make a donor ineligible.
_DONOR_CODE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,31}$")


# --- donors --------------------------------------------------------------------------------


def register_donor(user: User, donor_code: str, sex: str, birth_date: date) -> Donor:
    """A healthy donor, with the demographics the lab needs; eligibility starts pending."""
    code = _donor_code(donor_code)
    if sex not in ("F", "M", "U"):
        raise ValidationFailed("Sex is F, M or U (unknown).", field="sex")
    today = utcnow().date()
    if not date(1900, 1, 1) <= birth_date < today:
        raise ValidationFailed(
            f"The date of birth {birth_date.isoformat()} is not possible for a donor; "
            "check it against the donor's record.",
            field="birth_date",
        )
    taken = f"Donor {code} is already registered. Use that record, or choose another code."
    if db.session.scalar(select(Donor.id).where(Donor.donor_code == code)):
        raise Conflict(taken, donor=code)
    with write(user, "donor registered", taken):
        donor = Donor(donor_code=code, sex=sex, birth_date=birth_date)
        db.session.add(donor)
    return donor


def record_donor_test(
    user: User, donor_code: str, test: str, result: str, sampled_on: date
) -> DonorTest:
    """An infectious-disease test result. A result that is not non-reactive for a required
    test reopens an "eligible" determination (back to pending), so that no product from the
    donor travels unflagged until QA determines eligibility again."""
    name = " ".join(test.split())
    if not name:
        raise ValidationFailed("Name the test (e.g. HIV-1/2, HBV).", field="test")
    if result not in TEST_RESULTS:
        raise ValidationFailed(f"A result is one of {', '.join(TEST_RESULTS)}.", field="result")
    if sampled_on > utcnow().date():
        raise ValidationFailed("The sample date is in the future.", field="sampled_on")
    with write(user, f"donor test recorded: {name}", "Someone changed this donor at once."):
        donor = donor_by_code(donor_code, lock=True)
        record = DonorTest(donor=donor, test=name, result=result, sampled_on=sampled_on)
        db.session.add(record)
        if donor.eligibility is Eligibility.ELIGIBLE and result != "non-reactive":
            donor.eligibility = Eligibility.PENDING
            donor.eligibility_notes = (
                f"Eligibility reopened: {name} {result} (sampled {sampled_on.isoformat()}) was "
                "recorded after the donor was determined eligible. QA must determine again."
            )
    return record


def determine_eligibility(
    user: User,
    donor_code: str,
    determination: str,
    notes: str,
    required_tests: Sequence[str] | None = None,
) -> Donor:
    """QA's determination (21 CFR 1271.50): eligible only on complete non-reactive tests."""
    if not allows(user.role, UseCase.DETERMINE_ELIGIBILITY):
        raise Forbidden(
            "Only QA (or an administrator) determines donor eligibility; "
            f"you are signed in as {user.role.value}.",
            role=user.role.value,
        )
    if determination not in DETERMINATIONS:
        raise ValidationFailed(
            f"A determination is one of {', '.join(DETERMINATIONS)}.", field="determination"
        )
    notes = notes.strip()
    if determination != "eligible" and not notes:
        raise ValidationFailed(
            f"Say why the donor is {determination}"
            + (" (the urgent medical need)" if determination == "incomplete" else "")
            + ": the notes go on the record and travel with the product.",
            field="notes",
        )
    with write(user, f"donor eligibility: {determination}", "Someone changed this donor at once."):
        donor = donor_by_code(donor_code, lock=True)
        if determination == "eligible":
            required = settings().donor_tests if required_tests is None else required_tests
            _require_complete_testing(donor, required)
        donor.eligibility = Eligibility(determination)
        donor.eligibility_determined_at = utcnow()
        donor.eligibility_determined_by_id = user.id
        donor.eligibility_notes = notes
    return donor


@dataclass(frozen=True)
class ScreeningFindings:
    """Which required tests are missing, and which latest results are not non-reactive."""

    missing: list[str]
    not_negative: dict[str, str]

    @property
    def outstanding(self) -> list[str]:
        return [*self.missing, *self.not_negative]


def screening_findings(tests: Iterable[DonorTest], required: Sequence[str]) -> ScreeningFindings:
    """The latest result of each required test (by sample date) decides; names ignore case."""
    latest: dict[str, DonorTest] = {}
    for record in sorted(tests, key=lambda t: (t.sampled_on, t.id or 0)):
        latest[record.test.casefold()] = record
    missing = [name for name in required if name.casefold() not in latest]
    not_negative = {
        name: latest[name.casefold()].result
        for name in required
        if name.casefold() in latest and latest[name.casefold()].result != "non-reactive"
    }
    return ScreeningFindings(missing, not_negative)


def _require_complete_testing(donor: Donor, required: Sequence[str]) -> None:
    findings = screening_findings(donor.tests, required)
    if not findings.outstanding:
        return
    parts = []
    if findings.missing:
        parts.append(f"no result for {', '.join(findings.missing)}")
    if findings.not_negative:
        parts.append(", ".join(f"{t} is {r}" for t, r in findings.not_negative.items()))
    raise ValidationFailed(
        f"Donor {donor.donor_code} cannot be determined eligible: {'; '.join(parts)}. Record "
        "every required test as non-reactive first, or determine the donor ineligible or "
        "incomplete (with the reason).",
        missing_tests=findings.missing,
        not_negative=findings.not_negative,
        required_tests=list(required),
    )


# --- reads ---------------------------------------------------------------------------------


def list_donors(
    eligibility_filter: str | None = None,
    limit: int = 100,
    offset: int = 0,
    required: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    required = settings().donor_tests if required is None else required
    query = select(Donor).options(selectinload(Donor.tests), selectinload(Donor.donations))
    if eligibility_filter:
        query = query.where(Donor.eligibility == eligibility_filter)
    donors = db.session.scalars(query.order_by(Donor.id).limit(limit).offset(offset)).all()
    names = users_by_id(d.eligibility_determined_by_id for d in donors)
    return [donor_summary(d, names, required) for d in donors]


def donor_detail(donor_code: str, required: Sequence[str] | None = None) -> dict:
    """The donor with their tests against `required` (the site's CUSTODY_DONOR_TESTS unless
    given)."""
    required = settings().donor_tests if required is None else required
    donor = donor_by_code(donor_code)
    return donor_summary(donor, users_by_id([donor.eligibility_determined_by_id]), required)


def donor_summary(donor: Donor, names: dict, required: Sequence[str]) -> dict[str, Any]:
    determination = donor.eligibility.value
    determiner = names.get(donor.eligibility_determined_by_id)
    return {
        "donor_code": donor.donor_code,
        "sex": donor.sex,
        "birth_date": donor.birth_date,
        "donor_eligibility": determination,
        "warnings": eligibility.warnings_for(determination),
        "eligibility_determined_at": donor.eligibility_determined_at,
        "eligibility_determined_by": determiner.full_name if determiner else None,
        "eligibility_determined_by_username": determiner.username if determiner else None,
        "eligibility_notes": donor.eligibility_notes,
        "required_tests": list(required),
        "outstanding_tests": screening_findings(donor.tests, required).outstanding,
        "tests": [
            {"test": t.test, "result": t.result, "sampled_on": t.sampled_on}
            for t in sorted(donor.tests, key=lambda t: (t.sampled_on, t.id))
        ],
        "donations": [d.din for d in sorted(donor.donations, key=lambda d: d.id)],
        "created_at": donor.created_at,
    }


# --- lookups -------------------------------------------------------------------------------


def donor_by_code(donor_code: str, *, lock: bool = False) -> Donor:
    """The donor a code names (a collection is recorded against one), or a NotFound."""
    code = donor_code.strip().upper()
    query = select(Donor).where(Donor.donor_code == code)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    donor = db.session.scalar(query)
    if donor is None:
        raise NotFound(f"No donor {code} is registered here. Register the donor first.", donor=code)
    return donor


def _donor_code(raw: str) -> str:
    code = raw.strip().upper()
    if not _DONOR_CODE.match(code):
        raise ValidationFailed(
            "A donor code is 1 to 32 letters, digits, dots, dashes or underscores, starting "
            "with a letter or digit (e.g. DNR-0042).",
            field="donor_code",
        )
    return code


def users_by_id(ids: Iterable[int | None]) -> dict[int, User]:
    """The users behind these ids in one query, for the names a list of records shows."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))}
