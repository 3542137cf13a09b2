"""QC results and QA release of a lot: results against specification, corrections, the
signed disposition, and the release certificate."""

from flask import Response

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.schemas.quality import (
    CorrectionIn,
    DecisionOut,
    DispositionIn,
    InvestigationIn,
    QualityOut,
    ResultIn,
    ResultOut,
)
from custody.services.quality import disposition
from custody.services.quality.certificates import certificate_pdf
from custody.services.quality.queries import decision_summary, lot_quality
from custody.services.quality.results import (
    ResultRequest,
    correct_result,
    enter_result,
    record_investigation,
)

PREFIX = "/lots"
blp = ApiBlueprint("release", __name__, description="QC results and QA release")


@blp.get("/<lot>/quality")
@requires(UseCase.READ_RECORDS)
@blp.response(200, QualityOut)
def quality(lot):
    """The lot's tests against its specification (current result, verdict, corrected values),
    what stands in the way of release, QA's signed decisions with their validity, alerts."""
    return lot_quality(lot)


@blp.post("/<lot>/results")
@requires(UseCase.ENTER_RESULT)
@blp.arguments(ResultIn)
@blp.response(201, ResultOut)
def enter(body, lot):
    """Enter a test's result; it is judged against the lot's specification at once. A test
    that has a result already is corrected instead, with a reason."""
    enter_result(api_user(), lot, ResultRequest(**body))
    return _current(lot, body["test"])


@blp.post("/<lot>/results/<test>/corrections")
@requires(UseCase.CORRECT_RESULT)
@blp.arguments(CorrectionIn)
@blp.response(201, ResultOut)
def correct(body, lot, test):
    """Correct a result: the old value stays visible with the reason. On a lot QA has signed,
    the signature no longer holds and the lot goes back to quarantine for re-review."""
    reason = body.pop("reason")
    body["test"] = test
    correct_result(api_user(), lot, ResultRequest(**body), reason)
    return _current(lot, test)


@blp.post("/<lot>/results/<test>/investigation")
@requires(UseCase.RECORD_INVESTIGATION)
@blp.arguments(InvestigationIn)
@blp.response(201, ResultOut)
def investigate(body, lot, test):
    """Record the investigation of an out-of-specification result."""
    record_investigation(api_user(), lot, test, body["note"])
    return _current(lot, test)


def _current(lot: str, test: str) -> dict:
    entry = next(t for t in lot_quality(lot)["tests"] if t["test"] == test.strip())
    return entry["result"]


@blp.post("/<lot>/disposition")
@requires(UseCase.SIGN_DISPOSITION)
@blp.arguments(DispositionIn)
@blp.response(201, DecisionOut)
def sign_disposition(body, lot):
    """QA's disposition, as an electronic signature: re-enter your user ID and password.
    `release`, `conditional_release` (name `pending_tests`), `reject` or `quarantine` (both
    with a `reason`). An exceptional release records the physician, the request and the
    justification; a donor who is not fully eligible needs `statements_acknowledged`."""
    request = disposition.DispositionRequest(**body)
    decision = disposition.sign_disposition(api_user(), lot, request)
    return decision_summary(decision)


@blp.get("/<lot>/certificate.pdf")
@requires(UseCase.READ_RECORDS)
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/pdf",
    description="The certificate issued at signing, byte for byte",
)
def certificate(lot):
    """The release certificate (certificate of analysis) of a released, conditionally
    released or rejected lot; 409 while the lot is in quarantine."""
    pdf, number = certificate_pdf(lot)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'},
    )
