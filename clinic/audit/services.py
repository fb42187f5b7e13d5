"""Appending to and verifying the audit trail.

Every entry is appended inside the caller's transaction, just before it
commits: a change and its audit rows are committed together or not at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_app_context, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from clinic.audit.anchors import read_anchors, remember_head
from clinic.audit.models import GENESIS_HASH, AuditChain, AuditEvent
from clinic.core.models import utcnow
from clinic.extensions import db

REDACTED = "[redacted]"
_event_table = AuditEvent.__table__
_chain_table = AuditChain.__table__


@dataclass(frozen=True)
class Actor:
    """Who an audit row is attributed to."""

    user_id: int | None
    email: str | None
    role: str | None


SYSTEM = Actor(None, "system", None)


def current_actor() -> Actor:
    """The signed-in user, the CLI operator, or the system."""
    if has_app_context():
        actor: Actor | None = getattr(g, "audit_actor", None)
        if actor is not None:
            return actor
    if has_request_context():
        from flask_login import current_user

        if current_user and current_user.is_authenticated:
            return Actor(current_user.id, current_user.email, current_user.role)
    return SYSTEM


def audit_value(value: Any) -> str | None:
    """A value as the audit trail stores it: text, stable across databases."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal | int | float | str):
        return str(value)
    return repr(value)


