"""Signing in and out, and the home page that sends each role to its station."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from custody.auth import SESSION_KEY, open_to_anyone, page_requires
from custody.config import settings
from custody.domain.errors import AuthenticationFailed, ValidationFailed
from custody.domain.permissions import UseCase
from custody.services.core.accounts import authenticate, change_password
from custody.services.core.sessions import end_session, keep_alive, start_session
from custody.services.demo.walk import is_demo_database
from custody.web.forms import LoginForm, PasswordChangeForm

bp = Blueprint("web", __name__, template_folder="../templates")


@bp.get("/")
@page_requires(UseCase.READ_OWN_ACCOUNT)
def home():
    return render_template("web/home.html", demo=is_demo_database())


@bp.route("/login", methods=["GET", "POST"])
@open_to_anyone(UseCase.SIGN_IN)
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data, form.password.data)
        except AuthenticationFailed as failure:
            error = failure.message
        else:
            # A fresh cookie for a fresh session: nothing from before the sign-in carries over.
            session.clear()
            session[SESSION_KEY] = start_session(user, _client())
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    page = render_template(
        "web/login.html",
        form=form,
        error=error,
        expired=request.args.get("expired") == "1",
        idle_minutes=int(settings().session_idle.total_seconds() // 60),
    )
    return page, status


@bp.post("/logout")
@open_to_anyone(UseCase.SIGN_OUT)
def logout():
    end_session(session.get(SESSION_KEY))
    logout_user()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("web.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@page_requires(UseCase.CHANGE_OWN_PASSWORD)
def password_page():
    """Change one's own password: asked for first after an administrator's reset, or once the
    password is older than the site allows (page_requires sends every page here until then)."""
    form = PasswordChangeForm()
    error = None
    if form.validate_on_submit():
        if form.password.data != form.confirm.data:
            error = "The two new passwords differ: type the same new password twice."
        else:
            try:
                change_password(current_user, form.current_password.data, form.password.data)
            except ValidationFailed as refused:
                error = refused.message
            else:
                flash("Your password is changed.")
                return redirect(_safe_next(request.args.get("next")))
    page = render_template("web/password.html", form=form, error=error)
    return page, 422 if error else 200


@bp.post("/session/alive")
@page_requires(UseCase.READ_OWN_ACCOUNT)
def session_alive():
    """The page's "Stay signed in": a request, which is all the idle timeout counts."""
    keep_alive(session.get(SESSION_KEY))
    return "", 204


def _client() -> str:
    """Where the sign-in came from, for the trail: address and browser."""
    agent = request.user_agent.string[:150]
    return f"{request.remote_addr or '?'} {agent}".strip()


def _safe_next(target: str | None) -> str:
    """Only follow a `next` that stays on this site (no open redirects)."""
    if target and not urlsplit(target).netloc and target.startswith("/"):
        return target
    return url_for("web.home")
