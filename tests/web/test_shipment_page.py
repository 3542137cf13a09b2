"""The shipment page: manifest, handoff, discrepancies and the server-drawn temperature chart."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from custody.domain.excursions import Excursion, Gap, Reading
from custody.services.bags import shipping
from custody.services.bags.scans import ScanRequest, scan
from custody.web.temperature_chart import build_chart
from tests.factories import PASSWORD

CSV = (
    "timestamp,temperature_c\n"
    "2025-03-01T08:00:00Z,-185\n"
    "2025-03-01T08:10:00Z,-140\n"
    "2025-03-01T08:20:00Z,-181\n"
    "2025-03-01T09:20:00Z,-182\n"
)
T0 = datetime(2025, 3, 1, 8, tzinfo=UTC)


def _sign_in(client, user) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302


@pytest.fixture
def shipment(make, make_lot):
    tech = make.user("technician", name="Tess Okafor")
    lot = make_lot(disposition="released", status="released", bags=2)
    created = shipping.create_shipment(tech, "University Hospital", courier="Cryo Couriers")
    for bag in lot.bags:
        scan(tech, ScanRequest(action="pack", bag=bag.code, shipment=created.code))
    return tech, created.code, [b.code for b in lot.bags]


def test_the_page_shows_manifest_handoff_discrepancy_and_shaded_excursion(client, make, shipment):
    tech, code, bags = shipment
    shipping.dispatch(tech, code, "Sam Rivera")
    shipping.import_temperatures(tech, code, CSV)
    shipping.record_discrepancy(tech, code, "missing", "Not in the shipper", bags[1])
    _sign_in(client, make.user("nurse"))

    response = client.get(f"/shipments/{code.lower()}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert all(bag in html for bag in bags)
    assert "Cryo Couriers (Sam Rivera)" in html and "Not in the shipper" in html
    assert "recorded missing" in html and "not scanned in yet" in html
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert len(re.findall(r'<rect class="excursion"', svg)) == 1
    assert len(re.findall(r'<rect class="gap"', svg)) == 1
    assert 'stroke-dasharray="8 5"' in svg and "<polyline" in svg
    assert 'data-testid="readings"' in html and html.count('class="above"') == 1
    # Only the site's own script files (no inline script): the page works through the API.
    scripts = re.findall(r"<script[^>]*>", html)
    assert "shipping.css" in html and all('src="/static/js/' in tag for tag in scripts)
    assert '<script src="/static/js/shipment.js">' in scripts


def test_a_page_without_logger_data_has_no_chart(client, make, shipment):
    _, code, _ = shipment
    _sign_in(client, make.user("technician"))
    html = client.get(f"/shipments/{code}").get_data(as_text=True)
    assert "<svg" not in html and "after the trip" in html


def test_the_page_needs_a_signed_in_user_and_a_known_shipment(client, make, shipment):
    _, code, _ = shipment
    assert client.get(f"/shipments/{code}").status_code == 302
    _sign_in(client, make.user("technician"))
    missing = client.get("/shipments/SHP-1999-0042")
    assert missing.status_code == 404 and "No shipment SHP-1999-0042" in missing.get_data(
        as_text=True
    )


def test_chart_places_limit_excursions_and_keeps_peaks_when_thinning():
    readings = [Reading(T0 + timedelta(seconds=30 * i), -180.0) for i in range(5000)]
    readings[2500] = Reading(readings[2500].recorded_at, -100.0)
    excursion = Excursion(readings[2500].recorded_at, readings[2501].recorded_at, -100, 1, False)
    gap = Gap(readings[10].recorded_at, readings[11].recorded_at)
    chart = build_chart(readings, -150, [excursion], [gap])
    points = [tuple(map(float, p.split(","))) for p in chart.points.split()]
    assert len(points) < len(readings)
    top_y = min(y for _, y in points)  # SVG y grows downward: the warmest point is highest
    assert chart.top <= top_y < chart.limit_y < chart.bottom
    (band,) = chart.excursions
    assert chart.left < band.x < chart.right and band.width >= 2
    assert "peak -100 °C" in band.label
    assert build_chart([], -150) is None
