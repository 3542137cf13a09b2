"""Least privilege for patient data, walked over every GET endpoint of the API, as every role.

The world is the demo plus Zyxwa Quartzfield, taken from registration to a recalled infusion
through the API (tests/patient_data_world.py). Every GET route under /api/v1 (FHIR included)
is asked about that world's records by a technician, QA, a nurse and an administrator; a route
with path parameters must have a filler below, so a new endpoint cannot slip past unasked.
Each answer is read as a person or a program would read it (JSON, CSV, PDF words, ZPL, SVG),
and fails on any recipient's name, birth date (ISO or the wristband's yyyymmdd), hospital
record number or wristband data shown to a role the permissions table's field-level rule
withholds them from. The roles that may see them must see them where the record is shown, so
the walk cannot pass by withholding everything. The one exception is the tie-tag's bytes: a
technician may print them, and the print is in the audit trail with them as actor.
"""

from __future__ import annotations

import html
import importlib
import inspect
import json
import pkgutil
import re
from datetime import date

import pytest
from flask import current_app
from marshmallow import Schema
from sqlalchemy import select

import custody.schemas
from custody.domain.permissions import (
    PATIENT_IDENTIFIER_FIELDS,
    Role,
    allows,
    sees_patient_identifiers,
)
from custody.extensions import db
from custody.models import AuditEntry, LabelPrint
from custody.schemas.common import PatientDataOut, answering
from custody.schemas.recipients import WristbandOut
from tests.labels.label_reading import normalise, page_texts
from tests.patient_data_world import ZQ_NAME, ZQ_SUBJECT, World, build, identifiers
from tests.services.demo.demo_database import loaded_demo

API = "/api/v1"
PARAMETER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


@pytest.fixture(scope="module")
def world(migrated_database, tmp_path_factory):
    with loaded_demo(migrated_database, tmp_path_factory, "patientdata_api", ()):
        yield build(current_app._get_current_object())


def fillers(w: World) -> dict[str, list[str]]:
    """What each GET route is asked: the query after the rule, or the rule with its path
    parameters filled with the world's records (a route left out is asked bare, unless it has
    path parameters: then the walk fails)."""
    zq, demo, bag, lot = w.subject_id, w.demo_subject_id, w.bag, w.lot
    product, version = w.specification
    return {
        "/allocations": [f"?recipient={zq}", f"?recipient={demo}&active=true"],
        "/audit/entries": ["", "?record_type=recipients", f"?record_key={zq}"],
        "/audit/entries.csv": ["?record_type=recipients", "?record_type=bedside_verifications"],
        "/audit/entries.pdf": [f"?record_key={zq}"],
        "/bags": ["", f"?lot={lot}"],
        "/bags/<code>": [bag, w.demo_stopped_bag],
        "/bags/<code>/custody-report.pdf": [bag, w.demo_stopped_bag],
        "/bags/<code>/history": [bag, w.demo_stopped_bag],
        "/bags/<code>/label.pdf": [w.labelled_bag],
        "/bags/<code>/label.zpl": [w.labelled_bag],
        "/bags/<code>/tie-tag.pdf": [bag],
        "/bags/<code>/tie-tag.zpl": [bag],
        "/bedside/thaws/<bag_code>": [bag],
        "/bedside/verifications/<uid>": w.verifications,
        "/donations/<din>": [w.din],
        "/donations/<din>/label.pdf": [w.din],
        "/donations/<din>/label.zpl": [w.din],
        "/donors/<donor_code>": [w.donor],
        "/fhir/BiologicallyDerivedProduct/<code>": [bag],
        "/fhir/BiologicallyDerivedProductDispense": [f"?patient={zq}"],
        "/fhir/BiologicallyDerivedProductDispense/<code>": [bag],
        "/infusions": ["", f"?recipient={zq}", "?in_progress=true"],
        "/isbt128/dins/<din>": [w.din],
        "/labels/<int:label_id>": [w.tie_tag_label, w.bag_label],
        "/labels/<int:label_id>/label.pdf": [w.tie_tag_label, w.bag_label],
        "/labels/<int:label_id>/label.zpl": [w.tie_tag_label, w.bag_label],
        "/locations/<code>": [w.location],
        "/locations/<code>/label.pdf": [w.location],
        "/lookback": [f"?recipient={zq}", f"?lot={lot}", f"?donor={w.donor}"],
        "/lots/<lot>": [lot],
        "/lots/<lot>/certificate.pdf": [lot],
        "/lots/<lot>/label-reconciliation": [lot],
        "/lots/<lot>/labels.pdf": [lot],
        "/lots/<lot>/labels.zpl": [lot],
        "/lots/<lot>/quality": [lot],
        "/recalls/<code>": [w.recall],
        "/recalls/preview": [f"?scope=lot&value={lot}"],
        "/recipients": ["", "?status=infused"],
        "/recipients/<subject_id>": [zq, demo],
        "/recipients/<subject_id>/calendar": [zq, demo],
        "/recipients/<subject_id>/wristband": [zq, demo],
        "/samples/<code>": [w.sample],
        "/scans/log": [f"?station={w.station}"],
        "/samples/<code>/barcode.svg": [w.sample],
        "/shipments/<code>": [w.shipment],
        "/shipments/<code>/label.pdf": [w.shipment],
        "/shipments/<code>/label.zpl": [w.shipment],
        "/shipments/<code>/temperatures": [w.logged_shipment],
        "/specifications/<product>/<int:version>": [f"{product}/{version}"],
        "/trial/dashboard": ["", "?days=60"],
    }


