"""Release specifications: versioned per product, approved by QA's signature, fixed per lot.

A lot is judged against the specification that was approved when it was made: a new version
applies to new lots only, so a result never changes verdict because the rules moved under it.
Approving a version retires the one before it for new lots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import func, select

from custody.domain.errors import Forbidden, IllegalTransition, NotFound, ValidationFailed
from custody.domain.permissions import UseCase, allows
from custody.domain.release_rules import Criterion, check_criterion, criterion_words
from custody.extensions import db
from custody.models import QcSpecification, QcSpecItem, SpecificationStatus, User
from custody.models.base import utcnow
from custody.services.core.signatures import check_signer, manifestation, reauthenticate, sign
from custody.services.core.transactions import write

APPROVAL_MEANING = "Approved specification"
MAX_VERSION = 2**31 - 1

# What a sterility culture or a mycoplasma PCR can report: the pick-list of its result.
CULTURE_OUTCOMES = ("negative", "positive", "indeterminate")
# The release tests of DOMAIN.md §6, as a site starts from them; each site approves its own.
STANDARD_RELEASE_TESTS: tuple[Criterion, ...] = (
    Criterion("sterility", "Sterility (14-day culture)", "qualitative", expected_text="negative",
              allowed_values=CULTURE_OUTCOMES, may_be_pending=True),
    Criterion("mycoplasma", "Mycoplasma (PCR)", "qualitative", expected_text="negative",
              allowed_values=CULTURE_OUTCOMES),
    Criterion("endotoxin", "Endotoxin (LAL)", unit="EU/mL", upper=5.0),
    Criterion("viability", "Viability (7-AAD)", unit="%", lower=70.0),
    Criterion("identity_cd56", "Identity: CD56+CD3−", unit="%", lower=70.0),
    Criterion("residual_cd3", "Residual CD3+ T cells", unit="cells/kg", upper=2e5,
              judged_at_allocation=True),
    Criterion("car_expression", "CAR expression (% CAR+)", unit="%", lower=20.0),
    Criterion("vector_copy_number", "Vector copy number", unit="copies/cell", upper=5.0),
    Criterion("potency", "Potency: cytotoxicity vs CD33+ targets", unit="% lysis", lower=30.0),
    Criterion("cell_count", "Viable CAR+ NK cells per lot", unit="cells", lower=1e8),
)  # fmt: skip


@dataclass(frozen=True)
class SpecificationRequest:
    product_description_code: str
    tests: Sequence[Criterion]
    notes: str = ""


def create_specification(user: User, request: SpecificationRequest) -> QcSpecification:
    """A new draft version: the next number for the product, not used until QA approves it."""
    if not allows(user.role, UseCase.DRAFT_SPECIFICATION):
        raise Forbidden(
            f"Specifications are written by QA; you are signed in as {user.role.value}.",
            role=user.role.value,
        )
    pdc = request.product_description_code.strip().upper()
    _check_tests(request.tests)
    race = "Someone wrote a version of this specification at the same moment; look again."
    with write(user, f"specification drafted for {pdc}", race):
        latest = db.session.scalar(
            select(func.max(QcSpecification.version)).where(
                QcSpecification.product_description_code == pdc
            )
        )
        spec = QcSpecification(
            product_description_code=pdc,
            version=(latest or 0) + 1,
            notes=request.notes.strip(),
            created_by_id=user.id,
        )
        spec.items.extend(spec_item(n, c) for n, c in enumerate(request.tests, start=1))
        db.session.add(spec)
    return spec


def _check_tests(tests: Sequence[Criterion]) -> None:
    if not tests:
        raise ValidationFailed("A specification lists at least one release test.", field="tests")
    keys = [t.test for t in tests]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ValidationFailed(f"Test {', '.join(twice)} is listed twice.", field="tests")
    for test in tests:
        if not test.test.strip() or not test.title.strip():
            raise ValidationFailed("Each test needs its key and its title.", field="tests")
        check_criterion(test)


def spec_item(sequence: int, c: Criterion) -> QcSpecItem:
    return QcSpecItem(
        sequence=sequence,
        test=c.test.strip(),
        title=c.title.strip(),
        kind=c.kind,
        unit=c.unit.strip(),
        lower_limit=c.lower,
        upper_limit=c.upper,
        lower_inclusive=c.lower_inclusive,
        upper_inclusive=c.upper_inclusive,
        expected_text=(c.expected_text or "").strip().lower() or None,
        # Lower case like the expected text: a result is stored in the spelling defined here.
        allowed_values=[v.strip().lower() for v in c.allowed_values] or None,
        may_be_pending=c.may_be_pending,
        judged_at_allocation=c.judged_at_allocation,
    )


def approve_specification(
    user: User, pdc: str, version: int, username: str, password: str
) -> QcSpecification:
    """QA's signature makes a draft the version new lots of the product are judged by."""
    check_signer(user, UseCase.APPROVE_SPECIFICATION, "a specification")
    reauthenticate(user, username, password)
    race = "Someone approved a version of this specification at the same moment; look again."
    with write(user, f"specification {pdc} v{version} approved", race):
        # Every version of the product, locked in one order: two approvals at once queue here,
        # so the second sees the first's result instead of both retiring the old version.
        _lock_versions(pdc)
        spec = _specification(pdc, version, lock=True)
        if spec.status is not SpecificationStatus.DRAFT:
            raise IllegalTransition(
                f"{pdc} version {version} is {spec.status.value}; only a draft is approved.",
                current_state=spec.status.value,
            )
        _retire_approved(spec.product_description_code)
        now = utcnow()
        content = {"record": "qc_specification", **specification_content(spec)}
        signature = sign(user, APPROVAL_MEANING, "qc_specification", spec.id, content, now)
        spec.status = SpecificationStatus.APPROVED
        spec.approved_by_id = user.id
        spec.approved_at = now
        spec.approval_signature = signature
    return spec


