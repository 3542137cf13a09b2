"""Test factories: callables with sensible defaults, building records the way users do."""

from __future__ import annotations

import itertools

from custody.services import accounts

PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


class Factories:
    def __init__(self, app) -> None:
        self.app = app

    def user(self, role: str = "technician", username: str | None = None, name: str | None = None):
        username = username or f"{role}{next(_numbers)}"
        return accounts.create_user(
            "system:test", username, name or f"Test {role.title()} {username}", role, PASSWORD
        )

    def token(self, user) -> str:
        return accounts.issue_token("system:test", user.username)

    def auth(self, role: str = "technician", **kwargs) -> dict:
        """Authorization headers for a fresh user holding `role`."""
        user = self.user(role, **kwargs)
        return {"Authorization": f"Bearer {self.token(user)}"}
