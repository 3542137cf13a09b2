"""The API's outside: authentication, role checks, the error envelope, never a 500."""

from __future__ import annotations

import pytest

NEW_NURSE = {
    "username": "new1",
    "full_name": "New One",
    "role": "nurse",
    "password": "long enough password",
}


def _assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def test_openapi_document_is_served_and_describes_the_api(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/isbt128/parse" in spec["paths"]
    assert "/api/v1/users/me" in spec["paths"]
    assert "bearer" in spec["components"]["securitySchemes"]


def test_no_credentials_is_401_with_the_envelope(client):
    error = _assert_envelope(client.get("/api/v1/users/me"), 401, "authentication_failed")
    assert "Bearer" in error["message"]


def test_a_bad_token_is_401(client):
    response = client.get("/api/v1/users/me", headers={"Authorization": "Bearer nope"})
    _assert_envelope(response, 401, "authentication_failed")


def test_a_token_identifies_its_user(client, make):
    headers = make.auth("qa", username="quinn", name="Quinn Adler")
    body = client.get("/api/v1/users/me", headers=headers).get_json()
    assert body == {
        "username": "quinn",
        "full_name": "Quinn Adler",
        "role": "qa",
        "locked": False,
        "active": True,
        "retired_at": None,
        "must_change_password": False,
    }


@pytest.mark.parametrize("role", ["technician", "qa", "nurse"])
def test_only_admins_create_users(client, make, role):
    response = client.post(
        "/api/v1/users",
        json=NEW_NURSE,
        headers=make.auth(role),
    )
    error = _assert_envelope(response, 403, "forbidden")
    assert "admin" in error["message"]


def test_admin_creates_a_user(client, make):
    response = client.post(
        "/api/v1/users",
        json=NEW_NURSE,
        headers=make.auth("admin"),
    )
    assert response.status_code == 201
    assert response.get_json()["role"] == "nurse"


def test_the_role_is_checked_before_the_body_is_read(client, make):
    response = client.post("/api/v1/users", data="{not json", headers=make.auth("nurse"))
    _assert_envelope(response, 403, "forbidden")


def test_missing_fields_are_422_naming_them(client, make):
    response = client.post("/api/v1/users", json={"username": "x"}, headers=make.auth("admin"))
    error = _assert_envelope(response, 422, "validation_error")
    assert "full_name" in error["message"]
    assert "password" in error["details"]["fields"]["json"]


def test_unknown_path_is_404_envelope(client):
    _assert_envelope(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_wrong_method_is_405_with_allow_header(client):
    response = client.delete("/api/v1/users/me")
    _assert_envelope(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{", "application/json"),
        ("[]", "application/json"),
        ('{"data": 5}', "application/json"),
        ('{"data": null}', "application/json"),
        ('{"data": "' + "A" * 600 + '"}', "application/json"),
        ("data=x", "application/x-www-form-urlencoded"),
        ("\x00\xff", "application/octet-stream"),
    ],
)
def test_malformed_bodies_never_give_500(client, make, data, content_type):
    response = client.post(
        "/api/v1/isbt128/parse", data=data, content_type=content_type, headers=make.auth()
    )
    assert 400 <= response.status_code < 500
    assert response.get_json()["error"]["code"]


def test_pages_show_errors_as_html_not_json(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_a_request_never_inherits_the_previous_callers_identity(client, make):
    """Each request authenticates afresh: no caller is served as the one before it."""
    assert client.get("/api/v1/users/me", headers=make.auth("admin")).status_code == 200
    _assert_envelope(client.get("/api/v1/users/me"), 401, "authentication_failed")
