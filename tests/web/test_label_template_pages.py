"""QA's label template pages, read with the Flask test client: every version with its state, and
one version's review page with the picture of the label it prints, its line-by-line change from
the version it replaces, and the approval offered only to QA and only when the service would
accept it (asked of the same function the service signs by)."""

from __future__ import annotations

import io
import re
import shutil

import pytest
from PIL import Image

from custody.config import settings
from custody.services.labelling.templates import approve_template
from tests.conftest import change_settings
from tests.factories import PASSWORD
from tests.web.test_bag_page import Marked, sign_in

OLD_LINE = (
    'text = "Not released by QA. Do not ship, allocate or infuse. Keep apart from released '
    'product."'
)
NEW_LINE = (
    'text = "Not released by QA. Do not ship, allocate or infuse. Store in quarantine racks."'
)
V1, V2 = "/labels/templates/quarantine_product/1", "/labels/templates/quarantine_product/2"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DPI = 200


def templates_with_a_second_version(app, tmp_path) -> None:
    """The shipped templates, plus a quarantine label version 2 that words one line anew."""
    folder = tmp_path / "labels"
    shutil.copytree(settings().label_templates, folder)
    text = (folder / "quarantine_product.v1.toml").read_text(encoding="utf-8")
    assert OLD_LINE in text and "version = 1\n" in text
    second = text.replace("version = 1\n", "version = 2\n").replace(OLD_LINE, NEW_LINE)
    (folder / "quarantine_product.v2.toml").write_text(second, encoding="utf-8")
    change_settings(app, CUSTODY_LABEL_TEMPLATES=folder)


def approve_first_version(make):
    qa = make.user("qa", username="quinn.qa", name="Quinn Adeyemi")
    approve_template(qa, "quarantine_product", 1, qa.username, PASSWORD)
    return qa


@pytest.fixture
def second_version(app, make, tmp_path):
    """v1 of the quarantine label approved (printing); v2 awaiting approval. Returns v1's signer."""
    templates_with_a_second_version(app, tmp_path)
    return approve_first_version(make)


def _html(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_the_list_shows_every_version_with_its_state(client, make, second_version):
    sign_in(client, second_version.username)
    html = _html(client, "/labels/templates")
    marked = Marked(html)
    states = dict(zip(_versions(html), marked.all("template-state"), strict=True))
    assert states["quarantine_product v1"] == "printing"
    assert states["quarantine_product v2"] == "awaiting approval"
    assert states["final_product v1"] == "awaiting approval"
    assert f'href="{V2}"' in html
    assert 'data-endpoint="label_templates.templates_page"' in html  # QA's navigation bar


def _versions(html: str) -> list[str]:
    found = re.findall(r'data-purpose="([a-z_]+)" data-version="(\d+)"', html)
    return [f"{purpose} v{version}" for purpose, version in found]


def test_a_version_shows_its_label_and_the_lines_it_changes(client, second_version):
    sign_in(client, second_version.username)
    html = _html(client, V2)
    marked = Marked(html)
    assert marked.all("diff-removed") == ["5 − version = 1", f"49 − {OLD_LINE}"]
    assert marked.all("diff-added") == ["5 + version = 2", f"49 + {NEW_LINE}"]
    assert marked.all("diff-gap") == ["…"]  # two changes far apart: the lines between left out
    # Unchanged lines around each change, numbered in both files (6 and 6).
    assert '66 title = "Quarantine bag label, 100 × 100 mm"' in marked.all("diff-same")
    assert "What changes from version 1" in html
    assert f'src="{V2}/preview.png"' in html
    assert marked.all("sign-meaning") == ["Approved label template for printing"]
    assert "Approve…" in html and 'data-testid="approval-refusal"' not in html


def test_the_preview_is_the_printed_label_as_a_png(client, second_version):
    sign_in(client, second_version.username)
    response = client.get(f"{V2}/preview.png")
    assert (response.status_code, response.mimetype) == (200, "image/png")
    assert response.data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(response.data))
    side = round(100 / 25.4 * DPI)  # the 100 × 100 mm quarantine label at 200 dpi
    assert abs(image.width - side) <= 2 and abs(image.height - side) <= 2
    ink = sum(image.convert("L").histogram()[:128])
    assert 0.05 < ink / (image.width * image.height) < 0.6  # printed on, not blank or black


def test_an_approved_version_is_not_offered_again(client, second_version):
    sign_in(client, second_version.username)
    html = _html(client, V1)
    marked = Marked(html)
    assert marked.all("approval-refusal") == [
        "quarantine_product v1 is already approved: a change to it is saved as a new version "
        "for QA to approve."
    ]
    assert marked.all("signature-meaning") == ["Approved label template for printing"]
    assert marked.all("signature-name") == ["Quinn Adeyemi"]
    assert "Approve…" not in html and 'data-testid="sign-dialog"' not in html
    assert marked.all("template-diff-none") == [
        "Version 1 is the first quarantine product template: it replaces no version."
    ]


@pytest.mark.parametrize("role", ["technician", "nurse", "admin"])
def test_only_qa_is_offered_the_approval(client, make, second_version, role):
    sign_in(client, make.user(role).username)
    html = _html(client, V2)
    assert Marked(html).all("approval-refusal") == [
        f"Only QA approves label templates; you are signed in as {role}."
    ]
    assert "Approve…" not in html and 'data-testid="sign-dialog"' not in html
    assert 'data-endpoint="label_templates.templates_page"' not in html


@pytest.mark.parametrize("version", [1, 2])
def test_the_page_offers_the_approval_exactly_when_the_api_accepts_it(
    client, make, second_version, version
):
    qa = make.user("qa")
    sign_in(client, qa.username)
    offered = "Approve…" in _html(client, f"/labels/templates/quarantine_product/{version}")
    answer = client.post(
        f"/api/v1/label-templates/quarantine_product/{version}/approval",
        json={"username": qa.username, "password": PASSWORD},
        headers=make.headers(qa),
    )
    assert offered is (answer.status_code == 201), answer.get_json()
    assert offered is (version == 2)


def test_an_unusable_file_is_listed_with_its_problems_and_has_no_page(app, client, make, tmp_path):
    templates_with_a_second_version(app, tmp_path)
    broken = tmp_path / "labels" / "shipper.v2.toml"
    broken.write_text('name = "shipper"\nversion = 2\n', encoding="utf-8")
    sign_in(client, make.user("qa").username)
    (invalid,) = Marked(_html(client, "/labels/templates")).all("invalid-templates")
    assert invalid.startswith("Files that can never be approved")
    assert "shipper.v2.toml:" in invalid
    response = client.get("/labels/templates/shipper/2")
    assert response.status_code == 404
    assert "There is no usable label template shipper v2" in response.get_data(as_text=True)
    assert client.get("/labels/templates/nothing/1/preview.png").status_code == 404
