"""Settings, read from the environment when the app is created (never at import time).

Every trial- or site-specific value (the facility's FIN, time zone, lockout threshold) is a
setting, not code: DOMAIN.md asks that protocol and facility values be configuration.
"""

from __future__ import annotations

import os
from pathlib import Path


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_present(name: str) -> dict:
    """The variable as a setting only when it is set, so the code's own default applies."""
    raw = os.environ.get(name)
    return {name: raw} if raw else {}


def load_settings(instance_path: str, overrides: dict | None = None) -> dict:
    """Settings from CUSTODY_* environment variables and safe defaults, then `overrides`."""
    overrides = overrides or {}
    settings = _from_environment(instance_path)
    settings.update(overrides)
    if not settings.get("SECRET_KEY"):
        settings["SECRET_KEY"] = _instance_secret(instance_path)
    if settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(instance_path).mkdir(parents=True, exist_ok=True)
    return settings


def _from_environment(instance_path: str) -> dict:
    default_db = f"sqlite:///{Path(instance_path) / 'custody.sqlite3'}"
    return {
        "SECRET_KEY": os.environ.get("CUSTODY_SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("CUSTODY_DATABASE_URL", default_db),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # ISBT 128 facility identification number, assigned to the site by ICCBBA.
        "CUSTODY_FIN": os.environ.get("CUSTODY_FIN", "W9999"),
        # The facility's product description code for the CAR-NK product (ICCBBA-licensed codes
        # are configured by each site, never shipped); D0001 is a local, made-up code.
        "CUSTODY_PRODUCT_DESCRIPTION_CODE": os.environ.get(
            "CUSTODY_PRODUCT_DESCRIPTION_CODE", "D0001"
        ),
        "CUSTODY_FACILITY_NAME": os.environ.get(
            "CUSTODY_FACILITY_NAME", "Demonstration Cell Therapy Facility"
        ),
        "CUSTODY_FACILITY_ADDRESS": os.environ.get(
            "CUSTODY_FACILITY_ADDRESS", "1 Example Way, Springfield, USA"
        ),
        "CUSTODY_TIMEZONE": os.environ.get("CUSTODY_TIMEZONE", "America/Chicago"),
        # 21 CFR 11.300(d): attempts at misuse are detected; this many failures lock the account.
        "CUSTODY_MAX_FAILED_LOGINS": _env_int("CUSTODY_MAX_FAILED_LOGINS", 5),
        # Segregation of duties at release: whoever entered one of a lot's QC results may not
        # sign its release (set to 0 only where a site's SOP allows one person to do both).
        "CUSTODY_RELEASE_SEGREGATION": _env_bool("CUSTODY_RELEASE_SEGREGATION", True),
        # The product's name as certificates and labels print it.
        "CUSTODY_PRODUCT_NAME": os.environ.get("CUSTODY_PRODUCT_NAME", "CD33 CAR-NK cells"),
        # Label template files (labels/*.toml); unset means the project's own labels/ folder.
        **_env_present("CUSTODY_LABEL_TEMPLATES"),
        # Dots per mm of the Zebra printers ZPL is made for: 12 = 300 dpi, 8 = 203 dpi.
        "CUSTODY_LABEL_PRINTER_DPMM": _env_int("CUSTODY_LABEL_PRINTER_DPMM", 12),
        # Shards of the audit hash chain: writers to different shards never wait for each other.
        "CUSTODY_AUDIT_SHARDS": _env_int("CUSTODY_AUDIT_SHARDS", 16),
        # Logger readings further apart than this are reported as a gap in the shipment record.
        "CUSTODY_LOGGER_GAP_MINUTES": _env_int("CUSTODY_LOGGER_GAP_MINUTES", 30),
        # A passed bedside verification covers an infusion started within this many minutes:
        # "immediately before administration" (FACT-JACIE), not a check done hours earlier.
        "CUSTODY_VERIFICATION_VALID_MINUTES": _env_int("CUSTODY_VERIFICATION_VALID_MINUTES", 30),
        # Infectious-disease tests an "eligible" donor determination needs (comma-separated);
        # unset means the built-in list of the donor service.
        **_env_present("CUSTODY_DONOR_TESTS"),
        # Base URI of the tracker's own FHIR code and identifier systems; unset means the
        # placeholder of services/traceability/fhir.py, which a site must replace.
        **_env_present("CUSTODY_FHIR_SYSTEM_BASE"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env_bool("CUSTODY_SECURE_COOKIES", False),
        "WTF_CSRF_TIME_LIMIT": None,
        # flask-smorest / OpenAPI
        "API_TITLE": "Custody tracker API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
    }


def _instance_secret(instance_path: str) -> str:
    """A per-installation secret kept under instance/, created on first use.

    A fixed default secret would let anyone forge sessions on every site that forgot to set one.
    """
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = os.urandom(32).hex()
    path.write_text(secret)
    path.chmod(0o600)
    return secret
