"""Reading the barcodes in a camera frame: the path for tablets whose browser cannot.

A ward without hardware scanners points the tablet's camera at the wristband or the bag. Where
the browser has no BarcodeDetector (Chromium on Linux has none), the page sends frames here and
a well-kept decoder (zxing-cpp) reads the Code 128 and Data Matrix symbols ISBT 128 labels and
wristbands carry. The text read is exactly what a hand scanner would type; the page hands it to
the same scan field, so every rule after the read is the server's usual one.
"""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image, UnidentifiedImageError

from custody.domain.errors import ValidationFailed

# A frame of a phone or tablet camera, as JPEG or PNG: a few hundred KB; never more than this.
MAX_FRAME_BYTES = 4 * 1024 * 1024
MAX_FRAME_PIXELS = 4096 * 4096
FORMATS = zxingcpp.barcode_formats_from_str("Code128,DataMatrix")


def read_frame(data: bytes) -> list[dict[str, str]]:
    """Every Code 128 and Data Matrix symbol in the image `data`, as {format, text}."""
    if not data:
        raise ValidationFailed("No image was sent: send one camera frame as JPEG or PNG.")
    if len(data) > MAX_FRAME_BYTES:
        raise ValidationFailed(
            f"The frame is larger than {MAX_FRAME_BYTES // (1024 * 1024)} MB; send one camera "
            "frame as JPEG or PNG of at most that size.",
        )
    image = _image(data)
    return [
        {"format": found.format.name, "text": found.text}
        for found in zxingcpp.read_barcodes(image, formats=FORMATS)
        if found.valid
    ]


def _image(data: bytes) -> Image.Image:
    unreadable = "That is not an image that can be read: send one camera frame as JPEG or PNG."
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
    except (UnidentifiedImageError, OSError, ValueError):
        raise ValidationFailed(unreadable) from None
    if image.format not in ("JPEG", "PNG"):
        raise ValidationFailed("Send the camera frame as JPEG or PNG.", format=image.format)
    width, height = image.size
    if width * height > MAX_FRAME_PIXELS:
        raise ValidationFailed(
            f"The frame is {width} × {height} pixels; send a camera frame of at most 4096 × 4096.",
            width=width,
            height=height,
        )
    try:
        return image.convert("L")
    except (OSError, ValueError, Image.DecompressionBombError):
        raise ValidationFailed(unreadable) from None
