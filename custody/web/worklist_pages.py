"""The worklist (`GET /worklist`): what is due at the site today, on screen and on paper.

Rendered on the server from `services/clinic/worklist.py`, so it prints without script (the
Print button is a convenience, `static/js/print_button.js`). Each section is shown to the
roles that act on it, as the permissions table says: the pull list to those who scan, the
shipments expected to those who receive them, the lots awaiting QA to those who enter results
or sign; every link only where the role may open the page. Recipients pass through
`recipient_as_seen_by`: a technician sees subject IDs only. Times are the site's, zone named.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template
from flask_login import current_user

from custody.auth import may, page_requires
from custody.domain.permissions import UseCase, recipient_as_seen_by, sees_patient_identifiers
from custody.models.base import utcnow
from custody.services.clinic.worklist import worklist
from custody.web.local_time import moment, site_zone

bp = Blueprint("worklist", __name__, template_folder="../templates")


@bp.get("/worklist")
@page_requires(UseCase.READ_WORKLIST)
def worklist_page():
    now = utcnow()
    zone = site_zone()
    data = worklist(now=now)
    role = current_user.role
    return render_template(
        "worklist/worklist.html",
        today=data["today"],
        zone=data["zone"],
        now=moment(now, zone),
        infusions=[
            recipient_as_seen_by(role, row) | {"bags": [_bag(b, zone) for b in row["bags"]]}
            for row in data["infusions"]
        ],
        thaws=[_bag(b, zone) for b in data["thaws"]],
        shipments=[
            s | {"handed_over": moment(s["handed_over_at"], zone)} for s in data["shipments"]
        ],
        lots=[lot | {"created": moment(lot["created_at"], zone)} for lot in data["lots"]],
        identifiers_shown=sees_patient_identifiers(role),
        show={
            "thaws": may(UseCase.SCAN),
            "shipments": may(UseCase.RECEIVE_SHIPMENT),
            "lots": may(UseCase.ENTER_RESULT) or may(UseCase.SIGN_DISPOSITION),
        },
        links={
            "records": may(UseCase.READ_RECORDS),
            "recipients": may(UseCase.READ_RECIPIENTS),
            "bedside": may(UseCase.USE_BEDSIDE),
            "scan_station": may(UseCase.USE_SCAN_STATION),
        },
    )


def _bag(bag: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    thaw = bag["thaw"]
    return bag | {
        "expires": moment(bag["expires_at"], zone),
        "thaw_view": {key: moment(value, zone) for key, value in thaw.items()} if thaw else None,
    }
