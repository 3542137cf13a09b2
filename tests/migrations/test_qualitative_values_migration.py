"""Migration 0012: the qualitative tests of specifications written before it get their values
(the expected word first, then the standard culture outcomes), numeric tests none, and on
PostgreSQL the change is the migration's own, not a direct database change."""

from __future__ import annotations

import json

from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from custody.extensions import db
from tests.migrations.test_migrations import empty_app  # noqa: F401  (the fixture)


def _before_0012() -> str:
    config = current_app.extensions["migrate"].migrate.get_config()
    return ScriptDirectory.from_config(config).get_revision("0012").down_revision


def _spec_with(items: list[tuple[str, str, str | None]]) -> None:
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT set_config('custody.actor', 'test', true)"))
        spec_id = conn.execute(
            text(
                "INSERT INTO qc_specifications (product_description_code, version, status, notes,"
                " created_at) VALUES ('D0001', 1, 'approved', '', CURRENT_TIMESTAMP) RETURNING id"
            )
        ).scalar_one()
        for n, (test, kind, expected) in enumerate(items, start=1):
            conn.execute(
                text(
                    "INSERT INTO qc_spec_items (specification_id, sequence, test, title, kind,"
                    " unit, lower_inclusive, upper_inclusive, expected_text, may_be_pending,"
                    " judged_at_allocation, lower_limit) VALUES (:spec, :n, :test, :test, :kind,"
                    " '', true, false, :expected, false, false, :lower)"
                ),
                {
                    "spec": spec_id,
                    "n": n,
                    "test": test,
                    "kind": kind,
                    "expected": expected,
                    "lower": 70.0 if kind == "numeric" else None,
                },
            )


def test_older_qualitative_tests_are_given_their_values(empty_app):  # noqa: F811
    upgrade(revision=_before_0012())
    _spec_with(
        [
            ("sterility", "qualitative", "negative"),
            ("mycoplasma", "qualitative", " Negative "),
            ("appearance", "qualitative", "conforms"),
            ("viability", "numeric", None),
        ]
    )
    upgrade()
    rows = db.session.execute(text("SELECT test, allowed_values FROM qc_spec_items")).all()
    values = {test: _listed(v) for test, v in rows}
    assert values == {
        "sterility": ["negative", "positive", "indeterminate"],
        "mycoplasma": ["negative", "positive", "indeterminate"],
        "appearance": ["conforms", "negative", "positive", "indeterminate"],
        "viability": None,
    }
    direct = text("SELECT count(*) FROM audit_entries WHERE actor LIKE 'database:%'")
    assert db.session.scalar(direct) == 0
    db.session.remove()
    downgrade(revision=_before_0012())
    upgrade()


def _listed(value):
    return json.loads(value) if isinstance(value, str) else value
