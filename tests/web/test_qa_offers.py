"""What the lot page offers QA to sign is exactly what the server accepts, in every blocker state.

For each state of the table below (written out, not derived from the code under test), the lot
page is rendered for the signer with the Flask test client and its enabled sign buttons are
read from the HTML; then every disposition is signed through the API, each on the lot in that
state (a refused signature leaves it untouched; an accepted one is followed by a fresh lot),
filled in as the dialog asks. The buttons enabled, the signatures accepted and the table's
column must be one and the same set. A disabled button always has its reasons beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from custody.extensions import db
from custody.models import Lot, ReleaseDecision
from custody.services.quality.results import ResultRequest, enter_result
from custody.services.traceability.recalls import SignedRequest, raise_recall
from tests.conftest import change_settings
from tests.factories import PASSWORD
from tests.release_states import enter_results, investigate, small_specification
from tests.web.test_bag_page import Marked, sign_in

OFFERS = ("release", "exceptional_release", "conditional_release", "reject", "quarantine")
PHYSICIAN = {
    "physician": "Dr A. Osler",
    "physician_request": "REQ-17: no other product for this recipient",
    "justification": "Benefit outweighs the risk (PI, 2 lines)",
}
# Each offer's dialog, filled in as QA fills it; a conditional release also ticks the
# state's pending results.
BODIES = {
    "release": {"action": "release", "statements_acknowledged": True},
    "exceptional_release": {
        "action": "release",
        "exceptional": True,
        "statements_acknowledged": True,
        **PHYSICIAN,
    },
    "conditional_release": {
        "action": "conditional_release",
        "reason": "Urgent: recipient in lymphodepletion",
        "statements_acknowledged": True,
    },
    "reject": {"action": "reject", "reason": "Bag integrity in doubt"},
    "quarantine": {"action": "quarantine", "reason": "Label review"},
}


@dataclass(frozen=True)
class State:
    name: str
    enabled: frozenset[str]  # offered enabled by the page = accepted by the server
    eligibility: str = "eligible"
    bags: int = 2
    results: bool = True  # False: no result entered, so no specification attached
    skip: tuple[str, ...] = ()
    viability: float | None = None
    investigated: bool = False
    signer_entered: bool = False
    segregation: bool = True
    recalled: bool = False
    signed_first: str = ""  # a disposition another QA person signed before
    sterility_after: bool = False
    pending: tuple[str, ...] = ()  # what the conditional release's dialog ticks


def _s(name: str, enabled: set[str], **kw) -> State:
    return State(name, frozenset(enabled), **kw)


STATES = [
    _s("every result in", {"release", "reject"}),
    _s("potency missing", {"exceptional_release", "reject"}, skip=("potency",)),
    _s(
        "sterility missing",
        {"conditional_release", "exceptional_release", "reject"},
        skip=("sterility",),
        pending=("sterility",),
    ),
    _s("viability out of specification", {"reject"}, viability=55.0),
    _s(
        "viability out of specification, investigated",
        {"exceptional_release", "reject"},
        viability=55.0,
        investigated=True,
    ),
    _s("donor incomplete", {"release", "reject"}, eligibility="incomplete"),
    _s("donor ineligible", {"release", "reject"}, eligibility="ineligible"),
    _s("donor eligibility pending", {"reject"}, eligibility="pending"),
    _s("the signer entered the results", {"reject"}, signer_entered=True),
    _s(
        "the signer entered the results, segregation off",
        {"release", "reject"},
        signer_entered=True,
        segregation=False,
    ),
    _s("no approved specification", {"reject"}, results=False),
    _s("under recall", {"reject"}, recalled=True),
    _s("no bags", {"reject"}, bags=0),
    _s("released", {"reject", "quarantine"}, signed_first="release"),
    _s(
        "conditionally released, sterility now in",
        {"release", "reject", "quarantine"},
        skip=("sterility",),
        signed_first="conditional_release",
        sterility_after=True,
    ),
    _s(
        "conditionally released, sterility still pending",
        {"exceptional_release", "reject", "quarantine"},
        skip=("sterility",),
        signed_first="conditional_release",
    ),
    _s("rejected", set(), signed_first="reject"),
]


class World:
    """The signer (quinn), an analyst, another QA person, and lots built in one state."""

    def __init__(self, app, make, make_lot) -> None:
        self.make_lot = make_lot
        self.signer = make.user("qa", username="quinn", name="Quinn Assurance")
        self.analyst = make.user("technician", username="ana")
        self.other_qa = make.user("qa", username="olga")
        small_specification(self.other_qa)
        self.api = {"Authorization": f"Bearer {make.token(self.signer)}"}

    def lot_in(self, state: State) -> str:
        lot = self.make_lot(eligibility=state.eligibility, bags=state.bags).lot_number
        if state.results:
            by = self.signer if state.signer_entered else self.analyst
            values = {"viability": state.viability} if state.viability else {}
            enter_results(lot, by, skip=state.skip, **values)
        if state.investigated:
            investigate(lot, self.analyst)
        if state.recalled:
            signed = SignedRequest("Donor look-back", "olga", PASSWORD)
            raise_recall(self.other_qa, "lot", lot, signed)
        if state.signed_first:
            self._sign_first(lot, state.signed_first)
        if state.sterility_after:
            enter_result(self.analyst, lot, ResultRequest("sterility", value_text="negative"))
        db.session.commit()
        return lot

    def _sign_first(self, lot: str, action: str) -> None:
        from custody.services.quality.disposition import DispositionRequest, sign_disposition

        pending = ["sterility"] if action == "conditional_release" else []
        reason = "" if action == "release" else "Set-up"
        request = DispositionRequest(action, "olga", PASSWORD, reason, pending)
        sign_disposition(self.other_qa, lot, request)


def _offered(client, lot: str) -> set[str]:
    """The sign buttons the page enables; every disabled one has its reasons beside it."""
    response = client.get(f"/qa/lots/{lot}")
    assert response.status_code == 200
    page = Marked(response.get_data(as_text=True))
    buttons = page.attributes("sign-offer")
    boxes = dict(
        zip([a["data-offer"] for a in page.attributes("offer")], page.all("offer"), strict=True)
    )
    for button in buttons:
        if "disabled" in button:
            assert "Who clears it:" in boxes[button["data-offer"]], button["data-offer"]
    return {b["data-offer"] for b in buttons if "disabled" not in b}


def _snapshot(lot: str) -> tuple[str, int]:
    db.session.expire_all()
    found = db.session.scalar(select(Lot).where(Lot.lot_number == lot))
    decisions = db.session.scalar(
        select(func.count(ReleaseDecision.id)).where(ReleaseDecision.lot_id == found.id)
    )
    return found.disposition.value, decisions


def _accepted(app, world: World, state: State) -> set[str]:
    """Every offer signed through the API, each on a lot in the state."""
    api = app.test_client()
    accepted, lot = set(), world.lot_in(state)
    for offer in OFFERS:
        body = {**BODIES[offer], "username": "quinn", "password": PASSWORD}
        if offer == "conditional_release":
            body["pending_tests"] = list(state.pending)
        before = _snapshot(lot)
        response = api.post(f"/api/v1/lots/{lot}/disposition", json=body, headers=world.api)
        if response.status_code == 201:
            accepted.add(offer)
            lot = world.lot_in(state)
            continue
        assert 400 <= response.status_code < 500, response.get_data(as_text=True)
        assert response.get_json()["error"]["details"]["blockers"]
        assert _snapshot(lot) == before  # refused: nothing written
    return accepted


@pytest.mark.parametrize("state", STATES, ids=[s.name for s in STATES])
def test_the_page_offers_exactly_what_the_server_accepts(app, client, make, make_lot, state):
    if not state.segregation:
        change_settings(app, CUSTODY_RELEASE_SEGREGATION=0)
    world = World(app, make, make_lot)
    lot = world.lot_in(state)
    sign_in(client, "quinn")

    offered = _offered(client, lot)
    accepted = _accepted(app, world, state)

    assert offered == state.enabled
    assert accepted == state.enabled
