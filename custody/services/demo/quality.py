"""QC and QA for a unit's lots: the approved specification, results entered by the lab, QA's
signed decisions with their certificates, a correction, an exceptional release, and the alert
that sends a conditionally released lot back to quarantine.

The services that sign stamp the present time and ask for a password; the demo's rows carry
its own clock instead, so they are built here. Each decision still goes through the release
service's own checks (results in and in specification, donor statements, segregation of who
entered from who signs) and signs the very content the service signs, so `signature_status`
holds for it; the alert and the return to quarantine use the services' own functions.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select

from custody.domain.release_rules import (
    ACTIONS,
    Criterion,
    check_criterion,
    judge,
)
from custody.extensions import db
from custody.models import (
    CustodyEvent,
    Lot,
    QcResult,
    QcSpecification,
    ReleaseDecision,
    SpecificationStatus,
    User,
)
from custody.services.core.signatures import sign
from custody.services.demo.clinic import residual_cd3_pct
from custody.services.demo.scenario import (
    ALERT_AT,
    DAY,
    DEMO_NOW,
    HOUR,
    QC_METHODS,
    QC_PASSING,
    SPECIFICATION_APPROVED,
    STORIES,
    Unit,
)
from custody.services.quality.alerts import raise_alert
from custody.services.quality.certificates import issue_certificate

# The release service's own check and signed content: the demo's decisions must pass the one
# and sign the other exactly as a QA person's would.
from custody.services.quality.disposition import DispositionRequest, check_request, signed_decision
from custody.services.quality.lot_quality import criteria_of, current_results
from custody.services.quality.release_signature import reopen_for_review
from custody.services.quality.specifications import (
    APPROVAL_MEANING,
    STANDARD_RELEASE_TESTS,
    current_specification,
    spec_item,
    specification_content,
)

PHYSICIAN = "Dr. Elena Vasquez, attending haematologist"
CORRECTION = (
    "Transcription error: value copied from the previous sample's flow report; corrected "
    "from the signed report."
)
VIABILITY_NOTE = (
    "Assay repeated on a retained vial, result confirmed; no laboratory error found. Root "
    "cause: {cause}."
)


def approved_specification(users: dict[str, User], pdc: str) -> QcSpecification:
    """The standard release tests for the product, drafted and approved by QA's signature
    before the first lot (or the version the database already holds)."""
    existing = current_specification(pdc)
    if existing is not None:
        return existing
    for criterion in STANDARD_RELEASE_TESTS:
        check_criterion(criterion)
    author = users["qa2"]
    latest = db.session.scalar(
        select(func.max(QcSpecification.version)).where(
            QcSpecification.product_description_code == pdc
        )
    )
    spec = QcSpecification(
        product_description_code=pdc,
        version=(latest or 0) + 1,
        notes="Release tests of the CD33 CAR-NK IMPD, section 3.2.P.5.1.",
        created_by_id=author.id,
        created_at=SPECIFICATION_APPROVED - 7 * DAY,
    )
    spec.items.extend(spec_item(n, c) for n, c in enumerate(STANDARD_RELEASE_TESTS, start=1))
    db.session.add(spec)
    db.session.flush()
    content = {"record": "qc_specification", **specification_content(spec)}
    at = SPECIFICATION_APPROVED
    signature = sign(author, APPROVAL_MEANING, "qc_specification", spec.id, content, at)
    spec.approval_signature = signature
    spec.status = SpecificationStatus.APPROVED
    spec.approved_by_id = author.id
    spec.approved_at = at
    db.session.flush()
    return spec


def review(unit: Unit, lots: list[Lot]) -> None:
    """Results as the lab reported them, then QA's decisions, then the late positive culture."""
    stories = dict(zip((lot.lot_number for lot in lots), STORIES, strict=True))
    entered = {lot.lot_number: _lab_results(unit, lot, stories[lot.lot_number]) for lot in lots}
    db.session.add_all(row for rows in entered.values() for row in rows)
    db.session.flush()
    for lot in lots:
        if stories[lot.lot_number] == "corrected":
            _correct(unit, lot, entered[lot.lot_number])
    for lot in lots:
        decided = unit.decided.get(lot.lot_number)
        if decided is not None:
            _decide(unit, lot, stories[lot.lot_number], decided)
    for lot in lots:
        if stories[lot.lot_number] == "alert":
            _positive_sterility(unit, lot)


