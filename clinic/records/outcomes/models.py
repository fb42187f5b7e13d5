"""What a course achieved: the measures the clinic takes (a catalogue an admin keeps) and the values
recorded against a course at baseline, at a session, at the end and at maintenance visits.

A value is never changed: a wrong one is voided with a reason, and a correction is a new value that
names the one it replaces, so every earlier reading stays on record.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.core.models import UTCDateTime, VersionedMixin, VoidableMixin, utcnow
from clinic.extensions import Model
from clinic.records.catalogue.models import IndicationLink

if TYPE_CHECKING:
    from clinic.auth.models import User
    from clinic.records.treatments.models import Course, TreatmentSession

# How a measure is given: a number in a unit, a point on the GAIS, or free text.
MEASURE_KINDS = {"number": "A number in a unit", "gais": "Global aesthetic improvement scale (GAIS)",
                 "text": "Free text"}
# The 5-point GAIS, best first; the number is where it sits on a chart (5: very much improved).
GAIS = {"very_much_improved": ("Very much improved", 5), "much_improved": ("Much improved", 4),
        "improved": ("Improved", 3), "no_change": ("No change", 2), "worse": ("Worse", 1)}
GAIS_SCALE = "GAIS 5-point"
# Units of a score or a grade rather than of a measurement taken somewhere on the body.
SCORE_UNITS = frozenset({"/10", "grade"})
TIMEPOINTS = {"baseline": "Baseline (course start)", "session": "At a session", "end": "End of course",
              "maintenance": "Maintenance visit"}


def _in(column: str, values: object) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"  # type: ignore[attr-defined]


class MeasureDefinition(Model):
    """A measure of success: its unit, range and decimals, the indications it is taken for, which way is
    better, and how to take it so that two readings compare."""

    __tablename__ = "measure_definition"

    code: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(10), default="number")
    unit: Mapped[str] = mapped_column(sa.String(20), default="")
    min_value: Mapped[Optional[Decimal]] = mapped_column(sa.Numeric(10, 3))
    max_value: Mapped[Optional[Decimal]] = mapped_column(sa.Numeric(10, 3))
    decimals: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    higher_is_better: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    how_to_measure: Mapped[str] = mapped_column(sa.Text, default="")
    # Taken for every indication (GAIS, satisfaction); otherwise for those linked.
    every_indication: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(sa.Integer, default=100)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    indication_links: Mapped[list[MeasureIndication]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="MeasureIndication.indication_code")

    __table_args__ = (
        sa.CheckConstraint(_in("kind", MEASURE_KINDS), name="kind"),
        sa.CheckConstraint("decimals BETWEEN 0 AND 3", name="decimals"),
        sa.CheckConstraint("min_value IS NULL OR max_value IS NULL OR max_value > min_value", name="range"),
    )

    @property
    def indication_codes(self) -> list[str]:
        return [link.indication_code for link in self.indication_links]

    def applies_to(self, indication_code: str) -> bool:
        return self.every_indication or indication_code in self.indication_codes

    @property
    def is_number(self) -> bool:
        return self.kind == "number"

    @property
    def taken_at_a_site(self) -> bool:
        """Measured at a place on the body (a scalp spot, a landmark), which may be written beside the value;
        a score or a grade is not."""
        return self.is_number and self.unit not in SCORE_UNITS

    @property
    def range_text(self) -> str:
        """"0–10", "30–250 cm": what the form says beside the box."""
        if not self.is_number:
            return ""
        low, high = self.min_value, self.max_value
        places = Decimal(1).scaleb(-self.decimals)
        ends = [str(end.quantize(places)) if end is not None else "…" for end in (low, high)]
        text = "–".join(ends)
        return f"{text} {self.unit}".strip()


class MeasureIndication(IndicationLink, Model):
    """An indication a measure is taken for."""

    __tablename__ = "measure_indication"

    measure_code: Mapped[str] = mapped_column(sa.ForeignKey("measure_definition.code"), primary_key=True)


class OutcomeMeasure(VoidableMixin, VersionedMixin, Model):
    """One reading of one measure for a course, with the unit (or scale) it was taken in."""

    __tablename__ = "outcome_measure"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("course.id"), index=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    session_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("treatment_session.id"), index=True)
    definition_code: Mapped[str] = mapped_column(sa.ForeignKey("measure_definition.code"))
    timepoint: Mapped[str] = mapped_column(sa.String(12))
    measured_on: Mapped[date] = mapped_column(sa.Date)
    value_number: Mapped[Optional[Decimal]] = mapped_column(sa.Numeric(10, 3))
    # A GAIS grade's code, or the free text of a text measure.
    value_text: Mapped[Optional[str]] = mapped_column(sa.Text)
    # The unit or scale as it was when recorded: a catalogue change never re-reads an old value.
    unit: Mapped[str] = mapped_column(sa.String(20), default="")
    scale: Mapped[str] = mapped_column(sa.String(40), default="")
    site: Mapped[str] = mapped_column(sa.String(200), default="")
    # The value this one corrects (that one is voided with the correction's reason).
    replaces_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("outcome_measure.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))

    definition: Mapped[MeasureDefinition] = relationship()
    course: Mapped[Course] = relationship()
    session: Mapped[Optional[TreatmentSession]] = relationship()
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id])

    __table_args__ = (
        sa.CheckConstraint(_in("timepoint", TIMEPOINTS), name="timepoint"),
        sa.CheckConstraint("value_number IS NOT NULL OR value_text IS NOT NULL", name="has_value"),
        sa.Index("ix_outcome_measure_course_live", "course_id", "voided_at", "measured_on"),
    )

    @property
    def timepoint_label(self) -> str:
        return TIMEPOINTS.get(self.timepoint, self.timepoint)

    @property
    def display(self) -> str:
        """The value as the clinic reads it: "72.5 cm", "Much improved (GAIS 5-point)", the text."""
        if self.value_number is not None:
            places = Decimal(1).scaleb(-self.definition.decimals)
            return f"{self.value_number.quantize(places)} {self.unit}".strip()
        if self.scale == GAIS_SCALE:
            return GAIS.get(self.value_text or "", (self.value_text or "", 0))[0]
        return self.value_text or ""

    @property
    def chart_value(self) -> Decimal | None:
        """Where the value sits on a chart: the number, or a GAIS grade's place on the scale."""
        if self.value_number is not None:
            return self.value_number
        if self.scale == GAIS_SCALE and self.value_text in GAIS:
            return Decimal(GAIS[self.value_text][1])
        return None
