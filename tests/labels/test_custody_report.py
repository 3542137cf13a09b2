"""The custody report of a bag: read back from the PDF with a real PDF library (pypdf).

It must name the bag (DIN with K, product code, lot, disposition, recipient), the chain of
identity, every step with its flags, the excursions, gaps and deviations, and QA's signature
(printed name, time, meaning); every page numbered "Page x of y"; a long history paginated
with the table's header on each page.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pypdf
import pytest

from custody.documents.custody_report import ReportContext, render_custody_report
from custody.domain.custody_timeline import Flag, IdentityLink, Step, Timeline
from custody.domain.isbt128 import check_character, eye_readable_din
from tests.api.responses import error
from tests.services.traceability.custody_journey import DEVIATION, PEAK_C, infused_journey

DIN = "W999926000042"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _pages(pdf: bytes) -> list[str]:
    """Each page's text with runs of whitespace made one space (table cells wrap)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [re.sub(r"\s+", " ", page.extract_text()) for page in reader.pages]


def _report(client, make, code: str, role: str = "nurse", name: str = "Nadia Report"):
    user = make.user(role, name=name)
    headers = {"Authorization": f"Bearer {make.token(user)}"}
    return client.get(f"/api/v1/bags/{code}/custody-report.pdf", headers=headers), user


# --- an infused bag, from the API ---------------------------------------------------------------


def test_the_report_of_an_infused_bag_tells_identity_custody_flags_and_signature(
    client, make, quality, clinic, make_lot
):
    journey = infused_journey(make, quality, clinic, make_lot)

    response, reader = _report(client, make, journey.code)

    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert (
        f'filename="custody-report-{journey.code}.pdf"' in response.headers["Content-Disposition"]
    )
    pages = _pages(response.data)
    text = " ".join(pages)
    assert text.startswith("Chain of Identity and Chain of Custody Report")
    # The header: bag, DIN eye-readable with its check character, product code, lot, status.
    din, k = eye_readable_din(journey.din), check_character(journey.din)
    for words in (
        f"Bag {journey.code}",
        f"DIN [K] {din} {k}",
        "CD33 CAR-NK cells (product code D0001VA0)",
        f"Lot {journey.lot}",
        "Lot disposition RELEASED",
        "Bag status INFUSED",
        f"Recipient (subject ID) {journey.subject_id}",
        f"by {reader.full_name} ({reader.username})",
    ):
        assert words in text, words
    # The chain of identity, donor to recipient.
    chain = text[text.index("Chain of identity") : text.index("Gaps, excursions")]
    positions = [
        chain.index(value)
        for value in (journey.donor, f"{din} {k}", journey.lot, journey.code, journey.subject_id)
    ]
    assert positions == sorted(positions)
    # Findings: the excursion and the deviation, each named and explained.
    findings = text[text.index("Gaps, excursions") : text.index("Chain of custody")]
    assert "2 findings" in findings
    assert "TEMPERATURE EXCURSION" in findings and f"peak {PEAK_C:.1f} °C" in findings
    assert "DEVIATION" in findings and DEVIATION in findings
    # Every step, in order, with its people, places and temperatures.
    custody = text[text.index("Chain of custody") : text.index("QA release signature")]
    titles = [
        "Collected from the donor",
        "Collection received at the cell lab",
        "Manufacturing step 1: NK expansion start",
        "Manufacturing step 2: CAR transduction",
        "Filled into its bag",
        "Taken into quarantine",
        "Stored",
        "Released by QA",
        "Released for use",
        "Allocated to a recipient",
        "Packed into a shipment",
        "Handed to the courier",
        "Received at the clinical site",
        "Thaw started",
        "Thawed",
        "Verified at the bedside by two people",
        "Infused",
    ]
    assert "17 steps, oldest first" in custody
    at = [custody.index(title) for title in titles]
    assert at == sorted(at), titles
    for words in ("-185.0", "-186.0", "-190.0", "-184.0", "37.0", journey.tech, journey.nurse):
        assert words in custody, words
    assert journey.second_nurse in custody and "Volume infused: 19.5 mL" in custody
    # Each custody event's change of state, in characters the font has (no "→" boxes).
    assert "FILLED -> QUARANTINED" in custody and "VERIFIED -> INFUSED" in custody
    assert "→" not in text
    # QA's signature as 21 CFR 11.50 shows it.
    signature = text[text.index("QA release signature") :]
    assert "Disposition: released" in signature
    assert f"Electronically signed by {journey.signer}" in signature
    assert "Meaning: Approved for release" in signature
    # Every page numbered, the bag named in every footer.
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert f"Custody report · Bag {journey.code}" in page


@pytest.mark.parametrize("role", ["technician", "qa", "nurse", "admin"])
def test_every_signed_in_role_may_print_the_report(client, make, make_lot, role):
    code = make_lot(bags=1).bags[0].code

    response, _ = _report(client, make, code, role)

    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    text = " ".join(_pages(response.data))
    assert "Not allocated to a recipient" in text
    assert "No QA decision has been signed for lot" in text


@pytest.mark.parametrize("code", ["W999926999999-D0001VA0", "not-a-bag", "x" * 300, "<script>"])
def test_an_unknown_bag_is_404_with_the_error_envelope(client, make, code):
    response, _ = _report(client, make, code)

    body = error(response, 404, "not_found")
    assert "bag" in body["message"].lower()


def test_a_code_that_cannot_be_stored_is_refused_in_words_not_a_500(client, make):
    response, _ = _report(client, make, "W9999%00")

    assert "NUL" in error(response, 422, "validation_error")["message"]