# --- the lab -----------------------------------------------------------------------------------


def _lab_results(unit: Unit, lot: Lot, story: str) -> list[QcResult]:
    """Every result reported by now, each at its time after fill; one out of specification
    for the lots whose story needs it. A conditionally released lot's sterility is still out."""
    rows = []
    for n, criterion in enumerate(criteria_of(lot)):
        delay, _, _ = QC_METHODS[criterion.test]
        at = lot.manufactured_at + delay + unit.rng.randrange(0, 60) * HOUR / 60
        if at > DEMO_NOW:
            continue
        value = _value(unit, lot, story, criterion)
        analyst = unit.users["tech" if n % 2 else "tech2"]
        rows.append(_result(lot, criterion, value, analyst, at))
    return rows


def _value(unit: Unit, lot: Lot, story: str, criterion: Criterion) -> float | str:
    rng = unit.rng
    if criterion.kind == "qualitative":
        return criterion.expected_text
    if criterion.test == "viability" and story == "exceptional":
        return round(rng.uniform(66.0, 69.0), 1)
    if criterion.test == "viability" and story == "rejected":
        return round(rng.uniform(58.0, 64.0), 1)
    if criterion.test == "car_expression" and story == "corrected":
        return round(rng.uniform(35.0, 45.0), 1)  # as typed; `_correct` puts it right
    if criterion.test == "cell_count":
        return sum(b.viable_car_nk_cells for b in lot.bags)
    if criterion.test == "residual_cd3":
        return residual_cd3_pct(lot)  # what the clinic's allocations were worked out with
    low, high = QC_PASSING[criterion.test]
    return round(rng.uniform(low, high), 2 if high < 5 else 1)


def _result(
    lot: Lot, criterion: Criterion, value: float | str, analyst: User, at: datetime
) -> QcResult:
    """A result row as `enter_result` writes it: judged at once against the lot's criterion."""
    numeric = value if isinstance(value, float | int) else None
    text = value if isinstance(value, str) else None
    _, method, instrument = QC_METHODS[criterion.test]
    within = None if criterion.judged_at_allocation else judge(criterion, numeric, text)
    return QcResult(
        lot_id=lot.id,
        test=criterion.test,
        value_numeric=numeric,
        value_text=text,
        unit="%" if criterion.judged_at_allocation else criterion.unit,
        method=method,
        instrument=instrument,
        attachment_ref=f"LIMS/{lot.lot_number}/{criterion.test}",
        within_spec=within,
        investigation_note=_investigation(lot, criterion, value) if within is False else "",
        entered_by_id=analyst.id,
        entered_at=at,
    )


def _investigation(lot: Lot, criterion: Criterion, value) -> str:
    if criterion.test != "viability":
        return ""  # the positive culture: its investigation is still open
    deviation = next((s for s in lot.steps if s.deviation), None)
    cause = "day-14 expansion deviation" if deviation else "freeze-thaw loss at fill"
    return VIABILITY_NOTE.format(cause=f"{cause} ({value} % against ≥ 70 %)")


def _correct(unit: Unit, lot: Lot, rows: list[QcResult]) -> None:
    """The CAR expression result, typed wrong and corrected the same day: the old value stays,
    pointing at the new one, with the reason (Annex 11 §9)."""
    old = next(r for r in rows if r.test == "car_expression")
    criterion = next(c for c in criteria_of(lot) if c.test == old.test)
    right = round(old.value_numeric + unit.rng.uniform(8.0, 12.0), 1)
    corrector = unit.users["tech2" if old.entered_by_id == unit.users["tech"].id else "tech"]
    new = _result(lot, criterion, right, corrector, old.entered_at + 3 * HOUR)
    new.correction_reason = CORRECTION
    db.session.add(new)
    db.session.flush()
    old.superseded_by_id = new.id


