"""Domain errors: each carries a machine code, words a person understands, and details.

The API maps them to HTTP in one place (custody/api/errors.py); pages show `message` as is.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Something a user or client asked for that the rules do not allow. Never a crash."""

    code = "domain_error"
    http_status = 422

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(DomainError):
    code = "validation_error"
    http_status = 422


class InvalidBarcode(DomainError):
    """Scanned or typed data that is not valid ISBT 128 (or not what this field expects)."""

    code = "invalid_barcode"
    http_status = 422


class WrongCheckCharacter(InvalidBarcode):
    code = "wrong_check_character"


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class IllegalTransition(DomainError):
    code = "illegal_transition"
    http_status = 409


class Conflict(DomainError):
    """Someone else's action on the same record won the race."""

    code = "conflict"
    http_status = 409


class AuthenticationFailed(DomainError):
    code = "authentication_failed"
    http_status = 401


class AccountLocked(AuthenticationFailed):
    code = "account_locked"
    http_status = 403


class Forbidden(DomainError):
    code = "forbidden"
    http_status = 403


class SignatureRefused(DomainError):
    """A signature that did not happen: wrong password, another person's ID, or not QA."""

    code = "signature_refused"
    http_status = 403


class LabelCannotPrint(DomainError):
    """A label that would be wrong if printed: missing data, no approved template, no room."""

    code = "label_cannot_print"
    http_status = 409
