"""What other pages ask about results: the completed courses still waiting for their end measures."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from clinic.extensions import db
from clinic.records.outcomes.models import OutcomeMeasure
from clinic.records.patients.models import Patient
from clinic.records.treatments.models import Course

LIST_LIMIT = 20


def courses_missing_end_measures(doctor_id: int) -> list[Course]:
    """The completed courses this doctor planned with no end-of-course measure on record, newest first."""
    has_end = sa.exists().where(OutcomeMeasure.course_id == Course.id, OutcomeMeasure.timepoint == "end",
                                OutcomeMeasure.not_voided())
    return list(db.session.scalars(
        sa.select(Course).join(Patient, Course.patient_id == Patient.id)
        .where(Course.status == "completed", Course.created_by_id == doctor_id, Patient.not_voided(), ~has_end)
        .order_by(Course.id.desc()).limit(LIST_LIMIT)
        .options(joinedload(Course.patient), joinedload(Course.indication))))
