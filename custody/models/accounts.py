"""People who act in the system, and the credentials they act with."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from custody.domain.permissions import Role
from custody.models.base import Base, enum_type, utcnow


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"))
    password_hash: Mapped[str] = mapped_column(String(256))
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # An administrator's reset: the next sign-in must choose a new password first.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    # Retired: never deleted (their records keep their name), never reused, never signs in.
    retired_at: Mapped[datetime | None]

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    @property
    def is_active(self) -> bool:  # Flask-Login: a locked or retired account cannot log in
        return self.active and self.locked_at is None

    def audit_key(self) -> str:
        return self.username


class ApiToken(Base):
    """A bearer token for scanners and integrations. Only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    # Bookkeeping, written at most once a minute and not audited (it records no act).
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")

    def audit_key(self) -> str:
        return f"token {self.id} of user {self.user_id}"


class UserSession(Base):
    """A signed-in browser session, kept on the server so that it can end: at sign-out (on
    every copy of its cookie), after the idle timeout, at its absolute lifetime, or when an
    administrator ends it. The cookie carries a random key; only its SHA-256 is stored."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bookkeeping for the idle timeout, written at most once a minute and not audited.
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(100))
    client: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship()

    def audit_key(self) -> str:
        return f"session {self.id} of user {self.user_id}"
