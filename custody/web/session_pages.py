"""Signing in and out, and the home page that sends each role to its station."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user

from custody.auth import open_to_anyone, page_requires
from custody.domain.errors import AuthenticationFailed
from custody.domain.permissions import UseCase
from custody.services.core.accounts import authenticate
from custody.web.forms import LoginForm

bp = Blueprint("web", __name__, template_folder="../templates")


@bp.get("/")
@page_requires(UseCase.READ_OWN_ACCOUNT)
def home():
    return render_template("web/home.html")


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
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("web/login.html", form=form, error=error), status


@bp.post("/logout")
@open_to_anyone(UseCase.SIGN_OUT)
def logout():
    logout_user()
    flash("You are signed out.")
    return redirect(url_for("web.login"))


def _safe_next(target: str | None) -> str:
    """Only follow a `next` that stays on this site (no open redirects)."""
    if target and not urlsplit(target).netloc and target.startswith("/"):
        return target
    return url_for("web.home")
