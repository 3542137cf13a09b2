"""The station's scan field in a real browser: two linear barcodes read one at a time are one
bag only when nothing came between them and the second came in time; a read ends with Enter,
Tab or the site's scanner suffix.

The countdown runs on Playwright's clock (installed before the page loads), never on sleeps.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from custody.domain.isbt128 import check_character
from tests.conftest import change_settings
from tests.web.scan_station_steps import (
    custody_events,
    ok,
    refused,
    scan,
    sign_in_to_station,
)

LOOKUP = "/api/v1/scans/lookup"


def _lookups(page: Page) -> list[str]:
    """The data of every lookup the page sends from now on."""
    sent: list[str] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.post_data_json["data"]) if request.url.endswith(LOOKUP) else None
        ),
    )
    return sent


def _pairing(page: Page):
    return page.get_by_test_id("pair-status")


@pytest.mark.parametrize("din_first", [True, False], ids=["din-then-product", "product-then-din"])
def test_two_linear_barcodes_in_either_order_name_one_bag(
    page, live_server, technician, lab, din_first
):
    bag = lab.released[1]
    sign_in_to_station(page, live_server, technician)
    sent = _lookups(page)
    first, second = (
        (bag.din_barcode, bag.product_barcode)
        if din_first
        else (bag.product_barcode, bag.din_barcode)
    )

    scan(page, first)
    # The half is echoed large and waits, counting down; nothing is looked up yet.
    expect(_pairing(page)).to_contain_text("(20 s)")
    expect(_pairing(page)).to_contain_text(
        "now scan the product code" if din_first else "now scan the DIN"
    )
    expect(page.get_by_test_id("scan-echo")).to_contain_text(
        bag.eye_readable if din_first else bag.product_code
    )
    expect(page.get_by_test_id("scan-station")).to_have_attribute("data-sound", "half")
    scan(page, second)

    # The bag, with its DIN, boxed K and division large, to hold against the label.
    identity = page.get_by_test_id("bag-identity")
    expect(identity).to_contain_text(bag.eye_readable)
    expect(identity.get_by_test_id("k-box")).to_have_text(check_character(bag.din))
    expect(identity.get_by_test_id("bag-division")).to_have_text("Division B0")
    expect(ok(page)).to_contain_text(f"Bag {bag.words}")
    expect(_pairing(page)).to_be_hidden()
    assert sent == [bag.din_barcode + bag.product_barcode]


def test_a_read_between_the_halves_breaks_the_pair(page, live_server, technician, lab):
    bag = lab.released[0]
    sign_in_to_station(page, live_server, technician)
    sent = _lookups(page)

    scan(page, bag.din_barcode)
    scan(page, lab.positions[0])  # another label read between: not this bag's pair
    expect(_pairing(page)).to_contain_text(
        f"The DIN {bag.eye_readable} was not followed by the product code"
    )
    expect(page.get_by_test_id("scanned-location")).to_be_visible()
    scan(page, bag.product_barcode)
    # The product code now waits for a DIN of its own; no bag was named.
    expect(_pairing(page)).to_contain_text("now scan the DIN")
    expect(page.get_by_test_id("scanned-bag")).to_have_count(0)
    assert sent == [lab.positions[0]]


def test_a_half_alone_is_dropped_when_the_countdown_ends(page, live_server, technician, lab):
    bag = lab.released[0]
    page.clock.install()
    sign_in_to_station(page, live_server, technician)
    sent = _lookups(page)

    scan(page, bag.din_barcode)
    expect(_pairing(page)).to_contain_text("(20 s)")
    page.clock.fast_forward(12_000)
    expect(_pairing(page)).to_contain_text("(8 s)")
    page.clock.fast_forward(9_000)
    expect(_pairing(page)).to_contain_text(
        "No product code was scanned within 20 s: scan the DIN and the product code again."
    )
    expect(page.get_by_test_id("scan-station")).to_have_attribute("data-sound", "error")
    # The late product code is a new half, not the dropped DIN's pair.
    scan(page, bag.product_barcode)
    expect(_pairing(page)).to_contain_text("now scan the DIN")
    expect(page.get_by_test_id("scanned-bag")).to_have_count(0)
    expect(page.get_by_test_id("scanned-donation")).to_have_count(0)
    assert sent == []
    assert custody_events() == []


def test_tab_ends_a_scan_as_enter_does(page, live_server, technician, lab):
    bag = lab.released[0]
    sign_in_to_station(page, live_server, technician)
    scan(page, bag.scan, end="Tab")
    expect(page.get_by_test_id("scanned-bag")).to_contain_text(bag.eye_readable)
    expect(page.locator("#scan-input")).to_be_focused()
    expect(page.locator("#scan-input")).to_have_value("")
    scan(page, bag.din_barcode, end="Tab")
    scan(page, bag.product_barcode, end="Tab")
    expect(ok(page)).to_contain_text(f"Bag {bag.words}")


def test_the_sites_suffix_and_countdown_come_from_its_settings(
    page, app, live_server, technician, lab
):
    change_settings(app, CUSTODY_SCAN_SUFFIX="~", CUSTODY_SCAN_PAIR_SECONDS=8)
    bag = lab.released[0]
    sign_in_to_station(page, live_server, technician)

    scan(page, f"{lab.positions[1]}~", end="")
    expect(page.get_by_test_id("scanned-location")).to_contain_text("Position 2")
    expect(page.locator("#scan-input")).to_have_value("")
    scan(page, f"{bag.din_barcode}~", end="")
    expect(_pairing(page)).to_contain_text("(8 s)")
    scan(page, f"{bag.product_barcode}~", end="")
    expect(ok(page)).to_contain_text(f"Bag {bag.words}")
    # An unknown label is refused in words, with the refusal's sound.
    scan(page, "=<D0001VZ0~", end="")
    scan(page, f"{bag.din_barcode}~", end="")
    expect(refused(page)).to_contain_text("D0001VZ0")
