"""What every response tells the browser, and when the session cookie is HTTPS-only.

- A content security policy that runs only the site's own script files (no inline script, no
  other origin: hospital networks are closed and a page must not be made to run foreign code),
  never framed by another site (clickjacking a signature dialog), no MIME sniffing, no URL
  with its record codes sent to another site as a referrer, and HSTS when served over TLS.
- CUSTODY_SECURE_COOKIES=auto (the default) marks the cookie Secure except for plain HTTP on
  the loopback (the demo's `make run` and the tests); 1 always, 0 never.
"""

from __future__ import annotations

from ipaddress import ip_address

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from custody.config import EXTENSION_KEY

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000; includeSubDomains"
LOOPBACK_NAMES = frozenset({"localhost"})


def init_app(app: Flask) -> None:
    app.session_interface = CookieSecurity()
    app.after_request(add_security_headers)
    hops = app.extensions[EXTENSION_KEY].trusted_proxies
    if hops:
        # Behind a TLS proxy: believe its X-Forwarded-* headers, for this many hops only.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def add_security_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


class CookieSecurity(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with the Secure flag decided per request."""

    def get_cookie_secure(self, app: Flask) -> bool:
        mode = app.extensions[EXTENSION_KEY].secure_cookies
        if mode != "auto":
            return mode == "1"
        return request.is_secure or not on_loopback(request.host)


def on_loopback(host: str) -> bool:
    """Whether `host` (a Host header, maybe with a port) names this machine's loopback."""
    # "[::1]:5000" for IPv6, else "name:port"
    name = host[1 : host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
    name = name.lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ip_address(name).is_loopback
    except ValueError:
        return False
