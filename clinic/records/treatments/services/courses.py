"""Planning a course and reading where it stands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from clinic.audit.services import record_event
from clinic.auth.models import Role, User
from clinic.core.clock import clinic_day, clinic_today
from clinic.core.errors import ClinicError, FieldError
from clinic.core.services import required_text, stored
from clinic.extensions import db
from clinic.inventory.models import Product
from clinic.records.catalogue.models import PROTOCOL_MEASURES, Area, Indication, ProtocolRange
from clinic.records.patients.models import Patient
from clinic.records.treatments.models import Course, CourseArea, CourseProduct, TreatmentSession


@dataclass
class CourseInput:
    indication_code: str
    area_codes: Sequence[str]
    planned_sessions: int | None = None
    interval_days: int | None = None
    product_ids: Sequence[int] = ()
    goals: str = ""
    baseline_notes: str = ""
    starts_on: date | None = None


def course_defaults(indication: Indication) -> tuple[int, int]:
    """Planned sessions and minimum interval from the catalogue (DESIGN.md)."""
    return indication.sessions_max, indication.interval_min_days


def plan_course(patient: Patient, entry: CourseInput, by: User, *, today: date | None = None) -> Course:
    today = today or clinic_today()
    if patient.is_voided:
        raise ClinicError("This patient was registered in error (voided).")
    indication = db.session.get(Indication, entry.indication_code or "")
    if indication is None or not indication.active:
        raise FieldError("indication_code", "Choose the indication from the list.")
    areas = sorted(set(entry.area_codes))
    if not areas:
        raise FieldError("area_codes", "Choose at least one target area.")
    known = set(db.session.scalars(sa.select(Area.code).where(Area.code.in_(areas))))
    if known != set(areas):
        raise FieldError("area_codes", "Choose areas from the list.")
    sessions, interval = course_defaults(indication)
    sessions = entry.planned_sessions or sessions
    interval = entry.interval_days or interval
    if not 1 <= sessions <= 50:
        raise FieldError("planned_sessions", "Plan between 1 and 50 sessions.")
    if not 1 <= interval <= 365:
        raise FieldError("interval_days", "The interval is between 1 and 365 days.")
    starts_on = entry.starts_on or today
    product_ids = sorted(set(entry.product_ids))
    products = list(db.session.scalars(sa.select(Product).where(Product.id.in_(product_ids)))) if product_ids else []
    if len(products) != len(product_ids):
        raise FieldError("product_ids", "Choose products from the catalogue.")
    course = Course(
        patient_id=patient.id, indication_code=indication.code, planned_sessions=sessions,
        interval_days=interval, goals=(entry.goals or "").strip(), baseline_notes=(entry.baseline_notes or "").strip(),
        status="planned", created_by_id=by.id, starts_on=starts_on,
    )
    course.area_links = [CourseArea(area_code=code) for code in areas]
    for product in products:
        course.planned_products.append(CourseProduct(product_id=product.id))
    return stored(course)


def live_sessions(course: Course) -> list[TreatmentSession]:
    return [s for s in course.sessions if not s.is_voided]


def next_due(course: Course) -> date | None:
    """The next session's due date: the course start, then the latest session plus the interval (by when
    it was performed: a session logged afterwards for an earlier day does not move the course on)."""
    done = live_sessions(course)
    return due_after(course, len(done), max((s.performed_at for s in done), default=None))


def due_after(course: Course, done: int, last_at: datetime | None) -> date | None:
    """``next_due`` from the count of live sessions and the time of the last one, for a list that reads
    those in SQL instead of loading every session."""
    if course.status in ("completed", "stopped") or done >= course.planned_sessions:
        return None
    if last_at is None:
        return course.starts_on
    return clinic_day(last_at) + timedelta(days=course.interval_days)


def stop_course(course: Course, reason: str) -> None:
    reason = required_text(reason, "reason", "Say why the course stops early.")
    if course.status in ("completed", "stopped"):
        raise ClinicError("This course is already closed.")
    course.status, course.stop_reason = "stopped", reason
    db.session.flush()


def reopen_course(course: Course, doctor: User, reason: str) -> None:
    """A course completed too soon (a session still to come) is reopened by a doctor, with the reason kept
    in the audit trail beside the status change."""
    reason = required_text(reason, "reason", "Say why the course is reopened.")
    if doctor.role != Role.DOCTOR:
        raise ClinicError("Only a doctor reopens a course.")
    if course.status != "completed":
        raise ClinicError("Only a completed course can be reopened; a course stopped early stays stopped.")
    course.status = "active" if live_sessions(course) else "planned"
    db.session.flush()
    record_event("reopen_course", record_type="course", record_id=course.id, reason=reason)


def complete_course(course: Course) -> None:
    if course.status in ("completed", "stopped"):
        raise ClinicError("This course is already closed.")
    if any(not s.is_voided and not s.is_signed for s in course.sessions):
        raise ClinicError("Sign or void the draft sessions first.")
    course.status = "completed"
    db.session.flush()



# What a range's column holds (8 digits, 3 after the point), with room to spare: a depth in mm, a gauge,
# a volume in ml.
PROTOCOL_RANGE_MAX = Decimal("1000")
SOURCE_MAX = 300  # the column's length


def _check_range_ends(low: Decimal | None, high: Decimal | None) -> None:
    if low is None or low <= 0:
        raise FieldError("low", "Give the lower end, above zero.")
    if high is None or high < low:
        raise FieldError("high", "The upper end cannot be below the lower end.")
    if high > PROTOCOL_RANGE_MAX:
        raise FieldError("high", f"No usual range at the chair goes above {PROTOCOL_RANGE_MAX}.")


def save_protocol_range(row: ProtocolRange, low: Decimal, high: Decimal, active: bool) -> ProtocolRange:
    """An admin corrects a usual range (the catalogue's, seeded from DESIGN.md); the audit keeps the old one."""
    _check_range_ends(low, high)
    row.low, row.high, row.active = low, high, active
    db.session.flush()
    return row


@dataclass
class ProtocolRangeInput:
    measure: str
    low: Decimal | None
    high: Decimal | None
    indication_code: str | None = None  # None: any indication
    area_code: str | None = None  # None: any area
    source: str = ""
    active: bool = True


def add_protocol_range(entry: ProtocolRangeInput) -> ProtocolRange:
    """An admin adds a usual range for a measure, and for an indication or an area if it is narrower; one
    range per measure, indication and area (a second is refused: the first is corrected instead)."""
    if entry.measure not in PROTOCOL_MEASURES:
        raise FieldError("measure", "Choose the measure.")
    if entry.indication_code and db.session.get(Indication, entry.indication_code) is None:
        raise FieldError("indication_code", "Choose an indication of the catalogue.")
    if entry.area_code and db.session.get(Area, entry.area_code) is None:
        raise FieldError("area_code", "Choose an area of the catalogue.")
    _check_range_ends(entry.low, entry.high)
    assert entry.low is not None and entry.high is not None  # checked just above
    if len(entry.source or "") > SOURCE_MAX:
        raise FieldError("source", f"Keep the source under {SOURCE_MAX} characters.")
    same = db.session.scalar(sa.select(ProtocolRange).where(
        ProtocolRange.measure == entry.measure,
        ProtocolRange.indication_code.is_(None) if not entry.indication_code
        else ProtocolRange.indication_code == entry.indication_code,
        ProtocolRange.area_code.is_(None) if not entry.area_code else ProtocolRange.area_code == entry.area_code))
    if same is not None:
        raise FieldError("measure", f"There is already a {same.label.lower()} range for this indication and area "
                                    f"({same.text}{'' if same.active else ', not in use'}): correct that one instead.")
    return stored(ProtocolRange(measure=entry.measure, indication_code=entry.indication_code or None,
                                area_code=entry.area_code or None, low=entry.low, high=entry.high,
                                source=(entry.source or "").strip(), active=entry.active))
