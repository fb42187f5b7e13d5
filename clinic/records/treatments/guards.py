"""The lock guard: a signed session's preparations and injection logs are as locked as the session."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from clinic.core.errors import RecordLockedError
from clinic.core.services import changed_columns, corrected_columns, locked_in_database
from clinic.records.treatments.models import (
    InjectionLog,
    Preparation,
    PreparationComponent,
    TreatmentSession,
)


def _session_of(obj: object) -> TreatmentSession | None:
    if isinstance(obj, (InjectionLog, Preparation)):
        return obj.session
    if isinstance(obj, PreparationComponent):
        return obj.preparation.session if obj.preparation is not None else None
    return None


def _guard_signed_children(session: Session, flush_context: object, instances: object) -> None:
    """Preparations and injection logs of a signed session are as locked as the session."""
    for obj in [*session.new, *session.dirty, *session.deleted]:
        owner = _session_of(obj)
        if owner is None:
            continue
        if locked_in_database(session, owner) is not None and (
                obj in session.deleted or obj in session.new
                or (session.is_modified(obj) and changed_columns(obj) - corrected_columns(session, obj))):
            raise RecordLockedError("This session is signed and locked; corrections are amendments.")


def register_guards() -> None:
    if not event.contains(Session, "before_flush", _guard_signed_children):
        event.listen(Session, "before_flush", _guard_signed_children)

