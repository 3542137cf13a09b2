"""Release specifications: versioned per product, approved by QA's e-signature, fixed per lot."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from custody.domain.errors import (
    Conflict,
    Forbidden,
    IllegalTransition,
    NotFound,
    SignatureRefused,
    ValidationFailed,
)
from custody.domain.release_rules import Criterion, content_hash
from custody.extensions import db
from custody.models import Lot, QcSpecification, Signature, SpecificationStatus, User
from custody.models.base import utcnow
from custody.services.collection import donations as coll
from custody.services.collection import donors
from custody.services.core.audit_trail import acting_as
from custody.services.manufacturing import lots as mfg
from custody.services.quality import specifications as specs
from custody.services.quality.lot_quality import attach_specification
from custody.services.quality.queries import lot_quality
from custody.services.quality.results import ResultRequest, enter_result
from tests.factories import PASSWORD
from tests.races import race

STANDARD = specs.STANDARD_RELEASE_TESTS
_donors = iter(range(1, 10_000))


def _draft(user, product: str = "D0001", tests=STANDARD) -> QcSpecification:
    return specs.create_specification(user, specs.SpecificationRequest(product, tests))


def _approve(qa, version: int, product: str = "D0001", password: str = PASSWORD):
    return specs.approve_specification(qa, product, version, qa.username, password)


def _stricter_viability(floor: float = 80.0) -> tuple[Criterion, ...]:
    return tuple(
        dataclasses.replace(c, lower=floor) if c.test == "viability" else c for c in STANDARD
    )


def _lot(tech) -> Lot:
    """A lot made the way the lab makes one: from a received collection, via the service."""
    code = f"DNR-S{next(_donors)}"
    donors.register_donor(tech, code, "F", date(1991, 5, 6))
    collection = coll.CollectionRequest(
        donor_code=code,
        collected_at=utcnow() - timedelta(hours=3),
        collection_timezone="Europe/Berlin",
        facility="Apheresis unit",
        volume_ml=240.0,
    )
    din = coll.record_collection(tech, collection, "W9999").din
    coll.receive_collection(tech, coll.ReceiptRequest(f"={din}00", "intact", 6.0))
    request = mfg.LotRequest(donations=[din], product_description_code="D0001")
    return mfg.create_lot(tech, request, "W9999")


def _status(product: str, version: int) -> str:
    db.session.expire_all()
    return specs.specification_detail(product, version)["status"]


# --- drafting ----------------------------------------------------------------------------------


def test_versions_are_numbered_per_product(qa):
    assert _draft(qa).version == 1
    assert _draft(qa, "d0001").version == 2  # the code is the product's, whatever the case
    assert _draft(qa, "D0002").version == 1
    listed = [(s["product_description_code"], s["version"]) for s in specs.list_specifications()]
    assert listed == [("D0001", 1), ("D0001", 2), ("D0002", 1)]
    assert [s["version"] for s in specs.list_specifications("d0002")] == [1]


def test_a_draft_keeps_every_test_in_order_with_its_criterion_in_words(qa):
    _draft(qa)
    detail = specs.specification_detail("D0001", 1)
    assert detail["status"] == "draft" and detail["approval"] is None
    assert [t["test"] for t in detail["tests"]] == [c.test for c in STANDARD]
    by_test = {t["test"]: t for t in detail["tests"]}
    assert by_test["endotoxin"]["criterion"] == "< 5 EU/mL"
    assert by_test["sterility"]["criterion"] == "Negative"
    assert by_test["sterility"]["may_be_pending"] is True
    assert by_test["residual_cd3"]["judged_at_allocation"] is True


@pytest.mark.parametrize("role", ["technician", "nurse"])
def test_only_qa_or_an_administrator_writes_a_specification(make, role):
    with pytest.raises(Forbidden, match=f"signed in as {role}"):
        _draft(make.user(role))
    assert _draft(make.user("admin")).version == 1


INVALID = {
    "numeric without limits": (
        (Criterion("potency", "Potency", unit="%"),),
        "Test potency is numeric: give a lower limit, an upper limit or both",
    ),
    "qualitative without expected text": (
        (Criterion("sterility", "Sterility", "qualitative"),),
        "Test sterility is qualitative: give the expected result",
    ),
    "qualitative with blank expected text": (
        (Criterion("sterility", "Sterility", "qualitative", expected_text="   "),),
        "give the expected result",
    ),
    "duplicate keys": (
        (
            Criterion("viability", "Viability", unit="%", lower=70.0),
            Criterion("endotoxin", "Endotoxin", upper=5.0),
            Criterion("viability", "Viability again", unit="%", lower=80.0),
        ),
        "Test viability is listed twice",
    ),
    "limits the wrong way round": (
        (Criterion("vcn", "VCN", lower=5.0, upper=1.0),),
        "lower limit is above the upper limit",
    ),
    "an unknown kind": (
        (Criterion("vcn", "VCN", kind="ordinal", upper=5.0),),
        "kind is 'numeric' or 'qualitative'",
    ),
    "no tests": ((), "at least one release test"),
    "a test without a title": ((Criterion("vcn", " ", upper=5.0),), "its key and its title"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_criteria_that_cannot_be_judged_are_refused(qa, case):
    tests, words = INVALID[case]
    with pytest.raises(ValidationFailed, match=words):
        _draft(qa, tests=tests)
    assert db.session.scalar(select(func.count(QcSpecification.id))) == 0


# --- approval by e-signature -------------------------------------------------------------------


def test_approval_is_a_qa_signature_bound_to_the_specification(qa):
    _draft(qa)
    spec = _approve(qa, 1)
    assert spec.status is SpecificationStatus.APPROVED and spec.approved_by_id == qa.id
    signature = spec.approval_signature
    assert (signature.meaning, signature.printed_name) == (
        "Approved specification",
        "Quinn Assurance",
    )
    signed = {"record": "qc_specification", **specs.specification_content(spec)}
    assert signature.content_hash == content_hash(signed)
    approval = specs.specification_detail("D0001", 1)["approval"]
    assert approval["printed_name"] == "Quinn Assurance"
    assert approval["username"] == qa.username
    assert approval["meaning"] == "Approved specification"
    assert specs.current_specification("D0001").id == spec.id


def test_a_wrong_password_approves_nothing(qa):
    _draft(qa)
    with pytest.raises(SignatureRefused, match="password is not correct"):
        _approve(qa, 1, password="not the password")
    assert _status("D0001", 1) == "draft"
    assert specs.current_specification("D0001") is None
    assert db.session.scalar(select(func.count(Signature.id))) == 0


def test_approving_with_another_persons_user_id_is_refused(qa, make):
    other = make.user("qa")
    _draft(qa)
    with pytest.raises(SignatureRefused, match="your own user ID"):
        specs.approve_specification(qa, "D0001", 1, other.username, PASSWORD)
    assert _status("D0001", 1) == "draft"


@pytest.mark.parametrize("role", ["technician", "admin", "nurse"])
def test_only_qa_approves(qa, make, role):
    _draft(qa)
    signer = make.user(role)
    with pytest.raises(SignatureRefused, match=f"Only QA can sign.*signed in as {role}"):
        specs.approve_specification(signer, "D0001", 1, signer.username, PASSWORD)
    assert _status("D0001", 1) == "draft"


def test_approving_v2_retires_v1_and_only_a_draft_is_approved(qa):
    _draft(qa)
    _approve(qa, 1)
    with pytest.raises(IllegalTransition, match="D0001 version 1 is approved; only a draft"):
        _approve(qa, 1)
    _draft(qa, tests=_stricter_viability())
    _approve(qa, 2)
    assert (_status("D0001", 1), _status("D0001", 2)) == ("retired", "approved")
    assert specs.current_specification("D0001").version == 2
    with pytest.raises(IllegalTransition, match="version 1 is retired"):
        _approve(qa, 1)
    with pytest.raises(NotFound, match="No specification D0001 version 9"):
        _approve(qa, 9)


def test_approving_one_products_version_leaves_another_products_alone(qa):
    _draft(qa, "D0001")
    _draft(qa, "D0002")
    _approve(qa, 1, "D0001")
    _approve(qa, 1, "D0002")
    assert (_status("D0001", 1), _status("D0002", 1)) == ("approved", "approved")


# --- which version judges which lot ------------------------------------------------------------


def test_a_draft_is_not_used_to_judge_a_lot(qa, tech):
    _draft(qa)
    lot = _lot(tech)
    assert lot.specification is None
    with pytest.raises(IllegalTransition, match="No approved specification exists for product"):
        enter_result(tech, lot.lot_number, ResultRequest("viability", value_numeric=91.0))
    assert lot_quality(lot.lot_number)["release_problems"] == [
        "the lot has no approved specification"
    ]


def test_a_lot_keeps_the_version_it_was_made_under(qa, tech):
    _draft(qa)
    _approve(qa, 1)
    before = _lot(tech)
    _draft(qa, tests=_stricter_viability(80.0))
    during_draft = _lot(tech)  # v2 is written but not approved: v1 still applies
    _approve(qa, 2)
    after = _lot(tech)
    assert [lot.specification.version for lot in (before, during_draft, after)] == [1, 1, 2]

    for lot in (before, during_draft, after):
        enter_result(tech, lot.lot_number, ResultRequest("viability", value_numeric=75.0))
    verdicts = {}
    for lot in (before, during_draft, after):
        quality = lot_quality(lot.lot_number)
        (viability,) = [t for t in quality["tests"] if t["test"] == "viability"]
        verdicts[lot.lot_number] = (
            quality["specification"]["version"],
            viability["criterion"],
            viability["verdict"],
        )
    assert verdicts == {
        before.lot_number: (1, "≥ 70 %", "pass"),
        during_draft.lot_number: (1, "≥ 70 %", "pass"),
        after.lot_number: (2, "≥ 80 %", "fail"),
    }


def test_a_lot_recorded_without_a_specification_takes_the_one_approved_at_its_first_result(
    qa, tech, make_lot
):
    _draft(qa)
    _approve(qa, 1)
    lot = make_lot()  # written directly, without the specification create_lot attaches
    with acting_as("system:test", reason="test setup"):
        attach_specification(lot)
        db.session.commit()
    _draft(qa, tests=_stricter_viability())
    _approve(qa, 2)
    enter_result(tech, lot.lot_number, ResultRequest("viability", value_numeric=75.0))
    assert lot_quality(lot.lot_number)["specification"]["version"] == 1

    unattached = make_lot()
    enter_result(tech, unattached.lot_number, ResultRequest("viability", value_numeric=75.0))
    assert lot_quality(unattached.lot_number)["specification"]["version"] == 2


# --- two QA people at once ---------------------------------------------------------------------


def test_two_drafts_written_at_once_take_distinct_versions_or_one_is_told(app, make, qa):
    make.user("qa", username="quill")  # and Quinn (`qa`)
    outcomes = race(
        app,
        ("quinn", lambda user: _draft(user).version),
        ("quill", lambda user: _draft(user).version),
    )
    versions = [o for o in outcomes if isinstance(o, int)]
    errors = [o for o in outcomes if not isinstance(o, int)]
    assert all(isinstance(e, Conflict) for e in errors), errors
    assert sorted(versions) == list(range(1, len(versions) + 1))


def test_two_versions_approved_at_once_leave_exactly_one_approved(app, make, qa):
    make.user("qa", username="quill")  # and Quinn (`qa`)
    for _ in range(3):
        first, second = _draft_by("quinn"), _draft_by("quill")
        outcomes = race(
            app,
            ("quinn", lambda user, v=first: _approve(user, v).version),
            ("quill", lambda user, v=second: _approve(user, v).version),
        )
        assert all(isinstance(o, int | Conflict) for o in outcomes), outcomes
        approved = db.session.scalars(
            select(QcSpecification.version).where(
                QcSpecification.status == SpecificationStatus.APPROVED
            )
        ).all()
        assert len(approved) == 1, approved


def _draft_by(username: str) -> int:
    user = db.session.scalar(select(User).where(User.username == username))
    return _draft(user).version
