"""The nurse's side of a session: follow-up calls and their attempts, side effects with their
history, a doctor's review of what is flagged, and the patient's own report link.

A side effect is tied to the injection logs of the areas it concerns, so through the preparation
injected there to every component lot behind it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.core.clock import clinic_day
from clinic.core.models import UTCDateTime, VersionedMixin, VoidableMixin, utcnow
from clinic.extensions import Model

if TYPE_CHECKING:
    from clinic.auth.models import User
    from clinic.records.patients.models import Patient
    from clinic.records.treatments.models import InjectionLog, TreatmentSession

FOLLOW_UP_STATUSES = {"due": "Open", "done": "Done", "not_reached": "Not reached",
                      "cancelled": "Cancelled: the session was voided"}
FOLLOW_UP_REASONS = {"scheduled": "Scheduled after the session", "patient_report": "The patient reported a problem",
                     "doctor_review": "Asked by a doctor's review"}
CHANNELS = {"phone": "Phone call", "visit": "Visit", "message": "Message"}
# After this many calls that did not reach the patient, the follow-up stops and a doctor is told.
MAX_FAILED_ATTEMPTS = 3

GRADES = {1: "1 – mild", 2: "2 – moderate", 3: "3 – severe", 4: "4 – potentially life-threatening"}
ACTIONS = {"none": "None", "cold_compress": "Cold compress", "antihistamine": "Antihistamine",
           "antibiotic": "Antibiotic", "referral": "Referral", "hyaluronidase": "Hyaluronidase", "other": "Other"}
CAUSALITY = {"unrelated": "Unrelated", "unlikely": "Unlikely", "possible": "Possible", "probable": "Probable",
             "certain": "Certain"}
OUTCOMES = {"ongoing": "Ongoing", "resolving": "Resolving", "resolved": "Resolved",
            "resolved_with_sequelae": "Resolved with sequelae"}
OPEN_OUTCOMES = ("ongoing", "resolving")
SOURCES = {"follow_up": "Follow-up", "chart": "Between visits", "next_session": "At the next session",
           "patient": "Reported by the patient"}
# What the patient picks on their own report, and the grade it stands for until a clinician grades it.
PATIENT_SEVERITIES = {"mild": ("Mild: I notice it", 1), "moderate": ("Moderate: it bothers me", 2),
                      "severe": ("Severe: it worries me, or it is getting worse fast", 3)}
# A grade in the words the patient chose it with (a clinician's grade 4 reads as the worst they could say).
PATIENT_WORDS = {grade: code for code, (_, grade) in PATIENT_SEVERITIES.items()}
# The local-reaction guide for redness and swelling (toxicity grading of injection-site reactions).
SIZE_GUIDE = "Redness or swelling: 2.5–5 cm is mild, 5.1–10 cm moderate, more than 10 cm severe."


def _in(column: str, values: object) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"  # type: ignore[attr-defined]


class FollowUpTask(VersionedMixin, Model):
    """A follow-up to do on a day: scheduled when a session is signed, asked by a patient's own report
    (urgent), or by a doctor's review. Open until reached, or until it fails three times."""

    __tablename__ = "follow_up_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("treatment_session.id"), index=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(30))
    due_on: Mapped[date] = mapped_column(sa.Date, index=True)
    status: Mapped[str] = mapped_column(sa.String(12), default="due")
    reason: Mapped[str] = mapped_column(sa.String(20), default="scheduled", server_default="scheduled")
    urgent: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    created_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))
    # What the patient said when reached, and whether they had no side effect at all.
    patient_report: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    no_side_effects: Mapped[Optional[bool]] = mapped_column(sa.Boolean)

    session: Mapped[TreatmentSession] = relationship()
    patient: Mapped[Patient] = relationship()
    closed_by: Mapped[Optional[User]] = relationship()
    attempts: Mapped[list[FollowUpAttempt]] = relationship(
        back_populates="task", order_by="FollowUpAttempt.id", cascade="all")

    __table_args__ = (
        sa.CheckConstraint(_in("status", FOLLOW_UP_STATUSES), name="status"),
        sa.CheckConstraint(_in("reason", FOLLOW_UP_REASONS), name="reason"),
        sa.Index("ix_follow_up_task_open", "status", "due_on", "id"),
    )

    @property
    def is_open(self) -> bool:
        return self.status == "due"

    @property
    def status_label(self) -> str:
        return FOLLOW_UP_STATUSES.get(self.status, self.status)

    @property
    def failed_attempts(self) -> int:
        return sum(1 for a in self.attempts if not a.reached)


