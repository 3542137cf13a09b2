"""The bedside page (ward): two-person verification, thaw countdown and the infusion record.

The page is a thin shell for a hospital tablet on a slow link: the server renders the fields
and the signed-in nurse's name, and nothing else (no database query beyond the session's
user). Every check, refusal and record goes through the JSON API from `static/js/bedside.js`,
so the page and any scripted client meet the same rules and the same words.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from custody.auth import check_role
from custody.models.accounts import Role

bp = Blueprint("ward", __name__, template_folder="../templates")

# Verifying and infusing at the bedside is an infusion nurse's task; anyone else is told so.
BEDSIDE_ROLES = (Role.NURSE,)


@bp.get("/bedside")
@login_required
def bedside():
    check_role(current_user, BEDSIDE_ROLES)
    return render_template("ward/bedside.html")
