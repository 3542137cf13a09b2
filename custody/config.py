"""Settings: one typed, frozen object, read from the environment when the app is created.

Every trial- or site-specific value (the facility's FIN, its time zone, the lockout threshold)
is a setting, not code (DOMAIN.md). Each variable is read here and only here, with its one
default, and checked before anything starts: a bad value stops `custody serve` or
`custody db upgrade` with one line that names the variable, says what is wrong and gives an
example, instead of a 500 on every request later. Services read the object through
`settings()`; nothing else reads `os.environ` or the Flask config for these values.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from custody.domain import isbt128
from custody.domain.errors import DomainError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_PATH = PROJECT_ROOT / "instance"
MIGRATIONS = PROJECT_ROOT / "migrations"
# The label templates the project ships (labels/*.toml); CUSTODY_LABEL_TEMPLATES may name others.
SHIPPED_LABEL_TEMPLATES = PROJECT_ROOT / "labels"
EXTENSION_KEY = "custody.settings"


@dataclass(frozen=True)
class Settings:
    """What the services, pages and the server may ask of the installation."""

    database_url: str
    secret_key: str
    # ISBT 128 facility identification number, assigned to the site by ICCBBA.
    fin: str
    # The facility's product description code for the CAR-NK product (ICCBBA-licensed codes
    # are configured by each site, never shipped); D0001 is a local, made-up code.
    product_description_code: str
    facility_name: str
    facility_address: str
    time_zone: ZoneInfo
    # 21 CFR 11.300(d): attempts at misuse are detected; this many failures lock the account.
    max_failed_logins: int
    # Segregation of duties at release: whoever entered one of a lot's QC results may not
    # sign its release (off only where a site's SOP allows one person to do both).
    release_segregation: bool
    product_name: str
    # Shards of the audit hash chain: writers to different shards never wait for each other.
    audit_shards: int
    # The audit key (README, "The audit trail"): the file that holds it, or the key itself
    # (64 hex digits), never in the database, its folder or the session secret. None: unset,
    # and then entries carry no MAC and no checkpoint is signed (`custody serve` refuses).
    audit_key_file: Path | None
    audit_key: str | None
    # Signed checkpoints of the audit trail are appended here, outside the database.
    audit_checkpoint_log: Path
    # Logger readings (and custody records) further apart than this are reported as a gap.
    logger_gap: timedelta
    # A passed bedside verification covers an infusion started within this long:
    # "immediately before administration" (FACT-JACIE), not a check done hours earlier.
    verification_valid_minutes: int
    # Infectious-disease tests an "eligible" donor determination needs.
    donor_tests: tuple[str, ...]
    label_templates: Path
    # Base URI of the tracker's own FHIR code and identifier systems.
    fhir_system_base: str
    # Dots per mm of the Zebra printers ZPL is made for: 12 = 300 dpi, 8 = 203 dpi.
    label_printer_dpmm: int
    # Secure cookies: "auto" sends them over HTTPS only, except plain HTTP on the loopback.
    secure_cookies: str
    # A browser session ends after this long without a request, and at its lifetime anyway.
    session_idle: timedelta
    session_lifetime: timedelta
    # A password older than this must be changed at the next sign-in (None: no ageing).
    password_max_age: timedelta | None
    # How long an API token is valid when issued without an explicit expiry.
    token_lifetime: timedelta
    # TLS proxies in front whose X-Forwarded-* headers are believed (0: none).
    trusted_proxies: int
    # How long a DIN read alone waits for its product code (two linear barcodes read in turn).
    scan_pair_seconds: int
    # Characters a scanner sends after each read, besides Enter or Tab (empty: none).
    scan_suffix: str
    host: str
    port: int
    workers: int

    def flask_config(self) -> dict[str, Any]:
        """The Flask and extension settings that follow from these."""
        return {
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            # Decided per request when "auto" (custody.security_headers.CookieSecurity).
            "SESSION_COOKIE_SECURE": self.secure_cookies == "1",
            "WTF_CSRF_TIME_LIMIT": None,
            # flask-smorest / OpenAPI
            "API_TITLE": "Custody tracker API",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.0.3",
            "OPENAPI_URL_PREFIX": "/api/v1",
            "OPENAPI_JSON_PATH": "openapi.json",
        }


class SettingsError(Exception):
    """One or more variables that cannot be used; each line names one and says why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def settings() -> Settings:
    """The settings of the app handling this request or command: the one accessor."""
    return current_app.extensions[EXTENSION_KEY]


