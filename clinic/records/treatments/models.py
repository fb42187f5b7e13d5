"""Courses of treatment and the sessions that make them up.

A session holds what was drawn up that day (preparations, each from one or
more component lots) and one injection log per area treated. Signing stores a
digest of the session's canonical content and locks it; later corrections are
amendments beside the original, never edits.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.core.models import LockableMixin, UTCDateTime, VersionedMixin, VoidableMixin, utcnow
from clinic.extensions import Model
from clinic.records.catalogue.models import PROTOCOL_MEASURES, AreaLink, area_catalogue
from clinic.records.codes import WARNING_WORDS, WarningCode

if TYPE_CHECKING:
    from clinic.auth.models import User
    from clinic.inventory.models import Lot, Product
    from clinic.records.catalogue.models import Area, Indication
    from clinic.records.patients.models import Patient

COURSE_STATUSES = {"planned": "Planned", "active": "Active", "completed": "Completed",
                   "stopped": "Stopped early"}
TECHNIQUES = {"point_by_point": "Point-by-point", "nappage": "Nappage", "papule": "Papule",
              "injector_gun": "Injector gun"}
SKIN_PREPARATIONS = {"chlorhexidine": "Chlorhexidine 0.5% in alcohol", "alcohol": "Alcohol 70%",
                     "povidone_iodine": "Povidone-iodine", "octenidine": "Octenidine"}
NEEDLE_GAUGES = (27, 30, 31, 32)
DEPTH_MM = (Decimal("0.5"), Decimal("13"))
SIGNATURE_MEANING = "performed by"


class Course(VersionedMixin, Model):
    """A treatment plan: the indication, areas, protocol and how many sessions how often."""

    __tablename__ = "course"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    indication_code: Mapped[str] = mapped_column(sa.ForeignKey("indication.code"))
    planned_sessions: Mapped[int] = mapped_column(sa.Integer)
    interval_days: Mapped[int] = mapped_column(sa.Integer)
    goals: Mapped[str] = mapped_column(sa.Text, default="")
    baseline_notes: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(12), default="planned")
    stop_reason: Mapped[Optional[str]] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    starts_on: Mapped[date] = mapped_column(sa.Date)

    patient: Mapped[Patient] = relationship()
    indication: Mapped[Indication] = relationship()
    area_links: Mapped[list[CourseArea]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="CourseArea.area_code")
    planned_products: Mapped[list[CourseProduct]] = relationship(
        back_populates="course", cascade="all, delete-orphan", order_by="CourseProduct.id")
    sessions: Mapped[list[TreatmentSession]] = relationship(
        back_populates="course", order_by="TreatmentSession.number")

    __table_args__ = (
        sa.CheckConstraint("status IN ('planned', 'active', 'completed', 'stopped')", name="status"),
        sa.CheckConstraint("planned_sessions BETWEEN 1 AND 50", name="planned_sessions"),
        sa.CheckConstraint("interval_days BETWEEN 1 AND 365", name="interval_days"),
    )

    @property
    def area_codes(self) -> list[str]:
        return [link.area_code for link in self.area_links]

    @property
    def status_label(self) -> str:
        return COURSE_STATUSES.get(self.status, self.status)


class CourseArea(AreaLink, Model):
    """A target area of a course's plan."""

    __tablename__ = "course_area"

    course_id: Mapped[int] = mapped_column(sa.ForeignKey("course.id"), primary_key=True)


class CourseProduct(Model):
    """A product the protocol plans to use."""

    __tablename__ = "course_product"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("course.id"), index=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id"))

    course: Mapped[Course] = relationship(back_populates="planned_products")
    product: Mapped[Product] = relationship()

    __table_args__ = (sa.UniqueConstraint("course_id", "product_id", name="uq_course_product"),)


