"""Scanning with the camera at the station: Chromium's fake camera plays a bag's issued label,
the page sends frames to the server's reader and names the bag, as a hand scanner would.

The label is the one the API issues (rasterised with pdfium), placed in a camera frame written
as YUV4MPEG2 4:2:0, which Chromium plays as its camera (DESIGN.md, pitfalls).
"""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import expect

from custody.domain.isbt128 import check_character
from tests.labels.label_reading import rasterise
from tests.web.conftest import CHROMIUM_ARGS, TIMEOUT_MS, find_chromium, release_db
from tests.web.scan_station_steps import bag_ref, sign_in_to_station, sign_up_technician

FRAME = (1280, 960)
# The quarantine label's Data Matrix has 0.5 mm modules: 8.5 pixels a millimetre makes them
# 4.25 pixels, and the 100 mm label 850 pixels, inside the frame.
PIXELS_PER_MM = 8.5


def _camera_file(label: Image.Image, path: Path, frames: int = 3) -> Path:
    """`label` centred on a grey frame, as a YUV4MPEG2 4:2:0 file of identical frames."""
    frame = Image.new("RGB", FRAME, (128, 128, 128))
    frame.paste(
        label.convert("RGB"), ((FRAME[0] - label.width) // 2, (FRAME[1] - label.height) // 2)
    )
    y, cb, cr = frame.convert("YCbCr").split()
    half = (FRAME[0] // 2, FRAME[1] // 2)
    planes = (
        y.tobytes() + cb.resize(half, Image.BOX).tobytes() + cr.resize(half, Image.BOX).tobytes()
    )
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{FRAME[0]} H{FRAME[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)
    return path


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
    (image,) = rasterise(label.data, dpi=round(PIXELS_PER_MM * 25.4))
    camera = _camera_file(image, tmp_path / "label.y4m")

    with_camera = browser.browser_type.launch(
        executable_path=find_chromium(),
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}",
        ],
    )
    try:
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
    finally:
        with_camera.close()
