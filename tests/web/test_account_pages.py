"""The account's life on the pages and the API: a reset password is changed before anything
else, a too-old one likewise, the change page refuses in words and changes nothing, a retired
account's sessions end, locked accounts are shown to administrators on every page, and the
sign-in page answers every failure alike."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from custody.extensions import db
from custody.models import User
from custody.services.core import accounts
from tests.conftest import change_settings
from tests.factories import PASSWORD
from tests.web.test_bag_page import sign_in

NEW = "velvet quarry lantern"


pytestmark = pytest.mark.usefixtures("fresh_request_globals")


def _csrf(client, url: str = "/account/password") -> str:
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def _change(client, current: str, new: str, confirm: str | None = None):
    return client.post(
        "/account/password?next=/clinic",
        data={
            "csrf_token": _csrf(client),
            "current_password": current,
            "password": new,
            "confirm": new if confirm is None else confirm,
        },
    )


def test_after_a_reset_every_page_asks_for_a_new_password_first(client, make):
    make.user("nurse", username="nina")
    accounts.reset_password("ada", "nina", "temporary-Kestrel-41", "identity checked in person")
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    signed = client.post(
        "/login",
        data={"username": "nina", "password": "temporary-Kestrel-41", "csrf_token": token},
    )
    assert signed.status_code == 302

    clinic = client.get("/clinic")
    assert clinic.status_code == 302
    assert clinic.headers["Location"].startswith("/account/password?next=/clinic")
    asked = client.get("/account/password").get_data(as_text=True)
    assert 'data-testid="password-due"' in asked

    differ = _change(client, "temporary-Kestrel-41", NEW, confirm=NEW + "x")
    assert differ.status_code == 422 and "The two new passwords differ" in differ.get_data(
        as_text=True
    )
    weak = _change(client, "temporary-Kestrel-41", "password1234")
    assert weak.status_code == 422 and "too easy to guess" in weak.get_data(as_text=True)
    changed = _change(client, "temporary-Kestrel-41", NEW)
    assert changed.status_code == 302 and changed.headers["Location"] == "/clinic"
    assert client.get("/clinic").status_code == 200


def test_a_password_older_than_the_site_allows_is_changed_first(app, client, make):
    change_settings(app, CUSTODY_PASSWORD_MAX_AGE_DAYS=90)
    nina = make.user("nurse", username="nina")
    db.session.execute(
        update(User)
        .where(User.id == nina.id)
        .values(password_changed_at=nina.password_changed_at - timedelta(days=91))
    )
    db.session.commit()
    sign_in(client, "nina")
    assert client.get("/bedside").headers["Location"].startswith("/account/password")
    assert _change(client, PASSWORD, NEW).status_code == 302
    assert client.get("/bedside").status_code == 200


def test_the_sign_in_page_answers_unknown_wrong_and_locked_alike(client, make):
    make.user("nurse", username="nina")
    make.user("nurse", username="sam")
    for _ in range(5):
        with pytest.raises(accounts.AuthenticationFailed):
            accounts.authenticate("sam", "wrong password!")

    def attempt(username: str, password: str) -> tuple[int, str]:
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        answer = client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )
        error = re.search(r'data-testid="login-error">([^<]+)<', answer.get_data(as_text=True))
        return answer.status_code, error.group(1)

    answers = {
        attempt("nobody", PASSWORD),
        attempt("nina", "wrong password!"),
        attempt("sam", PASSWORD),  # locked, right password
    }
    assert answers == {
        (
            401,
            "Username or password is not correct. After repeated failures an account is "
            "locked: ask an administrator.",
        )
    }


def test_administrators_see_locked_accounts_on_every_page(client, make):
    make.user("admin", username="ada")
    make.user("nurse", username="sam")
    for _ in range(5):
        with pytest.raises(accounts.AuthenticationFailed):
            accounts.authenticate("sam", "wrong password!")
    sign_in(client, "ada")
    for url in ("/", "/clinic", "/audit"):
        html = client.get(url).get_data(as_text=True)
        assert 'data-testid="locked-accounts">Locked after failed sign-ins: sam.' in html, url


def test_a_nurse_is_not_shown_who_is_locked(client, make):
    make.user("nurse", username="nina")
    make.user("nurse", username="sam")
    for _ in range(5):
        with pytest.raises(accounts.AuthenticationFailed):
            accounts.authenticate("sam", "wrong password!")
    sign_in(client, "nina")
    assert 'data-testid="locked-accounts"' not in client.get("/").get_data(as_text=True)


def test_the_api_changes_resets_retires_and_lists_accounts(app, client, make):
    admin = make.headers(make.user("admin", username="ada"))
    nina = make.user("nurse", username="nina")
    own = make.headers(nina)
    wrong = client.post(
        "/api/v1/users/me/password",
        json={"current_password": "nope", "password": NEW},
        headers=own,
    )
    assert wrong.status_code == 422
    changed = client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "password": NEW},
        headers=own,
    )
    assert changed.status_code == 200 and changed.get_json()["must_change_password"] is False

    reset = client.post(
        "/api/v1/users/nina/password-reset",
        json={"temporary_password": "temporary-Kestrel-41", "reason": "forgot; ID badge seen"},
        headers=admin,
    )
    assert reset.status_code == 200 and reset.get_json()["must_change_password"] is True
    assert (
        client.post(
            "/api/v1/users/nina/password-reset",
            json={"temporary_password": "temporary-Kestrel-41", "reason": "x"},
            headers=own,
        ).status_code
        == 403
    )

    browser = app.test_client()
    sign_in_as = browser.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', sign_in_as).group(1)
    browser.post(
        "/login",
        data={"username": "nina", "password": "temporary-Kestrel-41", "csrf_token": token},
    )
    retired = client.post(
        "/api/v1/users/nina/retirement", json={"reason": "left the hospital"}, headers=admin
    )
    assert retired.status_code == 200 and retired.get_json()["active"] is False
    assert browser.get("/api/v1/users/me").status_code == 401  # her open session ended
    listed = client.get("/api/v1/users", headers=admin).get_json()["items"]
    assert {u["username"]: u["active"] for u in listed} == {"ada": True, "nina": False}


def test_the_cli_resets_retires_and_lists(runner, make):
    make.user("nurse", username="nina")
    reset = runner.invoke(
        args=["user", "reset-password", "nina", "--reason", "badge seen"],
        input="temporary-Kestrel-41\n",
    )
    assert reset.exit_code == 0, reset.output
    assert reset.output.strip() == "nina must choose a new password at the next sign-in"
    weak = runner.invoke(
        args=["user", "reset-password", "nina", "--reason", "x"], input="password1234\n"
    )
    assert weak.exit_code == 2 and weak.output.startswith("error: This password is too easy")
    assert runner.invoke(args=["user", "retire", "nina", "--reason", "left"]).exit_code == 0
    listed = runner.invoke(args=["user", "list"])
    assert listed.output.strip().splitlines() == ["nina\tnurse\tretired\tTest Nurse nina"]
