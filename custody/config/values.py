"""The settings object and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from custody.config.paths import EXTENSION_KEY


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
