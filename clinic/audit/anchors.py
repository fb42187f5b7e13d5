"""The chain's head, anchored outside the database after every commit that added to the trail.

The hash chain proves that no row was changed or taken out of the middle, but
someone who can delete rows can also delete the newest ones and rewind the
head row: the chain that is left verifies. An anchor is a line appended to a
file (``AUDIT_ANCHOR_FILE``) once the transaction is committed, holding the
newest row's sequence and hash, signed with the audit key:

    1042 9f2c…e1 2031-03-04T09:00:01.123456Z 5b7d…a0

``verify_chain`` reads the newest valid line and reports rows missing from the
end when the database no longer reaches it. Put the file where the database's
users cannot write (another disk or host; ``chattr +a`` makes it append-only).
Several app processes may append to one file: each line is a single ``write``
on a file opened with O_APPEND, so lines never interleave.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from clinic.core.models import utcnow

_PENDING = "audit_head"


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    at: str


@dataclass(frozen=True)
class AnchorReading:
    """The newest signed anchor of a file, and the lines that were not signed with the audit key."""

    newest: Anchor | None
    unsigned_lines: tuple[int, ...]


def _mac(key: str, seq: int, hash_: str, at: str) -> str:
    return hmac.new(key.encode(), f"anchor:{seq}:{hash_}:{at}".encode(), hashlib.sha256).hexdigest()


def anchor_line(key: str, seq: int, hash_: str, at: str) -> str:
    return f"{seq} {hash_} {at} {_mac(key, seq, hash_, at)}\n"


def remember_head(session: Session, seq: int, hash_: str) -> None:
    """Called for each row appended in ``session``'s transaction: the newest one is anchored at commit."""
    held = session.info.get(_PENDING)
    if held is None or seq > held[0]:
        session.info[_PENDING] = (seq, hash_)


def _anchor_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the rows are not committed until the transaction is
    head = session.info.pop(_PENDING, None)
    if head is None or not has_app_context():
        return
    path = current_app.config.get("AUDIT_ANCHOR_FILE")
    if not path:
        return
    at = utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    line = anchor_line(current_app.config["AUDIT_HMAC_KEY"], head[0], head[1], at).encode()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)
    except OSError:
        # The rows are committed already; a missing anchor only weakens the next check, so the
        # request goes on and the operator is told.
        current_app.logger.exception("could not write the audit anchor to %s", path)


def _forget_head(session: Session, previous_transaction: Any = None) -> None:
    # A rolled-back row (a savepoint's too) may never exist, or its sequence number may be reused
    # by another row: an anchor to it would be a false alarm. Anchoring less is always safe.
    session.info.pop(_PENDING, None)


def read_anchors(path: str | Path, key: str) -> AnchorReading:
    """The newest line whose signature holds, and the numbers of lines whose signature does not."""
    newest: Anchor | None = None
    unsigned: list[int] = []
    try:
        handle = open(path, encoding="ascii", errors="replace")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return AnchorReading(None, ())
    with handle:
        for number, text in enumerate(handle, start=1):
            parts = text.split()
            if len(parts) != 4 or not parts[0].isdigit():
                unsigned.append(number)
                continue
            seq, hash_, at, mac = int(parts[0]), parts[1], parts[2], parts[3]
            if not hmac.compare_digest(_mac(key, seq, hash_, at), mac):
                unsigned.append(number)
                continue
            if newest is None or seq > newest.seq:
                newest = Anchor(seq, hash_, at)
    return AnchorReading(newest, tuple(unsigned))


def register_anchor_listeners() -> None:
    if not event.contains(Session, "after_commit", _anchor_after_commit):
        event.listen(Session, "after_commit", _anchor_after_commit)
    if not event.contains(Session, "after_soft_rollback", _forget_head):
        event.listen(Session, "after_soft_rollback", _forget_head)
