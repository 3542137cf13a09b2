"""The bedside with the tablet's camera, for a ward without hand scanners: Chromium's fake
camera is shown the patient's wristband, then the bag's issued label; the page reads both
through the server's decoder (Chromium on Linux has no BarcodeDetector) and runs the checks on
that recipient and that bag."""

from __future__ import annotations

from playwright.sync_api import expect

from custody.domain.wristband import wristband_data
from tests.web.bedside_steps import bedside_of, check, sign_in_at_bedside
from tests.web.conftest import TIMEOUT_MS, release_db
from tests.web.fake_camera import (
    camera_file,
    chromium_with_camera,
    label_picture,
    wristband_picture,
)
from tests.web.tablet import PORTRAIT


def test_the_camera_reads_the_wristband_then_the_label_and_the_checks_run(
    browser, client, make, clinic, approved_labels, nurses, live_server, tmp_path
):
    bag, recipient, _ = clinic.at_bedside()
    bedside = bedside_of(bag, recipient)
    band = wristband_data(recipient.hospital_record_number, recipient.birth_date)
    token = make.token(make.user("technician", username="lee.labels"))
    label = client.get(
        f"/api/v1/bags/{bag.code}/label.pdf", headers={"Authorization": f"Bearer {token}"}
    )
    assert label.status_code == 200, label.get_json()
    release_db()
    # The wristband for four seconds, then the label: as a nurse turns from the arm to the bag.
    camera = camera_file(
        tmp_path / "bedside.y4m",
        [(wristband_picture(band), 4), (label_picture(label.data), 6)],
    )

    with chromium_with_camera(browser, camera) as with_camera:
        context = with_camera.new_context(viewport=PORTRAIT, has_touch=True)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        sign_in_at_bedside(page, live_server, nurses[0].username)

        page.get_by_role("button", name="Scan with camera").click()
        expect(page.get_by_test_id("wristband-read")).to_contain_text(
            f"{bedside.recipient_name} · "
        )
        expect(page.get_by_test_id("wristband-read")).to_contain_text(bedside.record_number)
        expect(check(page, "recipient_identity")).to_have_attribute(
            "data-state", "passed", timeout=3 * TIMEOUT_MS
        )
        expect(check(page, "bag_label")).to_have_attribute("data-state", "passed")
        expect(page.get_by_test_id("bag-read")).to_contain_text(
            f"DIN {bedside.din_words} [{bedside.k}]"
        )
        expect(page.get_by_test_id("second-verifier")).to_be_visible()
        expect(page.get_by_test_id("stop-overlay")).to_be_hidden()
        # The camera stops once the bag is read: nothing more is taken from it.
        expect(page.get_by_role("button", name="Scan with camera")).to_be_visible()
