"""Everything that stands between a lot and one disposition signature, listed at once.

The lot page asks `disposition_offers` before any dialog opens: for each disposition, every
blocker with a sentence and who can clear it, and a sign button enabled only when nothing
outside the dialog blocks. The signing service asks `disposition_blockers` with the filled-in
request and refuses on the first blocker, with the error type it always raised and every
blocker in the details. One function answers both (`blockers_of`), so the page never offers
a signature the server refuses.

Some blockers are cleared by the signing dialog itself: the reason, the acknowledged donor
statements, the pending results a conditional release names, an exceptional release's
physician, request and justification. Before the dialog (no request) they come back marked
`in_dialog` and do not block the button; with a request, those left undone block like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from custody.domain.errors import (
    IllegalTransition,
    NotFound,
    SignatureRefused,
    ValidationFailed,
)
from custody.domain.permissions import UseCase, allows
from custody.domain.release_rules import ACTIONS, RELEASING, DispositionAction, disposition_action
from custody.extensions import db
from custody.models import Lot, QcResult, User
from custody.services.quality.disposition_facts import (
    NEEDS_STATEMENTS,
    Blocker,
    DispositionRequest,
    LotFacts,
    lot_facts,
)
from custody.services.quality.result_blockers import (
    EXCEPTIONAL_NOT_NEEDED,
    exceptional_blockers,
    pending_blockers,
    result_blockers,
)

# What the page offers: (offer, action, exceptional). An exceptional release is a release
# with its own dialog fields, offered beside the release while results stand in its way.
OFFERS: tuple[tuple[str, str, bool], ...] = (
    ("release", "release", False),
    ("exceptional_release", "release", True),
    ("conditional_release", "conditional_release", False),
    ("reject", "reject", False),
    ("quarantine", "quarantine", False),
)


@dataclass(frozen=True)
class Offer:
    """One disposition as the lot page offers it to one signer."""

    name: str
    action: str
    exceptional: bool
    meaning: str
    reason_required: bool
    offered: bool  # legal from the lot's disposition (and, exceptional, needed at all)
    blockers: list[Blocker]  # what stops it outside the dialog; none: the server accepts
    to_do: list[Blocker]  # what the dialog asks for

    @property
    def enabled(self) -> bool:
        return self.offered and not self.blockers


def disposition_blockers(
    lot: Lot,
    action: str,
    user: User,
    *,
    exceptional: bool = False,
    request: DispositionRequest | None = None,
    results: list[QcResult] | None = None,
    segregation: bool | None = None,
    rule: DispositionAction | None = None,
) -> list[Blocker]:
    """Every blocker of `action` on `lot` for `user`, in the order the server refuses them.

    Without `request` (the page, before any dialog), what the dialog clears comes back
    `in_dialog`; with it (the signing), only what the request leaves undone, all blocking.
    A caller that gives the action's `rule` has judged it legal itself (a loader of past
    records, whose lots already hold their final disposition)."""
    if request is not None:
        action, exceptional = request.action, request.exceptional
    facts = lot_facts(lot, results, segregation)
    return blockers_of(facts, action, user, exceptional, request, rule)


def refuse_if_blocked(blockers: Sequence[Blocker]) -> None:
    """The first blocker as the error the server has always answered it with; every blocker
    is in the error's details."""
    blocking = [b for b in blockers if not b.in_dialog]
    if blocking:
        first = blocking[0]
        everything = [b.as_dict() for b in blocking]
        raise first.error(first.refusal or first.message, **first.details, blockers=everything)


def disposition_offers(lot_number: str, user: User) -> list[Offer]:
    """Each offer of `OFFERS` with its blockers for `user`; `offered` says whether the page
    shows it at all."""
    lot = db.session.scalar(select(Lot).where(Lot.lot_number == lot_number))
    if lot is None:
        raise NotFound(f"No lot {lot_number} is known here.", lot=lot_number)
    facts = lot_facts(lot)
    return [_offer(facts, user, *offer) for offer in OFFERS]


def _offer(facts: LotFacts, user: User, name: str, action: str, exceptional: bool) -> Offer:
    rule = ACTIONS[action]
    found = blockers_of(facts, action, user, exceptional, None)
    legal = facts.lot.disposition.value in rule.from_dispositions
    needed = all(b.code != EXCEPTIONAL_NOT_NEEDED for b in found)
    return Offer(
        name=name,
        action=action,
        exceptional=exceptional,
        meaning=rule.meaning,
        reason_required=rule.reason_required,
        offered=legal and needed,
        blockers=[b for b in found if not b.in_dialog],
        to_do=[b for b in found if b.in_dialog],
    )


# --- the one function ----------------------------------------------------------------------------


