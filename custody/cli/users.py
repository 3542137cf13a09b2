"""`custody user …`: accounts, their API tokens and their sessions."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from custody.cli.common import fail
from custody.domain.errors import DomainError
from custody.domain.permissions import Role


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
        fail(error)
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
        fail(error)
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
        fail(error)
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
        fail(error)
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
        fail(error)
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
        fail(error)
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
        fail(error)
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
        fail(error)
    click.echo(f"unlocked {username}")
