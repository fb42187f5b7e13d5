"""Staff accounts. One named account per person; deactivated, never deleted (SECURITY.md A1)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Optional

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from clinic.core.models import UTCDateTime, VersionedMixin, utcnow
from clinic.extensions import Model


class Role(StrEnum):
    """The four roles of DESIGN.md; a member equals its stored text ("doctor")."""

    DOCTOR = "doctor"
    NURSE = "nurse"
    AUDITOR = "auditor"
    ADMIN = "admin"


ROLE_LABELS: dict[str, str] = {
    Role.DOCTOR: "Doctor", Role.NURSE: "Nurse", Role.AUDITOR: "Auditor", Role.ADMIN: "Administrator",
}


class User(UserMixin, VersionedMixin, Model):  # type: ignore[misc]  # Flask-Login has no type information
    """A member of staff who signs in with their own email and password."""

    __tablename__ = "user"
    __audit_redact__ = frozenset({"password_hash", "session_token", "totp_secret"})

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased so Alice@x and alice@x are one account.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(20))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    # Rotated on logout, deactivation and password change: every older cookie dies.
    session_token: Mapped[str] = mapped_column(sa.String(64))
    totp_secret: Mapped[Optional[str]] = mapped_column(sa.String(64))
    totp_enabled_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: Mapped[Optional[int]] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deactivated_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    recovery_codes: Mapped[list[RecoveryCode]] = relationship(back_populates="user")

    __table_args__ = (
        sa.CheckConstraint("role IN ('doctor', 'nurse', 'auditor', 'admin')", name="role"),
    )

    @validates("email")
    def _lower_email(self, key: str, value: str) -> str:
        # Whatever code writes the row, Alice@x and alice@x stay one account (SECURITY.md A1).
        return (value or "").strip().lower()

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:
        return self.deactivated_at is None

    @property
    def totp_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class RecoveryCode(Model):
    """A single-use code that stands in for a lost authenticator."""

    __tablename__ = "recovery_code"
    __audit_redact__ = frozenset({"code_hash"})

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="recovery_codes")


class PasswordReset(Model):
    """A one-time link an admin issues; the admin never learns or sets the password."""

    __tablename__ = "password_reset"
    __audit_redact__ = frozenset({"token_hash"})

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    issued_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class LoginFailure(Model):
    """Recent failed sign-ins, for throttling across workers and hosts.

    Not evidence (the audit trail holds that): rows are keyed by a digest of
    the address typed, never the address itself, and an account's rows go
    once it signs in successfully.
    """

    __tablename__ = "login_failure"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    account_key: Mapped[str] = mapped_column(sa.String(64), index=True)
    client_addr: Mapped[Optional[str]] = mapped_column(sa.String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # The failure came from a browser this account signed in from before (its device cookie).
    device: Mapped[Optional[str]] = mapped_column(sa.String(32), index=True)
