"""The cell lab's pages: the scan station and a bag's page.

The scan station is a thin page: everything it shows comes from the scan API
(`/api/v1/scans/lookup`, `/api/v1/scans`), so the page and a scripted client see the same
rules and the same refusal messages. The bag page is rendered on the server from the bag
read model, so it prints and reads without JavaScript.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from custody.auth import check_role
from custody.domain import isbt128
from custody.domain.errors import NotFound
from custody.models.accounts import Role
from custody.services.bag_queries import bag_detail
from custody.services.label_prints import PRINTERS
from custody.services.release_queries import with_release
from custody.web.local_time import moment, site_zone

bp = Blueprint("lab", __name__, template_folder="../templates")

SCAN_STATION_ROLES = (Role.TECHNICIAN, Role.ADMIN, Role.QA)
# Actions with their own page or use case elsewhere; the scan station does not offer them.
NOT_SCAN_ACTIONS = frozenset({"allocate", "deallocate", "verify", "infuse", "handoff"})
# A bag code as URLs carry it: DIN, a dash, the product code. Anything else names no bag.
_BAG_CODE = re.compile(r"^[A-Z0-9]{13}-[A-Za-z0-9]{8}$")
_MAX_PREFILL = 500


@bp.get("/scan")
@login_required
def scan_station():
    check_role(current_user, SCAN_STATION_ROLES)
    # A link from a bag page may hand over what to look up first (the bag's code).
    prefill = request.args.get("scan", "")[:_MAX_PREFILL]
    return render_template("lab/scan_station.html", prefill=prefill)


@bp.get("/bags/<code>")
@login_required
def bag_page(code: str):
    if not _BAG_CODE.match(code):
        raise NotFound(
            f"'{code[:40]}' is not a bag code (a DIN, a dash and the product code). "
            "Scan the bag at the scan station to find its page.",
            bag=code[:40],
        )
    bag = bag_detail(code)
    zone = site_zone()
    # Oldest first: the timeline reads as the bag's story, from filling onwards.
    history = [_timeline_entry(event, zone) for event in bag["history"]]
    # The signature behind the lot's status shows wherever the lot does (21 CFR 11.50).
    release = with_release({"lot": bag["lot"]}, check=True)["release"]
    return render_template(
        "lab/bag.html",
        bag=bag,
        can_print=current_user.role in PRINTERS,
        release=release,
        signed=moment(release["signature"]["signed_at"], zone) if release else None,
        din=din_groups(bag["din"]),
        expires=moment(bag["expires_at"], zone),
        history=history,
        actions=[a for a in bag["allowed_actions"] if a not in NOT_SCAN_ACTIONS],
        can_scan=current_user.role in SCAN_STATION_ROLES,
    )


# The DIN as it is printed eye-readable: FIN, year, sequence ("W9999 26 000001").
din_groups = isbt128.eye_readable_din


def _timeline_entry(event: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    return {
        **event,
        "times": moment(event["occurred_at"], zone),
        "where": event["location_path"] or event["location"],
        "out_of_storage": duration_words(event["out_of_storage_s"]),
    }


def duration_words(seconds: float | None) -> str | None:
    """How long a bag was out of storage, in words a technician reads at a glance."""
    if seconds is None:
        return None
    total = round(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h {minutes:02d} min"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
