"""Least privilege for patient data, walked over every page, as every role.

The same world as the API's walk (tests/patient_data_world.py: the demo plus Zyxwa
Quartzfield, infused and recalled). Every GET route outside the API is opened, signed in
through the login form as a technician, QA, a nurse and an administrator, with its path
parameters filled from that world (a route with parameters and no filler fails the walk).
The pages are rendered on the server, so the Flask test client reads what a person reads,
exports (CSV, PDF) included. A page must never show a recipient's name, birth date, record
number or wristband data to a role the permissions table withholds them from, and must show
them where the record is to the roles that see them.
"""

from __future__ import annotations

import re

import pytest
from flask import current_app

from custody.domain.permissions import Role, allows, permission, sees_patient_identifiers
from tests.api.test_patient_data_by_role import readable, shown
from tests.patient_data_world import ZQ_NAME, ZQ_SUBJECT, World, build, identifiers
from tests.services.demo.demo_database import loaded_demo
from tests.web.test_bag_page import sign_in

PARAMETER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


@pytest.fixture(scope="module")
def world(migrated_database, tmp_path_factory):
    with loaded_demo(migrated_database, tmp_path_factory, "patientdata_pages", ()):
        yield build(current_app._get_current_object())


def fillers(w: World) -> dict[str, list[str]]:
    """What each page is asked: its query, or its path parameters from the world's records."""
    return {
        "/audit": ["", "?record_type=recipients", f"?record_key={w.subject_id}"],
        "/audit/export.csv": ["?record_type=recipients"],
        "/audit/export.pdf": [f"?record_key={w.subject_id}"],
        "/bags/<code>": [w.bag, w.demo_stopped_bag, w.labelled_bag],
        "/clinic/recipients/<subject_id>": [w.subject_id, w.demo_subject_id],
        "/lookback": ["", f"?recipient={w.subject_id}", f"?lot={w.lot}"],
        # Two parameters: one value each, in the route's order.
        "/labels/templates/<purpose>/<int:version>": [("final_product", "2"), ("tie_tag", "1")],
        "/labels/templates/<purpose>/<int:version>/preview.png": [("tie_tag", "1")],
        "/qa/lots/<lot>": [w.lot],
        "/qa/recalls/<code>": [w.recall],
        "/shipments/<code>": [w.shipment, w.logged_shipment],
        "/shipments/<code>/live": [w.shipment, w.logged_shipment],
        "/static/<path:filename>": ["css/custody.css", "js/clinic.js"],
    }


# Where a role that sees patient identifiers must find our recipient's name.
MUST_SHOW = (
    "/clinic",
    "/clinic/recipients/{zq}",
    "/audit?record_key={zq}",
    "/audit/export.csv?record_type=recipients",
    "/audit/export.pdf?record_key={zq}",
)


def _page_rules(app) -> dict[str, object]:
    return {
        rule.rule: rule
        for rule in app.url_map.iter_rules()
        if not rule.rule.startswith("/api/") and "GET" in rule.methods
    }


def _urls(w: World) -> list[tuple[str, str]]:
    filled = fillers(w)
    urls = []
    for rule in sorted(_page_rules(w.app)):
        if PARAMETER.search(rule):
            urls += [(rule, _filled(rule, v)) for v in filled.get(rule, [])]
        else:
            urls += [(rule, f"{rule}{query}") for query in filled.get(rule, [""])]
    return urls


def _filled(rule: str, values: str | tuple[str, ...]) -> str:
    given = iter((values,) if isinstance(values, str) else values)
    return PARAMETER.sub(lambda _: next(given), rule)


def _use_case(w: World, rule: str):
    return getattr(w.app.view_functions[_page_rules(w.app)[rule].endpoint], "use_case", None)


def _answers_as(w: World, role: Role, rule: str, status: int) -> bool:
    """Whether `status` is what the table has `role` get: a page it may open (or one open to
    anyone: the sign-in form, static files) answers, any other is refused."""
    use_case = _use_case(w, rule)
    if use_case is None or permission(use_case).public:
        return status < 400
    return status < 300 if allows(role, use_case) else status == 403


def test_every_page_with_path_parameters_has_a_filler(world):
    rules = _page_rules(world.app)
    unfilled = [r for r in rules if PARAMETER.search(r) and not fillers(world).get(r)]
    assert unfilled == [], "add a filler for each new page, so the walk opens it"
    assert sorted(set(fillers(world)) - set(rules)) == []
    assert len(rules) >= 18
    assert len(_urls(world)) >= 25, len(_urls(world))


@pytest.mark.parametrize("role", list(Role))
def test_a_page_shows_patient_identifiers_only_to_a_role_that_may_see_them(world, role):
    words = identifiers()
    client = world.app.test_client()
    sign_in(client, world.username(role))
    wrong, leaks, showing = [], [], set()
    for rule, url in _urls(world):
        answer = client.get(url)
        if not _answers_as(world, role, rule, answer.status_code):
            wrong.append((url, answer.status_code))
            continue
        if answer.status_code >= 300:
            continue
        found = shown(readable(answer), words)
        if any(subject == ZQ_SUBJECT and word == ZQ_NAME for subject, word in found):
            showing.add(url)
        if found and not sees_patient_identifiers(role):
            leaks.append((url, sorted(found)[:4]))
    assert (wrong, leaks) == ([], []), f"{role.value}: wrongly answered, or shown identifiers"
    wanted = {url.format(zq=world.subject_id) for url in MUST_SHOW}
    reachable = {
        url for rule, url in _urls(world) if url in wanted and allows(role, _use_case(world, rule))
    }
    if sees_patient_identifiers(role):
        assert reachable - showing == set(), f"{role.value} must see the recipient's name there"
    else:
        assert reachable and showing == set()


def test_a_technician_reads_the_recipient_by_subject_id_and_may_print_the_tie_tag(world):
    client = world.app.test_client()
    sign_in(client, world.username(Role.TECHNICIAN))
    page = client.get(f"/clinic/recipients/{world.subject_id}").get_data(as_text=True)
    assert f"<h1>{world.subject_id}</h1>" in page
    assert 'data-testid="identifiers-withheld"' in page
    assert 'data-testid="wristband"' not in page
    # The tie-tag prints (its link is there); what it says is not on the page.
    assert f"/api/v1/bags/{world.bag}/tie-tag.pdf" in page
    nurse = world.app.test_client()
    sign_in(nurse, world.username(Role.NURSE))
    seen = nurse.get(f"/clinic/recipients/{world.subject_id}").get_data(as_text=True)
    assert ZQ_NAME in seen and 'data-testid="wristband"' in seen
    assert 'data-testid="identifiers-withheld"' not in seen
