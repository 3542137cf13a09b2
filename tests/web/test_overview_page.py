"""The lab lead's overview page, rendered on the server: the counts in its tables and in its
charts' SVG, each item linking where it is dealt with, who may open it, and the demo data."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from flask import current_app
from sqlalchemy import func, select

from custody.extensions import db
from custody.models import Bag, Lot
from custody.services.bags import shipping
from custody.services.bags.scans import ScanRequest, scan
from custody.services.core import accounts
from custody.services.quality.alerts import acknowledge_alert
from custody.services.traceability.overview import overview
from tests.conftest import IsolatedClient
from tests.factories import PASSWORD
from tests.services.demo.demo_database import loaded_demo
from tests.services.traceability.test_overview import (
    alerted_lot,
    deviating_lot,
    dispatched,
    matrix,
    warm_trip,
)
from tests.web.test_bag_page import Marked, sign_in

SVG = "{http://www.w3.org/2000/svg}"


def page(client, url: str = "/overview") -> tuple[str, Marked]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    html = response.get_data(as_text=True)
    return html, Marked(html)


def cells(marked: Marked, testid: str, *keys: str) -> dict:
    """{attribute value(s): number shown} for every element carrying `testid`."""
    found = {}
    for name, attributes, texts in marked.found:
        if name == testid:
            key = tuple(attributes[f"data-{k}"] for k in keys)
            found[key[0] if len(key) == 1 else key] = int("".join(texts).strip())
    return found


def chart(html: str, testid: str) -> ET.Element:
    """The chart's <svg>, parsed as the XML it must be."""
    match = re.search(rf'<svg\b[^>]*data-testid="{testid}".*?</svg>', html, re.DOTALL)
    assert match, f"no chart {testid}"
    return ET.fromstring(match.group(0))


def bars(svg: ET.Element) -> dict[str, dict[str, tuple[int, float]]]:
    """Row label → {series key: (value, drawn width)} for every bar segment."""
    return {
        row.get("data-label"): {
            rect.get("data-key"): (int(rect.get("data-value")), float(rect.get("width")))
            for rect in row.iter(f"{SVG}rect")
        }
        for row in svg.iter(f"{SVG}g")
        if row.get("class") == "bar-row"
    }


def row_html(html: str, testid: str, attribute: str, value: str) -> str:
    match = re.search(
        rf'<tr data-testid="{testid}"[^>]*data-{attribute}="{re.escape(value)}".*?</tr>',
        html,
        re.DOTALL,
    )
    assert match, f"no {testid} row for {value}"
    return match.group(0)


def test_counts_show_in_tables_and_in_the_charts_bars(client, make, make_lot):
    tech = make.user("technician")
    made = {"quarantine": 3, "released": 1, "rejected": 2}
    for disposition, n in made.items():
        for _ in range(n):
            make_lot(disposition=disposition)
    positions = make_lot.positions(2, prefix="BETA")
    for bag, position in zip(make_lot(bags=2).bags, positions, strict=True):
        scan(tech, ScanRequest(action="store", bag=bag.code, location=position.code))
    dispatched(tech, make_lot, destination="Hope Clinic", bags=3)
    expected = matrix(overview())
    sign_in(client, make.user("qa").username)
    html, shown = page(client)

    # One more lot in quarantine (the stored bags'), one more released (the shipped ones').
    lot_counts = made | {"quarantine": 4, "released": 2, "conditionally_released": 0}
    assert cells(shown, "lot-count", "disposition") == lot_counts
    assert shown.one("lot-total") == str(sum(lot_counts.values())) == "8"
    lots_svg = chart(html, "lots-chart")
    assert lots_svg.find(f"{SVG}title").text == "Lots by disposition"
    assert "Quarantine: 4" in lots_svg.find(f"{SVG}desc").text
    drawn = {label: segments for label, segments in bars(lots_svg).items()}
    assert drawn["Conditionally released"] == {}  # named, with no bar
    values = {key: value for segments in drawn.values() for key, (value, _) in segments.items()}
    assert values == {k: n for k, n in lot_counts.items() if n}
    per_lot = {width / value for s in drawn.values() for value, width in s.values()}
    assert max(per_lot) - min(per_lot) < 0.1  # bar lengths proportional to the counts

    table = cells(shown, "bag-count", "site", "state")
    assert {k: n for k, n in table.items() if n} == {
        (site, state): n for (site, _), states in expected.items() for state, n in states.items()
    }
    stacked = bars(chart(html, "bags-chart"))
    assert {site: {k: v for k, (v, _) in s.items()} for site, s in stacked.items()} == {
        site: states for (site, _), states in expected.items()
    }
    assert stacked["Hope Clinic"] == {"shipped": (3, stacked["Hope Clinic"]["shipped"][1])}
    assert cells(shown, "bag-site-total", "site") == {
        site: sum(states.values()) for (site, _), states in expected.items()
    }
    assert shown.one("bag-total") == str(db.session.scalar(select(func.count(Bag.id)))) == "17"


