"""Reading API answers in tests: the expected status, and the error envelope's shape."""

from __future__ import annotations


def ok(response, status: int) -> dict:
    """The JSON body of a response that must have `status`; the body is shown if not."""
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def error(response, status: int, code: str) -> dict:
    """The `error` of a refusal with `status` and machine `code`, which must carry words."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()["error"]
    assert body["code"] == code and body["message"]
    return body
