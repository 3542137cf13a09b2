"""QA's recall pages: the recalls, a preview of what a recall would reach, and each order.

Pages are rendered from the same read models the API answers with (`preview`,
`recall_detail`); signing and lifting post to the JSON API from `static/js/recalls.js`, so the
page and a scripted client meet the same rules and words. Only QA sees the signing forms.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from custody.auth import may, page_requires
from custody.domain.errors import DomainError
from custody.domain.permissions import UseCase
from custody.domain.trace_scopes import SCOPE_WORDS
from custody.services.traceability import recalls
from custody.web.local_time import moment, site_zone

bp = Blueprint("recall", __name__, template_folder="../templates")


@bp.get("/qa/recalls")
@page_requires(UseCase.READ_RECALLS)
def recalls_page():
    """Every recall, and the form that starts one: what it starts from, then a preview."""
    scope = request.args.get("scope", "")
    value = request.args.get("value", "")
    preview, problem = _preview(scope, value) if value.strip() else (None, None)
    return render_template(
        "qa/recalls.html",
        recalls=[_dated(r) for r in recalls.list_recalls()],
        scopes=SCOPE_WORDS,
        scope=scope,
        value=value,
        preview=preview,
        problem=problem,
        can_sign=may(UseCase.RAISE_RECALL),
    )


@bp.get("/qa/recalls/<code>")
@page_requires(UseCase.READ_RECALLS)
def recall_page(code: str):
    recall = recalls.recall_detail(recalls.recall_by_code(code))
    return render_template(
        "qa/recall.html",
        recall=_dated(recall),
        scopes=SCOPE_WORDS,
        can_sign=may(UseCase.LIFT_RECALL),
    )


def _preview(scope: str, value: str) -> tuple[dict | None, str | None]:
    """The preview, or the words of why there is none (an unknown lot, a mistyped DIN)."""
    try:
        return recalls.preview(scope, value), None
    except DomainError as refused:
        return None, refused.message


def _dated(recall: dict) -> dict:
    zone = site_zone()
    return {
        **recall,
        "raised": moment(recall["raised_at"], zone),
        "lifted": moment(recall["lifted_at"], zone),
    }