class TreatmentSession(VoidableMixin, VersionedMixin, LockableMixin, Model):
    """One visit of a course: who, when, how, and what was injected where."""

    __tablename__ = "treatment_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("course.id"), index=True)
    number: Mapped[int] = mapped_column(sa.Integer)
    performed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    doctor_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    nurse_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))
    skin_preparation: Mapped[str] = mapped_column(sa.String(40))
    anaesthetic_lot_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("lot.id"))
    anaesthetic_minutes: Mapped[Optional[int]] = mapped_column(sa.Integer)
    technique: Mapped[str] = mapped_column(sa.String(20))
    needle_gauge: Mapped[int] = mapped_column(sa.SmallInteger)
    needle_length_mm: Mapped[Decimal] = mapped_column(sa.Numeric(4, 1))
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    # Warning codes the doctor acknowledged when saving (space-separated).
    acknowledged_warnings: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    course: Mapped[Course] = relationship(back_populates="sessions")
    doctor: Mapped[User] = relationship(foreign_keys=[doctor_id])

    @property
    def acknowledged_labels(self) -> list[str]:
        """The acknowledged warnings in words (the codes are what the signature covers)."""
        labels = []
        for code in self.acknowledged_warnings.split():
            kind, _, detail = code.partition(":")
            if kind == WarningCode.RULE:
                labels.append(f"contraindication rule “{detail.replace('_', ' ')}”")
            elif kind == WarningCode.PROTOCOL:
                measure, _, area = detail.partition(":")
                what = PROTOCOL_MEASURES.get(measure, (measure, ""))[0].lower()
                known = area_catalogue().get(area) if area else None  # read once per request
                place = known.name if known else area.replace("_", " ")
                labels.append(f"{what} outside the usual range" + (f" ({place})" if area else ""))
            elif kind == WarningCode.RECALLED_AFTER:
                lot = next((c.lot for p in self.preparations for c in p.components if str(c.lot_id) == detail), None)
                labels.append(f"lot {lot.lot_number if lot else detail} recalled after the session")
            else:
                labels.append(WARNING_WORDS.get(code, code.replace("_", " ")))
        return labels
    nurse: Mapped[Optional[User]] = relationship(foreign_keys=[nurse_id])
    anaesthetic_lot: Mapped[Optional[Lot]] = relationship()
    preparations: Mapped[list[Preparation]] = relationship(
        back_populates="session", order_by="Preparation.id")
    injections: Mapped[list[InjectionLog]] = relationship(back_populates="session", order_by="InjectionLog.id")
    signature: Mapped[Optional[SessionSignature]] = relationship(back_populates="session", uselist=False)
    amendments: Mapped[list[Amendment]] = relationship(back_populates="session", order_by="Amendment.id")

    __table_args__ = (
        sa.UniqueConstraint("course_id", "number", name="uq_treatment_session_number"),
        sa.CheckConstraint("needle_gauge BETWEEN 27 AND 32", name="needle_gauge"),
        sa.CheckConstraint("needle_length_mm > 0 AND needle_length_mm <= 13", name="needle_length"),
    )

    @property
    def is_signed(self) -> bool:
        return self.signature is not None

    @property
    def technique_label(self) -> str:
        return TECHNIQUES.get(self.technique, self.technique)


class Preparation(Model):
    """What was drawn up: one product alone, or a cocktail of several component lots."""

    __tablename__ = "preparation"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("treatment_session.id"), index=True)
    label: Mapped[str] = mapped_column(sa.String(80))

    session: Mapped[TreatmentSession] = relationship(back_populates="preparations")
    components: Mapped[list[PreparationComponent]] = relationship(
        back_populates="preparation", order_by="PreparationComponent.id")

    @property
    def drawn_ml(self) -> Decimal:
        return sum((c.volume_ml for c in self.components), Decimal("0"))


