"""Donors, their eligibility determination, their collections, and receipt of a collection.

21 CFR 1271 subpart C: a donor is determined eligible only on complete, non-reactive
infectious-disease testing; an ineligible or incomplete determination does not stop a
collection, but the product is flagged wherever it travels (custody.domain.eligibility).
Each write is one transaction under `acting_as`, so the audit trail says who and why.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from custody.domain import eligibility, isbt128
from custody.domain.errors import Conflict, Forbidden, InvalidBarcode, NotFound, ValidationFailed
from custody.domain.scan_targets import read_scan
from custody.extensions import db
from custody.models import CustodyEvent, Donation, Donor, DonorTest, Eligibility, User
from custody.models.accounts import Role
from custody.models.base import utcnow
from custody.models.lots import Lot, lot_donations
from custody.services.audit_trail import acting_as
from custody.services.identifiers import take_dins

# 21 CFR 1271.85(a) and (b) for viable, leukocyte-rich cells, plus WNV (FDA donor guidance).
# CMV is tested too, but a reactive CMV result does not by itself make a donor ineligible.
DEFAULT_DONOR_TESTS = ("HIV-1/2", "HBV", "HCV", "HTLV-I/II", "Syphilis", "WNV")
TEST_RESULTS = ("non-reactive", "reactive", "indeterminate", "pending")
DETERMINATIONS = ("eligible", "ineligible", "incomplete")
DETERMINERS = frozenset({Role.QA, Role.ADMIN})
# A clock a few minutes fast at the apheresis unit must not make a real collection "future".
CLOCK_SKEW = timedelta(minutes=10)
_DONOR_CODE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,31}$")
CELL_LAB = "cell lab"


@contextmanager
def write(user: User, reason: str, race: str) -> Iterator[None]:
    """One transaction under `acting_as`: commit at the end, roll back on any error.

    A unique constraint that fires at commit means another request won a race; `race` says
    in words what the user should do, instead of a bare database error.
    """
    with acting_as(user.username, reason=reason):
        try:
            yield
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise Conflict(race) from None
        except BaseException:
            db.session.rollback()
            raise


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
        donor = _donor(donor_code, lock=True)
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
    required_tests: Sequence[str] = DEFAULT_DONOR_TESTS,
) -> Donor:
    """QA's determination (21 CFR 1271.50): eligible only on complete non-reactive tests."""
    if user.role not in DETERMINERS:
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
        donor = _donor(donor_code, lock=True)
        if determination == "eligible":
            _require_complete_testing(donor, required_tests)
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


# --- collections ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectionRequest:
    donor_code: str
    collected_at: datetime
    collection_timezone: str
    facility: str
    volume_ml: float
    total_nucleated_cells: float | None = None
    nk_cells: float | None = None
    viability_pct: float | None = None


def record_collection(user: User, request: CollectionRequest, fin: str) -> Donation:
    """An apheresis collection, with a DIN issued here (never reused) in the same transaction."""
    _check_collection(request)
    race = "Someone recorded a collection at the same moment; record this one again."
    with write(user, "collection recorded", race):
        donor = _donor(request.donor_code)
        (din,) = take_dins(fin, None, 1)
        donation = Donation(
            din=din,
            donor=donor,
            collected_at=request.collected_at,
            collection_timezone=request.collection_timezone,
            facility=request.facility.strip(),
            volume_ml=request.volume_ml,
            total_nucleated_cells=request.total_nucleated_cells,
            nk_cells=request.nk_cells,
            viability_pct=request.viability_pct,
        )
        db.session.add(donation)
    return donation


