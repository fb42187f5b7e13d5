"""Audit rows and the chain head that serialises appends."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clinic.core.models import UTCDateTime
from clinic.extensions import Model

GENESIS_HASH = "0" * 64


class AuditEvent(Model):
    """One entry of the trail. Never updated or deleted (database triggers refuse it)."""

    __tablename__ = "audit_event"
    __audit__ = False

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    user_id: Mapped[Optional[int]] = mapped_column(sa.Integer, index=True)
    user_email: Mapped[Optional[str]] = mapped_column(sa.String(254))
    role: Mapped[Optional[str]] = mapped_column(sa.String(20))
    action: Mapped[str] = mapped_column(sa.String(40), index=True)
    record_type: Mapped[Optional[str]] = mapped_column(sa.String(60))
    record_id: Mapped[Optional[str]] = mapped_column(sa.String(60))
    # Canonical JSON: {"field": [old, new], ...}; values as text so the hash is stable.
    changes: Mapped[Optional[str]] = mapped_column(sa.Text)
    reason: Mapped[Optional[str]] = mapped_column(sa.Text)
    request_id: Mapped[Optional[str]] = mapped_column(sa.String(64))
    client_addr: Mapped[Optional[str]] = mapped_column(sa.String(64))
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))

    __table_args__ = (sa.Index("ix_audit_event_record", "record_type", "record_id"),)


class AuditChain(Model):
    """The single row holding the chain's head; updating it serialises concurrent appends.

    Its row lock (PostgreSQL) or the write lock it takes (SQLite) makes every
    append read the true previous hash, so parallel requests can neither fork
    the chain nor leave a gap. Verification never trusts this row: it
    recomputes the chain from ``audit_event`` itself.
    """

    __tablename__ = "audit_chain"
    __audit__ = False

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    last_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
