"""The `custody` command: a Flask CLI group (`custody db upgrade` comes from Flask-Migrate).

Commands that work on records run inside an app (its settings checked first); `isbt128` and
`serve` do not need one, so they never build an app nor connect to a database, and `audit
verify` reads the database without building one (`snapshot`). Whatever goes wrong at
start-up (a bad setting, a database that does not answer or is not migrated) ends in one line
on standard error and exit status 2, never a traceback (`common`). The users' and the audit
trail's commands have modules of their own.

Every command hangs from the group itself, and each module is imported when a command needs
it: `custody --help` builds no app, and no command pays for the pages, the API and their
libraries (PDF, barcodes, FHIR, schemas) unless it builds the app.
"""

from __future__ import annotations

import json
import sys

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

from custody.cli.audit import audit_group
from custody.cli.common import fail, stop
from custody.cli.users import user_group
from custody.domain.errors import DomainError


def _create_app(*_args) -> Flask:
    from custody import create_app
    from custody.config import SettingsError

    try:
        return create_app()
    except SettingsError as problem:
        # Stop here: Flask would print a traceback for an app that cannot be built.
        stop(str(problem))


# Flask-Migrate's command group, as `create_app` names it.
_MIGRATIONS = "db"


class _CustodyGroup(FlaskGroup):
    """Flask's command group, finding and listing its commands without building the app: they
    all hang from it, and Flask-Migrate's `db` (which the app adds too) is imported when named.
    A command only the app adds (Flask-Smorest's `openapi`) is still found by its name."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        if name == _MIGRATIONS:
            from flask_migrate.cli import db

            return db
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, _MIGRATIONS})


@click.group(cls=_CustodyGroup, create_app=_create_app, add_version_option=False)
def custody_command() -> None:
    """Custody tracker: chain of identity and custody for cell-therapy products."""


def main() -> None:
    """The console script: the click group, with start-up problems said in one line each."""
    try:
        custody_command.main(prog_name="custody")
    except Exception as problem:
        message = _start_up_problem(problem)
        if message is None:
            raise
        stop(message)


def _start_up_problem(problem: Exception) -> str | None:
    """A bad setting, or a database not ready or not answering, in one line; None for anything
    else. What it takes to tell is imported only once something went wrong."""
    from sqlalchemy.exc import DBAPIError

    from custody.config import SettingsError, load_settings
    from custody.database import DatabaseNotReady, database_problem

    if isinstance(problem, SettingsError | DatabaseNotReady):
        return str(problem)
    if isinstance(problem, DBAPIError):
        return database_problem(problem, load_settings().database_url)
    return None


def register(app: Flask) -> None:
    for command in (user_group, audit_group, labels_group, demo_command):
        app.cli.add_command(command)


@click.group("labels", help="Label templates.")
def labels_group() -> None:
    pass


@labels_group.command("check")
@with_appcontext
def labels_check() -> None:
    """List every label template file with its state; exit 1 if any fails its checks."""
    from custody.services.labelling.templates import template_list

    rows = template_list()
    for row in rows:
        name = f"{row['purpose']} v{row['version']}" if "purpose" in row else row["file"]
        click.echo(
            f"{name}: {row['status']}" + (f" sha256={row['sha256']}" if "sha256" in row else "")
        )
        for problem in row["problems"]:
            click.echo(f"  - {problem}")
    if any(row["status"] == "invalid" for row in rows):
        sys.exit(1)


# --- ISBT 128 ----------------------------------------------------------------------------


@custody_command.group(
    "isbt128", cls=click.Group, help="Check DINs and parse scanned ISBT 128 data."
)
def isbt128_group() -> None:
    pass


@isbt128_group.command("check")
@click.argument("din")
def isbt128_check(din: str) -> None:
    """Print the keyboard check character K and the Type 3 flags of a 13-character DIN."""
    from custody.domain import isbt128

    try:
        din = isbt128.validate_din(din)
    except DomainError as error:
        fail(error)
    click.echo(f"K={isbt128.check_character(din)} flags={isbt128.type3_flags(din)}")


@isbt128_group.command("parse")
@click.argument("data")
def isbt128_parse(data: str) -> None:
    """Parse scanned data (one structure, concatenated ones, or a =+ compound message)."""
    from custody.domain import isbt128

    try:
        structures = isbt128.parse(data)
    except DomainError as error:
        fail(error)
    click.echo(json.dumps([s.to_dict() for s in structures], indent=2, ensure_ascii=False))


# --- demo data and serving ---------------------------------------------------------------


@click.command("demo")
@click.option("--scale", default=1, show_default=True, type=click.IntRange(1, 1000))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
@with_appcontext
def demo_command(scale: int, seed: int, if_empty: bool) -> None:
    """Load a realistic demo data set (same seed, same data)."""
    from custody.services.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, database_is_empty, load_demo

    if if_empty and not database_is_empty():
        click.echo("database already has data; demo not loaded")
    else:
        summary = load_demo(scale=scale, seed=seed)
        counts = ", ".join(f"{n} {k}" for k, n in summary.counts.items())
        click.echo(f"demo data loaded: {counts}")
    click.echo(f"demo accounts (password for all, unless changed since: {DEMO_PASSWORD}):")
    for username, role, name in DEMO_ACCOUNTS:
        click.echo(f"  {username:<12} {role.value:<11} {name}")


@custody_command.command("serve", with_appcontext=False)
@click.option("--host", help="Address to listen on (default: HOST, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Default: PORT, else 5000.")
@click.option("--workers", type=click.IntRange(1, 64), help="Default: WEB_CONCURRENCY, else 2.")
def serve_command(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the app with gunicorn (a production WSGI server), once its settings hold and its
    database answers at the migrations' head."""
    from custody import create_app
    from custody.config import AUDIT_KEY_MISSING, load_settings
    from custody.database import check_database
    from custody.server import serve

    settings = load_settings()
    check_database(settings.database_url)
    if settings.audit_key is None and settings.audit_key_file is None:
        # A regulated site's trail is protected from its first entry: no key, no server.
        stop(f"{AUDIT_KEY_MISSING}; `custody serve` does not start without one")
    _checkpoint_at_start(create_app)
    serve(create_app, host or settings.host, port or settings.port, workers or settings.workers)


def _checkpoint_at_start(create_app) -> None:
    """A signed checkpoint before serving: a new installation's first one pins that every
    entry from now on carries a MAC, and a restart does not widen the window. A trail that
    does not hold is said, and the server starts all the same (refusing would stop the ward).

    Made in an app as the workers will build it: building it here also imports every module
    once, before gunicorn forks, so the workers start with them imported."""
    from custody.config import EXTENSION_KEY
    from custody.extensions import db
    from custody.services.core.audit_keys import required_keys
    from custody.services.core.checkpoints import CheckpointRefused, make_checkpoint

    app = create_app()
    with app.app_context():
        try:
            make_checkpoint(
                db.engine,
                required_keys(),
                app.extensions[EXTENSION_KEY].audit_checkpoint_log,
                "custody serve: start",
            )
        except CheckpointRefused as refused:
            click.echo(f"warning: no audit checkpoint at start: {refused}", err=True)
        finally:
            db.engine.dispose()  # the workers fork: no connection is shared with them


# The commands that need an app build it when they run, not to be found or listed.
custody_command.add_command(user_group)
custody_command.add_command(labels_group)
custody_command.add_command(demo_command)
# The audit group's `keygen` and `check-proof` work without an app (and so without the
# settings, or a key, in place); `verify` reads the database without building one.
custody_command.add_command(audit_group)