def _check_collection(request: CollectionRequest) -> None:
    if request.collected_at.tzinfo is None or request.collected_at.utcoffset() is None:
        raise ValidationFailed(
            "Give the collection time with its UTC offset (e.g. 2026-03-01T09:30:00-06:00).",
            field="collected_at",
        )
    if request.collected_at > utcnow() + CLOCK_SKEW:
        raise ValidationFailed(
            "The collection time is in the future; check the date, time and UTC offset.",
            field="collected_at",
        )
    if request.collection_timezone not in _time_zones():
        raise ValidationFailed(
            f"{request.collection_timezone!r} is not a known time zone; give its IANA name, "
            "e.g. America/Chicago or Europe/Berlin.",
            field="collection_timezone",
        )
    if not request.facility.strip():
        raise ValidationFailed("Name the facility that collected.", field="facility")
    if request.volume_ml <= 0:
        raise ValidationFailed("The collected volume must be above 0 mL.", field="volume_ml")
    nk, total = request.nk_cells, request.total_nucleated_cells
    if nk is not None and total is not None and nk > total:
        raise ValidationFailed(
            "The NK cell count cannot exceed the total nucleated cell count.", field="nk_cells"
        )


@functools.cache
def _time_zones() -> frozenset[str]:
    """The IANA names this system knows (a set lookup never touches the file system)."""
    return frozenset(zoneinfo.available_timezones())


@dataclass(frozen=True)
class ReceiptRequest:
    scan: str
    condition: str
    temperature_c: float | None
    station: str | None = None


def receive_collection(user: User, request: ReceiptRequest) -> CustodyEvent:
    """The cell lab scans a collection in: who, when, in what condition, at what temperature.

    The donation row is locked first, so of two people scanning the same collection at once
    one records the receipt and the other is told when and by whom it was received.
    """
    target = read_scan(request.scan)
    if target.kind != "din":
        kind = "bag label" if target.kind == "bag" else target.kind
        raise InvalidBarcode(
            f"That barcode is a {kind}, not a collection. Scan the DIN barcode on the "
            "collection bag (it starts with '='), or type the DIN and its check character.",
            scanned=target.kind,
        )
    if not request.condition.strip():
        raise ValidationFailed("Describe the condition on arrival.", field="condition")
    with write(user, "collection received at the cell lab", "Someone received it at once."):
        donation = _donation(target.din, lock=True)
        if donation.received_at is not None:
            received_by = db.session.get(User, donation.received_by_id)
            raise Conflict(
                f"Collection {_din_words(donation.din)} was already received at "
                f"{donation.received_at:%Y-%m-%d %H:%M} UTC by "
                f"{received_by.full_name if received_by else 'unknown'}. Nothing was changed.",
                din=donation.din,
                received_at=donation.received_at.isoformat(),
                received_by=received_by.username if received_by else None,
            )
        now = utcnow()
        donation.received_at = now
        donation.received_by_id = user.id
        donation.received_condition = request.condition.strip()
        donation.received_temperature_c = request.temperature_c
        event = CustodyEvent(
            donation=donation,
            action="receive_collection",
            from_status="collected",
            to_status="received",
            occurred_at=now,
            actor_id=user.id,
            raw_scan=target.raw,
            condition=donation.received_condition,
            temperature_c=request.temperature_c,
            from_party=donation.facility,
            to_party=CELL_LAB,
            station=request.station,
        )
        db.session.add(event)
    return event


# --- reads ---------------------------------------------------------------------------------


def list_donors(
    eligibility_filter: str | None = None,
    limit: int = 100,
    offset: int = 0,
    required: Sequence[str] = DEFAULT_DONOR_TESTS,
) -> list[dict[str, Any]]:
    query = select(Donor).options(selectinload(Donor.tests), selectinload(Donor.donations))
    if eligibility_filter:
        query = query.where(Donor.eligibility == eligibility_filter)
    donors = db.session.scalars(query.order_by(Donor.id).limit(limit).offset(offset)).all()
    names = _user_names(d.eligibility_determined_by_id for d in donors)
    return [donor_summary(d, names, required) for d in donors]


def donor_detail(donor_code: str, required: Sequence[str] = DEFAULT_DONOR_TESTS) -> dict:
    donor = _donor(donor_code)
    return donor_summary(donor, _user_names([donor.eligibility_determined_by_id]), required)


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


