"""Consent forms, their immutable text versions, and the consents patients sign."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.core.models import UTCDateTime, VoidableMixin, utcnow
from clinic.extensions import Model

if TYPE_CHECKING:
    from clinic.auth.models import User
    from clinic.records.catalogue.models import Indication

CONSENT_KINDS = {"treatment": "Treatment consent", "photo": "Photography consent"}
SIGNATURE_METHODS = {"drawn": "Drawn signature", "typed": "Typed name"}


class ConsentForm(Model):
    """A consent the clinic asks for: one per indication, plus photography."""

    __tablename__ = "consent_form"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(20))
    indication_code: Mapped[Optional[str]] = mapped_column(sa.ForeignKey("indication.code"), unique=True)

    versions: Mapped[list[ConsentTextVersion]] = relationship(
        back_populates="form", order_by="ConsentTextVersion.number")
    indication: Mapped[Optional[Indication]] = relationship()

    __table_args__ = (
        sa.CheckConstraint("kind IN ('treatment', 'photo')", name="kind"),
        sa.CheckConstraint("(kind = 'photo') = (indication_code IS NULL)", name="indication_for_treatment"),
    )

    @property
    def current_version(self) -> ConsentTextVersion | None:
        live = [v for v in self.versions if v.withdrawn_at is None]
        return live[-1] if live else None


class ConsentTextVersion(Model):
    """The exact wording at one version. Editing a text adds a version; this row never changes."""

    __tablename__ = "consent_text_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(sa.ForeignKey("consent_form.id"), index=True)
    number: Mapped[int] = mapped_column(sa.Integer)
    body: Mapped[str] = mapped_column(sa.Text)
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))
    # A version found to be wrong is withdrawn: no new consent may be recorded on it.
    withdrawn_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    withdrawn_reason: Mapped[Optional[str]] = mapped_column(sa.Text)

    form: Mapped[ConsentForm] = relationship(back_populates="versions")

    __table_args__ = (sa.UniqueConstraint("form_id", "number", name="uq_consent_text_version_form_number"),)


class Consent(VoidableMixin, Model):
    """A patient's signed consent to one exact text version, witnessed by staff."""

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    text_version_id: Mapped[int] = mapped_column(sa.ForeignKey("consent_text_version.id"))
    signed_name: Mapped[str] = mapped_column(sa.String(200))
    signature_method: Mapped[str] = mapped_column(sa.String(10))
    # The drawn signature as a PNG data URL (small: a few kilobytes).
    signature_image: Mapped[Optional[str]] = mapped_column(sa.Text)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    witness_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    withdrawn_on: Mapped[Optional[date]] = mapped_column(sa.Date)
    withdrawal_reason: Mapped[Optional[str]] = mapped_column(sa.Text)
    withdrawal_recorded_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))

    text_version: Mapped[ConsentTextVersion] = relationship()
    witness: Mapped[User] = relationship(foreign_keys=[witness_id])

    __table_args__ = (sa.CheckConstraint("signature_method IN ('drawn', 'typed')", name="signature_method"),)

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_on is not None

    def in_force_on(self, on: date) -> bool:
        if self.is_voided or self.signed_at.date() > on:
            return False
        return self.withdrawn_on is None or self.withdrawn_on > on
