"""The worklist in a real browser: today's infusions with their bags and where each is, the
pull list of thaws due in storage order, shipments on their way, lots awaiting QA; on a
nurse's portrait tablet, on paper (the bar and the buttons left off), and for a technician,
who sees recipients by subject ID only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from playwright.sync_api import Page, expect

from custody.domain.isbt128 import check_character, eye_readable_din
from custody.domain.time_zones import local_time
from custody.extensions import db
from custody.models.base import utcnow
from custody.services.bags.lookup import location_path
from custody.services.clinic.recipients import site_today
from custody.services.core.audit_trail import acting_as
from custody.services.core.facility import site_zone
from tests.labels.label_reading import normalise, page_texts
from tests.web.conftest import browser_sign_in, release_db
from tests.web.tablet import BENCH, PORTRAIT, fits_width, small_targets, tablet


@dataclass(frozen=True)
class Day:
    stored_bag: str  # infusion 1 of `waiting`: allocated, in storage position 2 of a box
    stored_din: str
    stored_product: str
    position: str  # that position's path, site to position
    thawed_bag: str  # infusion 2 of `second`, due today: thawed, to infuse by `use_by`
    use_by: str
    waiting: str  # subject IDs
    second: str
    no_bag: str
    names: tuple[str, ...]  # what identifies the three recipients as people
    shipment: str
    lot: str


def set_up_day(clinic, make_lot, quality) -> Day:
    today = site_today()
    waiting = clinic.recipient(name="Wanda Waiting", hospital_record_number="MRNWW01")
    second = clinic.recipient(
        status="infused",
        day0=today - timedelta(days=7),
        second_infusion_ordered=True,
        name="Sam Second",
        hospital_record_number="MRNSS02",
    )
    no_bag = clinic.recipient(name="Nora Nobag", hospital_record_number="MRNNB03")
    stored, thawed = clinic.released_bags(2)
    position = make_lot.positions(2)[1]
    clinic.allocate(stored, waiting, 1)
    with acting_as("system:test", reason="test setup"):
        stored.storage_position_id = position.id
        db.session.commit()
    allocation = clinic.allocate(thawed, second, 2)
    clinic.receive(thawed, second.site)
    thaw = clinic.thaw(thawed, allocation, minutes_ago=10)
    shipment = make_lot.shipment(status="in_transit")
    with acting_as("system:test", reason="test setup"):
        shipment.handed_over_at = utcnow() - timedelta(hours=2)
        shipment.handed_over_to = "Cryo Couriers (J. Novak)"
        db.session.commit()
    lot = make_lot(bags=2)
    day = Day(
        stored_bag=stored.code,
        stored_din=stored.din,
        stored_product=stored.product_code,
        position=location_path(position),
        thawed_bag=thawed.code,
        use_by=local_time(thaw.use_by, site_zone()),
        waiting=waiting.subject_id,
        second=second.subject_id,
        no_bag=no_bag.subject_id,
        names=tuple(
            word
            for r in (waiting, second, no_bag)
            for word in (r.name, r.hospital_record_number, r.birth_date.isoformat())
        ),
        shipment=shipment.code,
        lot=lot.lot_number,
    )
    release_db()
    return day


def infusion(page: Page, subject: str, number: int):
    return page.locator(
        f'[data-testid="infusion-due"][data-subject="{subject}"][data-infusion="{number}"]'
    )


def test_a_nurse_reads_the_days_worklist_on_a_tablet_and_prints_it(
    browser, live_server, make, clinic, make_lot, quality
):
    nurse = make.user("nurse", username="wl.nurse").username
    day = set_up_day(clinic, make_lot, quality)
    page = tablet(browser, PORTRAIT)
    try:
        browser_sign_in(page, live_server, nurse, "/worklist")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            f"Worklist for {site_today().isoformat()}"
        )
        expect(page.get_by_test_id("worklist")).to_contain_text(f"({site_zone().key})")

        # Infusion 1 of the recipient in lymphodepletion: the bag, and where it is stored.
        waiting = infusion(page, day.waiting, 1)
        expect(waiting).to_contain_text("Wanda Waiting")  # a nurse sees names
        row = waiting.get_by_test_id("infusion-bag")
        expect(row).to_have_attribute("data-bag", day.stored_bag)
        din_words = f"{eye_readable_din(day.stored_din)} {check_character(day.stored_din)}"
        expect(row).to_contain_text(din_words)
        expect(row).to_contain_text(day.stored_product)
        expect(row.get_by_test_id("bag-position")).to_have_text(day.position)
        expect(row.get_by_test_id("next-step")).to_contain_text("Pull from")
        # Infusion 2 due today: the bag is thawed, to be infused by a time in the site's zone.
        second = infusion(page, day.second, 2)
        expect(second).to_contain_text("due")
        expect(second.get_by_test_id("next-step")).to_have_text(f"Thawed: infuse by {day.use_by}.")
        expect(infusion(page, day.no_bag, 1).get_by_test_id("no-bag")).to_be_visible()

        # The pull list: only the bag still to be thawed, with its position.
        thaws = page.get_by_test_id("thaw-due")
        expect(thaws).to_have_count(1)
        expect(thaws).to_have_attribute("data-bag", day.stored_bag)
        expect(thaws.get_by_test_id("thaw-position")).to_have_text(day.position)
        expect(thaws).to_contain_text(f"{day.waiting}, infusion 1")

        shipment = page.get_by_test_id("shipment-expected")
        expect(shipment).to_have_attribute("data-shipment", day.shipment)
        expect(shipment).to_contain_text("J. Novak")
        # Lots awaiting QA are for those who enter results or sign: not a nurse's.
        expect(page.get_by_test_id("lots-awaiting")).to_have_count(0)

        # A bedside link beside each infusion whose bag is allocated: a nurse goes from here.
        expect(page.get_by_role("link", name="Bedside check")).to_have_count(2)
        assert small_targets(page, ".worklist") == []
        assert fits_width(page)

        # The Print button prints (the browser's dialog is stood in for here).
        page.evaluate("window.print = () => { window.printed = true; }")
        page.get_by_role("button", name="Print the worklist").click()
        assert page.evaluate("window.printed") is True

        # On paper: the lists, without the bar, the search field or any button.
        page.emulate_media(media="print")
        expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
        expect(page.get_by_role("searchbox")).to_be_hidden()
        expect(page.get_by_role("button", name="Print the worklist")).to_be_hidden()
        expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
        expect(page.locator("a", has_text="Bedside check")).to_have_count(2)
        expect(page.locator("a", has_text="Bedside check").first).to_be_hidden()
        expect(thaws).to_be_visible()
        paper = normalise(" ".join(page_texts(page.pdf(format="A4"))))
        # Codes may wrap inside their narrow cells: compared without the breaks.
        compact = paper.replace(" ", "")
        for code in (day.stored_bag, day.thawed_bag, day.shipment, day.position, din_words):
            assert code.replace(" ", "") in compact, code
        assert f"Thawed: infuse by {day.use_by}." in paper
        assert "Print the worklist" not in paper and "Sign out" not in paper
    finally:
        page.context.close()


def test_a_technicians_worklist_names_recipients_by_subject_id_only(
    browser, live_server, make, clinic, make_lot, quality
):
    technician = make.user("technician", username="wl.tech").username
    day = set_up_day(clinic, make_lot, quality)
    page = tablet(browser, BENCH)
    try:
        browser_sign_in(page, live_server, technician, "/worklist")
        expect(page.get_by_test_id("identifiers-withheld")).to_be_visible()
        for subject in (day.waiting, day.second, day.no_bag):
            expect(page.get_by_test_id("infusions-due")).to_contain_text(subject)
        text = page.locator("main").inner_text()
        shown = [word for word in day.names if word in text]
        assert shown == []
        # The technician's own sections: the pull list, shipments, and lots awaiting QA.
        expect(page.get_by_test_id("thaw-due")).to_have_attribute("data-bag", day.stored_bag)
        lot = page.locator(f'[data-testid="lot-awaiting"][data-lot="{day.lot}"]')
        expect(lot).to_contain_text("quarantine")
        expect(lot).to_contain_text("Not yet: the lot has no approved specification")
        expect(lot.get_by_role("link", name=day.lot)).to_have_attribute(
            "href", f"/qa/lots/{day.lot}"
        )
        expect(page.get_by_test_id("shipment-expected")).to_have_count(1)
        # No bedside link for a role that may not use the bedside; the scan station's, yes.
        expect(page.get_by_role("link", name="Bedside check")).to_have_count(0)
        expect(page.get_by_role("link", name="Scan station: retrieve the bags")).to_be_visible()
        assert fits_width(page)
    finally:
        page.context.close()
