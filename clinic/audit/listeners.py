"""Automatic auditing of every model change, so no feature can forget it.

After each flush (when new rows have their ids and attribute history is still
there), one audit entry is recorded per created, changed, voided or locked
object; deletes are caught row by row as the flush emits them. Either way the
entry is chained in the same transaction, just before it commits
(``services.append_event``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Mapper, Session, object_session

from clinic.audit.anchors import register_anchor_listeners
from clinic.audit.services import REDACTED, append_event, register_commit_listeners
from clinic.core.models import Base, VoidableMixin


def _record_id(obj: Any) -> str:
    # New rows have no identity key yet during after_flush; their primary key is set.
    identity = inspect(obj).mapper.primary_key_from_instance(obj)
    return ",".join(str(part) for part in identity)


def _record_type(obj: Any) -> str:
    return type(obj).__table__.name


def _changes(obj: Any, *, created: bool) -> dict[str, tuple[Any, Any]]:
    state = inspect(obj)
    redact: frozenset[str] = getattr(obj, "__audit_redact__", frozenset())
    changes: dict[str, tuple[Any, Any]] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        history = state.attrs[key].history
        if created:
            new = getattr(obj, key)
            if new is None:
                continue
            old = None
        elif history.has_changes():
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
        else:
            continue
        if key in redact:
            old, new = (REDACTED if old is not None else None), REDACTED
        changes[key] = (old, new)
    return changes


def _is_being_voided(obj: Any, changes: dict[str, tuple[Any, Any]]) -> bool:
    return isinstance(obj, VoidableMixin) and "voided_at" in changes and changes["voided_at"][0] is None


def _audit_flush(session: Session, flush_context: Any) -> None:
    connection = session.connection()
    for obj in list(session.new):
        if not getattr(obj, "__audit__", True):
            continue
        append_event(
            connection, "create", record_type=_record_type(obj), record_id=_record_id(obj),
            changes=_changes(obj, created=True), session=session,
        )
    for obj in list(session.dirty):
        if not getattr(obj, "__audit__", True) or not session.is_modified(obj):
            continue
        changes = _changes(obj, created=False)
        changes.pop("version", None)
        if not changes:
            continue
        action, row_reason = "update", None
        if _is_being_voided(obj, changes):
            action, row_reason = "void", obj.void_reason
        elif "locked_at" in changes and changes["locked_at"][0] is None:
            action = "lock"
        append_event(
            connection, action, record_type=_record_type(obj), record_id=_record_id(obj),
            changes=changes, reason=row_reason, session=session,
        )


def _audit_delete(mapper: Mapper[Any], connection: Any, target: Any) -> None:
    # A mapper event, not session.deleted: orphans removed by a cascade only
    # become deletes inside the flush, and they must be audited too.
    if not getattr(target, "__audit__", True):
        return
    changes = {attr.key: (getattr(target, attr.key), None) for attr in mapper.column_attrs
               if attr.key not in getattr(target, "__audit_redact__", frozenset())}
    append_event(connection, "delete", record_type=_record_type(target),
                 record_id=_record_id(target), changes=changes, session=object_session(target))


def _keep_old_value(target: Any, value: Any, oldvalue: Any, initiator: Any) -> Any:
    return value


def _load_old_values_on_set(mapper: Mapper[Any], class_: type) -> None:
    # Setting an attribute that was expired (after a commit) would otherwise
    # leave no old value in its history, and the audit row would lose it.
    for column in mapper.column_attrs:
        attribute = getattr(class_, column.key)
        if not event.contains(attribute, "set", _keep_old_value):
            event.listen(attribute, "set", _keep_old_value, active_history=True, retval=True)


def register_listeners() -> None:
    register_anchor_listeners()
    register_commit_listeners()
    if not event.contains(Session, "after_flush", _audit_flush):
        event.listen(Session, "after_flush", _audit_flush)
    if not event.contains(Mapper, "after_delete", _audit_delete):
        event.listen(Mapper, "after_delete", _audit_delete)
    if not event.contains(Mapper, "mapper_configured", _load_old_values_on_set):
        event.listen(Mapper, "mapper_configured", _load_old_values_on_set)
    # Mappers configured before this point (a loader option built at import configures them all) had no
    # event for the listener to hear: they get their attribute listeners here.
    for mapper in Base.registry.mappers:
        if mapper.configured:
            _load_old_values_on_set(mapper, mapper.class_)
