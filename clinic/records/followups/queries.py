"""What the follow-up pages show, each in a fixed number of statements whatever the number of rows:
the nurses' worklist, the doctors' flags, side effects per patient, session and lot."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, lazyload, selectinload

from clinic.extensions import db
from clinic.inventory.models import Lot, Product
from clinic.records.catalogue.models import Area, Indication
from clinic.records.followups.models import (
    OPEN_OUTCOMES,
    PATIENT_WORDS,
    FlagReview,
    FollowUpAttempt,
    FollowUpTask,
    SideEffect,
    SideEffectArea,
    SideEffectType,
)
from clinic.records.patients.models import Patient
from clinic.records.treatments.models import Course, InjectionLog, PreparationComponent, TreatmentSession
from clinic.records.treatments.queries import up_to_sessions

PAGE_SIZE = 50
UPCOMING_DAYS = 7

# --- the nurses' worklist ------------------------------------------------------------------------


@dataclass
class WorklistRow:
    task_id: int
    due_on: date
    urgent: bool
    reason: str
    patient_id: int
    patient_name: str
    record_number: str
    phone: str
    session_id: int
    performed_at: datetime
    session_number: int
    planned_sessions: int
    indication: str
    attempts: int
    areas: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    # An urgent call asked by the patient's own report: what they reported, and the number they gave.
    reported: str = ""
    callback_phone: str = ""

    def bucket(self, today: date) -> str:
        return "overdue" if self.due_on < today else "today" if self.due_on == today else "upcoming"


@dataclass
class Worklist:
    rows: list[WorklistRow]
    next_after: str | None  # the keyset cursor of the next page, if there is one

    def bucket(self, name: str, today: date) -> list[WorklistRow]:
        return [row for row in self.rows if row.bucket(today) == name]


def _cursor(row: WorklistRow) -> str:
    return f"{row.due_on.isoformat()}_{row.task_id}"


def _parse_cursor(after: str | None) -> tuple[date, int] | None:
    try:
        day, _, task_id = (after or "").partition("_")
        return (date.fromisoformat(day), int(task_id)) if after else None
    except ValueError:
        return None


def nurse_worklist(today: date, *, nurse_id: int | None = None, after: str | None = None,
                   limit: int = PAGE_SIZE, urgent: bool = False) -> Worklist:
    """Open follow-ups, overdue first, up to a week ahead; ``nurse_id``: only sessions they assisted;
    ``urgent``: only the calls patients asked for with their own report (else only the others).
    Four statements: the page, its areas, its products, the patients' reports."""
    attempts = (sa.select(sa.func.count(FollowUpAttempt.id)).where(FollowUpAttempt.task_id == FollowUpTask.id)
                .correlate(FollowUpTask).scalar_subquery())
    query = (
        sa.select(FollowUpTask.id, FollowUpTask.due_on, FollowUpTask.urgent, FollowUpTask.reason, Patient.id,
                  Patient.first_name, Patient.last_name, Patient.record_number, Patient.phone, TreatmentSession.id,
                  TreatmentSession.performed_at, TreatmentSession.number, Course.planned_sessions, Indication.name,
                  attempts)
        .join(TreatmentSession, TreatmentSession.id == FollowUpTask.session_id)
        .join(Course, Course.id == TreatmentSession.course_id)
        .join(Indication, Indication.code == Course.indication_code)
        .join(Patient, Patient.id == FollowUpTask.patient_id)
        .where(FollowUpTask.status == "due", FollowUpTask.due_on <= today + timedelta(days=UPCOMING_DAYS),
               TreatmentSession.voided_at.is_(None), FollowUpTask.urgent.is_(urgent))
        .order_by(FollowUpTask.due_on, FollowUpTask.id)
        .limit(limit + 1)
    )
    if nurse_id is not None:
        query = query.where(TreatmentSession.nurse_id == nurse_id)
    cursor = _parse_cursor(after)
    if cursor is not None:
        query = query.where(sa.or_(FollowUpTask.due_on > cursor[0],
                                   sa.and_(FollowUpTask.due_on == cursor[0], FollowUpTask.id > cursor[1])))
    found = db.session.execute(query).all()
    rows = [WorklistRow(r[0], r[1], r[2], r[3], r[4], f"{r[5]} {r[6]}", r[7], r[8], r[9], r[10], r[11], r[12],
                        r[13], r[14]) for r in found[:limit]]
    _fill_areas_and_products(rows)
    if urgent:
        _fill_reports(rows)
    return Worklist(rows, _cursor(rows[-1]) if len(found) > limit else None)