class FollowUpAttempt(Model):
    """One try at a follow-up: when, how, by whom, and whether the patient was reached."""

    __tablename__ = "follow_up_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(sa.ForeignKey("follow_up_task.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str] = mapped_column(sa.String(10))
    by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    reached: Mapped[bool] = mapped_column(sa.Boolean)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    # Not reached: the day the follow-up moved to.
    rescheduled_to: Mapped[Optional[date]] = mapped_column(sa.Date)

    task: Mapped[FollowUpTask] = relationship(back_populates="attempts")
    by: Mapped[User] = relationship()

    __table_args__ = (sa.CheckConstraint(_in("channel", CHANNELS), name="channel"),)

    @property
    def channel_label(self) -> str:
        return CHANNELS.get(self.channel, self.channel)


class SideEffectType(Model):
    """A kind of side effect, with how long it is expected to last (none for the rare kinds)."""

    __tablename__ = "side_effect_type"

    code: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    # The same in the patient's words, for their own report.
    plain_name: Mapped[str] = mapped_column(sa.String(160))
    expected_min_hours: Mapped[Optional[int]] = mapped_column(sa.Integer)
    expected_max_hours: Mapped[Optional[int]] = mapped_column(sa.Integer)
    # A rare kind: every one is shown to a doctor whatever its grade.
    always_flag: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # Measured in cm (redness, swelling, bruise, lump, nodule).
    sized: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(sa.Integer, default=100)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    __table_args__ = (
        sa.CheckConstraint("expected_min_hours IS NULL OR expected_min_hours >= 0", name="min_hours"),
        sa.CheckConstraint("expected_max_hours IS NULL OR expected_max_hours >= expected_min_hours",
                           name="max_hours"),
    )

    @property
    def patient_duration(self) -> str:
        """How long it usually lasts, for a patient: "6–24 hours", "2–5 days"."""
        low, high = self.expected_min_hours or 0, self.expected_max_hours or 0
        if high <= 24 or high % 24 != 0:
            return f"{low}–{high} hours"
        return f"{max(1, round(low / 24))}–{round(high / 24)} days"

    @property
    def expected_text(self) -> str:
        low, high = self.expected_min_hours, self.expected_max_hours
        if high is None:
            return "rare: always shown to a doctor"
        if high <= 48:
            return f"usually {low}–{high} h"
        return f"usually {round((low or 0) / 24)}–{round(high / 24)} days"


class SideEffectState:
    """What a side effect is at one moment: the side effect as it stands, and each of its versions."""

    # The columns a version copies.
    STATE: ClassVar[tuple[str, ...]] = (
        "type_code", "other_text", "onset_at", "size_cm", "grade", "serious", "action", "action_other",
        "causality", "outcome", "resolved_on", "note")

    type_code: Mapped[str] = mapped_column(sa.ForeignKey("side_effect_type.code"))
    other_text: Mapped[str] = mapped_column(sa.String(200), default="")
    onset_at: Mapped[datetime] = mapped_column(UTCDateTime())
    size_cm: Mapped[Optional[Decimal]] = mapped_column(sa.Numeric(5, 1))
    grade: Mapped[int] = mapped_column(sa.SmallInteger)
    serious: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    action: Mapped[str] = mapped_column(sa.String(20), default="none")
    action_other: Mapped[str] = mapped_column(sa.String(200), default="")
    # A clinician's judgement; none yet on a patient's own report.
    causality: Mapped[Optional[str]] = mapped_column(sa.String(12))
    outcome: Mapped[str] = mapped_column(sa.String(24), default="ongoing")
    resolved_on: Mapped[Optional[date]] = mapped_column(sa.Date)
    note: Mapped[str] = mapped_column(sa.Text, default="")

    @property
    def grade_label(self) -> str:
        return GRADES.get(self.grade, str(self.grade))

    @property
    def outcome_label(self) -> str:
        return OUTCOMES.get(self.outcome, self.outcome)

    @property
    def action_label(self) -> str:
        return self.action_other if self.action == "other" and self.action_other else ACTIONS[self.action]

    @property
    def causality_label(self) -> str:
        return CAUSALITY.get(self.causality or "", "not judged yet")

    @property
    def kind_label(self) -> str:
        return (self.other_text if self.type_code == "other" and self.other_text
                else self.type_code.replace("_", " ").capitalize())


