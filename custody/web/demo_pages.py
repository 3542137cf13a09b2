"""The demo's guided walk (`GET /demo/walk`): the three journeys with the strings to paste.

Served only in a database `custody demo` loaded into when it was empty (`DemoMark`); in any
other database the address does not exist (404), so scan strings to paste never sit beside
real patients. The bedside journey's wristband carries a (demo) patient's record number and
birth date, so it is shown only to roles that see patient identifiers, like every page.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from custody.auth import page_requires
from custody.domain.errors import NotFound
from custody.domain.permissions import UseCase, sees_patient_identifiers
from custody.services.demo.walk import guided_walk, is_demo_database

bp = Blueprint("demo", __name__, template_folder="../templates")


@bp.get("/demo/walk")
@page_requires(UseCase.SEARCH)
def walk_page():
    if not is_demo_database():
        raise NotFound("There is no demo walk here: this database was not created as a demo.")
    return render_template(
        "demo/walk.html",
        walk=guided_walk(),
        identifiers_shown=sees_patient_identifiers(current_user.role),
    )
