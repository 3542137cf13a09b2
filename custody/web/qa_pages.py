"""QA's pages: the review queue with open quality alerts, and a lot's review page.

Both are rendered on the server from the same read models the API answers with
(`review_queue`, `lot_quality`, `lot_detail`), so a page and a scripted client see the same
verdicts, problems and signatures. Every write (a result, a correction, an acknowledgement,
the signed disposition) goes through the JSON API from `static/js/qa_lot.js`: the page
offers only what the API would accept and shows the API's refusal in its own words.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template
from flask_login import current_user

from custody.auth import may, page_requires
from custody.domain import isbt128
from custody.domain.errors import NotFound
from custody.domain.permissions import UseCase
from custody.domain.release_rules import ACTIONS
from custody.services.audit.review import change_lines
from custody.services.bags.queries import list_bags, lot_detail
from custody.services.labelling.jobs import reconciliation
from custody.services.quality.alerts import list_alerts
from custody.services.quality.queries import lot_history, lot_quality, review_queue
from custody.services.quality.release_blockers import disposition_offers
from custody.web.local_time import moment, site_zone

bp = Blueprint("qa", __name__, template_folder="../templates")

LOT_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9-]{0,31}")
ACTION_LABELS = {
    "release": "Release",
    "conditional_release": "Conditional release",
    "reject": "Reject",
    "quarantine": "Return to quarantine",
}
# What each legal action is offered as: a release also as an exceptional release.
OFFER_LABELS = {
    "release": "Release",
    "exceptional_release": "Exceptional release",
    "conditional_release": "Conditional release",
    "reject": "Reject",
    "quarantine": "Return to quarantine",
}
# A lot's bags on one page; beyond this the API lists them (`/api/v1/bags?lot=`).
MAX_BAGS = 500
# Audit entries per record shown on the lot page; the API's audit review has the rest.
MAX_AUDIT = 100


@bp.get("/qa")
@page_requires(UseCase.READ_RECORDS)
def queue():
    """Lots awaiting QA, and the open quality alerts above them: any role may look."""
    zone = site_zone()
    alerts = [{**a, "raised": moment(a["raised_at"], zone)} for a in list_alerts(open_only=True)]
    return render_template(
        "qa/queue.html", queue=review_queue(), alerts=alerts, can_sign=may(UseCase.SIGN_DISPOSITION)
    )


@bp.get("/qa/lots/<lot>")
@page_requires(UseCase.READ_RECORDS)
def lot_page(lot: str):
    if not LOT_NUMBER.fullmatch(lot):
        raise NotFound(f"No lot {lot[:40]!r} is known here.", lot=lot[:40])
    zone = site_zone()
    detail = lot_detail(lot)
    quality = lot_quality(lot)
    decisions = [_decision(d, zone) for d in quality["decisions"]]
    latest = decisions[0] if decisions else None
    return render_template(
        "qa/lot.html",
        lot=detail,
        quality=quality,
        tests=[_test_row(t, zone) for t in quality["tests"]],
        donations=[_donation(d, zone) for d in detail["donations"]],
        bags=list_bags(lot=lot, limit=MAX_BAGS),
        max_bags=MAX_BAGS,
        steps=[_step(s, zone) for s in detail["steps"]],
        decisions=decisions,
        # A certificate whose signature no longer holds is not offered as the lot's certificate.
        certificate=latest
        if latest and latest["certificate_number"] and latest["signature_valid"]
        else None,
        alerts=[{**a, "raised": moment(a["raised_at"], zone)} for a in quality["alerts"]],
        history=audit_history(lot, zone),
        offers=signing_offers(lot, quality["status"]) if may(UseCase.SIGN_DISPOSITION) else [],
        pending_choices=[t for t in quality["tests"] if t["may_be_pending"] and not t["result"]],
        can_sign=may(UseCase.SIGN_DISPOSITION),
        can_enter=may(UseCase.ENTER_RESULT),
        times={k: moment(detail[k], zone) for k in ("manufactured_at", "expires_at")},
        labels=reconciliation(lot) if detail["bags"] else None,
        can_print=may(UseCase.PRINT_LABELS),
    )


def signing_actions(status: str) -> list[dict[str, Any]]:
    """The dispositions QA may sign from the lot's status, from the one table the service
    enforces, so the dialog never offers what the server would refuse as illegal."""
    return [
        {
            "action": name,
            "label": ACTION_LABELS[name],
            "meaning": rule.meaning,
            "reason_required": rule.reason_required,
        }
        for name, rule in ACTIONS.items()
        if status in rule.from_dispositions
    ]


def signing_offers(lot_number: str, status: str) -> list[dict[str, Any]]:
    """Each disposition legal from the lot's status (`signing_actions`), with every blocker
    for the signed-in QA person and what the dialog will ask, from the function the signing
    service refuses by: a sign button is enabled only when its blockers are none."""
    offers = {o.name: o for o in disposition_offers(lot_number, current_user)}
    legal = {a["action"] for a in signing_actions(status)}
    return [
        {
            "offer": o.name,
            "action": o.action,
            "exceptional": o.exceptional,
            "label": OFFER_LABELS[o.name],
            "meaning": o.meaning,
            "reason_required": o.reason_required,
            "enabled": o.enabled,
            "blockers": [b.as_dict() for b in o.blockers],
            "to_do": [b.as_dict() for b in o.to_do],
        }
        for o in offers.values()
        if o.offered and o.action in legal
    ]


def _test_row(test: dict, zone: ZoneInfo) -> dict:
    """A test with its results in the order they were entered: the corrected values first
    (shown struck through), then the one in force."""
    entries = [*test["history"], *([test["result"]] if test["result"] else [])]
    return {
        **test,
        "verdict_words": test["verdict"].upper(),
        "entries": [{**e, "entered": moment(e["entered_at"], zone)} for e in entries],
    }


def _donation(donation: dict, zone: ZoneInfo) -> dict:
    return {
        **donation,
        "check_character": isbt128.check_character(donation["din"]),
        "collected": moment(donation["collected_at"], zone),
    }


def _step(step: dict, zone: ZoneInfo) -> dict:
    return {
        **step,
        "started": moment(step["started_at"], zone),
        "ended": moment(step["ended_at"], zone),
    }


def _decision(decision: dict, zone: ZoneInfo) -> dict:
    return {**decision, "signed": moment(decision["signature"]["signed_at"], zone)}


# --- the audit history of the lot -------------------------------------------------------------


def audit_history(lot_number: str, zone: ZoneInfo) -> list[dict]:
    """Audit entries of the lot itself, its QC results and its signed decisions, newest first."""
    return [_audit_row(e, zone) for e in lot_history(lot_number, MAX_AUDIT)]


def _audit_row(entry, zone: ZoneInfo) -> dict:
    return {
        "id": entry.id,
        "when": moment(entry.occurred_at, zone),
        "actor": entry.actor,
        "action": entry.action,
        "record": entry.record_key or f"{entry.record_type} {entry.record_id}",
        "reason": entry.reason,
        "changes": change_lines(entry.action, entry.changes),
    }