def _fill_reports(rows: Sequence[WorklistRow]) -> None:
    by_task = {row.task_id: row for row in rows}
    if not by_task:
        return
    reports = db.session.execute(
        sa.select(SideEffect.follow_up_id, SideEffectType.plain_name, SideEffect.grade, SideEffect.callback_phone)
        .join(SideEffectType, SideEffectType.code == SideEffect.type_code)
        .where(SideEffect.follow_up_id.in_(by_task), SideEffect.source == "patient"))
    for task_id, what, grade, phone in reports:
        row = by_task[task_id]
        row.reported = f"{what}, {PATIENT_WORDS.get(grade, 'severe')}"
        row.callback_phone = phone or row.callback_phone


def _fill_areas_and_products(rows: Sequence[WorklistRow]) -> None:
    by_session: dict[int, list[WorklistRow]] = {}
    for row in rows:
        by_session.setdefault(row.session_id, []).append(row)
    if not by_session:
        return
    areas = db.session.execute(
        sa.select(InjectionLog.session_id, Area.name, Area.sort_order).join(Area, Area.code == InjectionLog.area_code)
        .where(InjectionLog.session_id.in_(by_session), InjectionLog.administered.is_(True))
        .order_by(InjectionLog.session_id, Area.sort_order).distinct())
    for session_id, name, _ in areas:
        for row in by_session[session_id]:
            row.areas.append(name)
    products = db.session.execute(
        up_to_sessions(sa.select(TreatmentSession.id, Product.name).select_from(PreparationComponent))
        .join(Lot, Lot.id == PreparationComponent.lot_id).join(Product, Product.id == Lot.product_id)
        .where(TreatmentSession.id.in_(by_session)).order_by(TreatmentSession.id, Product.name).distinct())
    for session_id, name in products:
        for row in by_session[session_id]:
            row.products.append(name)


@dataclass(frozen=True)
class WorklistCounts:
    """The nurses' home cards: how many open follow-ups each list holds, whatever its page size."""
    urgent: int  # patients' own reports waiting for a call
    overdue: int
    today: int
    upcoming: int  # due in the next UPCOMING_DAYS days