def test_each_item_links_to_where_it_is_dealt_with(client, make, make_lot, quality, clinic):
    tech = make.user("technician")
    waiting = make_lot()
    trip, _ = warm_trip(tech, make_lot)
    shipment, lot = dispatched(tech, make_lot)
    missing = lot.bags[0]
    shipping.record_discrepancy(tech, shipment.code, "missing", "Not in the shipper.", missing.code)
    deviating = deviating_lot(tech, make_lot)
    recipient = clinic.recipient(status="lymphodepletion")
    alerted = alerted_lot(quality, make_lot, tech)
    sign_in(client, make.user("qa").username)
    html, shown = page(client)

    assert f'href="/qa/lots/{waiting.lot_number}"' in row_html(
        html, "awaiting-lot", "lot", waiting.lot_number
    )
    assert f'href="/shipments/{trip.code}"' in row_html(html, "excursion", "shipment", trip.code)
    discrepancy = row_html(html, "discrepancy", "shipment", shipment.code)
    assert f'href="/shipments/{shipment.code}"' in discrepancy
    assert f'href="/bags/{missing.code}"' in discrepancy
    assert f'href="/qa/lots/{deviating.lot_number}"' in row_html(
        html, "step-deviation", "lot", deviating.lot_number
    )
    infusion = row_html(html, "upcoming-infusion", "subject", recipient.subject_id)
    assert f'href="/clinic/recipients/{recipient.subject_id}"' in infusion
    assert 'data-ready="no"' in infusion and "No bag is allocated" in infusion
    alert = row_html(html, "open-alert", "lot", alerted.lot_number)
    assert f'href="/qa/lots/{alerted.lot_number}"' in alert
    assert shown.one("tile-excursions").startswith("1 ")

    acknowledge_alert(quality.qa, shown.attributes("open-alert")[0]["data-alert"], "Informed.")
    _, after = page(client)
    assert after.attributes("open-alert") == []
    assert after.one("open-alerts-none") == "None."


@pytest.mark.parametrize("role", ["technician", "qa", "admin"])
def test_the_lab_team_may_open_the_overview(client, make, role):
    sign_in(client, make.user(role).username)
    _, shown = page(client)
    assert cells(shown, "lot-count", "disposition") == dict.fromkeys(
        ("quarantine", "released", "conditionally_released", "rejected"), 0
    )
    assert shown.one("bags-none") == "No bags yet."


def test_a_nurse_is_refused_in_words_and_a_stranger_sent_to_sign_in(client, make):
    assert "/login" in client.get("/overview").headers["Location"]
    sign_in(client, make.user("nurse").username)
    response = client.get("/overview")
    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert "you are signed in as nurse" in text
    assert 'data-testid="overview"' not in text


# --- the demo data --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(migrated_database, tmp_path_factory):
    with loaded_demo(migrated_database, tmp_path_factory, "overview", ("lots",)) as digest:
        yield digest


def test_the_page_renders_the_demo_with_the_databases_own_counts(demo):
    app = current_app._get_current_object()
    app.test_client_class = IsolatedClient
    client = app.test_client()
    lead = accounts.create_user("system:test", "lead", "Lab Lead", "admin", PASSWORD)
    sign_in(client, lead.username)
    html, shown = page(client)

    lots = dict(
        db.session.execute(select(Lot.disposition, func.count()).group_by(Lot.disposition)).all()
    )
    assert cells(shown, "lot-count", "disposition") == {d.value: n for d, n in lots.items()}
    bags = Counter(status.value for status in db.session.scalars(select(Bag.status)))
    assert cells(shown, "bag-state-total", "state") == dict(bags)
    assert int(shown.one("bag-total")) == sum(bags.values())
    by_state = Counter()
    for (_, state), n in cells(shown, "bag-count", "site", "state").items():
        by_state[state] += n
    assert by_state == bags
    drawn = Counter()
    for segments in bars(chart(html, "bags-chart")).values():
        for key, (value, _) in segments.items():
            drawn[key] += value
    assert drawn == bags
    assert len(shown.attributes("awaiting-lot")) == len(overview()["lots"]["awaiting_qa"]) > 0
