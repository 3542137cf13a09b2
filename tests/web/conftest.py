"""Browser fixtures: the test app served on a free local port, and Debian's headless Chromium.

- `live_server` serves the test's own `app` (so the test's database) from a background thread
  and yields its base URL. The test thread must not hold a database transaction open while
  the browser acts: on SQLite every transaction begins IMMEDIATE, so an open one in the test
  would make the server wait (15 s busy timeout, then the page times out). Call
  `db.session.remove()` after setting data up, and after reading data if the browser acts again.
- `browser` is one Chromium per test process (per xdist worker); `page` is a fresh context
  and page per test, so cookies never leak between tests. A failing test leaves a screenshot
  in its tmp_path, named in the report.

No Chromium: the tests skip, except under CUSTODY_REQUIRE_ALL=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from custody.extensions import db

HERE = Path(__file__).resolve().parent
VIEWPORT = {"width": 1024, "height": 768}
# Short enough that a broken page fails in seconds, long enough for a loaded CI machine.
TIMEOUT_MS = 10_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _required() -> bool:
    return os.environ.get("CUSTODY_REQUIRE_ALL") == "1"


def _unavailable(reason: str) -> None:
    if _required():
        pytest.fail(
            f"{reason} CUSTODY_REQUIRE_ALL=1, so browser tests may not skip: install Chromium "
            "(`apt-get install chromium`) or set CUSTODY_CHROMIUM to its path.",
            pytrace=False,
        )
    pytest.skip(f"{reason} Install it with `apt-get install chromium` to run browser tests.")


def browser_sign_in(
    page, live_server: str, username: str, target: str, password: str | None = None
) -> None:
    """Sign in through the login form in the browser and land on `target` (a path); the
    factories' password unless another is given."""
    from playwright.sync_api import expect

    from tests.factories import PASSWORD

    page.goto(f"{live_server}/login?next={target}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password or PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}{target}")


def release_db() -> None:
    """End the test thread's database transaction, so the live server can write."""
    db.session.remove()


def pytest_collection_modifyitems(config, items) -> None:
    # This hook sees every collected item, so mark only the ones under this directory.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        page = item.funcargs.get("page")
        tmp_path = item.funcargs.get("tmp_path")
        if page is not None and tmp_path is not None and not page.is_closed():
            path = tmp_path / "failure.png"
            try:
                page.screenshot(path=str(path), full_page=True)
            except Exception as exc:  # a screenshot must never hide the real failure
                report.sections.append(("browser", f"no screenshot: {exc}"))
            else:
                report.sections.append(("browser", f"url: {page.url}\nscreenshot: {path}"))
    return report


def find_chromium() -> str | None:
    """CUSTODY_CHROMIUM, else `chromium` on PATH, else Debian's /usr/bin/chromium."""
    configured = os.environ.get("CUSTODY_CHROMIUM")
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            pytest.fail(
                f"CUSTODY_CHROMIUM={configured!r} is not an executable file.", pytrace=False
            )
        return configured
    found = shutil.which("chromium")
    if found:
        return found
    fallback = "/usr/bin/chromium"
    if os.path.isfile(fallback) and os.access(fallback, os.X_OK):
        return fallback
    return None


@pytest.fixture(scope="session")
def browser():
    executable = find_chromium()
    if executable is None:
        _unavailable("Chromium was not found (CUSTODY_CHROMIUM, PATH, /usr/bin/chromium).")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("The playwright package is not installed (pip install -e '.[test]').")

    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)  # expect() has its own default of 5 s
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


# What the browser refused under the content security policy, in this test (see below).
_refused_by_policy: list[str] = []


def watch_policy(page) -> None:
    """Note every content security policy violation Chromium reports on `page`: a page that
    needs an inline script or style, or another origin, is broken where the policy holds."""
    page.on(
        "console",
        lambda message: (
            _refused_by_policy.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )


@pytest.fixture(autouse=True)
def _pages_keep_the_content_security_policy():
    _refused_by_policy.clear()
    yield
    assert _refused_by_policy == [], "the page broke the content security policy"


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch_policy(page)
    try:
        yield page
    finally:
        context.close()


class _LiveServer:
    """werkzeug's threaded server in a background thread, that stops only when idle.

    Request threads are daemons the server never joins, so `stop()` refuses new requests
    (a late favicon, a kept-alive connection) and waits for running ones: none may touch the
    database after the test's teardown has disposed of it or the next test has emptied it.
    """

    def __init__(self, app) -> None:
        self.app = app
        self._idle = threading.Condition()
        self._running = 0
        self._stopping = False
        # Port 0: the OS picks a free port, so parallel workers never collide.
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="live-server",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def _wsgi(self, environ, start_response):
        with self._idle:
            if self._stopping:
                start_response("503 Service Unavailable", [("Connection", "close")])
                return [b"The test server has stopped."]
            self._running += 1
        try:
            # Flask pops its app context, and so ends the request's session, before returning.
            return self.app(environ, start_response)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        with self._idle:
            self._stopping = True
            idle = self._idle.wait_for(lambda: self._running == 0, timeout=TIMEOUT_MS / 1000)
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        if not idle:
            pytest.fail("A request was still running when the test ended.", pytrace=False)


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The test's app, on its database, at http://127.0.0.1:<free port> (no trailing slash).

    Each request runs in a server thread with its own app context and database session; the
    test keeps its own, which is released here and must be released again (`db.session.remove()`)
    after the test sets data up and before the browser acts.
    """
    release_db()
    server = _LiveServer(app)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        release_db()


@pytest.fixture
def nurses(make, live_server):
    """Two nurses of the ward (Nora first, Sam second), their rows committed for the server."""
    from tests.web.bedside_steps import Nurse

    made = (
        make.user("nurse", username="nora.first", name="Nora First"),
        make.user("nurse", username="sam.second", name="Sam Second"),
    )
    found = tuple(Nurse(u.id, u.username, u.full_name) for u in made)
    release_db()
    return found


@pytest.fixture
def fresh_request_globals(monkeypatch, app):
    """The test's app context serves every request of every client in the test, and so does
    `g`, where Flask-Login and the API cache the caller: clear it before each request, as a
    server's fresh context would, or one browser would be answered as another."""
    from flask import g, has_app_context
    from flask.testing import FlaskClient

    original = FlaskClient.open

    def fresh_open(self, *args, **kwargs):
        if has_app_context():
            g.__dict__.clear()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FlaskClient, "open", fresh_open)


@pytest.fixture
def technician(make, live_server) -> str:
    """The scan station's technician, signed up (a module may define its own)."""
    from tests.web.scan_station_steps import sign_up_technician

    return sign_up_technician(make)


@pytest.fixture
def lab(make_lot, live_server):
    """Bags, boxes, positions and a shipment for the scan station's tests."""
    from tests.web.scan_station_steps import set_up_lab

    return set_up_lab(make_lot)
