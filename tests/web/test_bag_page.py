"""A bag's page, rendered on the server: identity, state, warnings and its custody timeline.

Also who may open the scan station. These use the Flask test client (no browser): the bag
page needs no JavaScript, so what the server renders is what a person reads.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from custody.config import settings
from custody.domain.isbt128 import check_character
from custody.domain.scan_targets import bag_scan_data
from custody.models.base import utcnow
from custody.services.bags.scans import ScanRequest, scan
from tests.factories import PASSWORD

VOID = {"br", "hr", "img", "input", "link", "meta", "source", "wbr"}


class Marked(HTMLParser):
    """The text of every element carrying data-testid (in document order), and their tags."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None], list[str]]] = []
        self._open: list[list[str] | None] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        attributes = dict(attrs)
        texts: list[str] | None = None
        if "data-testid" in attributes:
            texts = []
            self.found.append((attributes["data-testid"], attributes, texts))
        self._open.append(texts)

    def handle_endtag(self, tag):
        if tag not in VOID and self._open:
            self._open.pop()

    def handle_data(self, data):
        for texts in self._open:
            if texts is not None:
                texts.append(data)

    def all(self, testid: str) -> list[str]:
        return [" ".join("".join(t).split()) for i, _, t in self.found if i == testid]

    def one(self, testid: str) -> str:
        (text,) = self.all(testid)
        return text

    def attributes(self, testid: str) -> list[dict[str, str | None]]:
        return [a for i, a, _ in self.found if i == testid]


