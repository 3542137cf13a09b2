"""The audit key settings: the key or its file, read once and checked against the rest (never
the session secret, never beside the database)."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from custody.config.values import Settings

AUDIT_KEY_MISSING = (
    "no audit key is configured: set CUSTODY_AUDIT_KEY_FILE to a key file made by "
    "`custody audit keygen PATH` (outside the database's folder, readable by the tracker's "
    "user alone) or CUSTODY_AUDIT_KEY to the key itself"
)
_KEY_HEX = re.compile(r"[0-9a-fA-F]{64}")
_KEY_FORMAT = "it must be 64 hexadecimal digits (a 256-bit key, as `custody audit keygen` makes)"


def parse_audit_key(raw: str) -> str | None:
    if not raw.strip():
        return None
    if not _KEY_HEX.fullmatch(raw.strip()):
        raise ValueError(_KEY_FORMAT)
    return raw.strip().lower()


def parse_key_file(raw: str) -> Path | None:
    # Only the path here: the file is read and checked once all settings are known (it may
    # not sit in the database's folder), by `audit_key_problems`.
    return absolute_path(raw) if raw.strip() else None


def absolute_path(raw: str) -> Path:
    path = Path(raw.strip()).expanduser()
    if not path.is_absolute():
        raise ValueError("it must be an absolute path")
    return path


# Audit keys read from their files, once per file and process.
_KEYS_READ: dict[Path, bytes] = {}


def read_audit_key(path: Path) -> bytes:
    """The audit secret in `path`, checked: a file only its owner can read, holding 64 hex
    digits. ValueError says what is wrong, in words that end a settings line."""
    if path in _KEYS_READ:
        return _KEYS_READ[path]
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ValueError(
            f"there is no such file; make one with `custody audit keygen {path}`"
        ) from None
    except OSError as error:
        raise ValueError(f"it cannot be read ({error.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("it is not a file")
    if info.st_mode & 0o077:
        raise ValueError(
            f"others may read it (mode {stat.S_IMODE(info.st_mode):04o}): "
            f"make it readable by the tracker's user alone with `chmod 600 {path}`"
        )
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    if not _KEY_HEX.fullmatch(text):
        raise ValueError(f"the file does not hold an audit key: {_KEY_FORMAT}")
    _KEYS_READ[path] = bytes.fromhex(text)
    return _KEYS_READ[path]


def audit_secret(settings: Settings) -> bytes | None:
    """The audit secret the MACs and the checkpoint signing key derive from, None if unset."""
    if settings.audit_key is not None:
        return bytes.fromhex(settings.audit_key)
    if settings.audit_key_file is not None:
        return read_audit_key(settings.audit_key_file)
    return None


def database_folder(database_url: str) -> Path | None:
    """The folder of an SQLite database file (None for a server database or memory)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).expanduser().resolve().parent


def audit_key_problems(values: dict[str, Any]) -> list[str]:
    """What the audit key settings cannot be, once every variable is read: both at once, a
    key file that is missing, open to others or in the database's folder, the session
    secret reused, or a checkpoint log with no folder to go in."""
    key_file, key = values.get("audit_key_file"), values.get("audit_key")
    problems = []
    if key_file is not None and key is not None:
        problems.append(
            "CUSTODY_AUDIT_KEY and CUSTODY_AUDIT_KEY_FILE are both set: set only one of them"
        )
    session_secret = str(values.get("secret_key", "")).strip().lower()
    if key_file is not None:
        try:
            if read_audit_key(key_file).hex() == session_secret:
                raise ValueError("it holds the session secret (CUSTODY_SECRET_KEY)")
            folder = database_folder(values.get("database_url", ""))
            if folder is not None and key_file.resolve().is_relative_to(folder):
                raise ValueError(
                    f"it is in the database's folder ({folder}), so a copy of the database "
                    "would carry its key: keep it elsewhere"
                )
        except ValueError as why:
            problems.append(
                f"CUSTODY_AUDIT_KEY_FILE={key_file} cannot be used: {why}; "
                "set it like CUSTODY_AUDIT_KEY_FILE=/etc/custody/audit.key"
            )
    if key is not None and key == session_secret:
        problems.append(
            "CUSTODY_AUDIT_KEY=… cannot be used: it is the session secret "
            "(CUSTODY_SECRET_KEY); the audit key must be a secret of its own"
        )
    log = values.get("audit_checkpoint_log")
    if (key_file or key) and log is not None and not log.parent.is_dir():
        problems.append(
            f"CUSTODY_AUDIT_CHECKPOINT_LOG={log} cannot be used: its folder {log.parent} does "
            "not exist; set it like "
            "CUSTODY_AUDIT_CHECKPOINT_LOG=/srv/custody-audit/checkpoints.jsonl"
        )
    return problems