class PreparationComponent(Model):
    """One lot in a preparation: the units opened (drawn from stock) and the ml taken from them."""

    __tablename__ = "preparation_component"

    id: Mapped[int] = mapped_column(primary_key=True)
    preparation_id: Mapped[int] = mapped_column(sa.ForeignKey("preparation.id"), index=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lot.id"), index=True)
    units: Mapped[int] = mapped_column(sa.Integer)
    volume_ml: Mapped[Decimal] = mapped_column(sa.Numeric(7, 2))

    preparation: Mapped[Preparation] = relationship(back_populates="components")
    lot: Mapped[Lot] = relationship()

    __table_args__ = (
        sa.CheckConstraint("units > 0", name="units_positive"),
        sa.CheckConstraint("volume_ml > 0", name="volume_positive"),
    )


class InjectionLog(Model):
    """One area treated (or planned and skipped, with the reason)."""

    __tablename__ = "injection_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("treatment_session.id"), index=True)
    area_code: Mapped[str] = mapped_column(sa.ForeignKey("area.code"))
    preparation_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("preparation.id"), index=True)
    technique: Mapped[str] = mapped_column(sa.String(20))
    depth_mm: Mapped[Optional[Decimal]] = mapped_column(sa.Numeric(4, 1))
    volume_ml: Mapped[Optional[Decimal]] = mapped_column(sa.Numeric(6, 2))
    points: Mapped[Optional[int]] = mapped_column(sa.Integer)
    needle_gauge: Mapped[Optional[int]] = mapped_column(sa.SmallInteger)
    administered: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    not_administered_reason: Mapped[Optional[str]] = mapped_column(sa.Text)

    session: Mapped[TreatmentSession] = relationship(back_populates="injections")
    preparation: Mapped[Optional[Preparation]] = relationship()
    area: Mapped[Area] = relationship()

    __table_args__ = (
        sa.CheckConstraint(
            "(administered AND preparation_id IS NOT NULL AND volume_ml > 0 AND points > 0 "
            "AND depth_mm BETWEEN 0.5 AND 13) OR (NOT administered AND not_administered_reason IS NOT NULL)",
            name="administered_or_reason",
        ),
    )

    @property
    def bolus_ml(self) -> Decimal | None:
        if not self.administered or not self.points or self.volume_ml is None:
            return None
        return (self.volume_ml / self.points).quantize(Decimal("0.001"))

    @property
    def technique_label(self) -> str:
        return TECHNIQUES.get(self.technique, self.technique)


class SessionSignature(Model):
    """The doctor's electronic signature (SECURITY.md T6): who, printed name, when, meaning, digest."""

    __tablename__ = "session_signature"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("treatment_session.id"), unique=True)
    signer_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    printed_name: Mapped[str] = mapped_column(sa.String(200))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    meaning: Mapped[str] = mapped_column(sa.String(40), default=SIGNATURE_MEANING)
    content_sha256: Mapped[str] = mapped_column(sa.String(64))

    session: Mapped[TreatmentSession] = relationship(back_populates="signature")
    signer: Mapped[User] = relationship()


class Amendment(Model):
    """A correction to a signed session: the field, old and new value, why, who and when."""

    __tablename__ = "amendment"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("treatment_session.id"), index=True)
    # The injection log or the lot use (preparation component) corrected; neither when the correction
    # is to the session itself.
    injection_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("injection_log.id"), index=True)
    component_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("preparation_component.id"), index=True)
    field: Mapped[str] = mapped_column(sa.String(60))
    old_value: Mapped[str] = mapped_column(sa.Text)
    new_value: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.Text)
    amended_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    amended_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    session: Mapped[TreatmentSession] = relationship(back_populates="amendments")
    injection: Mapped[Optional[InjectionLog]] = relationship()
    component: Mapped[Optional[PreparationComponent]] = relationship()
    amended_by: Mapped[User] = relationship()

    @property
    def target(self) -> str:
        """What the session page keys its amended cells by: "session", "injection:<id>" or "component:<id>"."""
        if self.component_id is not None:
            return f"component:{self.component_id}"
        return "session" if self.injection_id is None else f"injection:{self.injection_id}"
