"""Record mechanics shared by every clinical package: void, version checks, lock guard."""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.orm import InstanceState, Session

from clinic.core.errors import (
    ClinicError,
    DeletionRefusedError,
    FieldError,
    RecordLockedError,
    VersionConflictError,
)
from clinic.core.models import LockableMixin, VersionedMixin, VoidableMixin, utcnow
from clinic.extensions import db

Record = TypeVar("Record")


def stored(record: Record) -> Record:
    """Add a new record and flush it: it has its id, and its audit row, before the service returns."""
    db.session.add(record)
    db.session.flush()
    return record


def required_text(value: str | None, field: str, message: str) -> str:
    """The text without surrounding spaces; ``message`` beside ``field`` when nothing is left."""
    text = (value or "").strip()
    if not text:
        raise FieldError(field, message)
    return text


def void_record(record: VoidableMixin, by_user: Any, reason: str) -> None:
    """Mark a record "entered in error"; the audit listener writes the void row."""
    reason = (reason or "").strip()
    if not reason:
        raise ClinicError("A reason is required to void a record.")
    if record.is_voided:
        raise ClinicError("This record is already voided.")
    by_user_id = by_user.id  # read first: loading it must not flush half a void
    record.voided_at = utcnow()
    record.voided_by_id = by_user_id
    record.void_reason = reason


def check_version(record: VersionedMixin, submitted_version: int | str | None) -> None:
    """Refuse a save made from a form that was opened on an older version of the record."""
    try:
        submitted = int(submitted_version) if submitted_version not in (None, "") else None
    except (TypeError, ValueError):
        submitted = None
    if submitted != record.version:
        raise VersionConflictError(record, submitted)


def _state(obj: object) -> InstanceState[Any]:
    """The ORM state of a mapped object (inspect raises for anything else)."""
    state: InstanceState[Any] = inspect(obj, raiseerr=True)
    return state


# Session.info key: (id of a locked record, column) pairs an amendment may write in the next flush.
CORRECTIONS = "clinic_corrections"


def apply_correction(record: object, column: str, value: object) -> None:
    """Write an amendment's value into a signed, locked record: the one change a lock lets through.

    The columns then hold the current value, so every figure built on them (traces, stock, recalls,
    reports) follows the correction; the value as signed stays in the amendment's old value, and the
    signature is checked against the content rebuilt from it."""
    db.session.info.setdefault(CORRECTIONS, set()).add((id(record), column))
    setattr(record, column, value)


def corrected_columns(session: Session, obj: object) -> set[str]:
    """The columns of ``obj`` an amendment writes in this flush."""
    return {column for key, column in session.info.get(CORRECTIONS, ()) if key == id(obj)}


def _forget_corrections(session: Session, *_: Any) -> None:
    session.info.pop(CORRECTIONS, None)


def changed_columns(obj: object) -> set[str]:
    """The column attributes of ``obj`` changed since it was loaded (or last flushed)."""
    state = _state(obj)
    changed = set()
    for attr in state.mapper.column_attrs:
        if state.attrs[attr.key].history.has_changes():
            changed.add(attr.key)
    return changed


def locked_in_database(session: Session, obj: LockableMixin) -> Any:
    """The row's lock time before this flush (None if it was not locked)."""
    state = _state(obj)
    history = state.attrs["locked_at"].history
    if history.deleted:
        return history.deleted[0]
    if not history.added:
        return obj.locked_at
    # Set without the old value loaded (a row inserted earlier in this session): ask the database.
    identity = state.identity
    if identity is None:
        return None
    mapper = state.mapper
    with session.no_autoflush:
        return session.execute(
            sa.select(mapper.columns["locked_at"]).where(mapper.primary_key[0] == identity[0])
        ).scalar()


def _guard_flush(session: Session, flush_context: Any, instances: Any) -> None:
    """Refuse deletes of clinical rows and changes to locked rows, whatever code path tries."""
    for obj in session.deleted:
        if isinstance(obj, VoidableMixin):
            raise DeletionRefusedError(
                f"{type(obj).__name__} records are voided with a reason, never deleted."
            )
    for obj in session.dirty:
        if not isinstance(obj, LockableMixin):
            continue
        if locked_in_database(session, obj) is None:
            continue  # not locked yet, or locking happens in this flush: allowed
        forbidden = changed_columns(obj) - obj.__lock_exempt__ - corrected_columns(session, obj)
        if forbidden:
            raise RecordLockedError(
                f"This {type(obj).__name__} is signed and locked; changes are made "
                f"as amendments (refused: {', '.join(sorted(forbidden))})."
            )


def register_guards() -> None:
    """Install the flush guards once for every session."""
    if not event.contains(Session, "before_flush", _guard_flush):
        event.listen(Session, "before_flush", _guard_flush)
    for name in ("after_flush_postexec", "after_rollback"):
        if not event.contains(Session, name, _forget_corrections):
            event.listen(Session, name, _forget_corrections)
