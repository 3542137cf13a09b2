"""Fixtures: `app`, `client`, `runner`, and a fresh, migrated database for every test.

The schema always comes from the migrations. They run once per test process; each test then
gets a fresh copy (SQLite: a copy of the migrated file; PostgreSQL: the worker's own database,
emptied). Set CUSTODY_TEST_DATABASE_URL to run the same suite on PostgreSQL.
"""

from __future__ import annotations

import contextvars
import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text

from custody import create_app
from custody.config import EXTENSION_KEY, VARIABLES
from custody.extensions import db
from tests.factories import (
    ClinicFactory,
    Factories,
    LotFactory,
    QualityFactory,
    RecipientFactory,
    approve_label_templates,
)

PG_URL = os.environ.get("CUSTODY_TEST_DATABASE_URL")
TEST_SECRET = "test-secret-" * 3


def change_settings(app: Flask, **variables: object) -> None:
    """Test set-up: the app's settings as if these variables had been set when it started,
    each read by its own parser (a bad value fails the test as it would fail the start)."""
    by_name = {variable.name: variable for variable in VARIABLES}
    changes = {by_name[n].field: by_name[n].parse(str(v)) for n, v in variables.items()}
    app.extensions[EXTENSION_KEY] = replace(app.extensions[EXTENSION_KEY], **changes)


def _worker() -> str:
    """A name unique to this test process: xdist worker and pid (runs may overlap)."""
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    app = create_app({"CUSTODY_DATABASE_URL": url, "CUSTODY_SECRET_KEY": TEST_SECRET})
    with app.app_context():
        upgrade()
        db.engine.dispose()


def _recreate_pg_database(base_url: str, name: str) -> str:
    _drop_pg_database(base_url, name)
    _pg_admin(base_url, f'CREATE DATABASE "{name}"')
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(base_url: str, name: str) -> None:
    _pg_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_admin(base_url: str, statement: str) -> None:
    admin = create_engine(make_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(statement))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory) -> Iterator[str]:
    """A database at the migrations' head: an SQLite template file, or a PostgreSQL URL."""
    if PG_URL:
        name = f"{make_url(PG_URL).database}_{_worker()}"
        url = _recreate_pg_database(PG_URL, name)
        _migrate(url)
        yield url
        _drop_pg_database(PG_URL, name)
        return
    template = tmp_path_factory.mktemp("template") / "custody.sqlite3"
    _migrate(f"sqlite:///{template}")
    yield str(template)


def _empty_pg(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = conn.scalars(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'alembic_version'"
            )
        ).all()
        # Test set-up only: triggers (the audit trail's append-only guard) are off here.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        # Tamper tests disable the audit trail's triggers; every test starts with them on.
        conn.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER ALL"))
    engine.dispose()


@pytest.fixture
def database_url(migrated_database, tmp_path) -> str:
    if PG_URL:
        _empty_pg(migrated_database)
        return migrated_database
    path = tmp_path / "custody.sqlite3"
    shutil.copyfile(migrated_database, path)
    return f"sqlite:///{path}"


@pytest.fixture
def audit_key(tmp_path_factory) -> tuple[Path, Path]:
    """This test's own audit key file (0600) and checkpoint log, as a site configures them:
    outside the database's folder (the test's tmp_path) and never the session secret."""
    from custody.services.core.audit_keys import write_key_file

    folder = tmp_path_factory.mktemp("audit")
    write_key_file(folder / "audit.key")
    return folder / "audit.key", folder / "checkpoints.jsonl"


# The production hash (scrypt) is slow on purpose, about 0.1 s a hash and as much a check; the
# suite creates and signs in thousands of accounts. Passwords still go through every check
# (a wrong one is refused) against a cheap PBKDF2 hash; the tests of the stored hash itself
# are marked `real_password_hashes`. Servers started as processes hash for real.
QUICK_HASH = "pbkdf2:sha256:1000"


@pytest.fixture(autouse=True)
def quick_password_hashes(request, monkeypatch):
    if request.node.get_closest_marker("real_password_hashes"):
        return
    from werkzeug.security import generate_password_hash

    from custody.services.core import accounts

    monkeypatch.setattr(
        accounts,
        "generate_password_hash",
        lambda password: generate_password_hash(password, method=QUICK_HASH),
    )


@pytest.fixture
def app(database_url, tmp_path, audit_key):
    key_file, checkpoint_log = audit_key
    app = create_app(
        {
            "TESTING": True,
            "CUSTODY_SECRET_KEY": TEST_SECRET,
            "CUSTODY_DATABASE_URL": database_url,
            "CUSTODY_FIN": "W9999",
            "CUSTODY_AUDIT_KEY_FILE": key_file,
            "CUSTODY_AUDIT_CHECKPOINT_LOG": checkpoint_log,
        }
    )
    app.instance_path = str(tmp_path / "instance")
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


class IsolatedClient(FlaskClient):
    """Each request runs as in production: in its own application context.

    The test's own app context stays pushed for the test body; reusing it for requests would
    carry `g` (the authenticated caller) and the database session from one request into the
    next. The test's transaction is committed first, so the request never waits on a lock
    the test itself holds (the test's own transactions begin IMMEDIATE), and what the test
    holds is expired after it (sessions keep what they read across a commit).
    """

    def open(self, *args, **kwargs):
        db.session.commit()
        try:
            return contextvars.Context().run(super().open, *args, **kwargs)
        finally:
            # What the test holds is read again after the request, as a new request would.
            db.session.expire_all()


@pytest.fixture
def client(app):
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make(app) -> Factories:
    """Factories: callables with defaults that build records through the services."""
    return Factories(app)


@pytest.fixture
def quality(app, make) -> QualityFactory:
    """Specifications, QC results and QA signatures, through the services."""
    return QualityFactory(app, make)


@pytest.fixture
def approved_labels(app, make):
    """The shipped label templates approved by QA (the QA user is returned)."""
    return approve_label_templates(make)


@pytest.fixture
def make_lot(app) -> LotFactory:
    """Lots with bags, storage positions and shipments, written directly as test setup."""
    return LotFactory(app)


@pytest.fixture
def clinic(app, make, quality, make_lot) -> ClinicFactory:
    """The trial, recipients, allocations, receipt at the site and thaws, as test setup."""
    return ClinicFactory(app, make, quality, make_lot)


@pytest.fixture
def make_recipient(clinic) -> RecipientFactory:
    """Recipients of the trial (DL2, lymphodepletion unless told), as test setup; the same
    factory as `clinic.recipient`, on the same trial."""
    return clinic.recipient
