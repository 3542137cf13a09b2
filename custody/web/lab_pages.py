"""The cell lab's pages: the scan station and a bag's page.

The scan station is a thin page: everything it shows comes from the scan API
(`/api/v1/scans/lookup`, `/api/v1/scans`, `/api/v1/scans/log`), so the page and a scripted
client see the same rules and the same refusal messages. Its sheet of command barcodes is drawn
here, so a gloved hand changes the station's mode by scanning rather than tapping. The bag page
is rendered on the server from the bag read model and its vein-to-vein timeline, so it prints
and reads without JavaScript.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request
from markupsafe import Markup

from custody.auth import may, page_requires
from custody.config import settings
from custody.domain import isbt128
from custody.domain.custody_timeline import ALERT, WARNING, Step, Timeline
from custody.domain.errors import NotFound
from custody.domain.permissions import UseCase
from custody.domain.scan_targets import COMMAND_PREFIX, STATION_COMMANDS
from custody.domain.time_zones import zone_named
from custody.labels.svg import code128_svg
from custody.services.bags.lookup import bag_by_code
from custody.services.bags.queries import bag_detail
from custody.services.bags.recall_status import active_recall_codes
from custody.services.bags.shipment_actions import offered_bag_actions
from custody.services.traceability.timeline import vein_to_vein
from custody.web.local_time import moment, site_zone

bp = Blueprint("lab", __name__, template_folder="../templates")

# Actions with their own page or use case elsewhere; the scan station does not offer them.
NOT_SCAN_ACTIONS = frozenset({"allocate", "deallocate", "verify", "infuse", "handoff"})
# A bag code as URLs carry it: DIN, a dash, the product code. Anything else names no bag.
_BAG_CODE = re.compile(r"^[A-Z0-9]{13}-[A-Za-z0-9]{8}$")
_MAX_PREFILL = 500


@bp.get("/scan")
@page_requires(UseCase.USE_SCAN_STATION)
def scan_station():
    # A link from a bag page may hand over what to look up first (the bag's code).
    prefill = request.args.get("scan", "")[:_MAX_PREFILL]
    return render_template(
        "lab/scan_station.html",
        prefill=prefill,
        pair_seconds=settings().scan_pair_seconds,
        scan_suffix=settings().scan_suffix,
        site_zone=site_zone().key,
    )


# What each printed command tells the station, in the words printed under its barcode.
COMMAND_WORDS = {
    "STORE": ("Store into a box", "Scan the box, then each bag: stored (moved if in storage)"),
    "MOVE": ("Move into a box", "Scan the box, then each bag: moved (stored if not in storage)"),
    "RETRIEVE": ("Retrieve", "Each bag scanned is taken out of storage"),
    "PACK": ("Pack into a shipment", "Scan the shipment, then each bag"),
    "RECEIVE": ("Receive from a shipment", "Scan the shipment, then each bag"),
    "DISCARD": ("Discard", "Type the reason once, then each bag scanned is discarded"),
    "DONE": ("Done", "Back to single scans: each scan is only looked up"),
}


@bp.get("/scan/commands")
@page_requires(UseCase.USE_SCAN_STATION)
def scan_commands():
    commands = [
        {
            "code": f"{COMMAND_PREFIX}{name}",
            "title": COMMAND_WORDS[name][0],
            "words": COMMAND_WORDS[name][1],
            # Drawn here from the code alone: nothing a user typed goes into the markup.
            "svg": Markup(code128_svg(f"{COMMAND_PREFIX}{name}")),
        }
        for name in STATION_COMMANDS
    ]
    return render_template("lab/scan_commands.html", commands=commands)


@bp.get("/bags/<code>")
@page_requires(UseCase.READ_RECORDS)
def bag_page(code: str):
    if not _BAG_CODE.match(code):
        raise NotFound(
            f"'{code[:40]}' is not a bag code (a DIN, a dash and the product code). "
            "Scan the bag at the scan station to find its page.",
            bag=code[:40],
        )
    bag = bag_detail(code)
    zone = site_zone()
    record = bag_by_code(code)
    timeline = vein_to_vein(record)
    # The signature behind the lot's status shows wherever the lot does (21 CFR 11.50).
    release = timeline.release
    return render_template(
        "lab/bag.html",
        bag=bag,
        can_print=may(UseCase.PRINT_LABELS),
        release=release,
        signed=moment(release["signature"]["signed_at"], zone) if release else None,
        din=din_groups(bag["din"]),
        expires=moment(bag["expires_at"], zone),
        timeline=timeline,
        steps=[_step_view(step, zone) for step in timeline.steps],
        findings=_findings(timeline),
        # The shipment's own rule too: a bag in a shipment still being packed is not received.
        actions=[
            a
            for a in offered_bag_actions(record, bag["allowed_actions"])
            if a not in NOT_SCAN_ACTIONS
        ],
        can_scan=may(UseCase.USE_SCAN_STATION),
        recall=active_recall_codes(record.lot_id),
    )


# The DIN as it is printed eye-readable: FIN, year, sequence ("W9999 26 000001").
din_groups = isbt128.eye_readable_din


# A mark for each part of the story, beside its words (decoration: screen readers skip it).
STEP_ICONS = {
    "collection": "◉",
    "lab_receipt": "⬇",
    "manufacturing": "⚗",
    "custody": "▣",
    "release": "✔",
    "allocation": "➔",
    "thaw": "♨",
    "verification": "☑",
    "infusion": "✚",
}


def _step_view(step: Step, zone: ZoneInfo) -> dict[str, Any]:
    """A step as the page draws it: times in UTC and local (the collecting site's zone for a
    collection), the interval before it, and whether that interval is a gap."""
    shown = zone_named(step.zone) if step.zone else zone
    severities = {flag.severity for flag in step.flags}
    return {
        "step": step,
        "icon": STEP_ICONS.get(step.kind, "•"),
        "times": moment(step.at, shown),
        "since": step.since_words,
        "gap_before": any(f.kind == "gap" and f.end == step.at for f in step.flags),
        "severity": (ALERT if ALERT in severities else WARNING) if severities else None,
    }


def _findings(timeline: Timeline) -> list[dict[str, Any]]:
    """Every flag of the timeline with the number of its step, for the list above it."""
    number = {id(step): n for n, step in enumerate(timeline.steps, start=1)}
    return [{"step": number[id(step)], "flag": flag} for step, flag in timeline.flags]
