"""What the bedside's browser tests share: a bag and a wristband as the scanners read them, two
nurses, and the steps a nurse takes, driven the way a keyboard-wedge scanner drives the page.

Scans are typed with the keyboard into whatever has focus, then Enter: if the page lost the
focus between the wristband and the bag, the test fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import Page, expect

from custody.domain.isbt128 import check_character
from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import wristband_data
from custody.services.clinic.bedside import VerificationRequest, verify
from custody.services.clinic.infusions import start_infusion
from custody.services.core.facility import site_zone
from tests.factories import PASSWORD
from tests.web.conftest import browser_sign_in


@dataclass(frozen=True)
class Bedside:
    bag_code: str
    bag_scan: str
    din: str
    k: str
    product_code: str
    wristband: str
    recipient_name: str
    record_number: str

    @property
    def din_read(self) -> str:
        """The DIN's own Code 128 as a hand scanner reads it (=, DIN, two flag characters)."""
        return f"={self.din}00"

    @property
    def product_read(self) -> str:
        return f"=<{self.product_code}"

    @property
    def din_words(self) -> str:
        return f"{self.din[:5]} {self.din[5:7]} {self.din[7:]}"


@dataclass(frozen=True)
class Nurse:
    id: int
    username: str
    name: str


def bedside_of(bag, recipient) -> Bedside:
    return Bedside(
        bag_code=bag.code,
        bag_scan=bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone()),
        din=bag.din,
        k=check_character(bag.din),
        product_code=bag.product_code,
        wristband=wristband_data(recipient.hospital_record_number, recipient.birth_date),
        recipient_name=recipient.name,
        record_number=recipient.hospital_record_number,
    )


def sign_in_at_bedside(page: Page, live_server: str, username: str) -> None:
    browser_sign_in(page, live_server, username, "/bedside")
    expect(page.get_by_role("heading", name="Bedside check")).to_be_visible()


def scan(page: Page, field: str, data: str) -> None:
    """What a keyboard-wedge scanner does: type into the focused field, then Enter."""
    expect(page.locator(f"#{field}")).to_be_focused()
    page.keyboard.type(data)
    page.keyboard.press("Enter")


def scan_both(page: Page, bedside: Bedside, wristband: str | None = None) -> None:
    scan(page, "wristband-input", wristband or bedside.wristband)
    scan(page, "bag-input", bedside.bag_scan)


def check(page: Page, name: str):
    return page.get_by_test_id(f"check-{name}")


def started_infusion(first, second_username: str, bag, recipient) -> dict:
    """Verified by two nurses and started, as if on another tablet: the server's record only."""
    verified = verify(
        first,
        VerificationRequest(
            recipient=wristband_data(recipient.hospital_record_number, recipient.birth_date),
            bag=bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone()),
            second_verifier={"username": second_username, "password": PASSWORD},
        ),
    )
    assert verified.passed, verified.stop_reason
    return start_infusion(first, verified.uid)
