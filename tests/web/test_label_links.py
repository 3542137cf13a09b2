"""Where people print labels in the browser: the bag page and the QA lot page."""

from __future__ import annotations

from tests.labels.label_reading import normalise, page_texts
from tests.web.test_bag_page import Marked, sign_in


def test_the_bag_page_offers_its_current_label_to_printers_only(
    client, make, make_lot, approved_labels
):
    technician = make.user("technician")
    code = make_lot(bags=1).bags[0].code
    sign_in(client, technician.username)
    page = Marked(client.get(f"/bags/{code}").get_data(as_text=True))
    assert page.one("bag-label-link") == "Quarantine label (PDF)"
    (link,) = page.attributes("bag-label-link")
    label = client.get(link["href"])
    assert label.status_code == 200 and label.mimetype == "application/pdf"
    assert "QUARANTINE — NOT FOR INFUSION" in normalise(page_texts(label.data)[0])

    nurse = make.user("nurse")
    sign_in(client, nurse.username)
    assert Marked(client.get(f"/bags/{code}").get_data(as_text=True)).all("bag-label-link") == []


def test_the_qa_lot_page_reconciles_the_lots_labels(
    client, make, make_lot, quality, approved_labels
):
    lot = quality.released_lot(make_lot, bags=2)
    printer = make.user("technician")
    client.get(
        f"/api/v1/bags/{lot.bags[0].code}/label.pdf",
        headers={"Authorization": f"Bearer {make.token(printer)}"},
    )
    sign_in(client, quality.qa.username)
    page = client.get(f"/qa/lots/{lot.lot_number}").get_data(as_text=True)
    section = Marked(page).one("label-reconciliation")
    assert "final product" in section and "1 bag(s) do not have it yet" in section
    assert (
        Marked(page)
        .attributes("lot-labels-link")[0]["href"]
        .endswith(f"/lots/{lot.lot_number}/labels.pdf")
    )
