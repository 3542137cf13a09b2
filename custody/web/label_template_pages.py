"""Label templates for QA: every version with its state, and one version's review page, where
QA sees the label it prints (a picture of the real print, with specimen values), what it
changes from the version it replaces, and signs its approval.

The approval is written through the JSON API (`POST /api/v1/label-templates/<purpose>/
<version>/approval`) from `static/js/signature_dialog.js`. The page offers the signature only
to a role that may approve and only when the service would accept it (`approval_refusal`,
the function the service itself asks); otherwise it says why not.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from custody.auth import may, page_requires
from custody.domain.permissions import UseCase
from custody.services.labelling.template_review import preview_png, template_review
from custody.services.labelling.templates import APPROVAL_MEANING, template_list
from custody.web.local_time import moment, site_zone

bp = Blueprint("label_templates", __name__, template_folder="../templates")


@bp.get("/labels/templates")
@page_requires(UseCase.READ_RECORDS)
def templates_page():
    """Every template file by label and version, with its state; unusable files with why."""
    return render_template("labels/templates.html", rows=[_with_times(r) for r in template_list()])


@bp.get("/labels/templates/<purpose>/<int:version>")
@page_requires(UseCase.READ_RECORDS)
def template_page(purpose: str, version: int):
    review = _with_times(template_review(purpose, version))
    return render_template(
        "labels/template.html",
        t=review,
        may_approve=may(UseCase.APPROVE_LABEL_TEMPLATE),
        meaning=APPROVAL_MEANING,
    )


@bp.get("/labels/templates/<purpose>/<int:version>/preview.png")
@page_requires(UseCase.READ_RECORDS)
def template_preview(purpose: str, version: int):
    """The version's label printed with specimen values, as a picture."""
    return Response(preview_png(purpose, version), mimetype="image/png")


def _with_times(row: dict) -> dict:
    approval = row.get("approval")
    if approval is None:
        return row
    return {**row, "approval": {**approval, "signed": moment(approval["signed_at"], site_zone())}}
