"""The recipient's page offers an allocation or a de-allocation exactly when the server accepts it.

Two tables, written out: recipients at each step of the protocol (which infusions the page
offers bags for, and which the API accepts with a good bag), and an allocated bag in each
state of its life (whether the page offers "De-allocate", and whether the API accepts it).
Where the page offers nothing, it says why in the server's own words.
"""

from __future__ import annotations

import re
from datetime import timedelta

from custody.domain.scan_targets import bag_scan_data
from custody.extensions import db
from custody.models import Bag, Infusion
from custody.models.base import utcnow
from custody.services.core.audit_trail import acting_as
from custody.services.core.facility import site_zone
from tests.web.test_bag_page import Marked, sign_in

API = "/api/v1/allocations"

# recipient state -> (recipient fields, what was done before, infusions offered = accepted)
RECIPIENTS = {
    "in lymphodepletion on an open dose level": ({}, "", {1}),
    "enrolled, a second infusion ordered, none given": (
        {"status": "enrolled", "second_infusion_ordered": True},
        "",
        {1},
    ),
    "without a dose level": ({"dose_level": None}, "", set()),
    "on a closed dose level": ({"dose_level": "DL1"}, "", set()),
    "holding bags for infusion 1": ({}, "allocated", set()),
    "off study": ({"status": "off_study"}, "", set()),
    "infused, a second infusion ordered": ({"second_infusion_ordered": True}, "infused", {2}),
    "infused, no second infusion ordered": ({}, "infused", set()),
}
# an allocated bag's state -> de-allocation offered = accepted
BAG_STATES = {
    "allocated": True,
    "received": True,
    "thawed": True,
    "verified": True,
    "infused": False,
    "discarded": False,
    "allocated, its lot rejected by QA": False,
}


def _setup(change) -> None:
    with acting_as("system:test", reason="test setup"):
        change()
        db.session.commit()


class Ward:
    """Recipients in a state, and released bags to allocate (one lot, set up once)."""

    def __init__(self, clinic, make) -> None:
        self.clinic, self.make = clinic, make
        self.bags = list(clinic.released_bags(10))
        self.qa = make.user("qa", username="quinn")
        self.nurses = make.user("nurse"), make.user("nurse")
        self.api = {"Authorization": f"Bearer {make.token(self.qa)}"}

    def recipient(self, state: str) -> str:
        fields, before, _ = RECIPIENTS[state]
        recipient = self.clinic.recipient(**fields)
        if before == "allocated":
            self.clinic.allocate(self.bags.pop(), recipient, 1)
        if before == "infused":
            self._first_infusion(recipient)
        return recipient.subject_id

    def _first_infusion(self, recipient) -> None:
        bag = self.bags.pop()
        allocation = self.clinic.allocate(bag, recipient, 1)
        nurses = self.nurses

        def infuse():
            db.session.add(
                Infusion(
                    allocation_id=allocation.id,
                    bag_id=bag.id,
                    recipient_id=recipient.id,
                    infusion_number=1,
                    started_at=utcnow() - timedelta(days=7),
                    first_verifier_id=nurses[0].id,
                    second_verifier_id=nurses[1].id,
                )
            )
            bag.status = "infused"
            recipient.status = "infused"

        _setup(infuse)

    def allocate(self, client, subject: str, number: int) -> int:
        bag = self.bags[-1]
        scan = bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone())
        body = {"recipient": subject, "infusion_number": number, "bags": [scan]}
        response = client.post(API, json=body, headers=self.api)
        if response.status_code == 201:
            self.bags.pop()
        return response.status_code


