"""`custody audit …`: verify the trail, sign checkpoints, export and check proofs, keys."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from custody.cli.common import stop

# Problems listed one a line before the count: enough to act on, short enough to read.
_LISTED = 50


@click.group("audit", help="The audit trail: verify it, sign checkpoints, export proofs.")
def audit_group() -> None:
    pass


@audit_group.command("verify")
def audit_verify() -> None:
    """Check every hash chain, MAC and signed checkpoint of the audit trail, and reconcile bag
    states and lot dispositions with their records; exit 1 naming each problem."""
    from custody.cli.snapshot import snapshot
    from custody.services.audit.reconciliation import reconcile
    from custody.services.audit.verify import grouped, verify_trail

    # One snapshot for the heads, the entries and the records, read without building the app.
    with snapshot() as (conn, settings):
        report = verify_trail(conn, settings=settings)
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
        stop(str(missing))
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
        stop(str(missing))
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
        stop(str(error))
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
        stop(str(missing))
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
        stop(f"{target} exists already: an audit key is never overwritten")
    except (OSError, ValueError) as error:
        stop(str(error))
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
