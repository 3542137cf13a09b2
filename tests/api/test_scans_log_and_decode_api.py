"""The scan station's API: the day's log of one station, barcodes read from a camera frame, and
what a lookup says of a station command or of a DIN read alone."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image

from custody.config import settings
from custody.domain.isbt128 import check_character, encode_din, type3_flags
from custody.domain.scan_targets import bag_scan_data
from custody.extensions import db
from custody.labels.camera import MAX_FRAME_BYTES
from custody.models import Bag, Donation, Donor, Lot
from custody.models.base import utcnow
from custody.services.bags.scans import ScanRequest, scan
from custody.services.core.audit_trail import acting_as
from custody.services.core.facility import site_zone
from custody.services.core.identifiers import take_dins
from tests.api import responses
from tests.labels.label_reading import rasterise

LOG = "/api/v1/scans/log"
DECODE = "/api/v1/scans/decode"
LOOKUP = "/api/v1/scans/lookup"
SCANS = "/api/v1/scans"
UNREADABLE = "That is not an image that can be read: send one camera frame as JPEG or PNG."


def _eye(din: str) -> str:
    return f"{din[:5]} {din[5:7]} {din[7:]}"


# --- GET /api/v1/scans/log ---------------------------------------------------------------------


def _store(client, headers, bag, position, station: str) -> dict:
    body = {"action": "store", "bag": bag.code, "location": position.code, "station": station}
    return responses.ok(client.post(SCANS, json=body, headers=headers), 201)


def test_the_log_lists_todays_actions_at_one_station_newest_first(client, make_lot, tech):
    first, second, third = make_lot(bags=3).bags
    earlier = make_lot(bags=1).bags[0]
    positions = make_lot.positions(4)
    # Yesterday, on the site's calendar, at the same station: not today's.
    midnight = utcnow().astimezone(site_zone()).replace(hour=0, minute=0, second=0, microsecond=0)
    scan(
        tech.user,
        ScanRequest(
            "store",
            earlier.code,
            location=positions[3].code,
            station="Bench 1",
            occurred_at=midnight - timedelta(minutes=1),
        ),
    )
    stored_first = _store(client, tech, first, positions[0], "Bench 1")
    _store(client, tech, second, positions[1], "Bench 2")
    stored_third = _store(client, tech, third, positions[2], "Bench 1")

    log = responses.ok(client.get(f"{LOG}?station=Bench 1", headers=tech), 200)["items"]

    assert [item["id"] for item in log] == [stored_third["id"], stored_first["id"]]
    newest = log[0]
    assert {k: newest[k] for k in ("bag", "din", "check_character", "product_code")} == {
        "bag": third.code,
        "din": third.din,
        "check_character": check_character(third.din),
        "product_code": third.product_code,
    }
    assert (newest["action"], newest["from_status"], newest["to_status"]) == (
        "store",
        "quarantined",
        "stored",
    )
    assert (newest["station"], newest["actor"], newest["location"]) == (
        "Bench 1",
        "Tess Tech",
        positions[2].code,
    )
    assert newest["raw_scan"] == third.code
    # The other station sees its own.
    other = responses.ok(client.get(f"{LOG}?station=Bench 2", headers=tech), 200)["items"]
    assert [item["bag"] for item in other] == [second.code]
    unknown = responses.ok(client.get(f"{LOG}?station=Bench 9", headers=tech), 200)
    assert unknown == {"items": []}


def test_a_scan_refused_is_not_in_the_log(client, make_lot, tech):
    bag = make_lot(bags=1).bags[0]
    shipment = make_lot.shipment()
    body = {"action": "pack", "bag": bag.code, "shipment": shipment.code, "station": "Bench 1"}
    responses.error(client.post(SCANS, json=body, headers=tech), 409, "illegal_transition")
    assert responses.ok(client.get(f"{LOG}?station=Bench 1", headers=tech), 200) == {"items": []}


@pytest.mark.parametrize("query", ["", "?station=", f"?station={'S' * 65}"])
def test_the_log_needs_a_station_name(client, tech, query):
    responses.error(client.get(f"{LOG}{query}", headers=tech), 422, "validation_error")


@pytest.mark.parametrize(("role", "status"), [("qa", 200), ("admin", 200), ("nurse", 403)])
def test_the_log_is_for_the_scan_stations_roles(client, make, role, status):
    response = client.get(f"{LOG}?station=Bench 1", headers=make.auth(role))
    assert response.status_code == status, response.get_data(as_text=True)


# --- POST /api/v1/scans/decode -----------------------------------------------------------------


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _decode(client, headers, data: bytes, content_type: str = "image/png"):
    return client.post(DECODE, data=data, headers=headers | {"Content-Type": content_type})


@pytest.fixture
def label_image(client, approved_labels, make_lot, tech):
    """A bag's issued label, fetched over the API and rasterised at 300 dpi: (bag, image)."""
    bag = make_lot(bags=1).bags[0]
    pdf = client.get(f"/api/v1/bags/{bag.code}/label.pdf", headers=tech)
    assert pdf.status_code == 200, pdf.get_data(as_text=True)
    (image,) = rasterise(pdf.data, dpi=300)
    return bag, image


