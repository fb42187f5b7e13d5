"""Queries over sessions that other packages build on: stock used, and the lots a patient received."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa

from clinic.core.models import days_after
from clinic.extensions import db
from clinic.inventory.models import Lot, Product
from clinic.records.catalogue.models import Indication
from clinic.records.patients.models import Patient
from clinic.records.treatments.models import (
    Course,
    Preparation,
    PreparationComponent,
    TreatmentSession,
)

Query = TypeVar("Query", bound=sa.Select[Any])


def up_to_sessions(query: Query) -> Query:
    """Join a query that starts at lot uses (preparation components) to their preparation and session."""
    return (query.join(Preparation, Preparation.id == PreparationComponent.preparation_id)
            .join(TreatmentSession, TreatmentSession.id == Preparation.session_id))


def up_to_courses(query: Query) -> Query:
    """As ``up_to_sessions``, then to the session's course (and so its patient)."""
    return up_to_sessions(query).join(Course, Course.id == TreatmentSession.course_id)


def units_used_rows(sender: object = None) -> sa.Subquery:
    """Every use of a lot for a patient (the inventory's ``units_used``); a voided session used none."""
    return up_to_sessions(
        sa.select(PreparationComponent.lot_id.label("lot_id"), PreparationComponent.units.label("units"))
    ).where(TreatmentSession.voided_at.is_(None)).subquery()


def live_session_tally(courses: sa.Select[Any]) -> sa.Subquery:
    """Per course among ``courses`` (a SELECT of course ids): how many live sessions (``done``) and when
    the last was performed (``last_at``)."""
    return (sa.select(TreatmentSession.course_id, sa.func.count().label("done"),
                      sa.func.max(TreatmentSession.performed_at).label("last_at"))
            .where(TreatmentSession.voided_at.is_(None), TreatmentSession.course_id.in_(courses))
            .group_by(TreatmentSession.course_id).subquery())


def due_by_utc_date(tally: sa.Subquery) -> sa.ColumnElement[date]:
    """SQL: a course's next session due (joined to its ``live_session_tally``) by the UTC date of the last
    session, at most a day off the clinic's: the start, or the last session plus the interval."""
    return sa.case((tally.c.last_at.is_(None), Course.starts_on),
                   else_=days_after(tally.c.last_at, Course.interval_days))


@dataclass
class ReceivedLot:
    performed_at: datetime
    session_id: int
    session_number: int
    session_voided: bool
    indication: str
    product: str
    lot_id: int
    lot_number: str
    expiry: date
    units: int
    volume_ml: Decimal
    recalled: bool


def lots_received_by(patient: Patient) -> list[ReceivedLot]:
    """The reverse trace: every lot a patient ever received, by session (voided sessions marked)."""
    rows = db.session.execute(
        up_to_courses(sa.select(
            TreatmentSession.performed_at, TreatmentSession.id, TreatmentSession.number, TreatmentSession.voided_at,
            Indication.name, Product.name, Lot.id, Lot.lot_number, Lot.expiry_date, PreparationComponent.units,
            PreparationComponent.volume_ml, Lot.recalled_at,
        ).select_from(PreparationComponent))
        .join(Indication, Indication.code == Course.indication_code)
        .join(Lot, Lot.id == PreparationComponent.lot_id)
        .join(Product, Product.id == Lot.product_id)
        .where(Course.patient_id == patient.id)
        .order_by(TreatmentSession.performed_at, TreatmentSession.id, PreparationComponent.id)
    ).all()
    return [ReceivedLot(r[0], r[1], r[2], r[3] is not None, r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                        r[11] is not None) for r in rows]