def worklist_counts(today: date) -> WorklistCounts:
    """The worklist's lists counted in one statement, by the same rule as ``nurse_worklist``."""
    def tally(condition: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    routine = FollowUpTask.urgent.is_(False)
    row = db.session.execute(
        sa.select(tally(FollowUpTask.urgent.is_(True)),
                  tally(sa.and_(routine, FollowUpTask.due_on < today)),
                  tally(sa.and_(routine, FollowUpTask.due_on == today)),
                  tally(sa.and_(routine, FollowUpTask.due_on > today)))
        .join(TreatmentSession, TreatmentSession.id == FollowUpTask.session_id)
        .where(FollowUpTask.status == "due", FollowUpTask.due_on <= today + timedelta(days=UPCOMING_DAYS),
               TreatmentSession.voided_at.is_(None))).one()
    return WorklistCounts(*(int(n) for n in row))


def urgent_follow_ups(today: date, *, nurse_id: int | None = None) -> list[WorklistRow]:
    """Patients' own reports waiting for a call, pinned above the worklist whatever page it is on."""
    return nurse_worklist(today, nurse_id=nurse_id, limit=PAGE_SIZE, urgent=True).rows


# --- the doctors' flags --------------------------------------------------------------------------

RARE = "rare"
SEVERE = "severe"
SERIOUS = "serious"
OUTLASTING = "outlasting"
NOT_REACHED = "not_reached"
FLAG_WORDS = {RARE: "a kind always shown to a doctor", SEVERE: "grade 3 or more", SERIOUS: "serious",
              OUTLASTING: "still open past its expected duration", NOT_REACHED: "patient not reached"}


@dataclass
class Flag:
    since: datetime
    reasons: list[str]
    patient: Patient
    side_effect: SideEffect | None = None
    follow_up: FollowUpTask | None = None

    @property
    def words(self) -> str:
        return ", ".join(FLAG_WORDS[r] for r in self.reasons)


def _reviewed_since(when: Any, subject: Any, column: Any) -> Any:
    return sa.exists().where(column == subject, FlagReview.reviewed_at >= when)


def side_effect_flag_conditions(now: datetime) -> tuple[Any, Any]:
    """(needs a doctor from the moment it was last changed, needs one since it outlasted its kind)."""
    always = sa.or_(SideEffectType.always_flag.is_(True), SideEffect.grade >= 3, SideEffect.serious.is_(True))
    outlasting = sa.and_(SideEffect.outcome.in_(OPEN_OUTCOMES), SideEffect.overdue_at.is_not(None),
                         SideEffect.overdue_at <= now)
    return always, outlasting


def doctor_flags(now: datetime) -> list[Flag]:
    """Everything a doctor must review, oldest first: worked out in SQL, three statements (the side effects,
    the follow-ups not reached, their attempts)."""
    always, outlasting = side_effect_flag_conditions(now)
    pending_always = sa.and_(always, ~_reviewed_since(SideEffect.updated_at, SideEffect.id, FlagReview.side_effect_id))
    pending_outlasting = sa.and_(outlasting, ~_reviewed_since(sa.func.coalesce(SideEffect.overdue_at, now),
                                                              SideEffect.id, FlagReview.side_effect_id))
    side_effects = db.session.scalars(
        sa.select(SideEffect).join(SideEffectType, SideEffectType.code == SideEffect.type_code)
        .join(TreatmentSession, TreatmentSession.id == SideEffect.session_id)
        .where(SideEffect.voided_at.is_(None), TreatmentSession.voided_at.is_(None),
               sa.or_(pending_always, pending_outlasting))
        # What a flag shows comes in the same statement; its areas are not shown.
        .options(joinedload(SideEffect.type), joinedload(SideEffect.patient), joinedload(SideEffect.session),
                 lazyload(SideEffect.areas))).all()
    tasks = db.session.scalars(
        sa.select(FollowUpTask).where(FollowUpTask.status == "not_reached",
                                      ~sa.exists().where(FlagReview.follow_up_id == FollowUpTask.id))
        .options(joinedload(FollowUpTask.patient), joinedload(FollowUpTask.session),
                 selectinload(FollowUpTask.attempts))).all()
    flags = [_side_effect_flag(s, now) for s in side_effects]
    flags += [Flag(t.closed_at or now, [NOT_REACHED], t.patient, follow_up=t) for t in tasks]
    return sorted(flags, key=lambda f: f.since)


def _side_effect_flag(side_effect: SideEffect, now: datetime) -> Flag:
    reasons = [name for name, holds in (
        (RARE, side_effect.type.always_flag), (SEVERE, side_effect.grade >= 3), (SERIOUS, side_effect.serious),
        (OUTLASTING, side_effect.is_open and side_effect.overdue_at is not None and side_effect.overdue_at <= now),
    ) if holds]
    since = side_effect.overdue_at if reasons == [OUTLASTING] and side_effect.overdue_at else side_effect.updated_at
    return Flag(since, reasons, side_effect.patient, side_effect=side_effect)


# --- side effects where they matter --------------------------------------------------------------


def side_effects_of(*, patient_id: int | None = None, session_ids: Iterable[int] | None = None) -> list[SideEffect]:
    """A patient's or some sessions' side effects (voided ones too, marked), newest onset first."""
    query = sa.select(SideEffect).options(
        joinedload(SideEffect.type), joinedload(SideEffect.session),
        joinedload(SideEffect.areas).joinedload(SideEffectArea.injection).joinedload(InjectionLog.area))
    if patient_id is not None:
        query = query.where(SideEffect.patient_id == patient_id)
    if session_ids is not None:
        query = query.where(SideEffect.session_id.in_(list(session_ids)))
    # One statement: each side effect with its kind, session and areas.
    return list(db.session.scalars(query.order_by(SideEffect.onset_at.desc(), SideEffect.id.desc())).unique())


def after_previous_session(session_or_course: TreatmentSession | Course) -> tuple[TreatmentSession | None,
                                                                                 list[SideEffect]]:
    """For the top of a session form: the course's last session before this one, and what followed it."""
    if isinstance(session_or_course, TreatmentSession):
        course, number = session_or_course.course, session_or_course.number
    else:
        course, number = session_or_course, None
    earlier = [s for s in course.sessions if not s.is_voided and (number is None or s.number < number)]
    if not earlier:
        return None, []
    previous = max(earlier, key=lambda s: s.number)
    return previous, [s for s in side_effects_of(session_ids=[previous.id]) if not s.is_voided]


@dataclass
class LotSideEffects:
    count: int
    worst_grade: int


def side_effects_by_patient_for_lots(lot_ids: Sequence[int], patient_ids: Sequence[int] | None = None
                                     ) -> dict[int, LotSideEffects]:
    """Per patient, the side effects (not voided) on areas injected from a preparation holding one of
    the lots: area → preparation → component. One statement; ``patient_ids``: only these patients (a
    page of a trace need not count a whole lot's)."""
    if not lot_ids or (patient_ids is not None and not patient_ids):
        return {}
    through_lot = (
        sa.select(SideEffect.patient_id, SideEffect.id, SideEffect.grade)
        .join(SideEffectArea, SideEffectArea.side_effect_id == SideEffect.id)
        .join(InjectionLog, InjectionLog.id == SideEffectArea.injection_id)
        .join(PreparationComponent, PreparationComponent.preparation_id == InjectionLog.preparation_id)
        .join(TreatmentSession, TreatmentSession.id == SideEffect.session_id)
        .where(PreparationComponent.lot_id.in_(list(lot_ids)), SideEffect.voided_at.is_(None),
               TreatmentSession.voided_at.is_(None))
        .distinct()
    )
    if patient_ids is not None:
        through_lot = through_lot.where(SideEffect.patient_id.in_(list(patient_ids)))
    counted = through_lot.subquery()
    rows = db.session.execute(
        sa.select(counted.c.patient_id, sa.func.count(counted.c.id), sa.func.max(counted.c.grade))
        .group_by(counted.c.patient_id))
    return {patient_id: LotSideEffects(count, worst) for patient_id, count, worst in rows}


def reviews_of(*, side_effect_id: int | None = None, follow_up_id: int | None = None) -> list[FlagReview]:
    """A doctor's reviews of a side effect; or of a follow-up, with the review that booked it (so the nurse
    making the call knows what the doctor wants checked). Oldest first."""
    if side_effect_id is not None:
        condition = FlagReview.side_effect_id == side_effect_id
    else:
        condition = sa.or_(FlagReview.follow_up_id == follow_up_id, FlagReview.next_follow_up_id == follow_up_id)
    return list(db.session.scalars(sa.select(FlagReview).where(condition).order_by(FlagReview.reviewed_at)
                                   .options(selectinload(FlagReview.reviewed_by))))
