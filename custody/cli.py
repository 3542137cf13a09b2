"""The `custody` command: a Flask CLI group (`custody db upgrade` comes from Flask-Migrate).

Commands that work on records run inside an app (its settings checked first); `isbt128` and
`serve` do not need one, so they never build an app nor connect to a database. Whatever goes
wrong at start-up (a bad setting, a database that does not answer or is not migrated) ends in
one line on standard error and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import DBAPIError

from custody.config import AUDIT_KEY_MISSING, EXTENSION_KEY, SettingsError, load_settings
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

# Problems listed one a line before the count: enough to act on, short enough to read.
_LISTED = 50


@click.group("audit", help="The audit trail: verify it, sign checkpoints, export proofs.")
def audit_group() -> None:
    pass


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Check every hash chain, MAC and signed checkpoint of the audit trail, and reconcile bag
    states and lot dispositions with their records; exit 1 naming each problem."""
    from custody.extensions import db
    from custody.services.audit.reconciliation import reconcile
    from custody.services.audit.verify import grouped, verify_trail

    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot: heads, entries and records
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        report = verify_trail(conn)
        mismatches = reconcile(conn)
    for note in report.notes:
        click.echo(f"note: {note}")
    problems = grouped(report.problems) + [f"mismatch: {m.describe()}" for m in mismatches]
    if not problems:
        click.echo(f"audit OK: {report.entries} entries")
        return
    click.echo(f"audit FAILED at {problems[0]}")
    for line in problems[1:_LISTED]:
        click.echo(f"  {line}")
    if len(problems) > _LISTED:
        click.echo(f"  … and {len(problems) - _LISTED} more")
    click.echo(
        f"audit FAILED: {len(report.problems)} problems in the trail and {len(mismatches)} "
        f"records out of step with their history ({report.entries} entries checked)"
    )
    sys.exit(1)


@audit_group.command("checkpoint")
@click.option("--reason", default="custody audit checkpoint", help="Recorded in the checkpoint.")
@with_appcontext
def audit_checkpoint(reason: str) -> None:
    """Sign a checkpoint of the trail and append it to the checkpoint log (run it from cron:
    entries written since the last checkpoint can still be deleted from a chain's end)."""
    from custody.config import settings
    from custody.extensions import db
    from custody.services.core.audit_keys import AuditKeyMissing, required_keys
    from custody.services.core.checkpoints import CheckpointRefused, make_checkpoint

    log = settings().audit_checkpoint_log
    try:
        keys = required_keys()
        checkpoint = make_checkpoint(db.engine, keys, log, reason)
    except AuditKeyMissing as missing:
        _stop(str(missing))
    except CheckpointRefused as refused:
        click.echo(f"error: checkpoint refused: {refused}", err=True)
        sys.exit(1)
    if checkpoint is None:
        click.echo("no entry written since the last checkpoint: nothing new to sign")
        return
    entries = sum(head.size for head in checkpoint.shards)
    click.echo(
        f"checkpoint {checkpoint.number} signed (key {checkpoint.key_id}): "
        f"{len(checkpoint.shards)} shards, {entries} entries, line sha256 "
        f"{checkpoint.line_hash}; appended to {log}"
    )


@audit_group.command("proof")
@click.argument("entry_id", type=int)
@click.option("--checkpoint", "number", type=int, help="Default: the latest that covers it.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Default: stdout.")
@with_appcontext
def audit_proof(entry_id: int, number: int | None, output: str | None) -> None:
    """Export an entry, a signed checkpoint covering it and the inclusion proof between them,
    as JSON an inspector checks with the public key alone (`custody audit check-proof`)."""
    from custody.config import settings
    from custody.extensions import db
    from custody.services.audit.proofs import ProofUnavailable, dumps, entry_proof
    from custody.services.core.audit_keys import AuditKeyMissing, required_keys
    from custody.services.core.checkpoints import CheckpointRefused

    try:
        keys = required_keys()
        with db.engine.connect() as conn:
            document = entry_proof(conn, keys, settings().audit_checkpoint_log, entry_id, number)
    except AuditKeyMissing as missing:
        _stop(str(missing))
    except (ProofUnavailable, CheckpointRefused) as why:
        click.echo(f"error: {why}", err=True)
        sys.exit(1)
    if output:
        Path(output).write_text(dumps(document) + "\n", encoding="utf-8")
        click.echo(f"proof of entry {entry_id} written to {output}")
    else:
        click.echo(dumps(document))


