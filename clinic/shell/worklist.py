"""The doctor's home page: today's sessions, unsigned drafts, courses with a session overdue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, lazyload

from clinic.auth.models import User
from clinic.core.forms import local_to_utc
from clinic.extensions import db
from clinic.records.chart import Badge, alerts_for
from clinic.records.treatments.models import Course, TreatmentSession
from clinic.records.treatments.queries import due_by_utc_date, live_session_tally
from clinic.records.treatments.services import due_after


@dataclass
class DoctorWorklist:
    todays: list[TreatmentSession]
    drafts: list[TreatmentSession]
    overdue: list[tuple[Course, date]]
    alerts: dict[int, list[Badge]] = field(default_factory=dict)  # by patient: an open recall to tell them of
    more_overdue: int = 0  # overdue courses beyond those listed (at least this many)


# The overdue list shows the longest overdue first, this many at most: a chain has thousands of open courses.
OVERDUE_SHOWN = 50


def _overdue_courses(today: date) -> tuple[list[tuple[Course, date]], int]:
    """Open courses whose next session was due before today, longest overdue first, at most OVERDUE_SHOWN,
    and how many more at least are overdue. Filtered in the database by the UTC date (which is at most a day
    off the clinic's, so the filter lets a day more through), then exactly by the clinic's day
    (``due_after``, from the live sessions' count and the last one's time)."""
    open_courses = sa.select(Course.id).where(Course.status.in_(("planned", "active")))
    live = live_session_tally(open_courses)
    done = sa.func.coalesce(live.c.done, 0)
    roughly_due = due_by_utc_date(live)
    # Counted over every course the filter keeps, before the limit: those two days overdue by the UTC date
    # are overdue by the clinic's.
    surely_overdue = sa.func.sum(sa.case((roughly_due <= today - timedelta(days=2), 1), else_=0)).over()
    rows = db.session.execute(
        sa.select(Course, done, live.c.last_at, surely_overdue).outerjoin(live, live.c.course_id == Course.id)
        .where(Course.status.in_(("planned", "active")), done < Course.planned_sessions,
               roughly_due <= today)
        .order_by(roughly_due, Course.id).limit(OVERDUE_SHOWN + 20)
        .options(joinedload(Course.patient), joinedload(Course.indication), lazyload(Course.area_links))).all()
    overdue = []
    for course, done_count, last_at, _ in rows:
        due = due_after(course, done_count, last_at)
        if due is not None and due < today:
            overdue.append((course, due))
    overdue.sort(key=lambda pair: (pair[1], pair[0].id))
    shown = overdue[:OVERDUE_SHOWN]
    at_least = max(int(rows[0][3] or 0) if rows else 0, len(overdue))
    return shown, at_least - len(shown)


def doctor_worklist(doctor: User, today: date) -> DoctorWorklist:
    """What the doctor has to do, in a fixed number of queries whatever the number of rows."""
    start = local_to_utc(datetime.combine(today, datetime.min.time()))
    end = local_to_utc(datetime.combine(today, datetime.max.time()))
    todays_or_drafts = db.session.scalars(
        sa.select(TreatmentSession)
        .where(TreatmentSession.voided_at.is_(None),
               sa.or_(TreatmentSession.performed_at.between(start, end),
                      sa.and_(TreatmentSession.doctor_id == doctor.id, TreatmentSession.locked_at.is_(None))))
        .order_by(TreatmentSession.performed_at)
        .options(joinedload(TreatmentSession.course).options(joinedload(Course.patient), joinedload(Course.indication),
                                                             lazyload(Course.area_links)),
                 joinedload(TreatmentSession.signature))).all()
    todays = [s for s in todays_or_drafts if start <= s.performed_at <= end]
    drafts = [s for s in todays_or_drafts if s.doctor_id == doctor.id and s.locked_at is None]
    overdue, more_overdue = _overdue_courses(today)
    patient_ids = [s.course.patient_id for s in todays_or_drafts] + [c.patient_id for c, _ in overdue]
    return DoctorWorklist(todays, drafts, overdue, alerts_for(patient_ids), more_overdue)
