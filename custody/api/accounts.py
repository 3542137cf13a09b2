"""Accounts: who am I, and (admins) creating and unlocking users."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.schemas.accounts import UnlockIn, UserIn, UserOut
from custody.services.core import accounts

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