def _expected_symbols(bag) -> list[tuple[str, str]]:
    """What the label's symbols hold, from the bag's record (ISBT 128 ST-001)."""
    local = bag.expires_at.astimezone(settings().time_zone)
    return sorted(
        [
            ("Code128", f"={bag.din}{type3_flags(bag.din)}"),
            ("Code128", f"=<{bag.product_code}"),
            ("Code128", f"&>{local.year // 100 - 20}{local:%y%j%H%M}"),
            ("DataMatrix", bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone())),
        ]
    )


def test_a_label_photographed_as_png_gives_what_a_scanner_would_type(client, label_image, tech):
    bag, image = label_image

    answer = responses.ok(_decode(client, tech, _png(image)), 200)

    assert all(set(item) == {"format", "text"} for item in answer["items"])
    assert sorted((i["format"], i["text"]) for i in answer["items"]) == _expected_symbols(bag)
    # What was read is what the scan field takes: the Data Matrix names the bag.
    (matrix,) = [i["text"] for i in answer["items"] if i["format"] == "DataMatrix"]
    found = responses.ok(client.post(LOOKUP, json={"data": matrix}, headers=tech), 200)
    assert (found["kind"], found["bag"]["code"]) == ("bag", bag.code)


def test_a_label_photographed_as_jpeg_reads_the_same(client, label_image, make):
    bag, image = label_image
    frame = io.BytesIO()
    image.convert("RGB").save(frame, "JPEG", quality=90)
    # Every role that looks scans up may send a frame: a nurse's tablet on the ward.
    answer = responses.ok(_decode(client, make.auth("nurse"), frame.getvalue(), "image/jpeg"), 200)
    assert sorted((i["format"], i["text"]) for i in answer["items"]) == _expected_symbols(bag)


def test_an_image_without_a_barcode_is_200_with_no_items(client, tech):
    blank = _png(Image.new("L", (640, 480), 255))
    assert responses.ok(_decode(client, tech, blank), 200) == {"items": []}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "No image was sent: send one camera frame as JPEG or PNG."),
        (b"W999926000001-D0001VA0", UNREADABLE),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", UNREADABLE),
    ],
)
def test_a_body_that_is_no_image_is_422_saying_what_to_send(client, tech, body, message):
    refused = responses.error(_decode(client, tech, body), 422, "validation_error")
    assert refused["message"] == message


