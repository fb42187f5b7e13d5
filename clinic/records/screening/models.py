"""Contraindication rules as data, and screenings that apply them to one patient."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.core.models import UTCDateTime, VersionedMixin, VoidableMixin, utcnow
from clinic.extensions import Model
from clinic.records.catalogue.models import AreaLink, IndicationLink

if TYPE_CHECKING:
    from clinic.auth.models import User
    from clinic.records.catalogue.models import Indication
    from clinic.records.patients.models import HistoryVersion

RULE_KINDS = {
    "absolute": "Absolute: blocks treatment",
    "relative": "Relative: needs a doctor's override with a reason",
    "warning": "Warning: needs an acknowledgement",
}

# What in the medical history answers a rule's question before staff confirm it.
RULE_TRIGGERS = {
    "question": "Asked at screening only",
    "condition": "A condition in the history",
    "pregnant": "Pregnancy",
    "breastfeeding": "Breastfeeding",
    "anticoagulant": "Blood-thinning medication",
    "treatment": "A recent treatment (with a waiting period)",
    "skin_type_dark": "Fitzpatrick skin type IV–VI",
    "age_under": "Age under N years on the day (from the date of birth)",
}
# Triggers whose answer is worked out from the record and cannot be answered otherwise.
COMPUTED_TRIGGERS = frozenset({"age_under"})

RESULTS = {
    "eligible": "Eligible",
    "needs_review": "Needs doctor review",
    "not_eligible": "Not eligible",
}


class ContraindicationRule(VersionedMixin, Model):
    """One question staff ask before treatment, what answers it in the history, and what it does."""

    __tablename__ = "contraindication_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    question: Mapped[str] = mapped_column(sa.String(300))
    kind: Mapped[str] = mapped_column(sa.String(10))
    trigger: Mapped[str] = mapped_column(sa.String(20), default="question")
    # The condition code or treatment kind the trigger looks for.
    trigger_value: Mapped[str] = mapped_column(sa.String(40), default="")
    waiting_days: Mapped[Optional[int]] = mapped_column(sa.Integer)
    sort_order: Mapped[int] = mapped_column(sa.Integer, default=100)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    source: Mapped[str] = mapped_column(sa.String(200), default="")

    # The indications and areas it applies to; none means every one.
    indication_links: Mapped[list[RuleIndication]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="RuleIndication.indication_code")
    area_links: Mapped[list[RuleArea]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="RuleArea.area_code")

    __table_args__ = (
        sa.CheckConstraint("kind IN ('absolute', 'relative', 'warning')", name="kind"),
        sa.CheckConstraint("waiting_days IS NULL OR waiting_days > 0", name="waiting_positive"),
    )

    @property
    def indication_codes(self) -> set[str]:
        return {link.indication_code for link in self.indication_links}

    @property
    def area_codes(self) -> set[str]:
        return {link.area_code for link in self.area_links}

    def applies_to(self, indication: str, areas: set[str]) -> bool:
        if self.indication_codes and indication not in self.indication_codes:
            return False
        if self.area_codes and not (self.area_codes & areas):
            return False
        return True

    @property
    def kind_label(self) -> str:
        return RULE_KINDS.get(self.kind, self.kind).split(":")[0]


class RuleIndication(IndicationLink, Model):
    """An indication a rule is limited to."""

    __tablename__ = "contraindication_rule_indication"

    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("contraindication_rule.id"), primary_key=True)


class RuleArea(AreaLink, Model):
    """An area a rule is limited to."""

    __tablename__ = "contraindication_rule_area"

    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("contraindication_rule.id"), primary_key=True)


class Screening(VoidableMixin, Model):
    """The answers for one planned indication and set of areas, and what they mean."""

    __tablename__ = "screening"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    indication_code: Mapped[str] = mapped_column(sa.ForeignKey("indication.code"))
    screened_on: Mapped[date] = mapped_column(sa.Date)
    screened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    screened_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    # The history version the answers were checked against.
    history_version_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("history_version.id"))
    result: Mapped[str] = mapped_column(sa.String(20))
    notes: Mapped[str] = mapped_column(sa.Text, default="")

    answers: Mapped[list[ScreeningAnswer]] = relationship(
        back_populates="screening", cascade="all", order_by="ScreeningAnswer.id")
    overrides: Mapped[list[ScreeningOverride]] = relationship(
        back_populates="screening", cascade="all", order_by="ScreeningOverride.id")
    indication: Mapped[Indication] = relationship()
    area_links: Mapped[list[ScreeningArea]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ScreeningArea.area_code")
    screened_by: Mapped[User] = relationship(foreign_keys=[screened_by_id])
    history_version: Mapped[Optional[HistoryVersion]] = relationship()

    __table_args__ = (
        sa.CheckConstraint("result IN ('eligible', 'needs_review', 'not_eligible')", name="result"),
    )

    @property
    def area_codes(self) -> set[str]:
        return {link.area_code for link in self.area_links}

    @property
    def result_label(self) -> str:
        return RESULTS.get(self.result, self.result)


class ScreeningArea(AreaLink, Model):
    """A planned area a screening covers."""

    __tablename__ = "screening_area"

    screening_id: Mapped[int] = mapped_column(sa.ForeignKey("screening.id"), primary_key=True)


class ScreeningAnswer(Model):
    """One question's answer. The rule's wording and kind are copied: rules may change later."""

    __tablename__ = "screening_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    screening_id: Mapped[int] = mapped_column(sa.ForeignKey("screening.id"), index=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("contraindication_rule.id"))
    question: Mapped[str] = mapped_column(sa.String(300))
    kind: Mapped[str] = mapped_column(sa.String(10))
    answer: Mapped[bool] = mapped_column(sa.Boolean)
    # True when the history suggested this answer and staff confirmed it.
    from_history: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    event_date: Mapped[Optional[date]] = mapped_column(sa.Date)
    note: Mapped[str] = mapped_column(sa.String(300), default="")

    screening: Mapped[Screening] = relationship(back_populates="answers")
    rule: Mapped[ContraindicationRule] = relationship()


class ScreeningOverride(Model):
    """A doctor's decision that a relative contraindication does not stop treatment, and why."""

    __tablename__ = "screening_override"

    id: Mapped[int] = mapped_column(primary_key=True)
    screening_id: Mapped[int] = mapped_column(sa.ForeignKey("screening.id"), index=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("contraindication_rule.id"))
    doctor_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    reason: Mapped[str] = mapped_column(sa.Text)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    screening: Mapped[Screening] = relationship(back_populates="overrides")
    rule: Mapped[ContraindicationRule] = relationship()
    doctor: Mapped[User] = relationship()

    __table_args__ = (sa.UniqueConstraint("screening_id", "rule_id", name="uq_screening_override_rule"),)