def _page(client, subject: str) -> tuple[Marked, str]:
    response = client.get(f"/clinic/recipients/{subject}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return Marked(html), html


def _infusions_offered(client, subject: str) -> set[int]:
    page, _ = _page(client, subject)
    offered = {int(a["value"]) for a in page.attributes("allocate-infusion")}
    refused = {int(a["data-infusion"]) for a in page.attributes("infusion-refused")}
    assert offered | refused == {1, 2} and not offered & refused  # each offered or explained
    return offered


def test_the_page_offers_an_infusion_exactly_when_the_server_allocates_to_it(
    app, client, clinic, make
):
    ward = Ward(clinic, make)
    subjects = {state: ward.recipient(state) for state in RECIPIENTS}
    sign_in(client, "quinn")
    api = app.test_client()

    offered = {state: _infusions_offered(client, subjects[state]) for state in RECIPIENTS}
    accepted = {}
    for state in RECIPIENTS:
        accepted[state], subject = set(), subjects[state]
        for number in (1, 2):
            status = ward.allocate(api, subject, number)
            assert status in (201, 409), status
            if status == 201:
                accepted[state].add(number)
                subject = ward.recipient(state)  # a fresh one in the same state

    expected = {state: infusions for state, (_, _, infusions) in RECIPIENTS.items()}
    assert offered == expected
    assert accepted == expected


def test_the_page_says_why_an_infusion_is_not_offered(client, clinic, make):
    ward = Ward(clinic, make)
    subject = ward.recipient("on a closed dose level")
    sign_in(client, "quinn")
    page, _ = _page(client, subject)
    assert page.attributes("allocate-form") == []
    assert page.all("infusion-refused") == [
        f"Infusion 1 cannot be given bags now: Recipient {subject} is on dose level DL1, "
        "closed: the investigator must assign another dose level before bags are allocated.",
        f"Infusion 2 cannot be given bags now: No second infusion is ordered for recipient "
        f"{subject}: the investigator orders it first. Recipient {subject} is in "
        "lymphodepletion: bags for infusion 2 are allocated to a recipient who is in "
        "follow-up or infused. Recipient "
        f"{subject} is on dose level DL1, closed: the investigator must assign another dose "
        "level before bags are allocated.",
    ]


def _bag_in(clinic, recipient, bag, state: str) -> None:
    clinic.allocate(bag, recipient, 1)
    if state.startswith("allocated, its lot rejected"):
        _setup(lambda: setattr(bag.lot, "disposition", "rejected"))
    else:
        _setup(lambda: setattr(bag, "status", state))


def test_de_allocation_is_offered_exactly_when_the_server_accepts_it(app, client, clinic, make):
    make.user("qa", username="quinn")
    recipient = clinic.recipient()
    bags = [*clinic.released_bags(len(BAG_STATES) - 1), *clinic.released_bags(1)]
    codes = {}
    for state, bag in zip(BAG_STATES, bags, strict=True):  # the last one's lot alone
        _bag_in(clinic, recipient, bag, state)
        codes[state] = bag.code
    headers = {"Authorization": f"Bearer {make.token(make.user('qa'))}"}
    sign_in(client, "quinn")

    page, html = _page(client, recipient.subject_id)
    forms = {a["data-bag"] for a in page.attributes("deallocate-form")}
    refused = dict(
        zip(
            [a["data-bag"] for a in page.attributes("deallocate-refused")],
            page.all("deallocate-refused"),
            strict=True,
        )
    )
    assert re.search(r'name="reason" required minlength="5" maxlength="500"', html)
    api = app.test_client()
    offered, accepted = {}, {}
    for state, code in codes.items():
        offered[state] = code in forms
        assert offered[state] or refused[code].startswith("Cannot be de-allocated: This bag is")
        url = f"{API}/{code}/deallocation"
        response = api.post(url, json={"reason": "Infusion postponed"}, headers=headers)
        assert response.status_code in (200, 409), response.get_data(as_text=True)
        accepted[state] = response.status_code == 200

    assert offered == BAG_STATES
    assert accepted == BAG_STATES
    db.session.expire_all()
    infused = db.session.get(Bag, bag_id_of(codes["infused"]))
    assert infused.status.value == "infused"  # a refusal changed nothing


def bag_id_of(code: str) -> int:
    return db.session.query(Bag.id).filter_by(code=code).scalar()
