"""Catalogue rows that the clinical records refer to by code. Seeded from DESIGN.md by migrations."""

from __future__ import annotations

from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clinic.extensions import Model, db


class Indication(Model):
    """A course type, with the protocol defaults the source texts give."""

    __tablename__ = "indication"

    code: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    sessions_min: Mapped[int] = mapped_column(sa.Integer)
    sessions_max: Mapped[int] = mapped_column(sa.Integer)
    interval_min_days: Mapped[int] = mapped_column(sa.Integer)
    interval_max_days: Mapped[int] = mapped_column(sa.Integer)
    depth_note: Mapped[str] = mapped_column(sa.String(120), default="")
    sort_order: Mapped[int] = mapped_column(sa.Integer, default=0)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class Area(Model):
    """A treatment area (face zones, scalp, body)."""

    __tablename__ = "area"

    code: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    region: Mapped[str] = mapped_column(sa.String(20))  # face, scalp, neck, body, hands
    sort_order: Mapped[int] = mapped_column(sa.Integer, default=0)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class AreaLink:
    """One treatment area a course, screening or rule covers: a row per area, keyed to the catalogue."""

    area_code: Mapped[str] = mapped_column(sa.ForeignKey("area.code"), primary_key=True)


class IndicationLink:
    """One indication a rule applies to: a row per indication, keyed to the catalogue."""

    indication_code: Mapped[str] = mapped_column(sa.ForeignKey("indication.code"), primary_key=True)


class Condition(Model):
    """A medical condition recorded in a history; contraindication rules refer to these codes."""

    __tablename__ = "condition"

    code: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(160))
    sort_order: Mapped[int] = mapped_column(sa.Integer, default=0)
    note: Mapped[Optional[str]] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


def area_catalogue() -> dict[str, Area]:
    """Every area (retired ones too) by code, read once per request however many parts of a page ask."""
    from flask import g

    areas: dict[str, Area] | None = getattr(g, "_areas", None)
    if areas is None:
        areas = g._areas = {area.code: area for area in db.session.scalars(sa.select(Area))}
    return areas


def area_labels(codes: str | list[str] | set[str] | None) -> str:
    """'cheeks under_eye' -> 'Cheeks, Under-eye area': the catalogue's names, in its order."""
    if not codes:
        return "—"
    wanted = codes.split() if isinstance(codes, str) else list(codes)
    areas = area_catalogue()
    known = sorted((areas[c] for c in wanted if c in areas), key=lambda area: area.sort_order)
    return ", ".join([area.name for area in known] + [c for c in wanted if c not in areas])


PROTOCOL_MEASURES = {
    "depth_mm": ("Depth", "mm"),
    "needle_gauge": ("Needle", "G"),
    "bolus_ml": ("Volume a point", "ml"),
}


class ProtocolRange(Model):
    """A usual range at the chair (DESIGN.md "Protocol ranges"): shown as a hint beside the field, and a
    value outside it is a warning the doctor acknowledges. No indication or area: it holds for all; the
    most specific row that matches a session's indication and area is the one used."""

    __tablename__ = "protocol_range"

    id: Mapped[int] = mapped_column(primary_key=True)
    measure: Mapped[str] = mapped_column(sa.String(20))
    indication_code: Mapped[Optional[str]] = mapped_column(sa.ForeignKey("indication.code"))
    area_code: Mapped[Optional[str]] = mapped_column(sa.ForeignKey("area.code"))
    low: Mapped[Decimal] = mapped_column(sa.Numeric(8, 3))
    high: Mapped[Decimal] = mapped_column(sa.Numeric(8, 3))
    source: Mapped[str] = mapped_column(sa.String(300), default="")
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    __table_args__ = (
        sa.CheckConstraint("measure IN ('depth_mm', 'needle_gauge', 'bolus_ml')", name="measure"),
        sa.CheckConstraint("low <= high", name="low_high"),
        sa.UniqueConstraint("measure", "indication_code", "area_code", name="uq_protocol_range_scope"),
    )

    @property
    def label(self) -> str:
        return PROTOCOL_MEASURES[self.measure][0]

    @property
    def unit(self) -> str:
        return PROTOCOL_MEASURES[self.measure][1]

    @property
    def text(self) -> str:
        """How the hint reads: "1–2 mm", "30–32G", "0.01–0.05 ml"."""
        low, high = (f"{v.normalize():f}" for v in (self.low, self.high))
        unit = self.unit if self.unit == "G" else f" {self.unit}"
        return f"{low}–{high}{unit}"
