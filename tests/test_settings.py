"""Settings: one typed object, every variable read in one place, a bad value refused by name."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from custody import create_app
from custody.config import SHIPPED_LABEL_TEMPLATES, VARIABLES, SettingsError, load_settings

SECRET = "s" * 32


def _load(tmp_path: Path, **environ: str):
    return load_settings({"CUSTODY_SECRET_KEY": SECRET, **environ}, instance_path=tmp_path)


def _refused(tmp_path: Path, **environ: str) -> list[str]:
    with pytest.raises(SettingsError) as refused:
        _load(tmp_path, **environ)
    return refused.value.problems


def test_defaults_when_nothing_is_set(tmp_path):
    s = load_settings({}, instance_path=tmp_path)
    assert s.database_url == f"sqlite:///{tmp_path / 'custody.sqlite3'}"
    assert s.fin == "W9999"
    assert s.product_description_code == "D0001"
    assert s.time_zone == ZoneInfo("America/Chicago")
    assert s.max_failed_logins == 5
    assert s.release_segregation is True
    assert s.product_name == "CD33 CAR-NK cells"
    assert s.audit_shards == 16
    assert s.logger_gap == timedelta(minutes=30)
    assert s.verification_valid_minutes == 30
    assert s.donor_tests == ("HIV-1/2", "HBV", "HCV", "HTLV-I/II", "Syphilis", "WNV")
    assert s.label_templates == SHIPPED_LABEL_TEMPLATES
    assert s.fhir_system_base == "https://custody-tracker.example/fhir"
    assert s.label_printer_dpmm == 12
    assert s.secure_cookies == "auto"
    assert s.session_idle == timedelta(minutes=15)
    assert s.session_lifetime == timedelta(hours=12)
    assert s.password_max_age is None
    assert s.token_lifetime == timedelta(days=90)
    assert s.trusted_proxies == 0
    assert (s.scan_pair_seconds, s.scan_suffix) == (20, "")
    assert (s.host, s.port, s.workers) == ("127.0.0.1", 5000, 2)


def test_the_default_secret_is_made_once_per_installation_and_kept_private(tmp_path):
    first = load_settings({}, instance_path=tmp_path).secret_key
    assert len(first) == 64
    assert load_settings({}, instance_path=tmp_path).secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_values_are_read_into_their_types(tmp_path):
    s = _load(
        tmp_path,
        CUSTODY_DATABASE_URL="postgresql://u:p@db.example:5432/custody",
        CUSTODY_FIN="a1234",
        CUSTODY_TIMEZONE="Europe/London",
        CUSTODY_RELEASE_SEGREGATION="off",
        CUSTODY_SECURE_COOKIES="yes",
        CUSTODY_SESSION_IDLE_MINUTES="5",
        CUSTODY_SESSION_MAX_HOURS="8",
        CUSTODY_PASSWORD_MAX_AGE_DAYS="90",
        CUSTODY_TOKEN_DAYS="30",
        CUSTODY_TRUSTED_PROXIES="1",
        CUSTODY_LOGGER_GAP_MINUTES="45",
        CUSTODY_DONOR_TESTS=" HIV-1/2 ,, HBV ",
        CUSTODY_FHIR_SYSTEM_BASE="https://fhir.hospital.example/custody/",
        CUSTODY_LABEL_PRINTER_DPMM="8",
        PORT="8000",
    )
    # The driver installed with the tracker is psycopg 3, whatever the URL says by default.
    assert s.database_url == "postgresql+psycopg://u:p@db.example:5432/custody"
    assert s.fin == "A1234"
    assert s.time_zone == ZoneInfo("Europe/London")
    assert s.release_segregation is False and s.secure_cookies == "1"
    assert (s.session_idle, s.session_lifetime) == (timedelta(minutes=5), timedelta(hours=8))
    assert (s.password_max_age, s.token_lifetime) == (timedelta(days=90), timedelta(days=30))
    assert s.trusted_proxies == 1
    assert s.logger_gap == timedelta(minutes=45)
    assert s.donor_tests == ("HIV-1/2", "HBV")
    assert s.fhir_system_base == "https://fhir.hospital.example/custody"
    assert (s.label_printer_dpmm, s.port) == (8, 8000)


# Each bad value, and the one line that names it, says what is wrong and gives an example.
BAD_VALUES = [
    (
        "CUSTODY_SECURE_COOKIES",
        "maybe",
        "CUSTODY_SECURE_COOKIES=maybe cannot be used: it must be auto (HTTPS only, except plain "
        "HTTP on the loopback), 1 or 0; set it like CUSTODY_SECURE_COOKIES=1",
    ),
    (
        "CUSTODY_SESSION_IDLE_MINUTES",
        "1",
        "CUSTODY_SESSION_IDLE_MINUTES=1 cannot be used: it must be a whole number from 2 to 240; "
        "set it like CUSTODY_SESSION_IDLE_MINUTES=15",
    ),
    (
        "CUSTODY_TOKEN_DAYS",
        "0",
        "CUSTODY_TOKEN_DAYS=0 cannot be used: it must be a whole number from 1 to 3650; set it "
        "like CUSTODY_TOKEN_DAYS=365",
    ),
    (
        "CUSTODY_AUDIT_SHARDS",
        "0",
        "CUSTODY_AUDIT_SHARDS=0 cannot be used: it must be a whole number from 1 to 1024; "
        "set it like CUSTODY_AUDIT_SHARDS=16",
    ),
    (
        "CUSTODY_TIMEZONE",
        "Mars/Base",
        "CUSTODY_TIMEZONE=Mars/Base cannot be used: it is not a time zone known here (an IANA "
        "name); set it like CUSTODY_TIMEZONE=Europe/London",
    ),
    (
        "CUSTODY_MAX_FAILED_LOGINS",
        "abc",
        "CUSTODY_MAX_FAILED_LOGINS=abc cannot be used: it must be a whole number from 1 to 100; "
        "set it like CUSTODY_MAX_FAILED_LOGINS=5",
    ),
    (
        "CUSTODY_DATABASE_URL",
        "not a url",
        "CUSTODY_DATABASE_URL=not a url cannot be used: it is not a database URL; set it like "
        "CUSTODY_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/custody",
    ),
    (
        "CUSTODY_DATABASE_URL",
        "mysql://root@localhost/custody",
        "CUSTODY_DATABASE_URL=mysql://root@localhost/custody cannot be used: only SQLite "
        "(sqlite:///…) and PostgreSQL (postgresql+psycopg://…) are supported; set it like "
        "CUSTODY_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/custody",
    ),
    (
        "CUSTODY_RELEASE_SEGREGATION",
        "flase",
        "CUSTODY_RELEASE_SEGREGATION=flase cannot be used: it must be 1 (on) or 0 (off); set it "
        "like CUSTODY_RELEASE_SEGREGATION=1",
    ),
    (
        "CUSTODY_FIN",
        "W99",
        "CUSTODY_FIN=W99 cannot be used: a facility number (FIN) has 5 characters but 3 were "
        "given; set it like CUSTODY_FIN=W1234",
    ),
    (
        "CUSTODY_PRODUCT_DESCRIPTION_CODE",
        "D01",
        "CUSTODY_PRODUCT_DESCRIPTION_CODE=D01 cannot be used: it is not a 5-character ISBT 128 "
        "product description code; set it like CUSTODY_PRODUCT_DESCRIPTION_CODE=D0001",
    ),
    (
        "CUSTODY_LOGGER_GAP_MINUTES",
        "-5",
        "CUSTODY_LOGGER_GAP_MINUTES=-5 cannot be used: it must be a whole number from 1 to 1440; "
        "set it like CUSTODY_LOGGER_GAP_MINUTES=30",
    ),
    (
        "CUSTODY_VERIFICATION_VALID_MINUTES",
        "1.5",
        "CUSTODY_VERIFICATION_VALID_MINUTES=1.5 cannot be used: it must be a whole number from 1 "
        "to 240; set it like CUSTODY_VERIFICATION_VALID_MINUTES=30",
    ),
    (
        "CUSTODY_DONOR_TESTS",
        " , ",
        "CUSTODY_DONOR_TESTS= ,  cannot be used: it names no test; set it like "
        'CUSTODY_DONOR_TESTS="HIV-1/2, HBV, HCV"',
    ),
    (
        "CUSTODY_LABEL_TEMPLATES",
        "/no/such/folder",
        "CUSTODY_LABEL_TEMPLATES=/no/such/folder cannot be used: it is not a folder; set it like "
        "CUSTODY_LABEL_TEMPLATES=/srv/custody/labels",
    ),
    (
        "CUSTODY_FHIR_SYSTEM_BASE",
        "fhir.example",
        "CUSTODY_FHIR_SYSTEM_BASE=fhir.example cannot be used: it is not an absolute http(s) URI; "
        "set it like CUSTODY_FHIR_SYSTEM_BASE=https://fhir.hospital.example/custody",
    ),
    (
        "CUSTODY_LABEL_PRINTER_DPMM",
        "10",
        "CUSTODY_LABEL_PRINTER_DPMM=10 cannot be used: Zebra printers have 6, 8, 12 or 24 dots "
        "per mm; set it like CUSTODY_LABEL_PRINTER_DPMM=8",
    ),
    (
        "CUSTODY_SCAN_PAIR_SECONDS",
        "2",
        "CUSTODY_SCAN_PAIR_SECONDS=2 cannot be used: it must be a whole number from 5 to 120; "
        "set it like CUSTODY_SCAN_PAIR_SECONDS=20",
    ),
    (
        "CUSTODY_SCAN_SUFFIX",
        "ENDOFSCAN",
        "CUSTODY_SCAN_SUFFIX=ENDOFSCAN cannot be used: it must be at most 8 printable characters; "
        "set it like CUSTODY_SCAN_SUFFIX=~",
    ),
    (
        "PORT",
        "70000",
        "PORT=70000 cannot be used: it must be a whole number from 1 to 65535; set it like "
        "PORT=8000",
    ),
]


@pytest.mark.parametrize(("name", "value", "line"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_a_bad_value_is_refused_in_one_line_naming_it(tmp_path, name, value, line):
    assert _refused(tmp_path, **{name: value}) == [line]


def test_the_secret_key_is_never_echoed_back(tmp_path):
    (line,) = _refused(tmp_path, CUSTODY_SECRET_KEY="hunter2")
    assert "hunter2" not in line
    assert line.startswith("CUSTODY_SECRET_KEY=… cannot be used: a session signing key needs at")


def test_every_bad_variable_is_named_each_on_its_own_line(tmp_path):
    problems = _refused(tmp_path, CUSTODY_AUDIT_SHARDS="x", CUSTODY_TIMEZONE="Nowhere")
    assert [p.split("=")[0] for p in problems] == ["CUSTODY_TIMEZONE", "CUSTODY_AUDIT_SHARDS"]


def test_every_variable_has_a_valid_example_and_default(tmp_path):
    for variable in VARIABLES:
        if variable.secret:
            continue
        example = variable.example.strip('"')
        if variable.name == "CUSTODY_LABEL_TEMPLATES":
            example = str(tmp_path)
        variable.parse(example)  # raises if the example it gives would be refused
    load_settings({}, instance_path=tmp_path)  # every default is accepted


def test_the_app_is_built_from_the_settings_and_refuses_to_start_on_a_bad_one(tmp_path):
    app = create_app(
        {"CUSTODY_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "CUSTODY_SECRET_KEY": SECRET}
    )
    assert app.config["SECRET_KEY"] == SECRET
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(SettingsError, match="CUSTODY_AUDIT_SHARDS=0"):
        create_app({"CUSTODY_SECRET_KEY": SECRET, "CUSTODY_AUDIT_SHARDS": 0})
    with pytest.raises(TypeError, match="CUSTODY_"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