@audit_group.command("check-proof")
@click.argument("proof_file", type=click.File("r", encoding="utf-8"))
@click.option(
    "--public-key",
    "public_key",
    required=True,
    help="The installation's public key: 64 hex digits, or a file holding it (hex or PEM).",
)
def audit_check_proof(proof_file, public_key: str) -> None:
    """Check an exported inclusion proof with the public key alone: no database, no secret."""
    from custody.services.audit.proofs import check_proof
    from custody.services.core.audit_keys import parse_public_key

    try:
        key_text = Path(public_key).read_text() if Path(public_key).is_file() else public_key
        public = parse_public_key(key_text)
        document = json.load(proof_file)
    except (OSError, ValueError) as error:
        _stop(str(error))
    try:
        click.echo(check_proof(document, public))
    except ValueError as why:
        click.echo(f"proof FAILED: {why}")
        sys.exit(1)


@audit_group.command("public-key")
@with_appcontext
def audit_public_key() -> None:
    """Print the public key that checks this installation's checkpoints (give it to inspectors,
    out of band: hex and PEM)."""
    from custody.services.core.audit_keys import AuditKeyMissing, public_key_pem, required_keys

    try:
        keys = required_keys()
    except AuditKeyMissing as missing:
        _stop(str(missing))
    click.echo(f"key id: {keys.key_id}")
    click.echo(f"public key: {keys.public.hex()}")
    click.echo(public_key_pem(keys.public).rstrip())


@audit_group.command("keygen")
@click.argument("path")
@click.option("--if-missing", is_flag=True, help="Keep the file if it exists already.")
def audit_keygen(path: str, if_missing: bool) -> None:
    """Make an audit key file (0600; never overwritten), or print a new key with PATH `-`.
    Keep it outside the database's folder and back it up apart from the database."""
    from custody.services.core.audit_keys import new_secret, write_key_file

    if path == "-":
        click.echo(new_secret())
        return
    target = Path(path).expanduser().absolute()
    if target.exists() and if_missing:
        click.echo(f"audit key file {target} kept")
        return
    try:
        write_key_file(target, _database_url_from_environment())
    except FileExistsError:
        _stop(f"{target} exists already: an audit key is never overwritten")
    except (OSError, ValueError) as error:
        _stop(str(error))
    click.echo(
        f"audit key written to {target} (mode 0600): set CUSTODY_AUDIT_KEY_FILE={target}, and "
        "keep a copy where the database's backups do not go"
    )


def _database_url_from_environment() -> str | None:
    """The database URL as the settings would read it, without reading the other settings
    (the key file named in them may be the one being made)."""
    from custody.config import INSTANCE_PATH, VARIABLES

    variable = next(v for v in VARIABLES if v.name == "CUSTODY_DATABASE_URL")
    raw = os.environ.get(variable.name, "").strip() or variable.default(INSTANCE_PATH)
    try:
        return variable.parse(raw)
    except ValueError:
        return None


# The audit group also hangs from the command itself, so `keygen` and `check-proof` work
# without an app (and so without the settings, or a key, in place).
custody_command.add_command(audit_group)


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
    if settings.audit_key is None and settings.audit_key_file is None:
        # A regulated site's trail is protected from its first entry: no key, no server.
        _stop(f"{AUDIT_KEY_MISSING}; `custody serve` does not start without one")
    _checkpoint_at_start(create_app)
    serve(create_app, host or settings.host, port or settings.port, workers or settings.workers)


def _checkpoint_at_start(create_app) -> None:
    """A signed checkpoint before serving: a new installation's first one pins that every
    entry from now on carries a MAC, and a restart does not widen the window. A trail that
    does not hold is said, and the server starts all the same (refusing would stop the ward)."""
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


if __name__ == "__main__":
    main()
