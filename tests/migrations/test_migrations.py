"""The schema comes from the migrations: head matches the models, and down/up round-trips."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, make_url

from custody import create_app
from custody.extensions import db
from custody.models import Base
from tests.conftest import PG_URL, TEST_SECRET, _drop_pg_database, _recreate_pg_database, _worker


@pytest.fixture
def empty_app(tmp_path):
    if PG_URL:
        name = f"{make_url(PG_URL).database}_migrations_{_worker()}"
        url = _recreate_pg_database(PG_URL, name)
    else:
        url = f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
    app = create_app({"CUSTODY_DATABASE_URL": url, "CUSTODY_SECRET_KEY": TEST_SECRET})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    if PG_URL:
        _drop_pg_database(PG_URL, name)


def _differences() -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_head_schema_is_what_the_models_describe(empty_app):
    upgrade()
    assert _differences() == []


def test_downgrade_to_base_and_upgrade_again(empty_app):
    upgrade()
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert _differences() == []
    assert "audit_entries" in inspect(db.engine).get_table_names()


def test_constraints_have_conventional_names(empty_app):
    upgrade()
    inspector = inspect(db.engine)
    fks = inspector.get_foreign_keys("bags")
    assert {fk["name"] for fk in fks} >= {"fk_bags_lot_id_lots"}
    uniques = {u["name"] for u in inspector.get_unique_constraints("bags")}
    assert "uq_bags_identity" in uniques
