"""The search page behind the navigation bar's search field (`GET /search?q=`).

The field is a scan target: a keyboard-wedge scanner types the barcode and Enter submits the
form. One hit with a page the person may open goes straight to that page; several are listed,
each with the page it opens (or, where the role has none, with its related records); nothing
found says so plainly, with what can be searched. A scan that is wrong in itself (a wrong
check character) is said in the scan reader's words. What may be found and shown is the
service's answer for the signed-in role (`services/traceability/search.py`).
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from custody.auth import page_requires
from custody.domain.errors import DomainError
from custody.domain.permissions import UseCase
from custody.services.traceability.search import MAX_HITS, Hit, find, searchable

bp = Blueprint("site_search", __name__, template_folder="../templates")

# The query is echoed on the page; a long scan is shown cut, never whole.
ECHO = 80
KIND_WORDS = {
    "bag": "Bag",
    "donation": "Collection",
    "lot": "Lot",
    "donor": "Donor",
    "recipient": "Recipient",
    "shipment": "Shipment",
    "location": "Storage",
}


@bp.get("/search")
@page_requires(UseCase.SEARCH)
def search_page():
    raw = request.args.get("q", "")
    query = raw.strip()
    echo = query if len(query) <= ECHO else f"{query[:ECHO]}…"
    role = current_user.role
    status, problem, hits = 200, None, []
    try:
        hits = find(raw, role)
    except DomainError as error:
        status, problem = error.http_status, error.message
    if len(hits) == 1 and hits[0].endpoint is not None:
        return redirect(hit_url(hits[0]))
    page = render_template(
        "search/results.html",
        query=query,
        echo=echo,
        problem=problem,
        hits=[_view(hit) for hit in hits],
        more=len(hits) >= MAX_HITS,
        searchable=searchable(role),
    )
    return page, status


def hit_url(hit: Hit) -> str | None:
    """The page the hit opens for the signed-in role, or None."""
    return url_for(hit.endpoint, **hit.values) if hit.endpoint else None


def _view(hit: Hit) -> dict:
    return {
        "kind": hit.kind,
        "kind_words": KIND_WORDS.get(hit.kind, hit.kind),
        "key": hit.key,
        "label": hit.label,
        "detail": hit.detail,
        "url": hit_url(hit),
        "related": [_view(r) for r in hit.related],
    }
