"""Accounts: who am I, and (admins) users, their API tokens and their browser sessions."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.schemas.accounts import (
    AccountChangeIn,
    PasswordChangeIn,
    PasswordResetIn,
    SessionListOut,
    SessionsEndedOut,
    TokenIn,
    TokenIssuedOut,
    TokenListOut,
    TokenOut,
    TokenQuery,
    UnlockIn,
    UserIn,
    UserListOut,
    UserOut,
    UserQuery,
)
from custody.services.core import accounts, sessions

PREFIX = "/users"
blp = ApiBlueprint("users", __name__, description="People and their roles")


@blp.get("/me")
@requires(UseCase.READ_OWN_ACCOUNT)
@blp.response(200, UserOut)
def me():
    return api_user()


@blp.post("")
@requires(UseCase.MANAGE_USERS)
@blp.arguments(UserIn)
@blp.response(201, UserOut)
def create_user(body):
    return accounts.create_user(
        api_user().username, body["username"], body["full_name"], body["role"], body["password"]
    )


@blp.post("/<username>/unlock")
@requires(UseCase.MANAGE_USERS)
@blp.arguments(UnlockIn)
@blp.response(200, UserOut)
def unlock_user(body, username):
    return accounts.unlock_user(api_user().username, username, body["reason"])


@blp.get("/tokens")
@requires(UseCase.MANAGE_USERS)
@blp.arguments(TokenQuery, location="query")
@blp.response(200, TokenListOut)
def list_tokens(query):
    """API tokens, newest first (`user`: one user's), with expiry, last use and revocation."""
    return {"items": accounts.list_tokens(query.get("user"))}


@blp.post("/<username>/tokens")
@requires(UseCase.MANAGE_USERS)
@blp.arguments(TokenIn)
@blp.response(201, TokenIssuedOut)
def issue_token(body, username):
    """Issue an API token for `username`; the answer is the only time it is shown."""
    token = accounts.issue_token(api_user().username, username, body["label"], body["days"])
    return {"token": token}


@blp.post("/tokens/<int:token_id>/revocation")
@requires(UseCase.MANAGE_USERS)
@blp.arguments(AccountChangeIn)
@blp.response(200, TokenOut)
def revoke_token(body, token_id):
    """Revoke a token at once (401 on its next use), with the reason."""
    return accounts.revoke_token(api_user().username, token_id, body["reason"])


@blp.get("/sessions")
@requires(UseCase.MANAGE_USERS)
@blp.arguments(TokenQuery, location="query")
@blp.response(200, SessionListOut)
def list_sessions(query):
    """Browser sessions still open, newest first (`user`: one user's)."""
    return {"items": sessions.open_sessions(query.get("user"))}


@blp.post("/<username>/sessions/end")
@requires(UseCase.MANAGE_USERS)
@blp.arguments(AccountChangeIn)
@blp.response(200, SessionsEndedOut)
def end_sessions(body, username):
    """End every open browser session of `username` at once (a lost tablet, a leaver)."""
    return {"ended": sessions.end_sessions_of(api_user().username, username, body["reason"])}


@blp.get("")
@requires(UseCase.MANAGE_USERS)
@blp.arguments(UserQuery, location="query")
@blp.response(200, UserListOut)
def list_users(query):
    """Every account, retired ones included (never deleted); `locked=true`: those locked."""
    return {"items": accounts.list_users(query.get("locked"))}


@blp.post("/me/password")
@requires(UseCase.CHANGE_OWN_PASSWORD)
@blp.arguments(PasswordChangeIn)
@blp.response(200, UserOut)
def change_own_password(body):
    """Change one's own password: the current one first (a wrong one counts as a failure)."""
    return accounts.change_password(api_user(), body["current_password"], body["password"])


@blp.post("/<username>/password-reset")
@requires(UseCase.MANAGE_USERS)
@blp.arguments(PasswordResetIn)
@blp.response(200, UserOut)
def reset_password(body, username):
    """Set a temporary password, to be changed at the next sign-in; unlocks the account."""
    return accounts.reset_password(
        api_user().username, username, body["temporary_password"], body["reason"]
    )


@blp.post("/<username>/retirement")
@requires(UseCase.MANAGE_USERS)
@blp.arguments(AccountChangeIn)
@blp.response(200, UserOut)
def retire_user(body, username):
    """Retire an account: it never signs in again; it stays, and its name is never reused."""
    user = accounts.retire_user(api_user().username, username, body["reason"])
    sessions.end_sessions_of(api_user().username, username, "account retired")
    return user