def sign_in(client, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def test_bag_page_shows_identity_warnings_state_and_the_custody_timeline(
    app, client, make, make_lot
):
    technician = make.user("technician", name="Tess Okafor")
    lot = make_lot(bags=1, eligibility="incomplete")
    bag = lot.bags[0]
    code, din, product, lot_number = bag.code, bag.din, bag.product_code, lot.lot_number
    label_scan = bag_scan_data(bag.din, bag.product_code, bag.expires_at)
    first, second = make_lot.positions(2)
    stored_at = utcnow().replace(microsecond=0) - timedelta(hours=2)
    retrieved_at = stored_at + timedelta(minutes=10)
    back_at = retrieved_at + timedelta(minutes=7, seconds=5)
    steps = [
        ScanRequest(
            "store",
            label_scan,
            location=first.code,
            station="Bench 2",
            temperature_c=-150.0,
            condition="intact",
            occurred_at=stored_at,
        ),
        ScanRequest("retrieve", code, occurred_at=retrieved_at),
        ScanRequest("store", code, location=second.code, occurred_at=back_at),
    ]
    for step in steps:
        scan(technician, step)
    sign_in(client, technician.username)

    response = client.get(f"/bags/{code}")

    assert response.status_code == 200
    page = Marked(response.get_data(as_text=True))
    assert page.one("din") == f"{din[:5]} {din[5:7]} {din[7:]}"
    assert page.one("check-character") == check_character(din)
    assert page.one("product-code") == product
    assert page.one("division").startswith(product[6:8])
    assert page.one("bag-state") == "STORED"
    assert page.one("lot") == lot_number
    assert page.one("lot-status") == "QUARANTINE"
    assert page.one("bag-location").endswith("Position 2")
    warnings = page.one("eligibility-warnings")
    assert "NOT EVALUATED FOR INFECTIOUS SUBSTANCES" in warnings
    assert "WARNING: Advise patient of communicable disease risks" in warnings
    assert page.all("allowed-action") == ["move", "retrieve", "reject", "discard"]

    # The timeline: oldest first, each with its time in UTC and in the site's zone. The bag's
    # custody events come after its collection (the vein-to-vein story starts at the donor).
    steps = page.attributes("step")
    custody = [n for n, step in enumerate(steps) if step["data-custody"] == "yes"]
    assert [steps[n]["data-action"] for n in custody] == ["store", "retrieve", "store"]
    assert steps[0]["data-action"] == "collect"
    zone = settings().time_zone
    moments = (stored_at, retrieved_at, back_at)
    utc, local = page.all("step-utc"), page.all("step-local")
    assert [utc[n] for n in custody] == [m.strftime("%Y-%m-%d %H:%M:%S UTC") for m in moments]
    assert [local[n] for n in custody] == [
        m.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z") for m in moments
    ]
    assert page.all("event-transition") == [
        "QUARANTINED → STORED",
        "STORED → QUARANTINED",
        "QUARANTINED → STORED",
    ]
    wheres = [page.all("step-where")[n] for n in custody]
    assert wheres[0].endswith("Position 1") and wheres[2].endswith("Position 2")
    assert page.all("event-raw-scan") == [label_scan, code, code]
    assert page.all("event-out-of-storage") == ["7 min 05 s"]
    events = [page.all("step")[n] for n in custody]
    assert "Tess Okafor" in events[0] and "Bench 2" in events[0]
    assert "-150.0 °C" in events[0] and "intact" in events[0]


def test_a_new_bag_of_an_eligible_donor_has_no_warning_and_no_history(client, make, make_lot):
    user = make.user("nurse")
    bag_code = make_lot(bags=1).bags[0].code
    sign_in(client, user.username)

    page = client.get(f"/bags/{bag_code}").get_data(as_text=True)

    ids = Marked(page)
    assert ids.all("eligibility-warnings") == []
    assert ids.one("no-history")
    assert [step["data-custody"] for step in ids.attributes("step")] == ["no"]
    # A nurse reads the page but is not sent to the lab's scan station.
    assert "/scan?" not in page


def test_bag_page_shows_the_signature_behind_its_lots_status_and_when_it_stopped_holding(
    client, make, make_lot, quality
):
    lot = quality.released_lot(make_lot, bags=1)
    user = make.user("nurse")
    sign_in(client, user.username)

    signed = Marked(client.get(f"/bags/{lot.bags[0].code}").get_data(as_text=True))
    text = signed.one("lot-signature")
    assert text.startswith("Approved for release: Test Qa")
    assert "NO LONGER VALID" not in text

    from custody.services.quality.results import ResultRequest, correct_result

    analyst = make.user("technician")
    correct_result(analyst, lot.lot_number, ResultRequest("potency", 55.0), "re-read plate")
    reopened = Marked(client.get(f"/bags/{lot.bags[0].code}").get_data(as_text=True))
    assert "SIGNATURE NO LONGER VALID: potency result corrected" in reopened.one("lot-signature")
    assert reopened.one("lot-status") == "QUARANTINE"


@pytest.mark.parametrize(
    "code",
    ["W999999999999-D0001VA0", "not-a-bag", "W999926000001-D0001VA0%00", "x" * 300],
    ids=["unknown", "malformed", "nul", "long"],
)
def test_unknown_or_malformed_bag_code_answers_404_in_words(client, make, code):
    sign_in(client, make.user("technician").username)

    response = client.get(f"/bags/{code}")

    assert response.status_code == 404
    message = Marked(response.get_data(as_text=True)).one("error-message")
    assert "bag" in message.lower()


def test_pages_ask_for_sign_in(client, make_lot):
    bag_code = make_lot(bags=1).bags[0].code
    for path in (f"/bags/{bag_code}", "/scan"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize(
    ("role", "status"),
    [("technician", 200), ("admin", 200), ("qa", 200), ("nurse", 403)],
)
def test_scan_station_is_for_lab_roles(client, make, role, status):
    sign_in(client, make.user(role).username)

    response = client.get("/scan")

    assert response.status_code == status
    page = response.get_data(as_text=True)
    if status == 200:
        assert 'id="scan-input"' in page
        assert "js/scan_station.js" in page
    else:
        assert "Only admin or qa or technician may do this" in page
        assert 'id="scan-input"' not in page


def test_scan_station_takes_a_first_scan_from_the_link_on_a_bag_page(client, make, make_lot):
    user = make.user("technician")
    bag_code = make_lot(bags=1).bags[0].code
    sign_in(client, user.username)

    bag_page = client.get(f"/bags/{bag_code}").get_data(as_text=True)
    link = re.search(r'href="(/scan\?scan=[^"]+)"', bag_page).group(1)
    station = client.get(link.replace("&amp;", "&")).get_data(as_text=True)

    assert f'data-prefill="{bag_code}"' in station


def test_a_bag_in_a_shipment_still_being_packed_is_not_offered_receive(client, make, make_lot):
    """The life cycle alone allows 'receive' after 'pack'; the shipment's rule does not until
    it is dispatched, and the page lists what the scan station would accept."""
    from custody.services.bags import shipping
    from custody.services.bags.scans import ScanRequest, scan

    tech = make.user("technician")
    lot = make_lot(disposition="released", status="released", bags=1)
    code = lot.bags[0].code
    shipment = shipping.create_shipment(tech, "University Hospital", courier="Cryo Couriers")
    scan(tech, ScanRequest(action="pack", bag=code, shipment=shipment.code))
    sign_in(client, tech.username)

    page = Marked(client.get(f"/bags/{code}").get_data(as_text=True))
    assert page.all("allowed-action") == ["unpack", "return"]

    shipping.dispatch(tech, shipment.code, "Sam Rivera", lab_name="Cell Lab")
    page = Marked(client.get(f"/bags/{code}").get_data(as_text=True))
    assert "receive" in page.all("allowed-action")
    assert "unpack" not in page.all("allowed-action")