def list_donations(
    donor: str | None = None, received: bool | None = None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    query = select(Donation).join(Donation.donor).options(selectinload(Donation.donor))
    if donor:
        query = query.where(Donor.donor_code == donor.strip().upper())
    if received is not None:
        query = query.where(
            Donation.received_at.is_not(None) if received else Donation.received_at.is_(None)
        )
    donations = db.session.scalars(query.order_by(Donation.id).limit(limit).offset(offset)).all()
    return _donation_summaries(donations)


def donation_detail(din: str) -> dict[str, Any]:
    """One collection, named by its DIN (13 characters, or typed with its check K)."""
    return _donation_summaries([_donation(din_from(din))])[0]


def _donation_summaries(donations: Sequence[Donation]) -> list[dict[str, Any]]:
    ids = [d.id for d in donations]
    lots = dict(
        db.session.execute(
            select(lot_donations.c.donation_id, Lot.lot_number)
            .join(Lot, Lot.id == lot_donations.c.lot_id)
            .where(lot_donations.c.donation_id.in_(ids))
        ).all()
    )
    names = _user_names(d.received_by_id for d in donations)
    return [donation_summary(d, lots.get(d.id), names.get(d.received_by_id)) for d in donations]


def donation_summary(donation: Donation, lot: str | None, receiver: User | None) -> dict:
    determination = donation.donor.eligibility.value
    zone = donation.collection_timezone
    local = donation.collected_at.astimezone(
        zoneinfo.ZoneInfo(zone if zone in _time_zones() else "UTC")
    )
    return {
        "din": donation.din,
        "check_character": isbt128.check_character(donation.din),
        "barcode": isbt128.encode_din(donation.din),
        "donor": donation.donor.donor_code,
        "donor_eligibility": determination,
        "warnings": eligibility.warnings_for(determination),
        "status": "in_lot" if lot else "received" if donation.received_at else "collected",
        "collected_at": donation.collected_at,
        "collected_at_local": local.isoformat(),
        "collection_timezone": donation.collection_timezone,
        "facility": donation.facility,
        "volume_ml": donation.volume_ml,
        "total_nucleated_cells": donation.total_nucleated_cells,
        "nk_cells": donation.nk_cells,
        "viability_pct": donation.viability_pct,
        "received_at": donation.received_at,
        "received_by": receiver.full_name if receiver else None,
        "received_condition": donation.received_condition,
        "received_temperature_c": donation.received_temperature_c,
        "lot": lot,
    }


# --- lookups -------------------------------------------------------------------------------


def _donor(donor_code: str, *, lock: bool = False) -> Donor:
    code = donor_code.strip().upper()
    query = select(Donor).where(Donor.donor_code == code)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    donor = db.session.scalar(query)
    if donor is None:
        raise NotFound(f"No donor {code} is registered here. Register the donor first.", donor=code)
    return donor


def _donation(din: str, *, lock: bool = False) -> Donation:
    query = select(Donation).where(Donation.din == din)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    donation = db.session.scalar(query)
    if donation is None:
        raise NotFound(
            f"No collection with DIN {_din_words(din)} is recorded here. Check the label; a "
            "collection is recorded (and its DIN issued) before it reaches the lab.",
            din=din,
        )
    return donation


def din_from(raw: str, field: str = "din") -> str:
    """A DIN as scripts send it (13 characters) or as scanned or typed with its check K."""
    text = raw.strip().upper() if isinstance(raw, str) else ""
    if len(text) == 13:
        return isbt128.validate_din(text)
    target = read_scan(raw)
    if target.kind != "din":
        raise ValidationFailed(
            f"That is a {target.kind}, not a collection's DIN. Give the 13-character DIN, "
            "scan its barcode, or type it with its check character.",
            field=field,
        )
    return target.din


def _donor_code(raw: str) -> str:
    code = raw.strip().upper()
    if not _DONOR_CODE.match(code):
        raise ValidationFailed(
            "A donor code is 1 to 32 letters, digits, dots, dashes or underscores, starting "
            "with a letter or digit (e.g. DNR-0042).",
            field="donor_code",
        )
    return code


def _user_names(ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))}


def _din_words(din: str) -> str:
    return f"{din[:5]} {din[5:7]} {din[7:]}" if len(din) == 13 else din
