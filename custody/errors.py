"""Every error, mapped to HTTP in one place.

API requests get `{"error": {"code", "message", "details"}}` with a 4xx status; pages get the
same message in a page a nurse can read. Races lost at the database (a stale version, a unique
constraint) become a 409 `conflict`, never a 500; the transaction is rolled back first, so
nothing is half-written.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError

from custody.domain.errors import Conflict, DomainError
from custody.extensions import db

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "authentication_failed",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}


def register(app: Flask) -> None:
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(StaleDataError, _lost_race)
    app.register_error_handler(IntegrityError, _lost_race)
    app.register_error_handler(DataError, _unstorable_value)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _domain_error(error: DomainError):
    db.session.rollback()
    return _respond(error.http_status, error.code, error.message, error.details)


def _lost_race(error: Exception):
    db.session.rollback()
    conflict = Conflict(
        "Someone else changed this record at the same moment, and their change was saved "
        "first. Nothing of yours was saved: look at the record again, then repeat if needed."
    )
    return _domain_error(conflict)


def _unstorable_value(error: DataError):
    """A backstop: input checks should stop such values before the database sees them."""
    db.session.rollback()
    log.warning("database refused a value: %s", error)
    return _respond(
        422, "validation_error", "A value cannot be stored (wrong type, size or characters)."
    )


def _database_unavailable(error: OperationalError):
    db.session.rollback()
    log.warning("database unavailable: %s", error)
    return _respond(
        503, "unavailable", "The database is busy or unreachable. Nothing was saved; try again."
    )


def _http_error(error: HTTPException):
    if isinstance(error, InternalServerError):
        return _unexpected(error.original_exception or error)
    code = HTTP_CODES.get(error.code or 400, "http_error")
    details = {}
    data = getattr(error, "data", None) or {}
    # webargs (via flask-smorest) puts field errors under "messages"
    if "messages" in data:
        details["fields"] = data["messages"]
        message = "Some fields are missing or not valid: " + _summarise(data["messages"])
    else:
        message = error.description or error.name
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    headers.extend((data.get("headers") or {}).items())
    return _respond(error.code or 400, code, message, details, headers)


def _summarise(messages) -> str:
    parts = []
    for location in messages.values() if isinstance(messages, dict) else []:
        if isinstance(location, dict):
            for field, problems in location.items():
                parts.append(f"{field}: {_flatten(problems)}")
    return "; ".join(parts) or "see details."


def _flatten(problems) -> str:
    if isinstance(problems, list):
        return " ".join(str(p) for p in problems)
    if isinstance(problems, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in problems.items())
    return str(problems)


def _unexpected(error: Exception):
    db.session.rollback()
    log.exception("unexpected error", exc_info=error)
    return _respond(
        500,
        "internal_error",
        "Something went wrong on our side and nothing was saved. Please report this.",
    )


def _respond(status: int, code: str, message: str, details=None, headers=None) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    if request.path.startswith("/api/"):
        response = jsonify(body)
    else:
        response = Response(
            render_template("error.html", status=status, error=body["error"]),
            mimetype="text/html",
        )
    response.status_code = status
    for key, value in headers or []:
        response.headers[key] = value
    return response
