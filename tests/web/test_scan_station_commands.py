"""The printed sheet of station commands: every command a Code 128 that a real decoder reads
back to its text, on screen and as Chromium prints it, with its words under it; and the sheet
is for whoever may use the station."""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from custody.domain.scan_targets import COMMAND_PREFIX, STATION_COMMANDS
from custody.labels.svg import SHEET_MODULE_MM
from tests.labels.label_reading import rasterise
from tests.web.conftest import TIMEOUT_MS, browser_sign_in
from tests.web.scan_station_steps import sign_up_technician
from tests.web.test_bag_page import sign_in

COMMANDS = {f"{COMMAND_PREFIX}{name}" for name in STATION_COMMANDS}


def _code128(image: Image.Image) -> set[str]:
    return {
        found.text
        for found in zxingcpp.read_barcodes(
            image.convert("L"), formats=zxingcpp.BarcodeFormat.Code128
        )
        if found.valid
    }


def test_every_command_decodes_to_its_text_on_screen_and_on_paper(browser, make, live_server):
    technician = sign_up_technician(make)
    # Three device pixels per CSS pixel: about 4.5 pixels a bar (0.4 mm), as a camera sees it.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=3)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        browser_sign_in(page, live_server, technician, "/scan")
        page.get_by_role("link", name="Command barcodes").click()
        expect(page.get_by_role("heading", name="Scan station commands")).to_be_visible()

        commands = page.get_by_test_id("command")
        expect(commands).to_have_count(len(STATION_COMMANDS))
        store = page.locator('[data-code="CMD-STORE"]')
        expect(store).to_contain_text("Store into a box")
        expect(store).to_contain_text("CMD-STORE")
        expect(page.locator('[data-code="CMD-DONE"]')).to_contain_text("Back to single scans")

        screen = Image.open(io.BytesIO(page.screenshot(full_page=True)))
        assert _code128(screen) == COMMANDS

        # On paper: the print stylesheet drops the page's own controls and keeps every symbol.
        page.emulate_media(media="print")
        expect(page.get_by_role("button", name="Print this sheet")).to_be_hidden()
        expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
        paper = page.pdf(format="A4", print_background=True)
        printed = set().union(*(_code128(sheet) for sheet in rasterise(paper, dpi=300)))
        assert printed == COMMANDS
    finally:
        context.close()


@pytest.mark.parametrize(("role", "status"), [("technician", 200), ("qa", 200), ("nurse", 403)])
def test_the_sheet_is_for_those_who_may_use_the_station(client, make, role, status):
    user = make.user(role)
    sign_in(client, user.username)
    response = client.get("/scan/commands")
    assert response.status_code == status
    if status == 200:
        assert response.get_data(as_text=True).count("<svg") == len(STATION_COMMANDS)


def test_each_symbol_keeps_ten_modules_of_quiet_zone_each_side(client, make):
    sign_in(client, make.user("technician").username)
    sheet = client.get("/scan/commands").get_data(as_text=True)
    symbols = re.findall(r"<svg .*?</svg>", sheet, flags=re.DOTALL)
    assert len(symbols) == len(STATION_COMMANDS)
    for svg in symbols:
        width = float(re.search(r'<svg [^>]*width="([\d.]+)mm"', svg).group(1))
        bars = [
            (float(x), float(w))
            for x, w in re.findall(r'<rect x="([\d.]+)mm" y="[\d.]+mm" width="([\d.]+)mm"', svg)
        ]
        module = min(w for _, w in bars)
        assert module == SHEET_MODULE_MM
        assert bars[0][0] >= 10 * module - 1e-9
        assert width - (bars[-1][0] + bars[-1][1]) >= 10 * module - 1e-9
        # Fills are attributes, so a content security policy without inline styles draws it.
        assert "style=" not in svg
