"""Request parsing for the API: JSON and text that the database can actually store.

Two kinds of input used to reach the database and fail there with a 500: JSON nested deeper
than Python's recursion limit, and text holding NUL or unpaired surrogates (PostgreSQL cannot
store NUL; no driver can encode a lone surrogate). Both are refused here, at the edge, with
words a client can act on, for every endpoint at once.

Answers, too, are dumped here for their caller: a schema's patient identifier fields reach only
a role the permissions table's field-level rule lets see them (custody/schemas/common.py).
"""

from __future__ import annotations

from functools import wraps

from flask import request
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser, abort

from custody.auth import api_user
from custody.domain.errors import AuthenticationFailed, ValidationFailed
from custody.domain.permissions import Role
from custody.schemas.common import answering


def unstorable_text(value) -> str | None:
    """Describe the first string inside `value` that cannot be stored, or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return "contains a NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains an unpaired surrogate (not valid Unicode text)"
        return None
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        problem = unstorable_text(item)
        if problem:
            return problem
    return None


class StorableJsonParser(FlaskParser):
    def _raw_load_json(self, req):
        try:
            data = super()._raw_load_json(req)
        except RecursionError:
            abort(400, messages={"json": ["The JSON body is nested too deeply."]})
        problem = unstorable_text(data)
        if problem:
            raise ValidationFailed(f"The request body {problem}; send plain UTF-8 text.")
        return data


class ApiBlueprint(Blueprint):
    """Every API blueprint: storable-text JSON parsing, and storable path and query values."""

    ARGUMENTS_PARSER = StorableJsonParser()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.before_request(refuse_unstorable_url_values)

    def response(self, status_code, schema=None, **kwargs):
        """flask-smorest's response decorator, dumping the answer for the caller's role.

        It sits under `requires`, so the caller is known (and allowed) when it runs."""
        dump = super().response(status_code, schema, **kwargs)

        def decorator(view):
            dumping = dump(view)

            @wraps(dumping)
            def answer(*args, **kw):
                with answering(_caller_role()):
                    return dumping(*args, **kw)

            return answer

        return decorator


def _caller_role() -> Role | None:
    """The caller's role; None where nobody signed in (nobody is shown patient identifiers)."""
    try:
        return api_user().role
    except AuthenticationFailed:
        return None


def refuse_unstorable_url_values() -> None:
    """before_request for the API: path and query values must be storable text too."""
    for where, values in (("path", request.view_args or {}), ("query", request.args)):
        for name, value in values.items():
            problem = unstorable_text(value)
            if problem:
                raise ValidationFailed(
                    f"The {where} value of {name!r} {problem}.", parameter=name, location=where
                )
