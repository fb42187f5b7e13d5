"""Recording a session as a draft, replacing a draft's content, and voiding a session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from clinic.auth.models import Role, User
from clinic.core.errors import ClinicError, RecordLockedError
from clinic.core.services import check_version, void_record
from clinic.extensions import db
from clinic.records.gate import GateResult
from clinic.records.signals import session_saved, session_voided
from clinic.records.treatments.models import (
    Course,
    InjectionLog,
    Preparation,
    PreparationComponent,
    TreatmentSession,
)
from clinic.records.treatments.services.checks import SessionCheck, check_session, session_readiness
from clinic.records.treatments.services.inputs import (
    NeedsAcknowledgement,
    SessionInput,
    SessionRefused,
)


def _build_children(session: TreatmentSession, entry: SessionInput) -> None:
    preparations: list[Preparation] = []
    for preparation in entry.preparations:
        row = Preparation(label=(preparation.label or "").strip()[:80] or f"Preparation {len(preparations) + 1}")
        for component in preparation.components:
            row.components.append(PreparationComponent(
                lot_id=component.lot_id, units=component.units or 1, volume_ml=Decimal(str(component.volume_ml))))
        session.preparations.append(row)
        preparations.append(row)
    for injection in entry.injections:
        if injection.administered:
            assert injection.preparation_index is not None  # check_injections refuses a given one without
            session.injections.append(InjectionLog(
                area_code=injection.area_code, preparation=preparations[injection.preparation_index],
                technique=injection.technique or entry.technique, depth_mm=Decimal(str(injection.depth_mm)),
                volume_ml=Decimal(str(injection.volume_ml)), points=injection.points,
                needle_gauge=injection.needle_gauge,
            ))
        else:
            session.injections.append(InjectionLog(
                area_code=injection.area_code, technique=injection.technique or entry.technique,
                administered=False, not_administered_reason=injection.not_administered_reason.strip(),
            ))


@dataclass(frozen=True)
class SavedDraft:
    session: TreatmentSession
    readiness: GateResult  # the gate on the saved draft: its reasons are why it cannot be signed yet


def save_session(course: Course, entry: SessionInput, doctor: User, *, session: TreatmentSession | None = None,
                 expected_version: int | str | None = None, today: date | None = None) -> TreatmentSession:
    """Create a draft session, or replace a draft's content. Refused with every reason, or saved whole.

    ``expected_version`` is the draft's version when its form was opened: a later save by someone
    else refuses this one (optimistic locking)."""
    return _save(course, entry, doctor, session, expected_version, today)[0]


def save_draft(course: Course, entry: SessionInput, doctor: User, *, session: TreatmentSession | None = None,
               expected_version: int | str | None = None, today: date | None = None) -> SavedDraft:
    """``save_session``, and what the gate says of the saved draft, from the facts its checks read in this
    transaction (reading them again would find the same: saving a draft changes none of them)."""
    saved, check = _save(course, entry, doctor, session, expected_version, today)
    return SavedDraft(saved, session_readiness(saved, facts=check.facts))


def _save(course: Course, entry: SessionInput, doctor: User, session: TreatmentSession | None,
          expected_version: int | str | None, today: date | None) -> tuple[TreatmentSession, SessionCheck]:
    if doctor.role != Role.DOCTOR:
        raise ClinicError("Only a doctor records sessions.")
    if session is not None and (session.is_signed or session.is_locked):
        raise RecordLockedError("This session is signed; corrections are amendments.")
    if session is not None and session.is_voided:
        raise ClinicError("This session is voided.")
    if session is not None and expected_version is not None:
        check_version(session, expected_version)
    check = check_session(course, entry, session=session, today=today)
    if check.reasons:
        raise SessionRefused(check.reasons)
    missing = [w for w in check.warnings if w.code not in set(entry.acknowledged)]
    if missing:
        raise NeedsAcknowledgement(check.warnings)
    values = dict(
        performed_at=entry.performed_at, nurse_id=entry.nurse_id, skin_preparation=entry.skin_preparation,
        anaesthetic_lot_id=entry.anaesthetic_lot_id or None, anaesthetic_minutes=entry.anaesthetic_minutes,
        technique=entry.technique, needle_gauge=entry.needle_gauge,
        needle_length_mm=Decimal(str(entry.needle_length_mm)), notes=(entry.notes or "").strip(),
        acknowledged_warnings=" ".join(sorted(w.code for w in check.warnings)),
    )
    editing = session is not None
    if session is None:
        number = (db.session.scalar(sa.select(sa.func.max(TreatmentSession.number))
                                    .where(TreatmentSession.course_id == course.id)) or 0) + 1
        session = TreatmentSession(course=course, number=number, doctor_id=doctor.id, **values)
        db.session.add(session)
    else:
        for key, value in values.items():
            if getattr(session, key) != value:
                setattr(session, key, value)
        for injection in list(session.injections):
            db.session.delete(injection)
        for preparation in list(session.preparations):
            for component in list(preparation.components):
                db.session.delete(component)
            db.session.delete(preparation)
        session.injections.clear()
        session.preparations.clear()
        db.session.flush()
    _build_children(session, entry)
    db.session.flush()
    session_saved.send(session, by=doctor, corrected=editing)
    if course.status == "planned":
        course.status = "active"
    db.session.flush()
    return session, check


def void_session(session: TreatmentSession, by: User, reason: str) -> None:
    """A draft by any doctor; a signed session only by its own doctor. It stays in traces."""
    if session.is_signed and by.id != session.doctor_id:
        raise ClinicError("Only the doctor who signed this session can void it.")
    if by.role != Role.DOCTOR:
        raise ClinicError("Only a doctor voids a session.")
    void_record(session, by, reason)
    db.session.flush()
    session_voided.send(session, by=by, reason=reason)