# --- QA ----------------------------------------------------------------------------------------


def _requests(lot: Lot, signer: User) -> dict[str, DispositionRequest]:
    """What QA signed for each story (no password: nobody is at a keyboard to re-enter it)."""

    def request(action: str, **fields) -> DispositionRequest:
        return DispositionRequest(action, signer.username, "", **fields)

    viability = next((r for r in current_results(lot) if r.test == "viability"), None)
    shown = f"{viability.value_numeric} %" if viability else "below 70 %"
    return {
        "corrected": request("release"),
        "exceptional": request(
            "release",
            reason="Exceptional release at the treating physician's request.",
            exceptional=True,
            physician=PHYSICIAN,
            physician_request=f"Recipient in relapse with no other product available; viability "
            f"{shown} accepted for infusion at the planned dose (request on file).",
            justification="Dose is met by viable CAR+ cells; every other result in "
            "specification; OOS investigated, no safety signal. Benefit outweighs the risk.",
        ),
        "alert": request(
            "conditional_release",
            reason="Urgent clinical need: recipients in lymphodepletion; 14-day sterility "
            "pending, every other result in specification.",
            pending_tests=["sterility"],
        ),
        "pending": request(
            "conditional_release",
            reason="Urgent medical need documented; 14-day sterility pending. Donor eligibility "
            "incomplete: NOT EVALUATED statements on every label.",
            pending_tests=["sterility"],
            statements_acknowledged=True,
        ),
        "rejected": request(
            "reject",
            reason=f"Viability {shown} below the 70 % specification (investigated, confirmed); "
            "donor ineligible (HBV NAT reactive).",
        ),
    }


def _decide(unit: Unit, lot: Lot, story: str, at: datetime) -> ReleaseDecision:
    """QA's signed decision as `quality.disposition.sign_disposition` makes it, dated by the
    demo's clock.

    Segregation is checked whatever the setting: the demo's analysts never sign."""
    signer = unit.users["qa"]
    request = _requests(lot, signer)[story]
    rule = ACTIONS[request.action]
    results = current_results(lot)
    if any(r.entered_at > at for r in results):
        raise RuntimeError(f"demo schedule out of order: lot {lot.lot_number} signed too early")
    check_request(lot, rule, request, results, True, signer)
    decision = signed_decision(signer, lot, rule, request, results, at, "quarantine")
    issue_certificate(decision, lot)
    return decision


def _positive_sterility(unit: Unit, lot: Lot) -> None:
    """The culture turns positive on day 13, after the lot went out conditionally: as
    `enter_result` does, the signature is withdrawn, the lot goes back to quarantine and an
    alert lists every bag and recipient. Nothing of the lot moved after it."""
    last = db.session.scalar(
        select(func.max(CustodyEvent.occurred_at)).where(
            CustodyEvent.bag_id.in_([b.id for b in lot.bags])
        )
    )
    if last >= ALERT_AT:
        raise RuntimeError(f"demo schedule out of order: lot {lot.lot_number} moved after alert")
    criterion = next(c for c in criteria_of(lot) if c.test == "sterility")
    result = _result(lot, criterion, "positive", unit.users["tech"], ALERT_AT)
    db.session.add(result)
    db.session.flush()
    decision = reopen_for_review(lot, "sterility out of specification after conditional release")
    decision.invalidated_at = ALERT_AT
    alert = raise_alert(
        lot,
        result,
        f"Lot {lot.lot_number}: the sterility result awaited at conditional release is out of "
        "specification (positive). Every bag not yet infused is blocked; inform the physicians "
        "of the recipients listed.",
    )
    alert.raised_at = ALERT_AT
    alert.public_id = str(uuid.UUID(int=unit.rng.getrandbits(128), version=4))
    db.session.flush()
