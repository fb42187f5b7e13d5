"""Standardised before/after photos of a course, taken only under a signed photo consent.

The image bytes live in the photo store (:mod:`clinic.records.photos.storage`), never in the database
and never under static/: a row names its file by an opaque key, with the file's SHA-256 to prove it is
the one that was uploaded.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.core.models import UTCDateTime, VoidableMixin, utcnow
from clinic.extensions import Model
from clinic.records.outcomes.models import TIMEPOINTS

if TYPE_CHECKING:
    from clinic.auth.models import User
    from clinic.records.catalogue.models import Area
    from clinic.records.treatments.models import Course, TreatmentSession

# The standard views: the same view taken the same way at each visit is what makes two photos compare.
VIEWS = {"front": "Front", "left_45": "Left 45°", "right_45": "Right 45°", "left_profile": "Left profile",
         "right_profile": "Right profile", "scalp_top": "Top of the scalp", "scalp_back": "Back of the scalp",
         "body_front": "Body, front", "body_back": "Body, back", "body_side": "Body, side"}
CONTENT_TYPES = {"image/jpeg": "jpg", "image/png": "png"}


def _in(column: str, values: object) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"  # type: ignore[attr-defined]


class Photo(VoidableMixin, Model):
    """One photo: which course and visit, which standard view of which area, and where its file is."""

    __tablename__ = "photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("course.id"), index=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    session_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("treatment_session.id"), index=True)
    timepoint: Mapped[str] = mapped_column(sa.String(12))
    taken_on: Mapped[date] = mapped_column(sa.Date)
    view: Mapped[str] = mapped_column(sa.String(20))
    area_code: Mapped[Optional[str]] = mapped_column(sa.ForeignKey("area.code"))
    # The photo consent in force when it was taken.
    consent_id: Mapped[int] = mapped_column(sa.ForeignKey("consent.id"))
    storage_key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    thumbnail_key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(20))
    width: Mapped[int] = mapped_column(sa.Integer)
    height: Mapped[int] = mapped_column(sa.Integer)
    byte_size: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    note: Mapped[str] = mapped_column(sa.String(300), default="")
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))

    course: Mapped[Course] = relationship()
    session: Mapped[Optional[TreatmentSession]] = relationship()
    area: Mapped[Optional[Area]] = relationship()
    uploaded_by: Mapped[User] = relationship(foreign_keys=[uploaded_by_id])

    __table_args__ = (
        sa.CheckConstraint(_in("timepoint", TIMEPOINTS), name="timepoint"),
        sa.CheckConstraint(_in("view", VIEWS), name="view"),
        sa.CheckConstraint(_in("content_type", CONTENT_TYPES), name="content_type"),
    )

    @property
    def view_label(self) -> str:
        return VIEWS.get(self.view, self.view)
