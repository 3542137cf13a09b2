"""The clinic pages, rendered on the server: the dashboard of what is due and who lacks
product, and a recipient's record with wristband data, calendar and allocations."""

from __future__ import annotations

from custody.domain.wristband import read_wristband
from tests.web.test_bag_page import Marked, sign_in


def page(client, url: str) -> Marked:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return Marked(response.get_data(as_text=True))


def attrs(marked: Marked, testid: str, name: str) -> list[str | None]:
    return [a.get(name) for a in marked.attributes(testid)]


def test_dashboard_lists_a_recipient_who_lacks_a_bag_and_not_one_who_has_it(client, make, clinic):
    waiting = clinic.recipient(status="lymphodepletion")
    served = clinic.recipient(status="lymphodepletion")
    (bag,) = clinic.released_bags(1)
    clinic.allocate(bag, served)
    sign_in(client, make.user("nurse").username)
    board = page(client, "/clinic")
    lacking = attrs(board, "needs-bag-row", "data-subject")
    assert waiting.subject_id in lacking
    assert served.subject_id not in lacking
    assert {waiting.subject_id, served.subject_id} <= set(
        attrs(board, "recipient-row", "data-subject")
    )


def test_recipient_page_shows_a_wristband_that_reads_back_to_the_recipient(client, make, clinic):
    recipient = clinic.recipient()
    sign_in(client, make.user("nurse").username)
    shown = page(client, f"/clinic/recipients/{recipient.subject_id}")
    identity = read_wristband(shown.one("wristband"))
    assert identity.patient_number == recipient.hospital_record_number
    assert identity.birth_date == recipient.birth_date
    assert shown.one("recipient-dose-level").endswith("DL2")


def test_allocation_forms_are_offered_to_qa_and_not_to_a_nurse(client, make, clinic):
    recipient = clinic.recipient()
    (bag,) = clinic.released_bags(1)
    clinic.allocate(bag, recipient)
    sign_in(client, make.user("nurse").username)
    as_nurse = page(client, f"/clinic/recipients/{recipient.subject_id}")
    assert attrs(as_nurse, "allocation", "data-bag") == [bag.code]
    assert (
        len(as_nurse.attributes("allocate-form")) == 0
        and len(as_nurse.attributes("deallocate-form")) == 0
    )
    client.post("/logout")
    sign_in(client, make.user("qa").username)
    as_qa = page(client, f"/clinic/recipients/{recipient.subject_id}")
    # Infusion 1 holds its bag and no second one is ordered: no allocation, each says why.
    assert len(as_qa.attributes("allocate-form")) == 0
    assert attrs(as_qa, "infusion-refused", "data-infusion") == ["1", "2"]
    assert len(as_qa.attributes("deallocate-form")) == 1
    assert len(as_qa.attributes("tie-tag-link")) == 1
    waiting = page(client, f"/clinic/recipients/{clinic.recipient().subject_id}")
    assert len(waiting.attributes("allocate-form")) == 1


def test_unknown_recipient_is_a_404_page_in_words(client, make):
    sign_in(client, make.user("nurse").username)
    response = client.get("/clinic/recipients/CAR33-NOBODY")
    assert response.status_code == 404
    assert "CAR33-NOBODY" in response.get_data(as_text=True)


def test_clinic_pages_need_a_sign_in(client):
    response = client.get("/clinic")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
