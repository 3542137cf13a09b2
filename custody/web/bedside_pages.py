"""The bedside page (ward): two-person verification, thaw countdown and the infusion record.

The page is a thin shell for a hospital tablet on a slow link: the server renders the fields
and the signed-in nurse's name, and nothing else (no database query beyond the session's
user). Every check, refusal and record goes through the JSON API from `static/js/bedside.js`,
so the page and any scripted client meet the same rules and the same words.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from custody.auth import page_requires
from custody.config import settings
from custody.domain.permissions import UseCase
from custody.models.base import utcnow
from custody.services.core.facility import site_zone

bp = Blueprint("ward", __name__, template_folder="../templates")

# After a read that failed, the wristband already read stays on this screen (never carried to
# another device or bed), and only for this long: then the check starts again from the patient.
HOLD_WRISTBAND_SECONDS = 120


@bp.get("/bedside")
@page_requires(UseCase.USE_BEDSIDE)
def bedside():
    return render_template(
        "ward/bedside.html",
        pair_seconds=settings().scan_pair_seconds,
        scan_suffix=settings().scan_suffix,
        hold_wristband_seconds=HOLD_WRISTBAND_SECONDS,
        # The tablet's clock and zone are never used for a time (static/js/site_clock.js).
        server_now_ms=round(utcnow().timestamp() * 1000),
        site_zone_name=site_zone().key,
    )
