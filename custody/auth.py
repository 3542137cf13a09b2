"""Who is asking: a browser session (Flask-Login) or an API bearer token, and their role.

A browser session is the server's row (services/core/sessions.py), named by a key in the signed
cookie: the cookie alone, copied or replayed after sign-out, idle or too old, is worth nothing.

Every view says in one line which use case it starts; who may start it is the permissions
table's answer (custody/domain/permissions.py), not the view's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Flask, g, redirect, request, session, url_for
from flask_login import current_user, login_required

from custody.config import settings
from custody.domain.errors import AuthenticationFailed
from custody.domain.permissions import UseCase, allows, authorise, permission
from custody.extensions import csrf, login_manager
from custody.models.accounts import User
from custody.services.core.accounts import locked_accounts, must_change_password, user_for_token
from custody.services.core.sessions import session_user

# The session cookie's key naming the server's session row.
SESSION_KEY = "session_key"


def init_app(app: Flask) -> None:
    login_manager.login_view = "web.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.session_protection = "strong"
    login_manager.user_loader(_load_user)
    app.jinja_env.globals["may"] = may
    app.jinja_env.globals["session_idle_seconds"] = _idle_seconds
    app.jinja_env.globals["password_change_due"] = _password_change_due
    app.jinja_env.globals["locked_accounts_notice"] = _locked_accounts_notice


def _password_change_due() -> bool:
    return current_user.is_authenticated and must_change_password(current_user)


def _locked_accounts_notice() -> list[str]:
    """For administrators, on every page: the accounts locked after failed sign-ins."""
    if not (current_user.is_authenticated and allows(current_user.role, UseCase.MANAGE_USERS)):
        return []
    return [user.username for user in locked_accounts()]


def _idle_seconds() -> int:
    return int(settings().session_idle.total_seconds())


def _load_user(user_id: str) -> User | None:
    user = session_user(session.get(SESSION_KEY))
    if user is None or str(user.id) != user_id:
        # Ended, expired or never the server's: the cookie is cleared, and the page asks to
        # sign in again rather than act in a stale name.
        session.pop(SESSION_KEY, None)
        return None
    return user


def api_user() -> User:
    """The caller of an API request: bearer token first, else the signed-in browser session.

    Session callers must send the CSRF token with writes (header X-CSRFToken), since a
    cookie alone would let another site act in a signed-in nurse's name.
    """
    if "api_user" in g:
        return g.api_user
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = user_for_token(header.removeprefix("Bearer ").strip())
        if user is None:
            raise AuthenticationFailed("The API token is not valid or was revoked.")
    elif current_user.is_authenticated:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        user = current_user._get_current_object()
    else:
        raise AuthenticationFailed(
            "Sign in, or send an API token as 'Authorization: Bearer <token>'."
        )
    g.api_user = user
    return user


def requires(use_case: UseCase) -> Callable:
    """Decorate an API view: the caller's role must be one the permissions table gives
    `use_case`. The view carries its use case, so a test can find any view without one.

    Put it right under the route decorator so that authority is checked before the body is
    parsed: a stranger learns nothing about what a valid request would look like.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            check_permission(api_user(), use_case)
            return view(*args, **kwargs)

        wrapper.use_case = UseCase(use_case)
        return wrapper

    return decorator


def page_requires(use_case: UseCase) -> Callable:
    """Decorate a page: signed in (else to the sign-in page), and allowed `use_case`. A person
    whose password must change (reset, or too old) is sent to change it first."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            check_permission(current_user, use_case)
            if use_case is not UseCase.CHANGE_OWN_PASSWORD and must_change_password(current_user):
                return redirect(url_for("web.password_page", next=request.full_path))
            return view(*args, **kwargs)

        wrapper.use_case = UseCase(use_case)
        return login_required(wrapper)

    return decorator


def open_to_anyone(use_case: UseCase) -> Callable:
    """Mark a view anyone may call, signed in or not (signing in and out)."""
    if not permission(use_case).public:
        raise ValueError(f"{use_case} is not public in the permissions table")

    def decorator(view: Callable) -> Callable:
        view.use_case = UseCase(use_case)
        return view

    return decorator


def check_permission(user: User, use_case: UseCase) -> None:
    authorise(user.role, use_case)


def may(use_case: UseCase | str) -> bool:
    """For pages: whether the signed-in person may start `use_case`, so a page offers only
    what the server will accept."""
    return current_user.is_authenticated and allows(current_user.role, use_case)
