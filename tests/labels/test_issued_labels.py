"""The labels the system issues, read back as a scanner and a person read them.

Each bag's label is fetched over the API, rasterised at 300 dpi and decoded with zxing-cpp;
every symbol is compared with the bag's record (never with the label's own stored values),
the words are extracted with pypdf, and each decoded string is scanned back through the scan
lookup, which must find the same bag. The facility's zone is set to one with a half-hour
offset, so an expiry encoded in the wrong zone cannot pass by accident.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from custody.config import settings
from custody.domain import eligibility
from custody.domain.isbt128 import eye_readable_din, type3_flags
from custody.extensions import db
from custody.labels.catalogue import PURPOSES, QUARANTINE_STATEMENT
from custody.models import LabelPrint
from custody.services.bags.storage import LocationRequest, create_location
from tests.conftest import change_settings
from tests.labels.label_reading import decode, normalise, page_texts, rasterise

API = "/api/v1"
ZONE = "Asia/Kolkata"
STATES = ("released", "conditional", "quarantined")
PURPOSE = {"released": "final_product", "conditional": "final_product"}
PRINTING = {"final_product": 2, "quarantine_product": 1}  # the newest approved versions
EXTRA_WORDS = {
    "released": [],
    "conditional": ["CONDITIONAL RELEASE: Sterility (14-day culture) pending."],
    "quarantined": [eligibility.BIOHAZARD, eligibility.ADVISE_PATIENT],
}


@pytest.fixture
def tech(app, make, approved_labels):
    change_settings(app, CUSTODY_TIMEZONE=ZONE)
    return make.auth("technician")


def lot_in(state: str, quality, make_lot):
    """A lot of two bags: released, conditionally released, or quarantined (ineligible donor)."""
    quality.specification()
    if state == "quarantined":
        return make_lot(bags=2, eligibility="ineligible")
    lot = make_lot(bags=2)
    if state == "conditional":
        quality.results(lot.lot_number, skip=("sterility",))
        pending = {"reason": "Urgent", "pending_tests": ["sterility"]}
        quality.sign(lot.lot_number, "conditional_release", **pending)
    else:
        quality.results(lot.lot_number)
        quality.sign(lot.lot_number)
    return lot


def expected_reads(bag, zone: ZoneInfo) -> dict[str, str]:
    """What each linear symbol must hold, worked out from the bag's record (ST-001)."""
    local = bag.expires_at.astimezone(zone)
    return {
        "din": f"={bag.din}{type3_flags(bag.din)}",
        "product": f"=<{bag.product_code}",
        "expiry": f"&>{local.year // 100 - 20}{local:%y%j%H%M}",
    }


def by_kind(read: list[tuple[str, str]]) -> dict[str, str]:
    """A page's symbols named by their data identifier; each kind exactly once."""
    kinds = {"DataMatrix": "matrix"}
    named = {}
    for fmt, data in read:
        kind = kinds.get(fmt) or {"=<": "product", "&>": "expiry"}.get(data[:2], "din")
        assert kind not in named, read
        named[kind] = data
    return named


