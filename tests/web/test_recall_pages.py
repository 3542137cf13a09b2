"""The recall pages: the preview QA reads before signing, the order, and the recall in a browser.

The browser test is QA's whole act: find the lot, read what the recall would reach, sign with a
re-entered password (a wrong one first), land on the order; then the database shows the recall
and a scan of a blocked bag is refused.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from custody.domain import bag_lifecycle
from custody.domain.errors import IllegalTransition
from custody.extensions import db
from custody.models import Bag, Recall
from custody.services.bags.lookup import situation
from custody.services.traceability.recalls import SignedRequest, raise_recall
from tests.factories import PASSWORD
from tests.web.conftest import browser_sign_in, release_db
from tests.web.test_bag_page import Marked, sign_in


@pytest.fixture
def quinn(make):
    """Quinn Assurance, QA (the services' and the API's `qa`)."""
    return make.person("qa")


def _reach(clinic):
    """A lot of three: one allocated to a recipient, two on the shelf."""
    bags = clinic.released_bags(3)
    recipient = clinic.recipient()
    clinic.allocate(bags[0], recipient)
    return bags, recipient


def test_the_preview_lists_what_would_be_blocked_and_offers_qa_the_signature(client, clinic, quinn):
    bags, recipient = _reach(clinic)
    sign_in(client, "quinn")

    html = client.get(f"/qa/recalls?scope=lot&value={bags[0].lot.lot_number}").get_data(True)

    page = Marked(html)
    assert page.all("bag-effect") == ["BLOCKED"] * 3
    assert page.attributes("allocated-recipient")[0]["data-subject"] == recipient.subject_id
    assert "No recipient has been infused" in page.one("infused-recipients")
    assert page.all("recall-sign") == ["Sign and block 3 bags"]
    assert db.session.scalar(db.select(db.func.count(Recall.id))) == 0


def test_an_unknown_starting_point_is_said_in_words(client, quinn):
    sign_in(client, "quinn")

    html = client.get("/qa/recalls?scope=lot&value=LT-NOSUCH").get_data(True)

    assert "No lot LT-NOSUCH is recorded here" in Marked(html).one("recall-problem")


def test_a_technician_reads_recalls_but_cannot_sign_and_a_nurse_is_refused(
    client, clinic, make, quinn
):
    bags, _ = _reach(clinic)
    code = raise_recall(
        quinn, "lot", bags[0].lot.lot_number, SignedRequest("Late positive", "quinn", PASSWORD)
    )["code"]
    make.user("technician", username="tess")
    sign_in(client, "tess")

    listed = Marked(client.get("/qa/recalls").get_data(True))
    order = Marked(client.get(f"/qa/recalls/{code}").get_data(True))

    assert listed.attributes("recall-row")[0]["data-code"] == code
    assert order.one("recall-state") == "ACTIVE: product blocked"
    assert order.all("lift-sign") == []
    make.user("nurse", username="nell")
    client.post("/logout", data={})
    sign_in(client, "nell")
    assert client.get("/qa/recalls").status_code == 403


@pytest.mark.browser
def test_qa_recalls_a_lot_in_the_browser_and_its_bags_are_blocked(
    page: Page, live_server, clinic, quinn
):
    bags, recipient = _reach(clinic)
    lot_number, codes = bags[0].lot.lot_number, [b.code for b in bags]
    subject_id = recipient.subject_id
    release_db()

    browser_sign_in(page, live_server, "quinn", "/qa/recalls")
    page.get_by_test_id("recall-scope").select_option("lot")
    page.get_by_test_id("recall-value").fill(lot_number)
    page.get_by_test_id("recall-preview").click()
    expect(page.get_by_test_id("recall-bag")).to_have_count(3)
    expect(page.get_by_test_id("allocated-recipient")).to_contain_text(subject_id)

    page.get_by_test_id("recall-reason").fill("Donor HIV NAT positive on look-back")
    page.get_by_test_id("recall-username").fill("quinn")
    page.get_by_test_id("recall-password").fill("not my password")
    page.get_by_test_id("recall-sign").click()
    expect(page.get_by_test_id("recall-error")).to_contain_text("password is not correct")
    page.get_by_test_id("recall-password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_test_id("recall-sign").click()

    expect(page.get_by_test_id("recall-state")).to_have_text("ACTIVE: product blocked")
    expect(page.get_by_test_id("recall-signature")).to_contain_text("Quinn Assurance")
    db.session.expire_all()
    recall = db.session.scalar(db.select(Recall))
    assert recall.reason == "Donor HIV NAT positive on look-back"
    assert [lot.lot_number for lot in recall.lots] == [lot_number]
    for code in codes:
        bag = db.session.scalar(db.select(Bag).where(Bag.code == code))
        with pytest.raises(IllegalTransition):
            bag_lifecycle.plan("pack", situation(bag))
    release_db()


@pytest.mark.parametrize(
    ("role", "links"),
    [
        ("qa", ["overview-link", "recalls-link", "audit-link"]),
        ("admin", ["overview-link", "recalls-link", "audit-link"]),
        ("technician", ["overview-link", "recalls-link"]),
        ("nurse", []),
    ],
)
def test_the_home_page_links_each_role_to_its_traceability_pages(client, make, role, links):
    make.user(role, username="someone")
    sign_in(client, "someone")

    page = Marked(client.get("/").get_data(True))

    found = [t for t in ("overview-link", "recalls-link", "audit-link") if page.all(t)]
    assert found == links


def test_a_recalled_bags_page_says_so_first_and_stops_saying_it_once_lifted(client, clinic, quinn):
    from custody.services.traceability.recalls import lift_recall

    (bag,) = clinic.released_bags(1)
    signed = SignedRequest("Late positive sterility", "quinn", PASSWORD)
    code = raise_recall(quinn, "lot", bag.lot.lot_number, signed)["code"]
    sign_in(client, "quinn")

    shown = Marked(client.get(f"/bags/{bag.code}").get_data(True))
    assert shown.one("bag-recall").startswith(f"UNDER RECALL {code}: DO NOT ALLOCATE")

    lift_recall(quinn, code, signed)
    assert Marked(client.get(f"/bags/{bag.code}").get_data(True)).all("bag-recall") == []
