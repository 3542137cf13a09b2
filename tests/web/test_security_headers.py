"""Every response carries the browser's safety headers: a content security policy that runs
only the site's own script files and forbids framing, no MIME sniffing, no referrer to other
sites, and HSTS when served over TLS. The browser journeys (tests/web) check that no page
breaks the policy: each Chromium page fails its test on any violation it reports."""

from __future__ import annotations

import pytest

from custody.security_headers import CONTENT_SECURITY_POLICY, on_loopback
from tests.web.test_bag_page import sign_in

EXPECTED = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def test_the_policy_allows_no_inline_script_and_no_framing():
    assert EXPECTED["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    "url",
    [
        "/login",
        "/",
        "/clinic",
        "/bedside",
        "/scan",
        "/no-such-page",
        "/static/js/api.js",
        "/api/v1/users/me",
        "/api/v1/openapi.json",
        "/api/v1/no-such-thing",
    ],
)
def test_every_kind_of_response_carries_the_headers(client, make, url):
    sign_in(client, make.user("admin").username)
    response = client.get(url)
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (url, name)
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP here


def test_hsts_is_sent_over_tls(client):
    response = client.get("/login", base_url="https://tracker.hospital.example")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_an_unsigned_api_answer_carries_them_too(client):
    response = client.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.headers["Content-Security-Policy"] == EXPECTED["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:8000", True),
        ("127.1.2.3", True),
        ("[::1]:5000", True),
        ("[::1]", True),
        ("tracker.hospital.example", False),
        ("10.0.0.5:5000", False),
        ("localhost.evil.example", False),
        ("[2001:db8::1]:443", False),
    ],
)
def test_the_loopback_is_told_from_every_other_host(host, loopback):
    assert on_loopback(host) is loopback