# Where a role that sees patient identifiers must find our recipient's name: their record,
# the wristband, the list, the infusions, the bedside check that stopped, the tie-tag's values,
# the tie-tag itself, and (where the role may open them) the audit trail and FHIR dispenses.
MUST_SHOW = (
    "/recipients",
    "/recipients/{zq}",
    "/recipients/{zq}/wristband",
    "/infusions?recipient={zq}",
    "/bedside/verifications/{stopped}",
    "/labels/{tie_tag}",
    "/bags/{bag}/tie-tag.pdf",
    "/audit/entries?record_key={zq}",
    "/audit/entries.csv?record_type=recipients",
    "/audit/entries.pdf?record_key={zq}",
    "/fhir/BiologicallyDerivedProductDispense?patient={zq}",
)


def _get_rules(app) -> dict[str, object]:
    """Every GET route under the API (FHIR lives there too), by rule without the prefix."""
    return {
        rule.rule.removeprefix(API): rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API) and "GET" in rule.methods
    }


def _urls(w: World) -> list[tuple[str, str]]:
    """(rule, URL) for every GET route: filled where it has path parameters, else asked bare
    or with the queries above."""
    filled = fillers(w)
    urls = []
    for rule in sorted(_get_rules(w.app)):
        if PARAMETER.search(rule):
            for value in filled.get(rule, []):
                urls.append((rule, _fill(rule, str(value))))
        else:
            urls += [(rule, f"{rule}{query}") for query in filled.get(rule, [""])]
    return urls


def _fill(rule: str, value: str) -> str:
    """The rule with its path parameters replaced by `value`'s parts (`product/version`)."""
    parts = iter(value.split("/") if rule.count("<") > 1 else [value])
    return PARAMETER.sub(lambda _: next(parts), rule)


def readable(answer) -> str:
    """The answer as a person or a program reads it: JSON values, words of a PDF, text."""
    body = answer.get_data()
    if answer.mimetype == "application/pdf":
        return normalise(" ".join(page_texts(body)))
    if answer.mimetype.endswith("json"):
        return json.dumps(json.loads(body), ensure_ascii=False)
    return html.unescape(body.decode("utf-8", errors="replace"))


def shown(text: str, words: dict[str, frozenset[str]]) -> list[tuple[str, str]]:
    """(subject ID, identifier) for each recipient identifier the text holds, in any case."""
    folded = text.casefold()
    return [
        (subject, w) for subject, found in words.items() for w in found if w.casefold() in folded
    ]


def tie_tag_prints(w: World) -> set[str]:
    """The tie-tag's bytes: the one answer a technician gets that carries the identity."""
    return {
        f"/bags/{w.bag}/tie-tag.pdf",
        f"/bags/{w.bag}/tie-tag.zpl",
        f"/labels/{w.tie_tag_label}/label.pdf",
        f"/labels/{w.tie_tag_label}/label.zpl",
    }


def test_every_get_route_with_path_parameters_has_a_filler(world):
    rules = _get_rules(world.app)
    unfilled = [r for r in rules if PARAMETER.search(r) and not fillers(world).get(r)]
    assert unfilled == [], "add a filler for each new GET route, so the walk asks it"
    stale = sorted(set(fillers(world)) - set(rules))
    assert stale == []
    assert len(rules) >= 66  # the walk really saw the routes
    assert len(_urls(world)) >= 85, len(_urls(world))


def test_each_filled_url_is_answered_by_its_own_route(world):
    adapter = world.app.url_map.bind("localhost")
    for rule, url in _urls(world):
        endpoint, _ = adapter.match(f"{API}{url.split('?')[0]}", method="GET")
        assert endpoint == _get_rules(world.app)[rule].endpoint, url


