"""Who is asking: a browser session (Flask-Login) or an API bearer token, and their role.

A browser session is the server's row (services/core/sessions.py), named by a key in the signed
cookie: the cookie alone, copied or replayed after sign-out, idle or too old, is worth nothing.

Every view says in one line which use case it starts; who may start it is the permissions
table's answer (custody/domain/permissions.py), not the view's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_login import current_user, login_required

from custody.config import settings
from custody.database import begin_use_case, end_use_case
from custody.domain.errors import AuthenticationFailed
from custody.domain.permissions import UseCase, allows, authorise, permission
from custody.extensions import csrf, login_manager
from custody.models.accounts import User
from custody.services.core.accounts import locked_accounts, must_change_password, user_for_token
from custody.services.core.sessions import session_user

# The session cookie's key naming the server's session row.
SESSION_KEY = "session_key"


def init_app(app: Flask) -> None:
    # First of the request's hooks: nothing may touch the database before its mode is chosen.
    app.before_request_funcs.setdefault(None, []).insert(0, _begin_use_case)
    app.teardown_request(_end_use_case)
    login_manager.login_view = "web.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.session_protection = "strong"
    login_manager.user_loader(_load_user)
    app.jinja_env.globals["may"] = may
    app.jinja_env.globals["session_idle_seconds"] = _idle_seconds
    app.jinja_env.globals["password_change_due"] = _password_change_due
    app.jinja_env.globals["locked_accounts_notice"] = _locked_accounts_notice


def _begin_use_case() -> None:
    """Begin the request's unit of work as its use case needs: a view whose use case only reads
    (the permissions table's `writes`) reads a snapshot and never waits for a writer; anything
    else, a view without a use case included, may write. Chosen by use case, not by method:
    the first GET of a label PDF issues the label."""
    view = current_app.view_functions.get(request.endpoint or "")
    use_case = getattr(view, "use_case", None)
    writes = use_case is None or permission(use_case).writes
    g.use_case_token = begin_use_case(writes)


def _end_use_case(error: BaseException | None = None) -> None:
    token = g.pop("use_case_token", None)
    if token is not None:
        end_use_case(token)


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
