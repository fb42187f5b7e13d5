"""The doctor's home page: today's sessions, unsigned drafts, courses with a session overdue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from clinic.auth.models import User
from clinic.core.forms import local_to_utc
from clinic.extensions import db
from clinic.records.chart import Badge, alerts_for
from clinic.records.treatments.models import Course, TreatmentSession
from clinic.records.treatments.services import next_due


@dataclass
class DoctorWorklist:
    todays: list[TreatmentSession]
    drafts: list[TreatmentSession]
    overdue: list[tuple[Course, date]]
    alerts: dict[int, list[Badge]] = field(default_factory=dict)  # by patient: an open recall to tell them of


def doctor_worklist(doctor: User, today: date) -> DoctorWorklist:
    """What the doctor has to do, in a fixed number of queries whatever the number of rows."""
    start = local_to_utc(datetime.combine(today, datetime.min.time()))
    end = local_to_utc(datetime.combine(today, datetime.max.time()))
    shown = (selectinload(TreatmentSession.course).selectinload(Course.patient),
             selectinload(TreatmentSession.course).selectinload(Course.indication),
             selectinload(TreatmentSession.signature))
    todays = db.session.scalars(
        sa.select(TreatmentSession).where(TreatmentSession.performed_at.between(start, end),
                                          TreatmentSession.voided_at.is_(None))
        .order_by(TreatmentSession.performed_at).options(*shown)).all()
    drafts = db.session.scalars(
        sa.select(TreatmentSession)
        .where(TreatmentSession.doctor_id == doctor.id, TreatmentSession.voided_at.is_(None),
               TreatmentSession.locked_at.is_(None))
        .order_by(TreatmentSession.performed_at).options(*shown)).all()
    open_courses = db.session.scalars(
        sa.select(Course).where(Course.status.in_(("planned", "active")))
        .options(selectinload(Course.sessions), selectinload(Course.patient), selectinload(Course.indication))).all()
    overdue = [(c, due) for c in open_courses if (due := next_due(c)) is not None and due < today]
    overdue.sort(key=lambda pair: pair[1])
    patient_ids = [s.course.patient_id for s in [*todays, *drafts]] + [c.patient_id for c, _ in overdue]
    return DoctorWorklist(list(todays), list(drafts), overdue, alerts_for(patient_ids))
