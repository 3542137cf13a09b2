"""The `custody` command: a Flask CLI group (`custody db upgrade` comes from Flask-Migrate)."""

from __future__ import annotations

import json
import os
import sys

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

from custody.domain.errors import DomainError


def _create_app(*_args) -> Flask:
    from custody import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Custody tracker: chain of identity and custody for cell-therapy products."""


def register(app: Flask) -> None:
    commands = (user_group, audit_group, labels_group, isbt128_group, demo_command, serve_command)
    for command in commands:
        app.cli.add_command(command)


def _fail(error: DomainError, exit_code: int = 2) -> None:
    click.echo(f"error: {error.message}", err=True)
    sys.exit(exit_code)


# --- users -------------------------------------------------------------------------------


@click.group("user", help="Create users and issue API tokens.")
def user_group() -> None:
    pass


@user_group.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["technician", "qa", "nurse", "admin"]))
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
@with_appcontext
def user_token(username: str, label: str) -> None:
    """Issue an API token. The token is the last line printed and is shown only once."""
    from custody.services.core.accounts import issue_token

    try:
        token = issue_token("system:cli", username, label)
    except DomainError as error:
        _fail(error)
    click.echo(f"API token for {username} (keep it secret; it is not shown again):")
    click.echo(token)


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


@click.group("isbt128", help="Check DINs and parse scanned ISBT 128 data.")
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


@click.command("serve")
@click.option(
    "--host", default=lambda: os.environ.get("HOST", "127.0.0.1"), show_default="HOST or 127.0.0.1"
)
@click.option(
    "--port",
    default=lambda: int(os.environ.get("PORT", "5000")),
    type=int,
    show_default="PORT or 5000",
)
@click.option("--workers", default=lambda: int(os.environ.get("WEB_CONCURRENCY", "2")), type=int)
def serve_command(host: str, port: int, workers: int) -> None:
    """Serve the app with gunicorn (a production WSGI server)."""
    from custody import create_app
    from custody.server import serve

    serve(create_app, host, port, workers)


if __name__ == "__main__":
    main()