def test_the_report_needs_a_signed_in_caller(client, make_lot):
    code = make_lot(bags=1).bags[0].code

    response = client.get(f"/api/v1/bags/{code}/custody-report.pdf")

    assert response.status_code == 401 and response.get_json()["error"]["code"]


# --- rendering, from a timeline made by hand ----------------------------------------------------


def _step(n: int, **changes) -> Step:
    fields = {
        "kind": "custody",
        "action": "move",
        "title": f"Moved, scan {n:03d}",
        "at": T0 + timedelta(minutes=7 * n),
        "place": f"Lab › LN2 freezer 1 › Rack {n % 4} › Box 2 › Position {n % 9}",
        "person": "Tess Okafor (tess)",
        "temperature_c": -185.0,
        "details": [("Notes", f"routine move {n}")],
        "custody": True,
        "event": {
            "from_status": "stored",
            "to_status": "stored",
            "raw_scan": f"={DIN}00=<D0001VA0",
            "station": "Bench 2",
            "out_of_storage": None,
        },
        "since_previous": timedelta(minutes=7) if n > 1 else None,
    }
    return Step(**(fields | changes))


def _timeline(steps: list[Step], **changes) -> Timeline:
    fields = {
        "bag": f"{DIN}-D0001VA0",
        "din": DIN,
        "check_character": check_character(DIN),
        "product_code": "D0001VA0",
        "division": "A0",
        "status": "stored",
        "lot": "LT-0042",
        "disposition": "released",
        "recipient": None,
        "parent": None,
        "identity": [
            IdentityLink("donor", "Donor", "DNR-0042", "eligibility: eligible"),
            IdentityLink("donation", "Donation (DIN)", f"{DIN} [K]", "collected", DIN),
            IdentityLink("lot", "Lot", "LT-0042", "disposition: released"),
            IdentityLink("bag", "Bag", f"{DIN}-D0001VA0", "product code D0001VA0", DIN),
            IdentityLink("recipient", "Recipient", "none", "not allocated to a recipient"),
        ],
        "steps": steps,
        "release": {
            "disposition": "released",
            "signature": {
                "printed_name": "Quinn Assurance",
                "username": "qa1",
                "signed_at": T0 + timedelta(hours=1),
                "meaning": "Approved for release",
                "reason": "",
            },
            "signature_valid": False,
            "invalid_because": "potency result corrected",
            "pending_tests": [],
            "certificate_number": "COA-LT-0042-1",
        },
        "gap_limit": timedelta(minutes=30),
        "zone": "Europe/London",
        "as_of": T0 + timedelta(days=2),
    }
    return Timeline(**(fields | changes))


CONTEXT = ReportContext(
    generated_at=T0 + timedelta(days=2),
    generated_by="Ines Spector (inspector)",
    facility_name="Cell Therapy Laboratory",
    facility_address="1 Hospital Road, London",
    product_name="CD33 CAR-NK cells",
)


def test_a_200_step_history_paginates_with_the_header_on_every_page():
    steps = [_step(n) for n in range(1, 201)]

    pages = _pages(render_custody_report(_timeline(steps), CONTEXT))

    assert len(pages) >= 5
    text = " ".join(pages)
    for n in range(1, 201):
        assert f"Moved, scan {n:03d}" in text
    table_pages = [p for p in pages if "Moved, scan" in p]
    assert len(table_pages) >= 4
    for page in table_pages:
        assert "No. Time Step Place Person °C Flags" in page
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
    assert "200 steps, oldest first" in text


def test_flags_markup_characters_and_a_signature_that_no_longer_holds_are_printed():
    gap = Flag("gap", "warning", "No custody record for 1 h 10 min, between 'Taken out'.")
    hot = Flag("excursion", "alert", "Shipment SHP-1 was above -150 °C, peak -120.5 °C.")
    odd = Flag("deviation", "warning", "Volume <5 % & below target")
    steps = [
        _step(1, title="Stored <A&B>", details=[("Raw", "=<D0001VA0&>0260311159")]),
        _step(2, flags=[gap]),
        _step(3, flags=[hot, odd], bag=f"{DIN}-D0001VA0"),
    ]

    text = " ".join(_pages(render_custody_report(_timeline(steps), CONTEXT)))

    assert "Stored <A&B>" in text and "Raw: =<D0001VA0&>0260311159" in text
    findings = text[text.index("Gaps, excursions") : text.index("Chain of custody")]
    assert "3 findings" in findings
    assert "GAP IN CUSTODY No custody record for 1 h 10 min" in findings
    assert "TEMPERATURE EXCURSION Shipment SHP-1 was above -150 °C, peak -120.5 °C." in findings
    assert "DEVIATION Volume <5 % & below target" in findings
    assert f"(parent bag {DIN}-D0001VA0)" in text
    assert "THIS SIGNATURE NO LONGER HOLDS: potency result corrected" in text
    assert "Certificate: COA-LT-0042-1" in text
    # Local time in the facility's zone, UTC beneath, the interval since the step before.
    assert "2026-03-01 08:07:00 GMT 2026-03-01 08:07:00 UTC" in text
    assert "+7 min 00 s" in text
    assert "Generated 2026-03-03 08:00:00 GMT (2026-03-03 08:00:00 UTC) by Ines Spector" in text


def test_the_same_timeline_gives_the_same_bytes():
    steps = [_step(n) for n in range(1, 6)]
    first = render_custody_report(_timeline(steps), CONTEXT)
    assert render_custody_report(_timeline(steps), CONTEXT) == first