def test_a_truncated_png_is_422_not_a_crash(client, tech):
    whole = _png(Image.effect_noise((400, 300), 64))
    refused = responses.error(
        _decode(client, tech, whole[: len(whole) // 2]), 422, "validation_error"
    )
    assert refused["message"] == UNREADABLE


def test_an_image_in_another_format_is_422_naming_the_formats_taken(client, tech):
    gif = io.BytesIO()
    Image.new("L", (64, 32), 255).save(gif, "GIF")
    refused = responses.error(_decode(client, tech, gif.getvalue()), 422, "validation_error")
    assert refused["message"] == "Send the camera frame as JPEG or PNG."
    assert refused["details"] == {"format": "GIF"}


def test_a_frame_of_too_many_pixels_is_422(client, tech):
    huge = _png(Image.new("1", (4097, 4096), 1))
    assert len(huge) < MAX_FRAME_BYTES
    refused = responses.error(_decode(client, tech, huge), 422, "validation_error")
    assert refused["message"] == (
        "The frame is 4097 × 4096 pixels; send a camera frame of at most 4096 × 4096."
    )
    assert refused["details"] == {"width": 4097, "height": 4096}


def test_a_frame_of_more_than_4_mb_is_422(client, tech):
    refused = responses.error(
        _decode(client, tech, b"\x89PNG" + b"\0" * (MAX_FRAME_BYTES - 3)), 422, "validation_error"
    )
    assert refused["message"] == (
        "The frame is larger than 4 MB; send one camera frame as JPEG or PNG of at most that size."
    )


def test_decoding_needs_a_signed_in_caller(client):
    blank = _png(Image.new("L", (64, 32), 255))
    responses.error(client.post(DECODE, data=blank), 401, "authentication_failed")


# --- POST /api/v1/scans/lookup: station commands -----------------------------------------------


@pytest.mark.parametrize(
    ("data", "command"),
    [
        ("CMD-STORE", "store"),
        ("cmd-retrieve", "retrieve"),
        ("CMD-MOVE", "move"),
        ("Cmd-Pack", "pack"),
        ("CMD-RECEIVE", "receive"),
        ("CMD-DISCARD", "discard"),
        (" CMD-DONE\t", "done"),
    ],
)
def test_a_command_barcode_names_the_command(client, tech, data, command):
    answer = responses.ok(client.post(LOOKUP, json={"data": data}, headers=tech), 200)
    assert answer == {"kind": "command", "command": command}


@pytest.mark.parametrize("data", ["CMD-FOO", "CMD-", "cmd-stores"])
def test_an_unknown_command_is_refused_naming_the_commands(client, tech, data):
    refused = responses.error(
        client.post(LOOKUP, json={"data": data}, headers=tech), 422, "invalid_barcode"
    )
    assert refused["message"] == (
        f"{data.upper()} is not a station command. The commands are CMD-STORE, CMD-MOVE, "
        "CMD-RETRIEVE, CMD-PACK, CMD-RECEIVE, CMD-DISCARD, CMD-DONE: scan one from the printed "
        "command sheet."
    )


# --- POST /api/v1/scans/lookup and /api/v1/scans: a DIN read alone -----------------------------

_pooled = iter(range(1, 10**6))


def _pooled_lot(bags: int) -> Lot:
    """A lot pooled from two collections: it has a DIN of its own, which no collection has."""
    number = next(_pooled)
    with acting_as("system:test", reason="test setup: a lot pooled from two collections"):
        first, second, pooled = take_dins(settings().fin, 26, 3)
        now = utcnow()
        lot = Lot(
            lot_number=f"LT-POOL-{number}",
            din=pooled,
            product_description_code="D0001",
            disposition="quarantine",
            expires_at=now + timedelta(days=365),
        )
        for n, din in enumerate((first, second)):
            donor = Donor(
                donor_code=f"DNR-POOL-{number}-{n}",
                sex="F",
                birth_date=now.date().replace(year=1990),
                eligibility="eligible",
            )
            lot.donations.append(
                Donation(
                    din=din,
                    donor=donor,
                    collected_at=now - timedelta(days=20),
                    collection_timezone="Europe/Berlin",
                    facility="Test apheresis unit",
                    volume_ml=250.0,
                )
            )
        for b in range(bags):
            product_code = f"D0001V{'AB'[b]}0"
            lot.bags.append(
                Bag(
                    code=f"{pooled}-{product_code}",
                    din=pooled,
                    product_code=product_code,
                    volume_ml=20.0,
                    total_cells=1.5e9,
                    viable_car_nk_cells=1.2e9,
                    status="quarantined",
                    expires_at=lot.expires_at,
                )
            )
        db.session.add(lot)
        db.session.commit()
    return lot


def _din_reads(din: str) -> list[str]:
    """A DIN read alone: the Code 128 DIN barcode, or typed with its check character."""
    return [encode_din(din), f"{din}{check_character(din)}", f"{din} {check_character(din)}"]


def test_a_din_alone_of_a_lot_with_one_bag_names_the_bag(client, tech):
    (bag,) = _pooled_lot(bags=1).bags
    for data in _din_reads(bag.din):
        answer = responses.ok(client.post(LOOKUP, json={"data": data}, headers=tech), 200)
        assert (answer["kind"], answer["bag"]["code"]) == ("bag", bag.code), data


def test_a_din_alone_shared_by_two_bags_does_not_say_which(client, tech):
    lot = _pooled_lot(bags=2)
    for data in _din_reads(lot.din):
        refused = responses.error(
            client.post(LOOKUP, json={"data": data}, headers=tech), 422, "invalid_barcode"
        )
        assert refused["message"] == (
            f"DIN {_eye(lot.din)} alone does not say which bag: several bags share it. Scan the "
            "product code barcode too, the bag's 2-D code, or type the DIN, its check character "
            "and the product code."
        )
        assert refused["details"] == {
            "din": lot.din,
            "rule": "a bag is identified by DIN and product code",
        }


def test_a_din_alone_that_no_bag_carries_is_not_found(client, tech):
    with acting_as("system:test", reason="test setup: a DIN issued, never used"):
        (din,) = take_dins(settings().fin, 26, 1)
        db.session.commit()
    for data in _din_reads(din):
        refused = responses.error(
            client.post(LOOKUP, json={"data": data}, headers=tech), 404, "not_found"
        )
        assert refused["message"] == (
            f"No bag with DIN {_eye(din)} is known here. Check that the label belongs to this "
            "lab; do not use an unknown bag."
        )
        assert refused["details"] == {"din": din}


def test_a_din_alone_of_a_collection_names_the_collection_before_its_bags(client, make_lot, tech):
    """A lot made of one collection shares its DIN: the lookup shows the collection."""
    lot = make_lot(bags=2)
    answer = responses.ok(
        client.post(LOOKUP, json={"data": encode_din(lot.din)}, headers=tech), 200
    )
    assert answer["kind"] == "donation" and answer["donation"]["din"] == lot.din
    assert "bag" not in answer


def test_a_scan_action_on_a_din_alone_follows_the_same_rules(client, make_lot, tech):
    (position,) = make_lot.positions(1)
    (single,) = make_lot(bags=1).bags
    stored = responses.ok(
        client.post(
            SCANS,
            json={"action": "store", "bag": encode_din(single.din), "location": position.code},
            headers=tech,
        ),
        201,
    )
    assert stored["to_status"] == "stored"
    assert (
        responses.ok(client.get(f"/api/v1/bags/{single.code}", headers=tech), 200)["status"]
        == "stored"
    )

    shared = make_lot(bags=2)
    refused = responses.error(
        client.post(
            SCANS, json={"action": "quarantine", "bag": encode_din(shared.din)}, headers=tech
        ),
        422,
        "invalid_barcode",
    )
    assert "several bags share it" in refused["message"]
