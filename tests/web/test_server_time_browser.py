"""The bedside tablet's own clock and zone are never a record's time nor a time shown.

The tablet is set years ahead and to a zone fourteen hours from UTC (Playwright's page clock and
Chromium's zone override); the thaw tab must still show the server's times in the site's zone,
and count the window down from the server's seconds left. The site is in Chicago, whose summer
time starts on 8 March 2026 at 02:00 (clocks go to 03:00). A shipment crosses zones: its page
shows each time in the site's zone with the same moment in UTC, labelled.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from custody.domain.formatting import local_time, utc_time
from custody.models.base import utcnow
from custody.services.bags import shipping
from custody.services.core.facility import site_zone
from tests.conftest import change_settings
from tests.factories import PASSWORD
from tests.web.bedside_steps import bedside_of, scan, sign_in_at_bedside
from tests.web.conftest import release_db

WRONG_CLOCK = datetime(2031, 1, 1, 3, 0, tzinfo=UTC)
WRONG_ZONE = "Pacific/Kiritimati"  # UTC+14: any time read from the tablet is a day off
USE_WITHIN = re.compile(r"^Use within (\d+):(\d\d)$")


def wrong_tablet(page) -> None:
    """The tablet's clock years ahead and its zone far from the site's."""
    page.context.new_cdp_session(page).send(
        "Emulation.setTimezoneOverride", {"timezoneId": WRONG_ZONE}
    )
    page.clock.install(time=WRONG_CLOCK)


def test_the_thaw_tab_shows_the_servers_times_whatever_the_tablets_clock_says(
    app, page, live_server, clinic, nurses
):
    change_settings(app, CUSTODY_TIMEZONE="America/Chicago")
    recipient = clinic.recipient()
    (bag,) = clinic.released_bags(1)
    thaw = clinic.thaw(bag, clinic.allocate(bag, recipient))  # 5 minutes ago, 60-minute window
    zone = site_zone()
    ended, use_by = local_time(thaw.ended_at, zone), local_time(thaw.use_by, zone)
    assert ended.endswith((" CST", " CDT"))
    bedside = bedside_of(bag, recipient)
    release_db()
    wrong_tablet(page)
    sign_in_at_bedside(page, live_server, nurses[0].username)

    page.get_by_role("button", name="Thaw", exact=True).click()
    scan(page, "thaw-input", bedside.bag_scan)
    status = page.get_by_test_id("thaw-status")
    expect(status).to_contain_text(f"Thawed at {ended} (")
    expect(status).to_contain_text(f"; use by {use_by}.")
    countdown = page.get_by_test_id("thaw-countdown")
    expect(countdown).to_have_text(USE_WITHIN)
    minutes = int(USE_WITHIN.match(countdown.inner_text()).group(1))
    assert 50 <= minutes < 55  # the server's seconds left, not 2031's


def test_a_time_typed_on_the_tablet_is_the_sites_wall_time_and_now_is_the_servers(
    app, page, live_server, nurses
):
    change_settings(app, CUSTODY_TIMEZONE="America/Chicago")
    release_db()
    wrong_tablet(page)
    sign_in_at_bedside(page, live_server, nurses[0].username)

    shown = page.evaluate("window.custodySiteClock.fieldNow()")
    server = utcnow().astimezone(site_zone())
    field = datetime.strptime(shown, "%Y-%m-%dT%H:%M").replace(tzinfo=server.tzinfo)
    assert abs(field - server.replace(second=0, microsecond=0)) <= timedelta(minutes=1)
    to_iso = "(value) => window.custodySiteClock.fieldToIso(value)"
    # Winter (CST, UTC-6), summer (CDT, UTC-5), and either side of the change of 8 March 2026.
    for typed, instant in (
        ("2026-01-15T09:30", "2026-01-15T15:30:00.000Z"),
        ("2026-07-01T09:30", "2026-07-01T14:30:00.000Z"),
        ("2026-03-08T01:59", "2026-03-08T07:59:00.000Z"),
        ("2026-03-08T03:00", "2026-03-08T08:00:00.000Z"),
    ):
        assert page.evaluate(to_iso, typed) == instant


def test_a_shipment_shows_its_times_in_the_sites_zone_with_utc_labelled(app, client, make):
    change_settings(app, CUSTODY_TIMEZONE="America/Chicago")
    user = make.user("technician")
    shipment = shipping.create_shipment(user, "University Hospital", courier="Cryo Couriers")
    created = shipment.created_at
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    login = {"username": user.username, "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302

    html = client.get(f"/shipments/{shipment.code}").get_data(as_text=True)
    local, utc = local_time(created, site_zone()), utc_time(created)
    assert local.endswith((" CST", " CDT")) and utc.endswith(" UTC")
    assert f'>{local}</time> <small class="utc">({utc})</small>' in html