@pytest.mark.parametrize("role", list(Role))
def test_a_role_sees_patient_identifiers_exactly_where_the_rule_lets_it(world, role):
    words = identifiers()
    headers = world.headers[role]
    sees = sees_patient_identifiers(role)
    exceptions = tie_tag_prints(world)
    leaks, refused_wrongly, showing = [], [], set()
    for rule, url in _urls(world):
        answer = world.client.get(f"{API}{url}", headers=headers)
        expected = 200 if _allowed(world, role, rule) else 403
        if answer.status_code != expected:
            refused_wrongly.append((url, answer.status_code, answer.get_data(as_text=True)[:300]))
            continue
        if expected != 200:
            continue
        found = shown(readable(answer), words)
        if any(subject == ZQ_SUBJECT and word == ZQ_NAME for subject, word in found):
            showing.add(url)
        if found and not sees and url not in exceptions:
            leaks.append((url, sorted(found)[:4]))
    assert (refused_wrongly, leaks) == ([], []), f"{role.value}: refused, or shown identifiers"
    if sees:
        missing = _must_show(world, role) - showing
        assert missing == set(), f"{role.value} must see the recipient's name there"
    else:
        # Only the tie-tag's bytes, which they may print, carry the name to a technician.
        assert showing == exceptions


def _allowed(world: World, role: Role, rule: str) -> bool:
    view = world.app.view_functions[_get_rules(world.app)[rule].endpoint]
    use_case = getattr(view, "use_case", None)  # None: the OpenAPI document, open to all
    return use_case is None or allows(role, use_case)


def _must_show(world: World, role: Role) -> set[str]:
    """MUST_SHOW's URLs that `role` may open."""
    wanted = {
        url.format(
            zq=world.subject_id,
            stopped=world.verifications[0],
            tie_tag=world.tie_tag_label,
            bag=world.bag,
        )
        for url in MUST_SHOW
    }
    return {url for rule, url in _urls(world) if url in wanted and _allowed(world, role, rule)}


def test_the_technicians_tie_tag_print_is_in_the_audit_trail_with_them_as_actor(world):
    technician = world.username(Role.TECHNICIAN)
    label = db.session.get(LabelPrint, world.tie_tag_label)
    assert (label.purpose, label.printed_by.username) == ("tie_tag", technician)
    entry = db.session.scalar(
        select(AuditEntry).where(
            AuditEntry.record_type == "label_prints",
            AuditEntry.record_id == str(label.id),
            AuditEntry.action == "create",
        )
    )
    assert entry is not None and entry.actor == technician
    printed = json.loads(entry.changes)
    assert printed["purpose"] == [None, "tie_tag"]
    assert printed["printed_by_id"] == [None, label.printed_by_id]


# Fields named like an identifier that hold none of a recipient's: a donor's birth date, the
# names of materials, locations and reagent lots; and the bedside's wristband read, an object
# whose own fields are marked.
NOT_A_RECIPIENTS = {
    ("DonorOut", "birth_date"),
    ("MaterialOut", "name"),
    ("LocationItemOut", "name"),
    ("LocationNodeOut", "name"),
    ("LocationOut", "name"),
    ("ReagentLotOut", "name"),
    ("BedsideWristbandOut", "wristband"),
}


def _output_schemas() -> list[type[Schema]]:
    found = []
    for module in pkgutil.iter_modules(custody.schemas.__path__):
        loaded = importlib.import_module(f"custody.schemas.{module.name}")
        for _, schema in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(schema, Schema) and schema.__module__ == loaded.__name__:
                found.append(schema)
    return [s for s in found if not s.__name__.endswith(("In", "Query"))]


def test_every_output_field_holding_an_identifier_is_marked_and_withheld():
    unmarked, unwithheld = [], []
    for schema in _output_schemas():
        for name, field in schema._declared_fields.items():
            marked = field.metadata.get("patient_identifier", False)
            namesake = (schema.__name__, name) in NOT_A_RECIPIENTS
            if name in PATIENT_IDENTIFIER_FIELDS and not marked and not namesake:
                unmarked.append(f"{schema.__name__}.{name}")
            if marked and not issubclass(schema, PatientDataOut):
                unwithheld.append(f"{schema.__name__}.{name}")
    assert (unmarked, unwithheld) == ([], [])
    assert len(_output_schemas()) > 100


def test_a_schema_dumps_identifiers_only_for_a_reader_who_may_see_them():
    band = {
        "subject_id": "CAR33-ZQ-01",
        "wristband": "&#0007ZQ90417=#0019470329",
        "name": "Zyxwa Quartzfield",
        "birth_date": date(1947, 3, 29),
        "hospital_record_number": "ZQ90417",
    }
    whole = band | {"birth_date": "1947-03-29"}
    assert WristbandOut().dump(band) == {"subject_id": "CAR33-ZQ-01"}  # nobody: withheld
    for role in Role:
        with answering(role):
            dumped = WristbandOut().dump(band)
        assert dumped == (
            whole if sees_patient_identifiers(role) else {"subject_id": "CAR33-ZQ-01"}
        )
    with answering(None):
        assert WristbandOut().dump(band) == {"subject_id": "CAR33-ZQ-01"}
