"""The daily figures the reports read, and the vigilance reports sent for serious side effects.

``DailyFigure`` is derived data: rebuilt from the records (``flask reports rebuild``) and kept up to
date in the same transaction as each signed, amended or voided session and each side effect. It holds
no patient, only counts, so it is neither audited nor voided: a slice is replaced as a whole.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.core.models import UTCDateTime, VersionedMixin, utcnow
from clinic.extensions import Model

if TYPE_CHECKING:
    from clinic.auth.models import User
    from clinic.records.followups.models import SideEffect

# What a report breaks the sessions down by, in the order the page shows them.
DIMENSIONS = {"all": "All sessions", "product": "Product", "lot": "Lot", "indication": "Indication",
              "area": "Area", "technique": "Technique", "gauge": "Needle gauge", "depth": "Depth band",
              "doctor": "Doctor"}
DEPTH_BANDS = {"under_1": "under 1 mm", "1_2": "1–2 mm", "2_4": "over 2, up to 4 mm", "over_4": "over 4 mm"}
RECIPIENTS = {"manufacturer": "The manufacturer", "authority": "The competent authority"}


class FigureCounts:
    """What a daily and a monthly figure share: the slice it counts (scope, dimension and its item,
    indication, doctor) and the counts. The day or month, the first key column, is the table's own."""

    scope: Mapped[str] = mapped_column(sa.String(24), primary_key=True, sort_order=1)
    dimension: Mapped[str] = mapped_column(sa.String(12), primary_key=True, sort_order=1)
    item: Mapped[str] = mapped_column(sa.String(40), primary_key=True, sort_order=1)
    indication_code: Mapped[str] = mapped_column(sa.String(40), primary_key=True, sort_order=1)
    doctor_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, sort_order=1)
    sessions: Mapped[int] = mapped_column(sa.Integer, sort_order=1)
    with_side_effect: Mapped[int] = mapped_column(sa.Integer, sort_order=1)
    grade_1: Mapped[int] = mapped_column(sa.Integer, sort_order=1)
    grade_2: Mapped[int] = mapped_column(sa.Integer, sort_order=1)
    grade_3: Mapped[int] = mapped_column(sa.Integer, sort_order=1)
    grade_4: Mapped[int] = mapped_column(sa.Integer, sort_order=1)
    serious: Mapped[int] = mapped_column(sa.Integer, sort_order=1)
    # Sessions with a side effect of grade 2 or more, or a serious one: what the lot safety signal tests.
    signal: Mapped[int] = mapped_column(sa.Integer, sort_order=1)


class DailyFigure(FigureCounts, Model):
    """Signed, not voided sessions of one clinic day, one doctor and one indication, counted by one
    dimension's value (a lot, an area…), within a scope: every session ("all"), or only what was
    injected from one product ("product:<id>") or from lots kept in one place ("location:<id>").

    A session counts once per row however many injections and side effects it has there; its worst
    grade among the side effects that concern that row gives the grade columns. Doctor 0 and indication
    "" hold each day's slices summed: any doctor, any indication."""

    __tablename__ = "report_daily"

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)

    __table_args__ = (
        # Every report reads one scope, doctor (0: any) and indication ("": any) and some dimensions over a
        # range of days.
        sa.Index("ix_report_daily_read", "scope", "doctor_id", "indication_code", "dimension", "day"),
        # A slice (doctor, indication, day) is replaced whenever one of its sessions changes, and summed
        # over its month; a day's slices are summed into its "any doctor, any indication" rows.
        sa.Index("ix_report_daily_slice", "doctor_id", "indication_code", "day"),
        sa.Index("ix_report_daily_day", "day"),
    )


class MonthlyFigure(FigureCounts, Model):
    """The daily figures summed over a calendar month (a session belongs to one day, one doctor and one
    indication, so the sums stay exact): a report over years reads a few rows per month instead of one per
    day, and only the days of its first and last months that are not whole from the daily figures."""

    __tablename__ = "report_monthly"

    month: Mapped[date] = mapped_column(sa.Date, primary_key=True)  # its first day

    __table_args__ = (
        sa.Index("ix_report_monthly_read", "scope", "doctor_id", "indication_code", "dimension", "month"),
        sa.Index("ix_report_monthly_slice", "doctor_id", "indication_code", "month"),
    )


class VigilanceReport(VersionedMixin, Model):
    """The de-identified report of a serious (or grade 3+) side effect for the manufacturer or the
    competent authority: what the record prefills, what the auditor completes, and when it was sent."""

    __tablename__ = "vigilance_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    side_effect_id: Mapped[int] = mapped_column(sa.ForeignKey("side_effect.id"), unique=True)
    recipient: Mapped[str] = mapped_column(sa.String(20), default="manufacturer")
    recipient_name: Mapped[str] = mapped_column(sa.String(200), default="")
    reporter_contact: Mapped[str] = mapped_column(sa.String(200), default="")
    # The auditor's words: what happened, and what else the recipient should know.
    narrative: Mapped[str] = mapped_column(sa.Text, default="")
    further_information: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    sent_to: Mapped[Optional[str]] = mapped_column(sa.String(200))
    sent_reference: Mapped[Optional[str]] = mapped_column(sa.String(120))
    sent_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))

    side_effect: Mapped[SideEffect] = relationship()
    updated_by: Mapped[User] = relationship(foreign_keys=[updated_by_id])
    sent_by: Mapped[Optional[User]] = relationship(foreign_keys=[sent_by_id])

    __table_args__ = (sa.CheckConstraint("recipient IN ('manufacturer', 'authority')", name="recipient"),)

    @property
    def is_sent(self) -> bool:
        return self.sent_at is not None

    @property
    def recipient_label(self) -> str:
        return RECIPIENTS.get(self.recipient, self.recipient)