def canonical_changes(changes: dict[str, tuple[Any, Any]] | None) -> str | None:
    if not changes:
        return None
    return json.dumps(
        {k: [audit_value(o), audit_value(n)] for k, (o, n) in changes.items()},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _timestamp_text(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_hash(key: str, row: dict[str, Any]) -> str:
    """HMAC-SHA256 over a row's content and the previous row's hash."""
    content = json.dumps(
        [
            row["seq"],
            _timestamp_text(row["at"]),
            row["user_id"],
            row["user_email"],
            row["role"],
            row["action"],
            row["record_type"],
            row["record_id"],
            row["changes"],
            row["reason"],
            row["request_id"],
            row["client_addr"],
            row["prev_hash"],
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hmac.new(key.encode(), content.encode(), hashlib.sha256).hexdigest()


def _request_context_fields() -> tuple[str | None, str | None]:
    if not has_request_context():
        return getattr(g, "request_id", None) if has_app_context() else None, None
    return getattr(g, "request_id", None), request.remote_addr


@dataclass(frozen=True)
class PendingEvent:
    """An entry as it was recorded, waiting for its transaction's commit to be chained."""

    action: str
    record_type: str | None
    record_id: str | None
    changes: str | None
    reason: str | None
    actor: Actor
    request_id: str | None
    client_addr: str | None


# session.info keys: the entries waiting for the commit, where each open savepoint began in that list,
# and whether this commit holds the head already (entries of a later flush are then appended at once).
_QUEUE = "audit_queue"
_SAVEPOINT_MARKS = "audit_savepoint_marks"
_APPENDING = "audit_appending"
# A transaction's entries go in one statement with the head's move, up to this many; more (a bulk
# import) go as one batch and a separate move.
_ONE_STATEMENT_ROWS = 100


def append_event(
    connection: sa.Connection,
    action: str,
    *,
    record_type: str | None = None,
    record_id: Any = None,
    changes: dict[str, tuple[Any, Any]] | None = None,
    reason: str | None = None,
    actor: Actor | None = None,
    session: Session | None = None,
) -> None:
    """Record one entry in the transaction of ``session`` (or of ``connection`` when there is none).

    With a session the entry is kept until the transaction commits and is then chained with the others
    of that transaction, just before the commit, in the same transaction: the change and its entries
    still land together or not at all, and the chain's head is locked only for the few milliseconds of
    that commit rather than from a request's first write (or chart read) to its end. Without a session
    the entry is chained at once.
    """
    request_id, client_addr = _request_context_fields()
    entry = PendingEvent(
        action=action, record_type=record_type, record_id=None if record_id is None else str(record_id),
        changes=canonical_changes(changes), reason=reason, actor=actor or current_actor(),
        request_id=request_id, client_addr=client_addr,
    )
    if session is None or session.info.get(_APPENDING):
        chain_entries(connection, [entry], session)
    else:
        session.info.setdefault(_QUEUE, []).append(entry)


def chain_entries(connection: sa.Connection, entries: list[PendingEvent], session: Session | None = None) -> int:
    """Append ``entries`` to the chain on ``connection``, in order; returns the last sequence number.
    ``session``, when they are appended for one, anchors the new head outside the database once it commits."""
    # Taking the head row first serialises appends (row lock on PostgreSQL,
    # the database write lock on SQLite) and keeps the sequence gapless.
    last_seq: int
    prev_hash: str
    last_seq, prev_hash = connection.execute(
        sa.update(_chain_table)
        .where(_chain_table.c.id == 1)
        .values(last_seq=_chain_table.c.last_seq + len(entries))
        .returning(_chain_table.c.last_seq, _chain_table.c.last_hash)
    ).one()
    key = current_app.config["AUDIT_HMAC_KEY"]
    at = utcnow()
    rows: list[dict[str, Any]] = []
    for seq, entry in enumerate(entries, start=last_seq - len(entries) + 1):
        row: dict[str, Any] = {
            "seq": seq, "at": at, "user_id": entry.actor.user_id, "user_email": entry.actor.email,
            "role": entry.actor.role, "action": entry.action, "record_type": entry.record_type,
            "record_id": entry.record_id, "changes": entry.changes, "reason": entry.reason,
            "request_id": entry.request_id, "client_addr": entry.client_addr, "prev_hash": prev_hash,
        }
        row["hash"] = prev_hash = compute_hash(key, row)
        rows.append(row)
    move_head = sa.update(_chain_table).where(_chain_table.c.id == 1).values(last_hash=prev_hash)
    if connection.dialect.name == "postgresql" and len(rows) <= _ONE_STATEMENT_ROWS:
        # The head stays locked until the transaction commits, so every round trip made while holding it
        # is one that no other writer can make: the rows and the head's new hash go in one statement.
        connection.execute(move_head.add_cte(sa.insert(_event_table).values(rows).cte("appended")))
    else:
        connection.execute(sa.insert(_event_table), rows)
        connection.execute(move_head)
    if session is not None:
        remember_head(session, last_seq, prev_hash)
    return last_seq


def _chain_before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its entries wait for the transaction's commit
    session.flush()  # the last changes' entries join the queue first
    queued: list[PendingEvent] | None = session.info.pop(_QUEUE, None)
    session.info[_APPENDING] = True
    if queued:
        chain_entries(session.connection(), queued, session)


def _mark_savepoint(session: Session, transaction: Any) -> None:
    if transaction.nested:
        session.info.setdefault(_SAVEPOINT_MARKS, {})[id(transaction)] = len(session.info.get(_QUEUE, ()))


def _drop_rolled_back(session: Session, previous_transaction: Any) -> None:
    """A savepoint rolled back takes the entries recorded since it began with it."""
    if not previous_transaction.nested:
        return
    mark = session.info.get(_SAVEPOINT_MARKS, {}).pop(id(previous_transaction), None)
    queue = session.info.get(_QUEUE)
    if mark is not None and queue:
        del queue[mark:]


def _forget_queue(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # committed, rolled back or closed: nothing may carry over
        for key in (_QUEUE, _SAVEPOINT_MARKS, _APPENDING):
            session.info.pop(key, None)


def register_commit_listeners() -> None:
    """Entries recorded in a session are chained when, and only when, its transaction commits."""
    for name, listener in (("before_commit", _chain_before_commit), ("after_transaction_create", _mark_savepoint),
                           ("after_soft_rollback", _drop_rolled_back),
                           ("after_transaction_end", _forget_queue)):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def record_event(action: str, *, session: Session | None = None, **fields: Any) -> None:
    """Audit something that is not a row change (login, forbidden attempt, chart read...), in the current
    transaction; ``fields`` takes ``append_event``'s keywords (record_type, record_id, changes, reason, actor)."""
    session = session or db.session()
    append_event(session.connection(), action, session=session, **fields)


def record_chart_read(patient: Any) -> None:
    """Every view of a patient's chart leaves a row (HIPAA 164.312(b))."""
    record_event("read_chart", record_type="patient", record_id=patient.id)


# --- verification -----------------------------------------------------------


@dataclass
class VerifyResult:
    ok: bool
    count: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    # The newest anchor kept outside the database that the trail was checked against, if any.
    anchored_seq: int | None = None

    @property
    def head(self) -> str:
        return format_head(self.head_seq, self.head_hash)


def format_head(seq: int, hash_: str) -> str:
    """The exportable head: sequence and hash, so a later check knows where the chain ended."""
    return f"{seq}:{hash_}"


def parse_head(text: str) -> tuple[int | None, str]:
    text = text.strip()
    if ":" in text:
        seq, _, hash_ = text.partition(":")
        return int(seq), hash_.lower()
    return None, text.lower()


def _first_break(result: sa.Result[Any], key: str) -> VerifyResult:
    """Walk the rows in order; the first one that is missing, unlinked or altered."""
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    for row in result.mappings():
        data = dict(row)
        if data["seq"] != expected_seq:
            return VerifyResult(
                False, count, expected_seq - 1, prev_hash, expected_seq,
                f"row {expected_seq} is missing (next row found is {data['seq']})",
            )
        if data["prev_hash"] != prev_hash:
            return VerifyResult(
                False, count, expected_seq - 1, prev_hash, data["seq"],
                f"row {data['seq']} does not link to row {data['seq'] - 1}",
            )
        if not hmac.compare_digest(compute_hash(key, data), data["hash"]):
            return VerifyResult(
                False, count, expected_seq - 1, prev_hash, data["seq"],
                f"row {data['seq']} was altered (its HMAC does not match its content)",
            )
        prev_hash = data["hash"]
        expected_seq += 1
        count += 1
    return VerifyResult(True, count, count, prev_hash)


def verify_chain(
    session: Session | None = None, *, key: str | None = None, expected_head: str | None = None,
    anchor_file: str | None = None,
) -> VerifyResult:
    """Recompute every row's HMAC and link; name the first sequence number that is wrong. The trail must
    also reach ``expected_head`` (exported by hand) and the newest anchor in ``anchor_file``."""
    session = session or db.session()
    key = key or current_app.config["AUDIT_HMAC_KEY"]
    result = session.execute(
        sa.select(_event_table).order_by(_event_table.c.seq).execution_options(yield_per=2000)
    )
    try:
        walked = _first_break(result, key)
    finally:
        result.close()  # a server-side cursor must not outlive an early return
    if not walked.ok:
        return walked
    count, prev_hash = walked.count, walked.head_hash

    def broken(first_bad_seq: int, problem: str) -> VerifyResult:
        return VerifyResult(False, count, count, prev_hash, first_bad_seq, problem)

    recorded = session.scalar(sa.select(AuditChain.last_seq).where(AuditChain.id == 1)) or 0
    if recorded > count:
        return broken(count + 1, f"rows {count + 1} to {recorded} are missing from the end of the trail")
    if expected_head:
        head_seq, head_hash = parse_head(expected_head)
        if head_seq is None:
            found = session.scalar(sa.select(AuditEvent.seq).where(AuditEvent.hash == head_hash))
            if found is None:
                return broken(count + 1, "the exported head is not in the chain: rows after the last one were deleted")
        else:
            problem = _misses_head(session, count, head_seq, head_hash, "the exported head")
            if problem:
                return broken(*problem)
    if anchor_file:
        anchors = read_anchors(anchor_file, key)
        if anchors.unsigned_lines:
            numbers = ", ".join(str(n) for n in anchors.unsigned_lines[:5])
            return broken(count + 1, f"the anchor file {anchor_file} has lines not signed with the audit key "
                                     f"(line {numbers}): it was written to by hand")
        if anchors.newest is not None:
            newest = anchors.newest
            problem = _misses_head(session, count, newest.seq, newest.hash,
                                   f"the anchor written at {newest.at}")
            if problem:
                return broken(*problem)
            walked.anchored_seq = newest.seq
    return walked


def _misses_head(session: Session, count: int, head_seq: int, head_hash: str, source: str) -> tuple[int, str] | None:
    """Where the trail falls short of a head kept outside the database: rows missing, or a different row."""
    if head_seq > count:
        return count + 1, f"rows {count + 1} to {head_seq} are missing: {source} was at row {head_seq}"
    stored = session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.seq == head_seq))
    if stored != head_hash:
        return head_seq, f"row {head_seq} does not match {source}"
    return None


def chain_head(session: Session | None = None) -> str:
    """The head of the trail as stored rows give it (not the chain-head row)."""
    session = session or db.session()
    row = session.execute(
        sa.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    if row is None:
        return format_head(0, GENESIS_HASH)
    return format_head(row.seq, row.hash)