class SideEffect(SideEffectState, VoidableMixin, VersionedMixin, Model):
    """One side effect after a session. Each change adds a version; the first stays readable."""

    __tablename__ = "side_effect"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("treatment_session.id"), index=True)
    follow_up_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("follow_up_task.id"), index=True)
    source: Mapped[str] = mapped_column(sa.String(20))
    callback_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    # When it outlasts its kind's expected duration (onset + the upper end), if it is still open then.
    overdue_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    type: Mapped[SideEffectType] = relationship()
    patient: Mapped[Patient] = relationship()
    session: Mapped[TreatmentSession] = relationship()
    recorded_by: Mapped[Optional[User]] = relationship(foreign_keys=[recorded_by_id])
    areas: Mapped[list[SideEffectArea]] = relationship(
        cascade="all", lazy="selectin", order_by="SideEffectArea.injection_id")
    versions: Mapped[list[SideEffectVersion]] = relationship(
        back_populates="side_effect", cascade="all", order_by="SideEffectVersion.number")

    __table_args__ = (
        sa.CheckConstraint("grade BETWEEN 1 AND 4", name="grade"),
        sa.CheckConstraint("size_cm IS NULL OR size_cm > 0", name="size_positive"),
        sa.CheckConstraint(_in("source", SOURCES), name="source"),
        sa.CheckConstraint(_in("action", ACTIONS), name="action"),
        sa.CheckConstraint(_in("outcome", OUTCOMES), name="outcome"),
        sa.CheckConstraint("causality IS NULL OR " + _in("causality", CAUSALITY), name="causality"),
    )

    @property
    def name(self) -> str:
        return self.other_text if self.type_code == "other" and self.other_text else self.type.name

    @property
    def is_open(self) -> bool:
        return self.outcome in OPEN_OUTCOMES

    @property
    def in_patient_words(self) -> str:
        return PATIENT_WORDS.get(self.grade, "severe")

    @property
    def source_label(self) -> str:
        return SOURCES.get(self.source, self.source)

    @property
    def days_to_resolve(self) -> int | None:
        """Days from the onset's day to the day it resolved (0: the same day); None while it is open.
        The onset's day is the clinic's local day, as the resolution date is entered."""
        if self.resolved_on is None:
            return None
        return (self.resolved_on - clinic_day(self.onset_at)).days

    @property
    def outcome_text(self) -> str:
        """The outcome in a sentence: "ongoing", "resolved in 3 days", "resolved the same day"."""
        days = self.days_to_resolve
        if days is None:
            return self.outcome_label.lower()
        resolved = "resolved with sequelae" if self.outcome == "resolved_with_sequelae" else "resolved"
        if days == 0:
            return f"{resolved} the same day"
        return f"{resolved} in {days} day{'s' if days != 1 else ''}"



class SideEffectArea(Model):
    """A treated area a side effect concerns: the injection log, so its preparation and lots."""

    __tablename__ = "side_effect_area"

    side_effect_id: Mapped[int] = mapped_column(sa.ForeignKey("side_effect.id"), primary_key=True)
    injection_id: Mapped[int] = mapped_column(sa.ForeignKey("injection_log.id"), primary_key=True, index=True)

    injection: Mapped[InjectionLog] = relationship(lazy="joined")


class SideEffectVersion(SideEffectState, Model):
    """What a side effect was at one moment: every save adds one, none is changed afterwards."""

    __tablename__ = "side_effect_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    side_effect_id: Mapped[int] = mapped_column(sa.ForeignKey("side_effect.id"), index=True)
    number: Mapped[int] = mapped_column(sa.Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))

    side_effect: Mapped[SideEffect] = relationship(back_populates="versions")
    recorded_by: Mapped[Optional[User]] = relationship()

    __table_args__ = (sa.UniqueConstraint("side_effect_id", "number", name="uq_side_effect_version_number"),)


class FlagReview(Model):
    """A doctor's review of a flagged side effect or an unreached follow-up; it clears the flag."""

    __tablename__ = "flag_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    side_effect_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("side_effect.id"), index=True)
    follow_up_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("follow_up_task.id"), index=True)
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reviewed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    assessment: Mapped[str] = mapped_column(sa.Text)
    plan: Mapped[str] = mapped_column(sa.Text)
    next_contact_on: Mapped[Optional[date]] = mapped_column(sa.Date)
    # The follow-up the review scheduled for the next contact.
    next_follow_up_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("follow_up_task.id"))

    reviewed_by: Mapped[User] = relationship()

    __table_args__ = (
        sa.CheckConstraint("(side_effect_id IS NULL) <> (follow_up_id IS NULL)", name="one_subject"),
    )


class PatientReportLink(Model):
    """The link printed on a session's aftercare sheet for the patient's own report (no account)."""

    __tablename__ = "patient_report_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("treatment_session.id"), unique=True)
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reports: Mapped[int] = mapped_column(sa.Integer, default=0)

    session: Mapped[TreatmentSession] = relationship()

    # The token is the secret: the audit trail records that a link exists, never the token itself.
    __audit_redact__ = frozenset({"token"})
