"""How each kind of setting is read from its text: a value, or ValueError saying why not
(the caller names the variable and gives an example)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from custody.domain import isbt128
from custody.domain.errors import DomainError


def whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            number = int(raw.strip())
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise ValueError(f"it must be a whole number from {low} to {high}")
        return number

    return parse


def minutes(low: int, high: int) -> Callable[[str], timedelta]:
    count = whole_number(low, high)
    return lambda raw: timedelta(minutes=count(raw))


_ON = {"1", "true", "yes", "on"}
_OFF = {"0", "false", "no", "off"}


def hours(low: int, high: int) -> Callable[[str], timedelta]:
    count = whole_number(low, high)
    return lambda raw: timedelta(hours=count(raw))


def days(low: int, high: int) -> Callable[[str], timedelta]:
    count = whole_number(low, high)
    return lambda raw: timedelta(days=count(raw))


def days_or_never(high: int) -> Callable[[str], timedelta | None]:
    count = whole_number(0, high)
    return lambda raw: timedelta(days=count(raw)) or None


def cookie_security(raw: str) -> str:
    word = raw.strip().lower()
    if word == "auto":
        return word
    if word in _ON | _OFF:
        return "1" if word in _ON else "0"
    raise ValueError("it must be auto (HTTPS only, except plain HTTP on the loopback), 1 or 0")


def switch(raw: str) -> bool:
    # A typo must not switch a safety rule off: anything but a clear on or off is refused.
    word = raw.strip().lower()
    if word in _ON | _OFF:
        return word in _ON
    raise ValueError("it must be 1 (on) or 0 (off)")


def text(raw: str) -> str:
    if not raw.strip():
        raise ValueError("it is empty")
    return raw.strip()


def time_zone(raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("it is not a time zone known here (an IANA name)") from None


def fin(raw: str) -> str:
    try:
        return isbt128.validate_fin(raw)
    except DomainError as error:
        raise ValueError(first_sentence(error.message)) from None


def product_description_code(raw: str) -> str:
    code = raw.strip().upper()
    try:
        # A product code of this description, volunteer collection, not divided.
        isbt128.encode_product_code(f"{code}V00")
    except DomainError:
        raise ValueError("it is not a 5-character ISBT 128 product description code") from None
    return code


def database_url(raw: str) -> str:
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise ValueError("it is not a database URL") from None
    return known_driver(url).render_as_string(hide_password=False)


def known_driver(url: URL) -> URL:
    if url.get_backend_name() == "sqlite" and url.get_driver_name() in ("pysqlite", ""):
        return url
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("psycopg", ""):
        # The driver installed with the tracker is psycopg 3, whatever the URL's default.
        return url.set(drivername="postgresql+psycopg")
    raise ValueError(
        "only SQLite (sqlite:///…) and PostgreSQL (postgresql+psycopg://…) are supported"
    )


def secret(raw: str) -> str:
    if len(raw.strip()) < 32:
        raise ValueError("a session signing key needs at least 32 characters")
    return raw.strip()


def folder(raw: str) -> Path:
    path = Path(raw.strip())
    if not path.is_dir():
        raise ValueError("it is not a folder")
    return path


def absolute_uri(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("it is not an absolute http(s) URI")
    return raw.strip().rstrip("/")


def names(raw: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    if not names:
        raise ValueError("it names no test")
    return names


def printer_resolution(raw: str) -> int:
    dpmm = whole_number(1, 24)(raw)
    if dpmm not in (6, 8, 12, 24):
        raise ValueError("Zebra printers have 6, 8, 12 or 24 dots per mm")
    return dpmm


def suffix(raw: str) -> str:
    # Taken as given, not stripped: a suffix is whatever the scanner was set to append.
    if len(raw) > 8 or not raw.isprintable():
        raise ValueError("it must be at most 8 printable characters")
    return raw


# Said when something needs the audit key and none is configured.


def first_sentence(message: str) -> str:
    sentence = message.split(". ")[0].rstrip(".")
    return sentence[:1].lower() + sentence[1:]