# --- how each variable is read -------------------------------------------------------------


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            number = int(raw.strip())
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise ValueError(f"it must be a whole number from {low} to {high}")
        return number

    return parse


def _minutes(low: int, high: int) -> Callable[[str], timedelta]:
    count = _whole_number(low, high)
    return lambda raw: timedelta(minutes=count(raw))


_ON = {"1", "true", "yes", "on"}
_OFF = {"0", "false", "no", "off"}


def _hours(low: int, high: int) -> Callable[[str], timedelta]:
    count = _whole_number(low, high)
    return lambda raw: timedelta(hours=count(raw))


def _days(low: int, high: int) -> Callable[[str], timedelta]:
    count = _whole_number(low, high)
    return lambda raw: timedelta(days=count(raw))


def _days_or_never(high: int) -> Callable[[str], timedelta | None]:
    count = _whole_number(0, high)
    return lambda raw: timedelta(days=count(raw)) or None


def _cookie_security(raw: str) -> str:
    word = raw.strip().lower()
    if word == "auto":
        return word
    if word in _ON | _OFF:
        return "1" if word in _ON else "0"
    raise ValueError("it must be auto (HTTPS only, except plain HTTP on the loopback), 1 or 0")


def _switch(raw: str) -> bool:
    # A typo must not switch a safety rule off: anything but a clear on or off is refused.
    word = raw.strip().lower()
    if word in _ON | _OFF:
        return word in _ON
    raise ValueError("it must be 1 (on) or 0 (off)")


def _text(raw: str) -> str:
    if not raw.strip():
        raise ValueError("it is empty")
    return raw.strip()


