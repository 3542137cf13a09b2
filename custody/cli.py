"""The `custody` command: a Flask CLI group (`custody db upgrade` comes from Flask-Migrate).

Commands that work on records run inside an app (its settings checked first); `isbt128` and
`serve` do not need one, so they never build an app nor connect to a database. Whatever goes
wrong at start-up (a bad setting, a database that does not answer or is not migrated) ends in
one line on standard error and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import DBAPIError

from custody.config import SettingsError, load_settings
from custody.database import DatabaseNotReady, check_database, database_problem
from custody.domain.errors import DomainError
from custody.domain.permissions import Role


def _create_app(*_args) -> Flask:
    from custody import create_app

    try:
        return create_app()
    except SettingsError as problem:
        # Stop here: Flask would print a traceback for an app that cannot be built.
        _stop(str(problem))


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def custody_command() -> None:
    """Custody tracker: chain of identity and custody for cell-therapy products."""


def main() -> None:
    """The console script: the click group, with start-up problems said in one line each."""
    try:
        custody_command.main(prog_name="custody")
    except (SettingsError, DatabaseNotReady) as problem:
        _stop(str(problem))
    except DBAPIError as error:
        _stop(database_problem(error, load_settings().database_url))


def _stop(message: str) -> None:
    for line in message.splitlines():
        click.echo(f"error: {line}", err=True)
    sys.exit(2)


def register(app: Flask) -> None:
    for command in (user_group, audit_group, labels_group, demo_command):
        app.cli.add_command(command)


def _fail(error: DomainError, exit_code: int = 2) -> None:
    click.echo(f"error: {error.message}", err=True)
    sys.exit(exit_code)


# --- users -------------------------------------------------------------------------------


@click.group("user", help="Users, their API tokens and their sessions.")
def user_group() -> None:
    pass


@user_group.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option("--name", "full_name", required=True, help="Full name, as printed on signatures.")
@with_appcontext
def user_create(username: str, role: str, full_name: str) -> None:
    """Create a user; the password is read from standard input."""
    from custody.services.core.accounts import create_user

    password = _read_password()
    try:
        user = create_user("system:cli", username, full_name, role, password)
    except DomainError as error:
        _fail(error)
    click.echo(f"created {user.username} ({user.role.value})")


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@user_group.command("token")
@click.argument("username")
@click.option("--label", default="", help="What the token is for (e.g. a scanner's name).")
@click.option(
    "--days", type=click.IntRange(1, 3650), default=None, help="Valid for (CUSTODY_TOKEN_DAYS)."
)
@with_appcontext
def user_token(username: str, label: str, days: int | None) -> None:
    """Issue an API token. The token is the last line printed and is shown only once."""
    from custody.services.core.accounts import issue_token

    try:
        token = issue_token("system:cli", username, label, days)
    except DomainError as error:
        _fail(error)
    click.echo(f"API token for {username} (keep it secret; it is not shown again):")
    click.echo(token)


@user_group.command("tokens")
@click.argument("username", required=False)
@with_appcontext
def user_tokens(username: str | None) -> None:
    """List API tokens (one user's, or everyone's): id, user, label, expiry, last use."""
    from custody.services.core.accounts import list_tokens

    try:
        tokens = list_tokens(username)
    except DomainError as error:
        _fail(error)
    for token in tokens:
        state = f"revoked {_when(token.revoked_at)}" if token.revoked_at else "live"
        click.echo(
            f"{token.id}\t{token.user.username}\t{token.label or '-'}\t"
            f"expires {_when(token.expires_at)}\tlast used {_when(token.last_used_at)}\t{state}"
        )


@user_group.command("revoke-token")
@click.argument("token_id", type=int)
@click.option("--reason", required=True)
@with_appcontext
def user_revoke_token(token_id: int, reason: str) -> None:
    """Revoke an API token at once (its next use is refused)."""
    from custody.services.core.accounts import revoke_token

    try:
        revoke_token("system:cli", token_id, reason)
    except DomainError as error:
        _fail(error)
    click.echo(f"revoked token {token_id}")


@user_group.command("end-sessions")
@click.argument("username")
@click.option("--reason", required=True)
@with_appcontext
def user_end_sessions(username: str, reason: str) -> None:
    """End every open browser session of a user (a lost tablet, a leaver)."""
    from custody.services.core.sessions import end_sessions_of

    try:
        ended = end_sessions_of("system:cli", username, reason)
    except DomainError as error:
        _fail(error)
    click.echo(f"ended {ended} session(s) of {username}")


@user_group.command("reset-password")
@click.argument("username")
@click.option("--reason", required=True, help="Why, and how the person was identified.")
@with_appcontext
def user_reset_password(username: str, reason: str) -> None:
    """Set a temporary password (read from standard input), to be changed at the next sign-in."""
    from custody.services.core.accounts import reset_password

    temporary = _read_password()
    try:
        reset_password("system:cli", username, temporary, reason)
    except DomainError as error:
        _fail(error)
    click.echo(f"{username} must choose a new password at the next sign-in")


@user_group.command("retire")
@click.argument("username")
@click.option("--reason", required=True)
@with_appcontext
def user_retire(username: str, reason: str) -> None:
    """Retire an account: it never signs in again, stays in the records, is never reused."""
    from custody.services.core.accounts import retire_user
    from custody.services.core.sessions import end_sessions_of

    try:
        retire_user("system:cli", username, reason)
        end_sessions_of("system:cli", username, "account retired")
    except DomainError as error:
        _fail(error)
    click.echo(f"retired {username}")


@user_group.command("list")
@click.option("--locked", is_flag=True, help="Only accounts locked after failed sign-ins.")
@with_appcontext
def user_list(locked: bool) -> None:
    """Every account: username, role, state, name."""
    from custody.services.core.accounts import list_users

    for user in list_users(True if locked else None):
        state = "retired" if user.retired_at else "locked" if user.locked_at else "active"
        click.echo(f"{user.username}\t{user.role.value}\t{state}\t{user.full_name}")


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


@user_group.command("unlock")
@click.argument("username")
@click.option("--reason", required=True)
@with_appcontext
def user_unlock(username: str, reason: str) -> None:
    """Unlock an account locked after failed sign-ins."""
    from custody.services.core.accounts import unlock_user

    try:
        unlock_user("system:cli", username, reason)
    except DomainError as error:
        _fail(error)
    click.echo(f"unlocked {username}")


# --- audit -------------------------------------------------------------------------------


@click.group("audit", help="The audit trail.")
def audit_group() -> None:
    pass


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Check every hash chain of the audit trail; exit 1 naming the first entry that fails."""
    from custody.extensions import db
    from custody.services.audit.verify import verify_trail

    with db.engine.connect() as conn:
        report = verify_trail(conn)
    if not report.ok:
        click.echo(f"audit FAILED at {report.first_break.describe()}")
        sys.exit(1)
    click.echo(f"audit OK: {report.entries} entries")


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
        _fail(error)
    click.echo(f"K={isbt128.check_character(din)} flags={isbt128.type3_flags(din)}")


@isbt128_group.command("parse")
@click.argument("data")
def isbt128_parse(data: str) -> None:
    """Parse scanned data (one structure, concatenated ones, or a =+ compound message)."""
    from custody.domain import isbt128

    try:
        structures = isbt128.parse(data)
    except DomainError as error:
        _fail(error)
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
    from custody.server import serve

    settings = load_settings()
    check_database(settings.database_url)
    serve(create_app, host or settings.host, port or settings.port, workers or settings.workers)


if __name__ == "__main__":
    main()