def blockers_of(
    facts: LotFacts,
    action: str,
    user: User,
    exceptional: bool,
    request: DispositionRequest | None,
    rule: DispositionAction | None = None,
) -> list[Blocker]:
    """The one list both the lot page and the signing service read (see the module's words)."""
    found = _signer(user)
    lot = facts.lot
    try:
        rule = rule or disposition_action(action, lot.disposition.value, lot.lot_number)
    except IllegalTransition as illegal:
        allowed = ", ".join(illegal.details["allowed_actions"]) or "nothing"
        clears = f"Nobody, from this disposition: choose what it allows ({allowed})."
        refused = Blocker(
            "illegal_transition",
            illegal.message,
            clears,
            error=type(illegal),
            details=illegal.details,
        )
        return [*found, refused]
    found += _reason(rule, request)
    if exceptional and action != "release":
        found.append(
            Blocker(
                "exceptional_not_release",
                "Only a release can be exceptional.",
                "Sign an exceptional release, or leave 'exceptional' out.",
                error=ValidationFailed,
                details={"field": "exceptional"},
            )
        )
    if action in RELEASING:
        found += _release(facts, action, user, exceptional, request)
    return found


def _release(
    facts: LotFacts,
    action: str,
    user: User,
    exceptional: bool,
    request: DispositionRequest | None,
) -> list[Blocker]:
    found = [*_recall(facts), *_bags(facts), *_eligibility(facts, request)]
    pending, naming = pending_blockers(facts, action, request)
    found += naming
    found += (
        exceptional_blockers(facts, request) if exceptional else result_blockers(facts, pending)
    )
    if facts.segregation:
        found += _segregation(facts, user)
    return found


def _signer(user: User) -> list[Blocker]:
    if allows(user.role, UseCase.SIGN_DISPOSITION):
        return []
    role = user.role.value
    return [
        Blocker(
            "not_qa",
            f"Only QA can sign a lot's disposition; you are signed in as {role}.",
            "A QA person signs.",
            error=SignatureRefused,
            details={"role": role},
        )
    ]


def _reason(rule: DispositionAction, request: DispositionRequest | None) -> list[Blocker]:
    if not rule.reason_required or (request is not None and request.reason.strip()):
        return []
    return [
        Blocker(
            "reason_required",
            f"'{rule.meaning}' needs its reason: say why, in words QA would sign.",
            "You write the reason in the signing dialog.",
            in_dialog=request is None,
            error=ValidationFailed,
            details={"field": "reason"},
        )
    ]


def _recall(facts: LotFacts) -> list[Blocker]:
    if not facts.recall:
        return []
    number, recall = facts.lot.lot_number, facts.recall
    return [
        Blocker(
            "recalled",
            f"Lot {number} is under recall {recall}: it cannot be released while the recall "
            "stands. Lift the recall (a signed action) first, or reject the lot.",
            f"QA lifts recall {recall} (a signed action on the recall's page), or rejects the lot.",
            details={"lot": number, "recall": recall},
        )
    ]


def _bags(facts: LotFacts) -> list[Blocker]:
    if facts.lot.bags:
        return []
    number = facts.lot.lot_number
    return [
        Blocker(
            "no_bags",
            f"Lot {number} has no bags filled: there is nothing to release.",
            "The cell lab fills the lot's bags.",
            details={"lot": number},
        )
    ]


def _eligibility(facts: LotFacts, request: DispositionRequest | None) -> list[Blocker]:
    number, determination = facts.lot.lot_number, facts.determination
    if determination == "pending":
        return [
            Blocker(
                "eligibility_pending",
                f"Donor eligibility behind lot {number} has not been determined: QA "
                "determines it before the lot can be released.",
                "QA determines the donor's eligibility once the donor's tests are in.",
                details={"lot": number},
            )
        ]
    if determination not in NEEDS_STATEMENTS:
        return []
    if request is not None and request.statements_acknowledged:
        return []
    return [
        Blocker(
            "statements",
            f"The donor behind lot {number} is {determination}: the product may go out only "
            "with its statements on every label and on the certificate (NOT EVALUATED / "
            "BIOHAZARD, and the advice to the patient). Acknowledge them to release.",
            "You acknowledge the donor-eligibility statements in the signing dialog.",
            in_dialog=request is None,
            details={"lot": number, "donor_eligibility": determination},
        )
    ]


def _segregation(facts: LotFacts, user: User) -> list[Blocker]:
    entered = sorted({r.test for r in facts.results if r.entered_by_id == user.id})
    if not entered:
        return []
    return [
        Blocker(
            "segregation",
            f"You entered the {', '.join(entered)} result of lot {facts.lot.lot_number}: a "
            "different QA person must sign its release.",
            "A QA person other than you signs the release; you may still reject the lot.",
            error=SignatureRefused,
            details={"tests": entered},
        )
    ]
