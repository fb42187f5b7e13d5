"""Recalls: the lots concerned, the worklist of affected patients, and every contact attempt."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.core.models import UTCDateTime, VersionedMixin, utcnow
from clinic.extensions import Model

if TYPE_CHECKING:
    from clinic.auth.models import User
    from clinic.inventory.models import Lot, StorageLocation
    from clinic.records.patients.models import Patient

RECALL_SOURCES = {"manufacturer": "Manufacturer notice", "authority": "Regulator notice",
                  "internal": "Internal (e.g. temperature excursion)"}
ROW_STATUSES = {"to_contact": "To contact", "contacted": "Contacted", "follow_up_booked": "Closed: follow-up booked",
                "no_action_needed": "Closed: no action needed", "unreachable": "Unreachable"}
CLOSED_ROW_STATUSES = frozenset({"follow_up_booked", "no_action_needed", "unreachable"})
# Rows that still need the patient while the recall is open: an unreachable patient is told when next seen.
NEEDS_PATIENT_STATUSES = frozenset({"to_contact", "contacted", "unreachable"})
CONTACT_METHODS = {"phone": "Phone", "sms": "Text message", "email": "Email", "letter": "Letter",
                   "in_person": "In person"}


class Recall(VersionedMixin, Model):
    """A recall of lots, opened by an auditor or admin; closed when every patient is dealt with."""

    __tablename__ = "recall"

    id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    source: Mapped[str] = mapped_column(sa.String(20))
    reference: Mapped[str] = mapped_column(sa.String(80), default="")
    notice_date: Mapped[date] = mapped_column(sa.Date)
    location_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("storage_location.id"))
    window_start: Mapped[Optional[date]] = mapped_column(sa.Date)
    window_end: Mapped[Optional[date]] = mapped_column(sa.Date)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    opened_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    closed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))

    lots: Mapped[list[RecallLot]] = relationship(back_populates="recall", order_by="RecallLot.id")
    rows: Mapped[list[RecallPatient]] = relationship(back_populates="recall", order_by="RecallPatient.id")
    opened_by: Mapped[User] = relationship(foreign_keys=[opened_by_id])
    closed_by: Mapped[Optional[User]] = relationship(foreign_keys=[closed_by_id])
    location: Mapped[Optional[StorageLocation]] = relationship()

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def source_label(self) -> str:
        """Short, for headings: "Internal notice", not the form's "(e.g. ...)" hint."""
        return {"internal": "Internal notice"}.get(self.source) or RECALL_SOURCES.get(self.source, self.source)


class RecallLot(Model):
    __tablename__ = "recall_lot"

    id: Mapped[int] = mapped_column(primary_key=True)
    recall_id: Mapped[int] = mapped_column(sa.ForeignKey("recall.id"), index=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lot.id"), unique=True)
    # A temperature excursion spoils a lot from the start of its window: earlier sessions are not affected.
    # Empty for a manufacturer's recall, which affects every session that used the lot.
    affected_from: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    recall: Mapped[Recall] = relationship(back_populates="lots")
    lot: Mapped[Lot] = relationship()


class RecallPatient(Model):
    """One affected patient on the worklist."""

    __tablename__ = "recall_patient"

    id: Mapped[int] = mapped_column(primary_key=True)
    recall_id: Mapped[int] = mapped_column(sa.ForeignKey("recall.id"), index=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="to_contact")
    outcome_note: Mapped[str] = mapped_column(sa.Text, default="")
    closed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))

    recall: Mapped[Recall] = relationship(back_populates="rows")
    patient: Mapped[Patient] = relationship()
    contacts: Mapped[list[RecallContact]] = relationship(back_populates="row", order_by="RecallContact.id")

    __table_args__ = (
        sa.UniqueConstraint("recall_id", "patient_id", name="uq_recall_patient"),
        sa.CheckConstraint("status IN ('to_contact', 'contacted', 'follow_up_booked', 'no_action_needed', "
                           "'unreachable')", name="status"),
    )

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_ROW_STATUSES

    @property
    def status_label(self) -> str:
        return ROW_STATUSES.get(self.status, self.status)

    @property
    def badge_label(self) -> str:
        """What the chart and the schedule say about this patient's row."""
        name = self.recall.reference or f"#{self.recall.id}"
        if self.status == "unreachable":
            return f"in recall {name}: unreachable, tell the patient"
        return f"in recall {name}: contact pending"


class RecallContact(Model):
    """One attempt to reach a patient: how, when, by whom, whether they were reached, and what was said."""

    __tablename__ = "recall_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    row_id: Mapped[int] = mapped_column(sa.ForeignKey("recall_patient.id"), index=True)
    method: Mapped[str] = mapped_column(sa.String(20))
    reached: Mapped[bool] = mapped_column(sa.Boolean)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    contacted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    contacted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))

    row: Mapped[RecallPatient] = relationship(back_populates="contacts")
    contacted_by: Mapped[User] = relationship()

    @property
    def method_label(self) -> str:
        return CONTACT_METHODS.get(self.method, self.method)