def _lock_versions(pdc: str) -> None:
    db.session.execute(
        select(QcSpecification.id)
        .where(QcSpecification.product_description_code == pdc.strip().upper())
        .order_by(QcSpecification.version)
        .with_for_update()
    ).all()


def _retire_approved(pdc: str) -> None:
    for older in db.session.scalars(
        select(QcSpecification).where(
            QcSpecification.product_description_code == pdc,
            QcSpecification.status == SpecificationStatus.APPROVED,
        )
    ):
        older.status = SpecificationStatus.RETIRED


def _specification(pdc: str, version: int, lock: bool = False) -> QcSpecification:
    if not 1 <= version <= MAX_VERSION:  # a number no database integer holds is no version
        raise NotFound(f"No specification {pdc} version {version} is known here.")
    query = select(QcSpecification).where(
        QcSpecification.product_description_code == pdc.strip().upper(),
        QcSpecification.version == version,
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    spec = db.session.scalar(query)
    if spec is None:
        raise NotFound(f"No specification {pdc} version {version} is known here.")
    return spec


def current_specification(pdc: str) -> QcSpecification | None:
    """The approved version new lots of the product are judged by, if QA approved one."""
    return db.session.scalar(
        select(QcSpecification).where(
            QcSpecification.product_description_code == pdc,
            QcSpecification.status == SpecificationStatus.APPROVED,
        )
    )


def criterion_of(item: QcSpecItem) -> Criterion:
    return Criterion(
        test=item.test,
        title=item.title or item.test,
        kind=item.kind,
        unit=item.unit,
        lower=item.lower_limit,
        upper=item.upper_limit,
        lower_inclusive=item.lower_inclusive,
        upper_inclusive=item.upper_inclusive,
        expected_text=item.expected_text,
        may_be_pending=item.may_be_pending,
        judged_at_allocation=item.judged_at_allocation,
        allowed_values=tuple(item.allowed_values or ()),
    )


def specification_content(spec: QcSpecification) -> dict:
    return {
        "product": spec.product_description_code,
        "version": spec.version,
        "tests": [asdict(criterion_of(item)) for item in spec.items],
    }


def list_specifications(pdc: str | None = None) -> list[dict]:
    query = select(QcSpecification).order_by(
        QcSpecification.product_description_code, QcSpecification.version
    )
    if pdc:
        query = query.where(QcSpecification.product_description_code == pdc.strip().upper())
    return [specification_summary(s) for s in db.session.scalars(query)]


def specification_detail(pdc: str, version: int) -> dict:
    return specification_summary(_specification(pdc, version))


def specification_summary(spec: QcSpecification) -> dict:
    return {
        "product_description_code": spec.product_description_code,
        "version": spec.version,
        "status": spec.status.value,
        "notes": spec.notes,
        "approved_at": spec.approved_at,
        "approval": manifestation(spec.approval_signature) if spec.approval_signature else None,
        "tests": [_test_summary(criterion_of(item)) for item in spec.items],
    }


def _test_summary(c: Criterion) -> dict:
    return {**asdict(c), "allowed_values": list(c.allowed_values), "criterion": criterion_words(c)}