def lookup(client, headers, data: str) -> str:
    response = client.post(f"{API}/scans/lookup", json={"data": data}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["bag"]["code"]


@pytest.mark.parametrize("state", STATES)
def test_each_bags_label_scans_back_to_its_bag_and_says_what_it_must(
    app, client, tech, quality, make_lot, state
):
    lot = lot_in(state, quality, make_lot)
    purpose = PURPOSE.get(state, "quarantine_product")
    zone = settings().time_zone
    for bag in lot.bags:
        response = client.get(f"{API}/bags/{bag.code}/label.pdf", headers=tech)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.headers["X-Label-Template"] == f"{purpose} v{PRINTING[purpose]}"
        (image,) = rasterise(response.data, dpi=300)
        read = by_kind(decode(image))
        scan = client.get(f"{API}/bags/{bag.code}", headers=tech).get_json()["scan"]
        assert read == expected_reads(bag, zone) | {"matrix": scan}

        (words,) = page_texts(response.data)
        words = normalise(words)
        for statement in PURPOSES[purpose].required_statements + tuple(EXTRA_WORDS[state]):
            assert statement in words
        assert eye_readable_din(bag.din) in words
        assert settings().product_name in words
        assert f"{bag.expires_at.astimezone(zone):%Y-%m-%d %H:%M} IST" in words
        assert (QUARANTINE_STATEMENT in words) is (purpose == "quarantine_product")

        assert lookup(client, tech, read["matrix"]) == bag.code
        assert lookup(client, tech, read["din"] + read["product"]) == bag.code


def test_a_lots_labels_print_a_page_for_each_bag(client, tech, quality, make_lot):
    lot = quality.released_lot(make_lot, bags=3)
    response = client.get(f"{API}/lots/{lot.lot_number}/labels.pdf", headers=tech)
    assert response.status_code == 200, response.get_data(as_text=True)
    pages = rasterise(response.data, dpi=300)
    assert len(pages) == len(page_texts(response.data)) == 3
    scans = {
        client.get(f"{API}/bags/{bag.code}", headers=tech).get_json()["scan"]: bag
        for bag in lot.bags
    }
    found = []
    for page in pages:
        read = by_kind(decode(page))
        bag = scans[read["matrix"]]
        assert read["product"] == f"=<{bag.product_code}"
        assert lookup(client, tech, read["din"] + read["product"]) == bag.code
        found.append(bag.code)
    assert sorted(found) == sorted(b.code for b in lot.bags)


MAX_STORED_BYTES = 20_000  # a stored label's budget (DESIGN.md): labels are most of a database


def stored_label(response) -> LabelPrint:
    """The label record a print job's response names, as the database holds it."""
    assert response.status_code == 200, response.get_data(as_text=True)
    label = db.session.get(LabelPrint, int(response.headers["X-Label-Id"]))
    assert label.pdf == response.data
    assert label.pdf_sha256 == hashlib.sha256(label.pdf).hexdigest()
    return label


@pytest.mark.parametrize("state", STATES)
def test_a_stored_bag_label_is_at_most_20_kb(client, tech, quality, make_lot, state):
    bag = lot_in(state, quality, make_lot).bags[0]
    label = stored_label(client.get(f"{API}/bags/{bag.code}/label.pdf", headers=tech))
    assert label.purpose == PURPOSE.get(state, "quarantine_product")
    assert len(label.pdf) <= MAX_STORED_BYTES, len(label.pdf)
    (image,) = rasterise(label.pdf, dpi=300)  # small, and still the whole label
    assert len(decode(image)) == 4
    assert eye_readable_din(bag.din) in normalise(page_texts(label.pdf)[0])


def tie_tag_url(bag, clinic) -> str:
    recipient = clinic.recipient(
        subject_id="CARNK-101-007",
        hospital_record_number="H-55821",
        name="Ada Lovelace",
        birth_date=date(1961, 3, 14),
        weight_kg=64.0,
    )
    clinic.allocate(bag, recipient)
    return f"{API}/bags/{bag.code}/tie-tag.pdf"


def location_url(make) -> str:
    user = make.user("technician")
    site = create_location(user, LocationRequest(kind="site", name="Cell therapy lab"))
    freezer = create_location(user, LocationRequest(kind="freezer", parent=site.code))
    return f"{API}/locations/{freezer.code}/label.pdf"


def other_label_url(purpose: str, lot, make, make_lot, clinic) -> str:
    """The print job of a `purpose` label: of the lot's donation, its first bag's tie-tag (once
    allocated), a shipment's shipper or a storage location's label."""
    if purpose == "collection":
        return f"{API}/donations/{lot.din}/label.pdf"
    if purpose == "tie_tag":
        return tie_tag_url(lot.bags[0], clinic)
    if purpose == "shipper":
        return f"{API}/shipments/{make_lot.shipment().code}/label.pdf"
    return location_url(make)


@pytest.mark.parametrize("purpose", ["collection", "tie_tag", "shipper", "storage_position"])
def test_every_other_stored_label_is_at_most_20_kb(
    client, make, tech, quality, make_lot, clinic, purpose
):
    lot = lot_in("released", quality, make_lot)
    url = other_label_url(purpose, lot, make, make_lot, clinic)
    label = stored_label(client.get(url, headers=tech))
    assert label.purpose == purpose
    assert len(label.pdf) <= MAX_STORED_BYTES, len(label.pdf)


def test_a_reprint_of_the_same_words_is_the_same_bytes(client, make, tech, quality, make_lot):
    """The same input renders the same bytes, so a label's SHA-256 names what was printed."""
    bag = lot_in("released", quality, make_lot).bags[0]
    first = stored_label(client.get(f"{API}/bags/{bag.code}/label.pdf", headers=tech))
    reason = {"reason": "Label smudged in the freezer"}
    reprint = client.post(f"{API}/labels/{first.id}/reprint", json=reason, headers=make.auth("qa"))
    assert reprint.status_code == 201, reprint.get_data(as_text=True)
    again = db.session.get(LabelPrint, reprint.get_json()["id"])
    assert (again.action, again.replaces_id, again.values) == ("reprint", first.id, first.values)
    assert again.pdf == first.pdf and again.pdf_sha256 == first.pdf_sha256


# ZPL II mode N Code 128 field data: >: >; >9 start in B, C, A; >5 >6 >7 switch to C, B, A.
SUBSETS = {":": "B", ";": "C", "9": "A", "5": "C", "6": "B", "7": "A"}
ESCAPED = {"0": ">", "<": "^", "=": "~"}


def unhex(data: str) -> str:
    """^FH field data: `_XX` is the byte XX."""
    return re.sub(r"_([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), data)


def code128_data(field: str) -> str:
    """The characters a printer encodes for one ^BC mode N field."""
    out, subset, i = [], "B", 0
    while i < len(field):
        if field[i] == ">":
            code = field[i + 1]
            if code in SUBSETS:
                subset = SUBSETS[code]
            else:
                out.append(ESCAPED[code])
            i += 2
        elif subset == "C":
            out.append(field[i : i + 2])
            i += 2
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def zpl_symbols(zpl: str) -> list[tuple[str, str]]:
    fields = re.findall(r"\^(BC|BX)[^\^]*\^FH\^FD(.*?)\^FS", zpl)
    return sorted(
        ("Code128", code128_data(unhex(data))) if kind == "BC" else ("DataMatrix", unhex(data))
        for kind, data in fields
    )


@pytest.mark.parametrize("state", ["released", "quarantined"])
def test_the_zpl_label_carries_the_same_barcode_data_as_the_pdf(
    client, tech, quality, make_lot, state
):
    bag = lot_in(state, quality, make_lot).bags[0]
    pdf = client.get(f"{API}/bags/{bag.code}/label.pdf", headers=tech)
    zpl = client.get(f"{API}/bags/{bag.code}/label.zpl", headers=tech)
    assert zpl.status_code == 200 and zpl.mimetype == "application/zpl"
    assert zpl.headers["X-Label-Id"] == pdf.headers["X-Label-Id"]
    text = zpl.get_data(as_text=True).strip()
    assert text.startswith("^XA") and text.endswith("^XZ") and text.count("^XA") == 1
    (image,) = rasterise(pdf.data, dpi=300)
    read = decode(image)
    assert len(read) == 4 and zpl_symbols(text) == read


def test_a_lot_job_is_refused_once_its_template_file_changed_after_issue(
    app, client, tech, make_lot, tmp_path
):
    folder = tmp_path / "labels"
    shutil.copytree(settings().label_templates, folder)
    change_settings(app, CUSTODY_LABEL_TEMPLATES=folder)
    lot = make_lot(bags=2)
    url = f"{API}/lots/{lot.lot_number}/labels.pdf"
    issued = client.get(url, headers=tech)
    assert issued.status_code == 200
    edited = folder / "quarantine_product.v1.toml"
    text = edited.read_text(encoding="utf-8")
    edited.write_text(text.replace("Keep apart from released", "EDITED: keep apart from"))
    again = client.get(url, headers=tech)
    assert again.status_code == 409, again.get_data(as_text=True)
    error = again.get_json()["error"]
    assert error["code"] == "label_cannot_print" and "changed since" in error["message"]
    label_id = issued.headers.get("X-Label-Id") or error["details"]["label"]
    single = client.get(f"{API}/labels/{label_id}/label.pdf", headers=tech)
    assert single.status_code == 200
    assert not any("EDITED" in page for page in page_texts(single.data))
