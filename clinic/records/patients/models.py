"""The patient and what the chart records about them before any treatment.

The medical history is kept as numbered, immutable versions: a change makes a
new version, so a screening can always show the history exactly as it stood.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.core.models import UTCDateTime, VersionedMixin, VoidableMixin, utcnow
from clinic.extensions import Model

if TYPE_CHECKING:
    from clinic.auth.models import User
    from clinic.inventory.models import Ingredient, Product
    from clinic.records.catalogue.models import Condition

SEXES = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Not stated"}
FITZPATRICK = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}
PREGNANCY = {"no": "Not pregnant", "yes": "Pregnant", "unknown": "Not known", "not_applicable": "Not applicable"}
BREASTFEEDING = {"no": "Not breastfeeding", "yes": "Breastfeeding", "unknown": "Not known",
                 "not_applicable": "Not applicable"}
TREATMENT_KINDS = {
    "isotretinoin": "Isotretinoin (oral)",
    "laser": "Laser or IPL",
    "surgery_area": "Surgery in the treatment area",
    "tattoo_area": "Tattoo in the treatment area",
    "filler": "Dermal filler",
    "chemical_peel": "Chemical peel",
}
PATCH_RESULTS = {"pending": "Awaiting reading", "negative": "Negative", "positive": "Positive"}


class RecordNumberCounter(Model):
    """One row; taking the next number under its row lock keeps numbers unique and gapless."""

    __tablename__ = "record_number_counter"
    __audit__ = False

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(sa.Integer, nullable=False)


class Patient(VoidableMixin, VersionedMixin, Model):
    """A person the clinic treats. Registered in error? Voided, never deleted."""

    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    first_name: Mapped[str] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100))
    date_of_birth: Mapped[date] = mapped_column(sa.Date, index=True)
    sex: Mapped[str] = mapped_column(sa.String(10))
    phone: Mapped[str] = mapped_column(sa.String(32), default="")
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    address: Mapped[str] = mapped_column(sa.Text, default="")
    fitzpatrick: Mapped[Optional[int]] = mapped_column(sa.SmallInteger)
    emergency_contact: Mapped[str] = mapped_column(sa.String(200), default="")
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    # Lower-case, accents removed: name, record number and phone digits, for search;
    # "last first" the same way, for ordering lists and keyset pages.
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    sort_name: Mapped[str] = mapped_column(sa.String(210), default="")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    registered_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))

    histories: Mapped[list[HistoryVersion]] = relationship(
        back_populates="patient", order_by="HistoryVersion.number"
    )

    __table_args__ = (
        sa.CheckConstraint("sex IN ('female', 'male', 'other', 'unknown')", name="sex"),
        sa.CheckConstraint("fitzpatrick BETWEEN 1 AND 6", name="fitzpatrick"),
        sa.Index("ix_patient_sort_name_id", "sort_name", "id"),
        sa.Index(
            "ix_patient_search_text_trgm", "search_text",
            postgresql_using="gin", postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def sex_label(self) -> str:
        return SEXES.get(self.sex, self.sex)

    @property
    def fitzpatrick_label(self) -> str:
        return FITZPATRICK.get(self.fitzpatrick or 0, "not recorded")

    def age_on(self, on: date) -> int:
        years = on.year - self.date_of_birth.year
        if (on.month, on.day) < (self.date_of_birth.month, self.date_of_birth.day):
            years -= 1
        return years


class HistoryVersion(Model):
    """The medical history as recorded at one moment. Never changed once written."""

    __tablename__ = "history_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    number: Mapped[int] = mapped_column(sa.Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    pregnancy: Mapped[str] = mapped_column(sa.String(20), default="unknown")
    breastfeeding: Mapped[str] = mapped_column(sa.String(20), default="unknown")
    # When pregnancy and breastfeeding were last asked (they change quickly).
    pregnancy_recorded_on: Mapped[Optional[date]] = mapped_column(sa.Date)
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    change_note: Mapped[str] = mapped_column(sa.Text, default="")

    patient: Mapped[Patient] = relationship(back_populates="histories")
    recorded_by: Mapped[User] = relationship()
    conditions: Mapped[list[HistoryCondition]] = relationship(
        back_populates="version", cascade="all", order_by="HistoryCondition.id")
    medications: Mapped[list[HistoryMedication]] = relationship(
        back_populates="version", cascade="all", order_by="HistoryMedication.id")
    allergies: Mapped[list[HistoryAllergy]] = relationship(
        back_populates="version", cascade="all", order_by="HistoryAllergy.id")
    treatments: Mapped[list[HistoryTreatment]] = relationship(
        back_populates="version", cascade="all", order_by="HistoryTreatment.id")

    __table_args__ = (
        sa.UniqueConstraint("patient_id", "number", name="uq_history_version_patient_number"),
        sa.CheckConstraint("pregnancy IN ('no', 'yes', 'unknown', 'not_applicable')", name="pregnancy"),
        sa.CheckConstraint("breastfeeding IN ('no', 'yes', 'unknown', 'not_applicable')",
                           name="breastfeeding"),
    )

    @property
    def pregnancy_label(self) -> str:
        return PREGNANCY.get(self.pregnancy, self.pregnancy)

    @property
    def breastfeeding_label(self) -> str:
        return BREASTFEEDING.get(self.breastfeeding, self.breastfeeding)

    @property
    def condition_codes(self) -> set[str]:
        return {c.condition_code for c in self.conditions}

    @property
    def allergy_ingredient_ids(self) -> set[int]:
        return {a.ingredient_id for a in self.allergies if a.ingredient_id is not None}


class HistoryCondition(Model):
    __tablename__ = "history_condition"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("history_version.id"), index=True)
    condition_code: Mapped[str] = mapped_column(sa.ForeignKey("condition.code"))
    note: Mapped[str] = mapped_column(sa.String(200), default="")

    version: Mapped[HistoryVersion] = relationship(back_populates="conditions")
    condition: Mapped[Condition] = relationship()


class HistoryMedication(Model):
    __tablename__ = "history_medication"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("history_version.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    anticoagulant: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    version: Mapped[HistoryVersion] = relationship(back_populates="medications")


class HistoryAllergy(Model):
    """An allergy to a catalogue ingredient (the gate checks products against it) or free text."""

    __tablename__ = "history_allergy"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("history_version.id"), index=True)
    ingredient_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("ingredient.id"))
    description: Mapped[str] = mapped_column(sa.String(200), default="")

    version: Mapped[HistoryVersion] = relationship(back_populates="allergies")
    ingredient: Mapped[Optional[Ingredient]] = relationship()

    @property
    def label(self) -> str:
        if self.ingredient is not None:
            return self.ingredient.name + (f" ({self.description})" if self.description else "")
        return self.description


class HistoryTreatment(Model):
    """A recent treatment with its date; some start a waiting period before mesotherapy."""

    __tablename__ = "history_treatment"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("history_version.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(30))
    treated_on: Mapped[date] = mapped_column(sa.Date)
    note: Mapped[str] = mapped_column(sa.String(200), default="")

    version: Mapped[HistoryVersion] = relationship(back_populates="treatments")

    @property
    def kind_label(self) -> str:
        return TREATMENT_KINDS.get(self.kind, self.kind)


class PatchTest(VoidableMixin, Model):
    """A test application of a product or ingredient, read a day or two later."""

    __tablename__ = "patch_test"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    product_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("product.id"))
    ingredient_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("ingredient.id"))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())
    applied_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    read_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    read_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))
    result: Mapped[str] = mapped_column(sa.String(10), default="pending")
    notes: Mapped[str] = mapped_column(sa.Text, default="")

    product: Mapped[Optional[Product]] = relationship()
    ingredient: Mapped[Optional[Ingredient]] = relationship()

    __table_args__ = (
        sa.CheckConstraint("result IN ('pending', 'negative', 'positive')", name="result"),
        sa.CheckConstraint("(product_id IS NULL) <> (ingredient_id IS NULL)", name="one_substance"),
    )

    @property
    def substance(self) -> str:
        if self.product is not None:
            return self.product.name
        assert self.ingredient is not None  # a product or an ingredient (one_substance)
        return self.ingredient.name

    @property
    def result_label(self) -> str:
        return PATCH_RESULTS.get(self.result, self.result)
