"""The vein-to-vein timeline on a bag's page, as the server renders it (no browser needed).

Each step shows its time (UTC and local), place, person and temperature; the time since the
step before; the chain of identity above; the findings listed, and each flagged step marked in
colour AND in words. The page links to the custody report.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from custody.config import settings
from custody.models.base import utcnow
from custody.services.bags.scans import ScanRequest, scan
from custody.services.manufacturing import divisions as div
from tests.labels.label_reading import normalise, page_texts
from tests.services.traceability.custody_journey import (
    DEVIATION,
    EXPECTED_ACTIONS,
    FACILITY,
    infused_journey,
)
from tests.web.test_bag_page import Marked, sign_in


def _page(client, code: str) -> Marked:
    response = client.get(f"/bags/{code}")
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return Marked(response.get_data(as_text=True))


def test_an_infused_bags_page_draws_every_step_with_time_place_person_and_temperature(
    app, client, make, quality, clinic, make_lot
):
    journey = infused_journey(make, quality, clinic, make_lot)
    sign_in(client, make.user("nurse").username)

    page = _page(client, journey.code)

    steps = page.attributes("step")
    assert [s["data-action"] for s in steps] == EXPECTED_ACTIONS
    titles = page.all("step-title")
    assert titles[0] == "Collected from the donor" and titles[-1] == "Infused"
    by = dict(zip([s["data-action"] for s in steps], range(len(steps)), strict=False))
    where, who = page.all("step-where"), page.all("step-who")
    temperature = page.all("step-temperature")
    assert where[by["collect"]] == FACILITY
    assert (who[by["receive_collection"]], temperature[by["receive_collection"]]) == (
        journey.tech,
        "6.5 °C",
    )
    assert where[by["store"]].endswith("Position 1") and temperature[by["store"]] == "-185.0 °C"
    assert who[by["released"]] == journey.signer
    assert (where[by["receive"]], who[by["receive"]]) == (journey.site, journey.nurse)
    assert temperature[by["receive"]] == "-184.0 °C" and temperature[by["thaw"]] == "37.0 °C"
    assert who[by["infuse"]] == f"{journey.nurse} and {journey.second_nurse}"
    assert temperature[by["infuse"]] == "not recorded"
    # The collection's local time is the collecting facility's; every other step's the site's.
    collected = page.attributes("step-utc")[0]["datetime"]
    assert page.all("step-local")[0].endswith(("CET", "CEST"))
    site = settings().time_zone
    infused_at = page.attributes("step-utc")[-1]["datetime"]
    expected = datetime.fromisoformat(infused_at).astimezone(site).strftime("%Y-%m-%d %H:%M:%S %Z")
    assert page.all("step-local")[-1] == expected and collected < infused_at
    # The time since the step before, on every step but the first.
    assert len(page.all("step-interval")) == len(steps) - 1
    assert page.all("step-interval")[0] == "1 d 6 h 00 min later"  # collection to lab receipt


def test_the_chain_of_identity_and_the_findings_are_shown_in_words(
    client, make, quality, clinic, make_lot
):
    journey = infused_journey(make, quality, clinic, make_lot)
    sign_in(client, make.user("technician").username)

    page = _page(client, journey.code)

    roles = [link["data-role"] for link in page.attributes("identity-link")]
    assert roles == ["donor", "donation", "lot", "bag", "recipient"]
    links = page.all("identity-link")
    assert journey.donor in links[0] and journey.lot in links[2]
    assert journey.subject_id in links[-1] and "infused" in links[-1]
    findings = page.attributes("finding")
    assert [(f["data-kind"], f["data-severity"]) for f in findings] == [
        ("deviation", "warning"),
        ("excursion", "alert"),
    ]
    words = page.all("finding")
    assert words[0].startswith("DEVIATION (step 4):") and DEVIATION in words[0]
    assert words[1].startswith("TEMPERATURE EXCURSION (step 13):")
    assert f"Shipment {journey.shipment} was above -150 °C" in words[1]
    # The flagged steps are marked, and say why in words beside the colour.
    steps = page.attributes("step")
    assert [s["data-severity"] for s in steps].count("alert") == 1
    assert steps[12]["data-action"] == "receive" and steps[12]["data-severity"] == "alert"
    assert steps[3]["data-severity"] == "warning"
    flags = page.all("step-flag")
    assert any(f.startswith("TEMPERATURE EXCURSION:") for f in flags)
    assert any(f == f"DEVIATION: {DEVIATION}" for f in flags)


def test_the_page_links_to_the_custody_report_pdf(client, make, quality, clinic, make_lot):
    journey = infused_journey(make, quality, clinic, make_lot)
    nurse = make.user("nurse", name="Nadia Ward")
    sign_in(client, nurse.username)

    page = _page(client, journey.code)

    assert page.one("custody-report-link") == "Custody report (PDF)"
    (link,) = page.attributes("custody-report-link")
    assert link["href"] == f"/api/v1/bags/{journey.code}/custody-report.pdf"
    report = client.get(link["href"])
    assert report.status_code == 200 and report.mimetype == "application/pdf"
    text = normalise(" ".join(page_texts(report.data)))
    assert f"Bag {journey.code}" in text and "by Nadia Ward" in text


def test_a_gap_is_highlighted_on_the_interval_it_falls_in(client, make, make_lot):
    tech = make.user("technician")
    code = make_lot(bags=1).bags[0].code
    first, second = make_lot.positions(2)
    t0 = utcnow().replace(microsecond=0) - timedelta(hours=5)
    scan(tech, ScanRequest("store", code, location=first.code, occurred_at=t0))
    scan(tech, ScanRequest("retrieve", code, occurred_at=t0 + timedelta(hours=1)))
    scan(
        tech, ScanRequest("store", code, location=second.code, occurred_at=t0 + timedelta(hours=3))
    )
    sign_in(client, tech.username)

    page = _page(client, code)

    (finding,) = page.attributes("finding")
    assert (finding["data-kind"], finding["data-severity"]) == ("gap", "warning")
    assert page.one("finding").startswith(
        "GAP IN CUSTODY (step 4): No custody record for 2 h 00 min"
    )
    intervals = page.all("step-interval")
    assert intervals[-1] == "Gap: 2 h 00 min later"
    assert [i for i in intervals if i.startswith("Gap:")] == ["Gap: 2 h 00 min later"]
    assert page.attributes("step")[-1]["data-severity"] == "warning"


def test_a_divided_bag_links_its_parent_and_shows_its_parents_steps(client, make, make_lot):
    tech = make.user("technician")
    lot = make_lot(bags=1)
    parent = lot.bags[0].code
    (position,) = make_lot.positions(1)
    t0 = utcnow() - timedelta(hours=1)
    scan(tech, ScanRequest("store", parent, location=position.code, occurred_at=t0))
    scan(tech, ScanRequest("retrieve", parent, occurred_at=t0 + timedelta(minutes=10)))
    child = div.split_bag(tech, lot.lot_number, parent, div.SplitRequest(parts=2))[0].code
    sign_in(client, tech.username)

    page = _page(client, child)

    roles = [link["data-role"] for link in page.attributes("identity-link")]
    assert roles[-3:] == ["parent", "bag", "recipient"]
    assert parent in page.all("identity-link")[-3]
    assert page.all("step-parent") == [f"(as parent bag {parent})"] * 2
    assert page.attributes("step")[-1]["data-action"] == "divide"
    html = client.get(f"/bags/{child}").get_data(as_text=True)
    assert f'href="/bags/{parent}"' in html


def test_a_bag_with_nothing_to_review_says_so(client, make, make_lot):
    code = make_lot(bags=1).bags[0].code
    sign_in(client, make.user("qa").username)

    page = _page(client, code)

    assert page.one("timeline-findings").startswith("Nothing to review")
    assert page.all("finding") == []
    assert page.one("no-history")
