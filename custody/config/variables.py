"""Every environment variable the tracker reads: its field, how it is read, its default and an
example for the error that names it."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from custody.config.audit_key import absolute_path, parse_audit_key, parse_key_file
from custody.config.parsers import (
    absolute_uri,
    cookie_security,
    database_url,
    days,
    days_or_never,
    fin,
    folder,
    hours,
    minutes,
    names,
    printer_resolution,
    product_description_code,
    secret,
    suffix,
    switch,
    text,
    time_zone,
    whole_number,
)
from custody.config.paths import SHIPPED_LABEL_TEMPLATES
from custody.config.values import Settings


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
        database_url,
        lambda instance: f"sqlite:///{instance / 'custody.sqlite3'}",
        "postgresql+psycopg://postgres@127.0.0.1:5432/custody",
    ),
    Variable(
        "CUSTODY_SECRET_KEY",
        "secret_key",
        secret,
        lambda instance: instance_secret(instance),
        "$(python3 -c 'import secrets; print(secrets.token_hex(32))')",
        secret=True,
    ),
    Variable("CUSTODY_FIN", "fin", fin, "W9999", "W1234"),
    Variable(
        "CUSTODY_PRODUCT_DESCRIPTION_CODE",
        "product_description_code",
        product_description_code,
        "D0001",
        "D0001",
    ),
    Variable(
        "CUSTODY_FACILITY_NAME",
        "facility_name",
        text,
        "Demonstration Cell Therapy Facility",
        '"City Hospital Cell Therapy Lab"',
    ),
    Variable(
        "CUSTODY_FACILITY_ADDRESS",
        "facility_address",
        text,
        "1 Example Way, Springfield, USA",
        '"1 Main Street, Springfield"',
    ),
    Variable("CUSTODY_TIMEZONE", "time_zone", time_zone, "America/Chicago", "Europe/London"),
    Variable("CUSTODY_MAX_FAILED_LOGINS", "max_failed_logins", whole_number(1, 100), "5", "5"),
    Variable("CUSTODY_RELEASE_SEGREGATION", "release_segregation", switch, "1", "1"),
    Variable("CUSTODY_PRODUCT_NAME", "product_name", text, "CD33 CAR-NK cells", '"CAR-NK cells"'),
    Variable("CUSTODY_AUDIT_SHARDS", "audit_shards", whole_number(1, 1024), "16", "16"),
    Variable(
        "CUSTODY_AUDIT_KEY_FILE",
        "audit_key_file",
        parse_key_file,
        "",
        "/etc/custody/audit.key",
    ),
    Variable(
        "CUSTODY_AUDIT_KEY",
        "audit_key",
        parse_audit_key,
        "",
        "$(custody audit keygen -)",
        secret=True,
    ),
    Variable(
        "CUSTODY_AUDIT_CHECKPOINT_LOG",
        "audit_checkpoint_log",
        absolute_path,
        lambda instance: str(instance / "audit-checkpoints.jsonl"),
        "/srv/custody-audit/checkpoints.jsonl",
    ),
    Variable("CUSTODY_LOGGER_GAP_MINUTES", "logger_gap", minutes(1, 1440), "30", "30"),
    Variable(
        "CUSTODY_VERIFICATION_VALID_MINUTES",
        "verification_valid_minutes",
        whole_number(1, 240),
        "30",
        "30",
    ),
    Variable(
        "CUSTODY_DONOR_TESTS",
        "donor_tests",
        names,
        "HIV-1/2, HBV, HCV, HTLV-I/II, Syphilis, WNV",
        '"HIV-1/2, HBV, HCV"',
    ),
    Variable(
        "CUSTODY_LABEL_TEMPLATES",
        "label_templates",
        folder,
        str(SHIPPED_LABEL_TEMPLATES),
        "/srv/custody/labels",
    ),
    Variable(
        "CUSTODY_FHIR_SYSTEM_BASE",
        "fhir_system_base",
        absolute_uri,
        # A placeholder a site must replace with a URI it controls before sending to an EHR.
        "https://custody-tracker.example/fhir",
        "https://fhir.hospital.example/custody",
    ),
    Variable("CUSTODY_LABEL_PRINTER_DPMM", "label_printer_dpmm", printer_resolution, "12", "8"),
    Variable("CUSTODY_SECURE_COOKIES", "secure_cookies", cookie_security, "auto", "1"),
    Variable("CUSTODY_SESSION_IDLE_MINUTES", "session_idle", minutes(2, 240), "15", "15"),
    Variable("CUSTODY_SESSION_MAX_HOURS", "session_lifetime", hours(1, 72), "12", "12"),
    Variable("CUSTODY_PASSWORD_MAX_AGE_DAYS", "password_max_age", days_or_never(3650), "0", "365"),
    Variable("CUSTODY_TOKEN_DAYS", "token_lifetime", days(1, 3650), "90", "365"),
    Variable("CUSTODY_TRUSTED_PROXIES", "trusted_proxies", whole_number(0, 5), "0", "1"),
    Variable("CUSTODY_SCAN_PAIR_SECONDS", "scan_pair_seconds", whole_number(5, 120), "20", "20"),
    Variable("CUSTODY_SCAN_SUFFIX", "scan_suffix", suffix, "", "~"),
    Variable("HOST", "host", text, "127.0.0.1", "0.0.0.0"),
    Variable("PORT", "port", whole_number(1, 65535), "5000", "8000"),
    Variable("WEB_CONCURRENCY", "workers", whole_number(1, 64), "2", "4"),
)
assert {v.field for v in VARIABLES} == {f.name for f in fields(Settings)}
VARIABLE_NAMES = frozenset(v.name for v in VARIABLES)


def instance_secret(instance_path: Path) -> str:
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
