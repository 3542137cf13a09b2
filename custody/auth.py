"""Who is asking: a browser session (Flask-Login) or an API bearer token, and their role.

Role checks live here so that every view says in one line who may call it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

from flask import Flask, g, request
from flask_login import current_user

from custody.domain.errors import AuthenticationFailed, Forbidden
from custody.extensions import csrf, db, login_manager
from custody.models.accounts import Role, User
from custody.services.core.accounts import user_for_token


def init_app(app: Flask) -> None:
    login_manager.login_view = "web.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.session_protection = "strong"
    login_manager.user_loader(_load_user)


def _load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.is_active else None


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


def require_role(*roles: Role | str) -> Callable:
    """Decorate an API view: the caller must hold one of `roles` (any role when none given).

    Put it right under the route decorator so that authority is checked before the body is
    parsed: a stranger learns nothing about what a valid request would look like.
    """
    allowed = {Role(r) for r in roles} or set(Role)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            check_role(api_user(), allowed)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def check_role(user: User, allowed: Iterable[Role]) -> None:
    allowed = set(allowed)
    if user.role not in allowed:
        names = " or ".join(sorted(r.value for r in allowed))
        raise Forbidden(
            f"Only {names} may do this; you are signed in as {user.role.value}.",
            role=user.role.value,
        )