def _time_zone(raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("it is not a time zone known here (an IANA name)") from None


def _fin(raw: str) -> str:
    try:
        return isbt128.validate_fin(raw)
    except DomainError as error:
        raise ValueError(_first_sentence(error.message)) from None


def _product_description_code(raw: str) -> str:
    code = raw.strip().upper()
    try:
        # A product code of this description, volunteer collection, not divided.
        isbt128.encode_product_code(f"{code}V00")
    except DomainError:
        raise ValueError("it is not a 5-character ISBT 128 product description code") from None
    return code


def _database_url(raw: str) -> str:
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise ValueError("it is not a database URL") from None
    return _known_driver(url).render_as_string(hide_password=False)


def _known_driver(url: URL) -> URL:
    if url.get_backend_name() == "sqlite" and url.get_driver_name() in ("pysqlite", ""):
        return url
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("psycopg", ""):
        # The driver installed with the tracker is psycopg 3, whatever the URL's default.
        return url.set(drivername="postgresql+psycopg")
    raise ValueError(
        "only SQLite (sqlite:///…) and PostgreSQL (postgresql+psycopg://…) are supported"
    )


def _secret(raw: str) -> str:
    if len(raw.strip()) < 32:
        raise ValueError("a session signing key needs at least 32 characters")
    return raw.strip()


def _folder(raw: str) -> Path:
    path = Path(raw.strip())
    if not path.is_dir():
        raise ValueError("it is not a folder")
    return path


def _absolute_uri(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("it is not an absolute http(s) URI")
    return raw.strip().rstrip("/")


def _names(raw: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    if not names:
        raise ValueError("it names no test")
    return names


def _printer_resolution(raw: str) -> int:
    dpmm = _whole_number(1, 24)(raw)
    if dpmm not in (6, 8, 12, 24):
        raise ValueError("Zebra printers have 6, 8, 12 or 24 dots per mm")
    return dpmm


def _suffix(raw: str) -> str:
    # Taken as given, not stripped: a suffix is whatever the scanner was set to append.
    if len(raw) > 8 or not raw.isprintable():
        raise ValueError("it must be at most 8 printable characters")
    return raw


# Said when something needs the audit key and none is configured.
AUDIT_KEY_MISSING = (
    "no audit key is configured: set CUSTODY_AUDIT_KEY_FILE to a key file made by "
    "`custody audit keygen PATH` (outside the database's folder, readable by the tracker's "
    "user alone) or CUSTODY_AUDIT_KEY to the key itself"
)
_KEY_HEX = re.compile(r"[0-9a-fA-F]{64}")
_KEY_FORMAT = "it must be 64 hexadecimal digits (a 256-bit key, as `custody audit keygen` makes)"


def _audit_key(raw: str) -> str | None:
    if not raw.strip():
        return None
    if not _KEY_HEX.fullmatch(raw.strip()):
        raise ValueError(_KEY_FORMAT)
    return raw.strip().lower()


def _key_file(raw: str) -> Path | None:
    # Only the path here: the file is read and checked once all settings are known (it may
    # not sit in the database's folder), by `_audit_key_problems`.
    return _absolute_path(raw) if raw.strip() else None


def _absolute_path(raw: str) -> Path:
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


def _audit_key_problems(values: dict[str, Any]) -> list[str]:
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


def _first_sentence(message: str) -> str:
    sentence = message.split(". ")[0].rstrip(".")
    return sentence[:1].lower() + sentence[1:]


@dataclass(frozen=True)
class Variable:
    """One environment variable: the field it sets, how it is read, its default, an example."""

    name: str
    field: str
    parse: Callable[[str], Any]
    default: str | Callable[[Path], str]
    example: str
    secret: bool = False  # never echoed back in an error


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "CUSTODY_DATABASE_URL",
        "database_url",
        _database_url,
        lambda instance: f"sqlite:///{instance / 'custody.sqlite3'}",
        "postgresql+psycopg://postgres@127.0.0.1:5432/custody",
    ),
    Variable(
        "CUSTODY_SECRET_KEY",
        "secret_key",
        _secret,
        lambda instance: _instance_secret(instance),
        "$(python3 -c 'import secrets; print(secrets.token_hex(32))')",
        secret=True,
    ),
    Variable("CUSTODY_FIN", "fin", _fin, "W9999", "W1234"),
    Variable(
        "CUSTODY_PRODUCT_DESCRIPTION_CODE",
        "product_description_code",
        _product_description_code,
        "D0001",
        "D0001",
    ),
    Variable(
        "CUSTODY_FACILITY_NAME",
        "facility_name",
        _text,
        "Demonstration Cell Therapy Facility",
        '"City Hospital Cell Therapy Lab"',
    ),
    Variable(
        "CUSTODY_FACILITY_ADDRESS",
        "facility_address",
        _text,
        "1 Example Way, Springfield, USA",
        '"1 Main Street, Springfield"',
    ),
    Variable("CUSTODY_TIMEZONE", "time_zone", _time_zone, "America/Chicago", "Europe/London"),
    Variable("CUSTODY_MAX_FAILED_LOGINS", "max_failed_logins", _whole_number(1, 100), "5", "5"),
    Variable("CUSTODY_RELEASE_SEGREGATION", "release_segregation", _switch, "1", "1"),
    Variable("CUSTODY_PRODUCT_NAME", "product_name", _text, "CD33 CAR-NK cells", '"CAR-NK cells"'),
    Variable("CUSTODY_AUDIT_SHARDS", "audit_shards", _whole_number(1, 1024), "16", "16"),
    Variable("CUSTODY_AUDIT_KEY_FILE", "audit_key_file", _key_file, "", "/etc/custody/audit.key"),
    Variable(
        "CUSTODY_AUDIT_KEY",
        "audit_key",
        _audit_key,
        "",
        "$(custody audit keygen -)",
        secret=True,
    ),
    Variable(
        "CUSTODY_AUDIT_CHECKPOINT_LOG",
        "audit_checkpoint_log",
        _absolute_path,
        lambda instance: str(instance / "audit-checkpoints.jsonl"),
        "/srv/custody-audit/checkpoints.jsonl",
    ),
    Variable("CUSTODY_LOGGER_GAP_MINUTES", "logger_gap", _minutes(1, 1440), "30", "30"),
    Variable(
        "CUSTODY_VERIFICATION_VALID_MINUTES",
        "verification_valid_minutes",
        _whole_number(1, 240),
        "30",
        "30",
    ),
    Variable(
        "CUSTODY_DONOR_TESTS",
        "donor_tests",
        _names,
        "HIV-1/2, HBV, HCV, HTLV-I/II, Syphilis, WNV",
        '"HIV-1/2, HBV, HCV"',
    ),
    Variable(
        "CUSTODY_LABEL_TEMPLATES",
        "label_templates",
        _folder,
        str(SHIPPED_LABEL_TEMPLATES),
        "/srv/custody/labels",
    ),
    Variable(
        "CUSTODY_FHIR_SYSTEM_BASE",
        "fhir_system_base",
        _absolute_uri,
        # A placeholder a site must replace with a URI it controls before sending to an EHR.
        "https://custody-tracker.example/fhir",
        "https://fhir.hospital.example/custody",
    ),
    Variable("CUSTODY_LABEL_PRINTER_DPMM", "label_printer_dpmm", _printer_resolution, "12", "8"),
    Variable("CUSTODY_SECURE_COOKIES", "secure_cookies", _cookie_security, "auto", "1"),
    Variable("CUSTODY_SESSION_IDLE_MINUTES", "session_idle", _minutes(2, 240), "15", "15"),
    Variable("CUSTODY_SESSION_MAX_HOURS", "session_lifetime", _hours(1, 72), "12", "12"),
    Variable("CUSTODY_PASSWORD_MAX_AGE_DAYS", "password_max_age", _days_or_never(3650), "0", "365"),
    Variable("CUSTODY_TOKEN_DAYS", "token_lifetime", _days(1, 3650), "90", "365"),
    Variable("CUSTODY_TRUSTED_PROXIES", "trusted_proxies", _whole_number(0, 5), "0", "1"),
    Variable("CUSTODY_SCAN_PAIR_SECONDS", "scan_pair_seconds", _whole_number(5, 120), "20", "20"),
    Variable("CUSTODY_SCAN_SUFFIX", "scan_suffix", _suffix, "", "~"),
    Variable("HOST", "host", _text, "127.0.0.1", "0.0.0.0"),
    Variable("PORT", "port", _whole_number(1, 65535), "5000", "8000"),
    Variable("WEB_CONCURRENCY", "workers", _whole_number(1, 64), "2", "4"),
)
assert {v.field for v in VARIABLES} == {f.name for f in fields(Settings)}
VARIABLE_NAMES = frozenset(v.name for v in VARIABLES)


def load_settings(
    environ: Mapping[str, str] | None = None, instance_path: Path = INSTANCE_PATH
) -> Settings:
    """Settings from `environ` (the process environment by default), every variable checked.

    Raises SettingsError naming each bad variable; an unset or empty variable takes its default.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for variable in VARIABLES:
        raw = environ.get(variable.name, "")
        given = bool(raw.strip())
        if not given:
            default = variable.default
            raw = default(instance_path) if callable(default) else default
        try:
            values[variable.field] = variable.parse(raw)
        except ValueError as why:
            shown = "…" if variable.secret else raw if given else f"{raw} (the default)"
            problems.append(
                f"{variable.name}={shown} cannot be used: {why}; "
                f"set it like {variable.name}={variable.example}"
            )
    problems += _audit_key_problems(values)
    if problems:
        raise SettingsError(problems)
    if values["database_url"].startswith("sqlite:///"):
        instance_path.mkdir(parents=True, exist_ok=True)
    return Settings(**values)


def _instance_secret(instance_path: Path) -> str:
    """A per-installation secret kept under instance/, created on first use.

    A fixed default secret would let anyone forge sessions on every site that forgot to set one.
    """
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    path.write_text(secret)
    path.chmod(0o600)
    return secret
