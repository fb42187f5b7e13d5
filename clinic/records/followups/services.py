"""Working follow-ups, recording side effects and their changes, and a doctor's review of a flag.

Services flush and audit, never commit (the request does). Times come in UTC; ``now`` and ``today``
are parameters so that the rules can be checked at a frozen hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from clinic.auth.models import Role, User
from clinic.core.clock import clinic_day
from clinic.core.errors import ClinicError, FieldError
from clinic.core.services import check_version, required_text, stored, void_record
from clinic.extensions import db
from clinic.records.followups.models import (
    ACTIONS,
    CAUSALITY,
    CHANNELS,
    MAX_FAILED_ATTEMPTS,
    OPEN_OUTCOMES,
    OUTCOMES,
    FlagReview,
    FollowUpAttempt,
    FollowUpTask,
    SideEffect,
    SideEffectArea,
    SideEffectType,
    SideEffectVersion,
)
from clinic.records.signals import side_effect_changed
from clinic.records.treatments.models import TreatmentSession

NOTE_MAX = 4000
# How far ahead a missed call or a doctor's next contact may be put: further is a typing slip.
RESCHEDULE_MAX_DAYS = 90


def next_working_day(day: date) -> date:
    """The next Monday to Friday after ``day``."""
    following = day + timedelta(days=1)
    while following.weekday() >= 5:
        following += timedelta(days=1)
    return following


def _refuse_voided(session: TreatmentSession) -> None:
    if session.is_voided:
        raise ClinicError("This session was voided (entered in error): nothing more is recorded against it.")


# --- working a follow-up -------------------------------------------------------------------------


@dataclass
class AttemptInput:
    attempted_at: datetime  # UTC
    channel: str
    reached: bool
    note: str = ""
    # Not reached: the day to try again (default: the next working day).
    reschedule_to: date | None = None
    # Reached: what the patient says, and whether they have no new side effect.
    patient_report: str = ""
    no_side_effects: bool = False
    # Side effects still open that the nurse confirms are still ongoing with nothing new ("ongoing:<id>").
    acknowledged: Sequence[str] = ()


class StillOngoing(ClinicError):
    """"No side effects" while the patient has side effects on record that are not resolved: the nurse
    updates them, records the call differently, or confirms each is still ongoing with nothing new."""

    def __init__(self, open_effects: list[SideEffect]) -> None:
        super().__init__("The patient has side effects still ongoing on record: update each one, or confirm it is "
                         "still ongoing with nothing new.")
        self.side_effects = open_effects


def ongoing_code(side_effect: SideEffect) -> str:
    """The code a nurse acknowledges a still-open side effect with."""
    return f"ongoing:{side_effect.id}"


def open_side_effects(patient_id: int) -> list[SideEffect]:
    """The patient's side effects not resolved (ongoing or resolving) and not voided, oldest first, with their
    kind and session (one statement)."""
    return list(db.session.scalars(
        sa.select(SideEffect).where(SideEffect.patient_id == patient_id, SideEffect.not_voided(),
                                    SideEffect.outcome.in_(OPEN_OUTCOMES))
        .order_by(SideEffect.onset_at, SideEffect.id)
        .options(joinedload(SideEffect.type), joinedload(SideEffect.session))))


def record_attempt(task: FollowUpTask, by: User, entry: AttemptInput, *, now: datetime,
                   expected_version: int | str | None = None) -> FollowUpAttempt:
    """One try at a follow-up. Reached closes it; not reached moves it on, and the third failure
    closes it as "not reached" for a doctor to see."""
    _refuse_voided(task.session)
    if expected_version is not None:
        check_version(task, expected_version)
    if not task.is_open:
        raise ClinicError(f"This follow-up is already closed ({task.status_label.lower()}).")
    if entry.channel not in CHANNELS:
        raise FieldError("channel", "Choose how the patient was contacted.")
    if entry.attempted_at > now + timedelta(minutes=5):
        raise FieldError("attempted_at", "This time is in the future.")
    if entry.attempted_at < task.session.performed_at:
        raise FieldError("attempted_at", "This is before the session itself.")
    if len(entry.note or "") > NOTE_MAX or len(entry.patient_report or "") > NOTE_MAX:
        raise FieldError("note" if len(entry.note or "") > NOTE_MAX else "patient_report",
                         f"Keep this under {NOTE_MAX} characters.")
    today = clinic_day(now)
    failed_before = task.failed_attempts
    attempt = FollowUpAttempt(attempted_at=entry.attempted_at, channel=entry.channel, by_id=by.id,
                              reached=entry.reached, note=(entry.note or "").strip())
    if entry.reached:
        task.patient_report = required_text(entry.patient_report, "patient_report",
                                            "Write what the patient reports, even briefly.")
        task.no_side_effects = entry.no_side_effects
        if entry.no_side_effects:
            # "No side effects" must not sit beside one still open on record: each is confirmed as still
            # ongoing with nothing new (said so on the attempt), or updated first.
            still_open = open_side_effects(task.patient_id)
            if any(ongoing_code(e) not in set(entry.acknowledged) for e in still_open):
                raise StillOngoing(still_open)
            if still_open:
                attempt.note = " ".join(filter(None, [attempt.note, "Still ongoing, nothing new: " + "; ".join(
                    f"{e.name} (since {clinic_day(e.onset_at):%d %b %Y})" for e in still_open) + "."]))
        task.status, task.closed_at, task.closed_by_id = "done", now, by.id
    elif failed_before + 1 >= MAX_FAILED_ATTEMPTS:
        task.status, task.closed_at, task.closed_by_id = "not_reached", now, by.id
    else:
        day = entry.reschedule_to or next_working_day(today)
        if day <= today and entry.reschedule_to is not None:
            raise FieldError("reschedule_to", "Choose a day after today.")
        if day > today + timedelta(days=RESCHEDULE_MAX_DAYS):
            raise FieldError("reschedule_to", f"Choose a day within {RESCHEDULE_MAX_DAYS} days.")
        attempt.rescheduled_to = task.due_on = day
    task.attempts.append(attempt)
    task.version += 1  # an attempt changes the follow-up even when its day stays: a second saver gets 409
    return stored(attempt)


def cancel_open_follow_ups(session: TreatmentSession, **_: object) -> None:
    """A voided session needs no follow-up: its open ones are cancelled (kept, marked)."""
    for task in db.session.scalars(sa.select(FollowUpTask).filter_by(session_id=session.id, status="due")):
        task.status, task.closed_at = "cancelled", datetime.now(UTC)


# --- side effects --------------------------------------------------------------------------------


@dataclass
class SideEffectInput:
    type_code: str
    grade: int | None
    onset_at: datetime | None = None  # UTC; or:
    onset_hours: int | None = None  # hours after the session
    injection_ids: list[int] = field(default_factory=list)
    other_text: str = ""
    size_cm: Decimal | None = None
    serious: bool = False
    action: str = "none"
    action_other: str = ""
    causality: str | None = None
    outcome: str = "ongoing"
    resolved_on: date | None = None
    note: str = ""
    callback_phone: str = ""


def _onset(session: TreatmentSession, entry: SideEffectInput, now: datetime) -> datetime:
    if entry.onset_at is None and entry.onset_hours is None:
        raise FieldError("onset_at", "Give when it started: a date and time, or hours after the session.")
    if entry.onset_at is not None and entry.onset_hours is not None:
        raise FieldError("onset_hours", "Give one of the two: the time it started, or hours after the session.")
    if entry.onset_hours is not None and entry.onset_hours < 0:
        raise FieldError("onset_hours", "Hours after the session cannot be negative.")
    onset = entry.onset_at or session.performed_at + timedelta(hours=entry.onset_hours or 0)
    # Forms give minutes: the session's own minute counts as "at the session".
    if onset < session.performed_at.replace(second=0, microsecond=0):
        raise FieldError("onset_at", "It cannot start before the session.")
    onset = max(onset, session.performed_at)
    if onset > now + timedelta(minutes=5):
        raise FieldError("onset_at" if entry.onset_at else "onset_hours", "This is in the future.")
    return onset


def _checked(session: TreatmentSession, entry: SideEffectInput, now: datetime, *,
             clinician: bool, kept_code: str | None = None) -> tuple[SideEffectType, datetime]:
    kind = db.session.get(SideEffectType, entry.type_code or "")
    # A kind taken out of use stays valid for the side effects already recorded with it.
    if kind is None or not (kind.active or kind.code == kept_code):
        raise FieldError("type_code", "Choose the side effect from the list.")
    if kind.code == "other" and not (entry.other_text or "").strip():
        raise FieldError("other_text", "Say what the side effect is.")
    if entry.grade not in (1, 2, 3, 4):
        raise FieldError("grade", "Choose a grade from 1 (mild) to 4 (potentially life-threatening).")
    if entry.size_cm is not None and entry.size_cm <= 0:
        raise FieldError("size_cm", "A size is more than 0 cm.")
    if entry.size_cm is not None and entry.size_cm >= 1000:
        raise FieldError("size_cm", "Give the size in centimetres.")
    if entry.action not in ACTIONS:
        raise FieldError("action", "Choose the action taken.")
    if entry.action == "other" and not (entry.action_other or "").strip():
        raise FieldError("action_other", "Say what was done.")
    if clinician and entry.causality not in CAUSALITY:
        raise FieldError("causality", "Give your judgement of the link with the treatment.")
    if entry.outcome not in OUTCOMES:
        raise FieldError("outcome", "Choose the outcome.")
    onset = _onset(session, entry, now)
    if entry.outcome in ("resolved", "resolved_with_sequelae") and entry.resolved_on is None:
        raise FieldError("resolved_on", "Give the day it resolved.")
    if entry.resolved_on is not None:
        if entry.outcome not in ("resolved", "resolved_with_sequelae"):
            raise FieldError("resolved_on", "A resolution date goes with a resolved outcome.")
        if entry.resolved_on < clinic_day(onset):
            raise FieldError("resolved_on", "It cannot resolve before it started.")
        if entry.resolved_on > clinic_day(now):
            raise FieldError("resolved_on", "This day is in the future.")
    if len(entry.note or "") > NOTE_MAX:
        raise FieldError("note", f"Keep the note under {NOTE_MAX} characters.")
    return kind, onset


def _apply(side_effect: SideEffect, kind: SideEffectType, onset: datetime, entry: SideEffectInput,
           by: User | None, now: datetime) -> None:
    side_effect.type_code, side_effect.type = kind.code, kind
    side_effect.other_text = (entry.other_text or "").strip() if kind.code == "other" else ""
    side_effect.onset_at, side_effect.size_cm, side_effect.grade = onset, entry.size_cm, int(entry.grade or 1)
    side_effect.serious, side_effect.action = bool(entry.serious), entry.action
    side_effect.action_other = (entry.action_other or "").strip() if entry.action == "other" else ""
    side_effect.causality, side_effect.outcome = entry.causality or None, entry.outcome
    side_effect.resolved_on, side_effect.note = entry.resolved_on, (entry.note or "").strip()
    high = kind.expected_max_hours
    side_effect.overdue_at = onset + timedelta(hours=high) if high is not None else None
    side_effect.updated_at = now
    side_effect.versions.append(SideEffectVersion(
        number=len(side_effect.versions) + 1, recorded_at=now, recorded_by_id=by.id if by else None,
        **{name: getattr(side_effect, name) for name in SideEffect.STATE}))


def _treated(session: TreatmentSession, entry: SideEffectInput) -> list[int]:
    """The injection logs chosen, each an area treated in this session."""
    treated = {i.id for i in session.injections if i.administered}
    chosen = sorted(set(entry.injection_ids))
    if any(i not in treated for i in chosen):
        raise FieldError("injection_ids", "Choose areas treated in this session.")
    return chosen


def record_side_effect(session: TreatmentSession, by: User | None, entry: SideEffectInput, *, source: str,
                       now: datetime, follow_up: FollowUpTask | None = None) -> SideEffect:
    """A new side effect after ``session``, on the areas (injection logs) it concerns."""
    _refuse_voided(session)
    clinician = source != "patient"
    kind, onset = _checked(session, entry, now, clinician=clinician)
    chosen = _treated(session, entry)
    if clinician and not chosen:
        raise FieldError("injection_ids", "Choose the treated area(s) it concerns.")
    side_effect = SideEffect(
        patient_id=session.course.patient_id, session_id=session.id, source=source,
        follow_up_id=follow_up.id if follow_up else None, recorded_by_id=by.id if by else None, created_at=now,
        callback_phone=(entry.callback_phone or "").strip()[:40],
        areas=[SideEffectArea(injection_id=i) for i in chosen],
    )
    _apply(side_effect, kind, onset, entry, by, now)
    stored(side_effect)
    side_effect_changed.send(side_effect, change="recorded")
    return side_effect


def update_side_effect(side_effect: SideEffect, by: User, entry: SideEffectInput, *, now: datetime,
                       expected_version: int | str | None = None) -> SideEffect:
    """How it evolves (grade, size, action, causality, outcome): a new version, the old ones kept."""
    if side_effect.is_voided:
        raise ClinicError("This side effect was voided (entered in error).")
    _refuse_voided(side_effect.session)
    if expected_version is not None:
        check_version(side_effect, expected_version)
    kind, onset = _checked(side_effect.session, entry, now, clinician=True, kept_code=side_effect.type_code)
    if not side_effect.areas and entry.injection_ids:
        # A patient's own report names no area: the clinician who follows it up links it to the
        # injections (so to their lots) once.
        side_effect.areas = [SideEffectArea(injection_id=i) for i in _treated(side_effect.session, entry)]
    _apply(side_effect, kind, onset, entry, by, now)
    db.session.flush()
    side_effect_changed.send(side_effect, change="updated")
    return side_effect


def void_side_effect(side_effect: SideEffect, by: User, reason: str) -> None:
    """A side effect entered in error: kept and marked, and out of every rate from now on."""
    void_record(side_effect, by, reason)
    db.session.flush()
    side_effect_changed.send(side_effect, change="voided")


# --- a doctor's review of a flag -----------------------------------------------------------------


def review_flag(doctor: User, *, assessment: str, plan: str, next_contact_on: date | None, today: date,
                side_effect: SideEffect | None = None, follow_up: FollowUpTask | None = None) -> FlagReview:
    """Clears the flag; a next-contact date schedules a follow-up for the nurses on that day."""
    if doctor.role != Role.DOCTOR:
        raise ClinicError("Only a doctor reviews a flag.")
    if (side_effect is None) == (follow_up is None):
        raise ClinicError("Review one side effect or one follow-up.")
    session = side_effect.session if side_effect is not None else follow_up.session  # type: ignore[union-attr]
    review = FlagReview(side_effect_id=side_effect.id if side_effect else None,
                        follow_up_id=follow_up.id if follow_up else None, reviewed_by_id=doctor.id,
                        assessment=required_text(assessment, "assessment", "Write your assessment."),
                        plan=required_text(plan, "plan", "Write the plan, even \"no further action\"."),
                        next_contact_on=next_contact_on)
    if next_contact_on is not None:
        if next_contact_on < today:
            raise FieldError("next_contact_on", "The next contact cannot be in the past.")
        if next_contact_on > today + timedelta(days=RESCHEDULE_MAX_DAYS):
            raise FieldError("next_contact_on", f"Choose a day within {RESCHEDULE_MAX_DAYS} days.")
        if session.is_voided:
            raise FieldError("next_contact_on", "The session was voided: no follow-up can be scheduled on it.")
        task = stored(FollowUpTask(session_id=session.id, patient_id=session.course.patient_id, kind="phone_check",
                                   due_on=next_contact_on, reason="doctor_review"))
        review.next_follow_up_id = task.id
    return stored(review)


# --- the side-effect catalogue (admins) -----------------------------------------------------------


@dataclass
class SideEffectTypeInput:
    code: str
    name: str
    plain_name: str
    expected_min_hours: int | None = None
    expected_max_hours: int | None = None
    always_flag: bool = False
    sized: bool = False
    sort_order: int = 100
    active: bool = True


def save_side_effect_type(kind: SideEffectType | None, entry: SideEffectTypeInput) -> SideEffectType:
    """Add a kind, or change one; a kind already used keeps its code (side effects refer to it)."""
    code = (entry.code or "").strip().lower()
    if kind is None:
        if not code or not all(ch.isalnum() or ch == "_" for ch in code):
            raise FieldError("code", "Use lower-case letters, digits and _ only.")
        if db.session.get(SideEffectType, code) is not None:
            raise FieldError("code", "Another side effect has this code.")
        kind = SideEffectType(code=code)
    low, high = entry.expected_min_hours, entry.expected_max_hours
    if (low is None) != (high is None):
        raise FieldError("expected_max_hours", "Give both ends of the expected duration, or neither.")
    if low is not None and high is not None and high < low:
        raise FieldError("expected_max_hours", "The upper end must be at least the lower end.")
    if high is None and not entry.always_flag:
        # Neither timed nor rare, a side effect of this kind would never reach a doctor.
        raise FieldError("expected_max_hours", "Give the expected duration, or mark the kind as rare.")
    kind.name = required_text(entry.name, "name", "Give the side effect's name.")
    kind.plain_name = required_text(entry.plain_name, "plain_name", "Say it as a patient would.")
    kind.expected_min_hours, kind.expected_max_hours = low, high
    kind.always_flag, kind.sized = bool(entry.always_flag), bool(entry.sized)
    kind.sort_order, kind.active = entry.sort_order, bool(entry.active)
    return stored(kind)
