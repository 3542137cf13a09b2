"""Scanning with the camera at the station: Chromium's fake camera plays a bag's issued label,
the page sends frames to the server's reader and names the bag, as a hand scanner would.

The label is the one the API issues (rasterised with pdfium), placed in a camera frame written
as YUV4MPEG2 4:2:0, which Chromium plays as its camera (DESIGN.md, pitfalls).
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from custody.domain.isbt128 import check_character
from tests.web.conftest import TIMEOUT_MS, release_db
from tests.web.fake_camera import camera_file, chromium_with_camera, label_picture
from tests.web.scan_station_steps import bag_ref, sign_in_to_station, sign_up_technician


def test_the_camera_reads_a_bag_label_and_the_station_names_the_bag(
    browser, client, make, make_lot, approved_labels, live_server, tmp_path
):
    technician = sign_up_technician(make)
    bag = bag_ref(make_lot(bags=1).bags[0])
    token = make.token(make.user("technician", username="lee.labels"))
    label = client.get(
        f"/api/v1/bags/{bag.code}/label.pdf", headers={"Authorization": f"Bearer {token}"}
    )
    assert label.status_code == 200, label.get_json()
    release_db()
    camera = camera_file(tmp_path / "label.y4m", [(label_picture(label.data), 1.5)])

    with chromium_with_camera(browser, camera) as with_camera:
        context = with_camera.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        sign_in_to_station(page, live_server, technician)

        page.get_by_role("button", name=re.compile("camera", re.IGNORECASE)).click()
        expect(page.get_by_test_id("camera-view")).to_be_visible()  # the camera's video
        identity = page.get_by_test_id("bag-identity")
        expect(identity).to_contain_text(bag.eye_readable)
        expect(identity).to_contain_text(bag.product_code)
        expect(identity.get_by_test_id("k-box")).to_have_text(check_character(bag.din))
        expect(page.get_by_test_id("scanned-bag").get_by_test_id("bag-state")).to_have_text(
            "QUARANTINED"
        )
        # The label's 2-D code says it all: it was read, not its linear barcodes in turn.
        echo = page.get_by_test_id("scan-echo")
        expect(echo).to_contain_text(re.compile(rf"^=\+.*={bag.din}\d\d=<{bag.product_code}&>"))
        page.get_by_role("button", name="Stop camera").click()
        expect(page.get_by_test_id("camera-view")).to_have_count(0)
