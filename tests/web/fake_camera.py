"""A camera for Chromium to play: pictures of issued labels and wristbands, shown one after the
other, written as a YUV4MPEG2 4:2:0 file that `--use-file-for-fake-video-capture` plays in a
loop (DESIGN.md, pitfalls). The pictures are real renderings: the label the API issued,
rasterised with pdfium, and a wristband's Code 128 drawn by python-barcode."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import barcode
from barcode.writer import ImageWriter
from PIL import Image

from tests.labels.label_reading import rasterise
from tests.web.conftest import CHROMIUM_ARGS, find_chromium

FRAME = (1280, 960)
# The quarantine label's Data Matrix has 0.5 mm modules: 8.5 pixels a millimetre makes them
# 4.25 pixels, and the 100 mm label 850 pixels, inside the frame.
PIXELS_PER_MM = 8.5
FRAMES_PER_SECOND = 2


def label_picture(label_pdf: bytes) -> Image.Image:
    (image,) = rasterise(label_pdf, dpi=round(PIXELS_PER_MM * 25.4))
    return image


def wristband_picture(data: str) -> Image.Image:
    """A wristband's Code 128 as a ward's wristband printer draws it (0.33 mm bars)."""
    out = BytesIO()
    barcode.get("code128", data, writer=ImageWriter()).write(
        out, {"module_width": 0.33, "module_height": 12, "dpi": 216, "quiet_zone": 6.5}
    )
    out.seek(0)
    return Image.open(out).convert("RGB")


def _planes(picture: Image.Image) -> bytes:
    frame = Image.new("RGB", FRAME, (128, 128, 128))
    frame.paste(
        picture.convert("RGB"),
        ((FRAME[0] - picture.width) // 2, (FRAME[1] - picture.height) // 2),
    )
    y, cb, cr = frame.convert("YCbCr").split()
    half = (FRAME[0] // 2, FRAME[1] // 2)
    return y.tobytes() + cb.resize(half, Image.BOX).tobytes() + cr.resize(half, Image.BOX).tobytes()


def camera_file(path: Path, shots: Sequence[tuple[Image.Image, float]]) -> Path:
    """Each picture held in front of the camera for its number of seconds, in turn."""
    with path.open("wb") as out:
        out.write(
            f"YUV4MPEG2 W{FRAME[0]} H{FRAME[1]} F{FRAMES_PER_SECOND}:1 Ip A1:1 C420jpeg\n".encode()
        )
        for picture, seconds in shots:
            planes = _planes(picture)
            for _ in range(max(1, round(seconds * FRAMES_PER_SECOND))):
                out.write(b"FRAME\n" + planes)
    return path


@contextmanager
def chromium_with_camera(browser, camera: Path) -> Iterator:
    """A second Chromium whose camera plays `camera` (the test's own browser has none)."""
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
        yield with_camera
    finally:
        with_camera.close()
