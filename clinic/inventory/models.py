"""The product catalogue and the lot register.

Stock is never typed: it is derived from receipts, discards and (once sessions
exist) the units drawn up for patients. A lot's status is derived too, except
the two decisions people make: a quarantine hold and a recall.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.core.models import UTCDateTime, VersionedMixin, VoidableMixin, utcnow
from clinic.extensions import Model

if TYPE_CHECKING:
    from clinic.auth.models import User

PRODUCT_KINDS = {
    "hyaluronic_acid": "Hyaluronic acid",
    "vitamin_cocktail": "Vitamin cocktail",
    "peptide": "Peptide",
    "polynucleotide": "Polynucleotide (PDRN)",
    "lipolytic": "Lipolytic",
    "anaesthetic_cream": "Anaesthetic cream",
    "other": "Other",
}

PRODUCT_UNITS = {
    "vial": "vial",
    "ampoule": "ampoule",
    "prefilled_syringe": "pre-filled syringe",
    "tube": "tube",
}

LOCATION_KINDS = {
    "fridge": "Fridge (2–8 °C)",
    "cabinet": "Cabinet (room temperature)",
    "freezer": "Freezer",
    "other": "Other",
}

DISCARD_REASONS = {
    "expired": "Expired",
    "broken": "Broken",
    "contaminated": "Contaminated",
    "temperature_excursion": "Temperature excursion",
    "other": "Other",
}


def _in(column: str, values: dict[str, str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Ingredient(Model):
    """An active ingredient or family (DESIGN.md catalogue); allergies refer to these."""

    __tablename__ = "ingredient"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    family: Mapped[str] = mapped_column(sa.String(60))
    retired_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())


class Product(VersionedMixin, Model):
    """A product as the manufacturer sells it: one unit is one vial, ampoule, syringe or tube."""

    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    manufacturer: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(30))
    gtin: Mapped[Optional[str]] = mapped_column(sa.String(14), unique=True)
    unit: Mapped[str] = mapped_column(sa.String(30))
    volume_ml: Mapped[Decimal] = mapped_column(sa.Numeric(7, 2))
    storage_conditions: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    ingredients: Mapped[list[ProductIngredient]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="ProductIngredient.id"
    )
    lots: Mapped[list[Lot]] = relationship(back_populates="product", order_by="Lot.expiry_date")

    __table_args__ = (
        sa.CheckConstraint(_in("kind", PRODUCT_KINDS), name="kind"),
        sa.CheckConstraint(_in("unit", PRODUCT_UNITS), name="unit"),
        sa.CheckConstraint("volume_ml > 0", name="volume_positive"),
    )

    @property
    def is_active(self) -> bool:
        return self.retired_at is None

    @property
    def kind_label(self) -> str:
        return PRODUCT_KINDS.get(self.kind, self.kind)

    @property
    def unit_label(self) -> str:
        return PRODUCT_UNITS.get(self.unit, self.unit)


class ProductIngredient(Model):
    """One ingredient a product contains (the allergy gate reads these)."""

    __tablename__ = "product_ingredient"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id"), index=True)
    ingredient_id: Mapped[int] = mapped_column(sa.ForeignKey("ingredient.id"), index=True)

    product: Mapped[Product] = relationship(back_populates="ingredients")
    ingredient: Mapped[Ingredient] = relationship()

    __table_args__ = (sa.UniqueConstraint("product_id", "ingredient_id", name="uq_product_ingredient_pair"),)


class StorageLocation(Model):
    """Where stock is kept (a fridge, a cabinet): a recall can select lots by location."""

    __tablename__ = "storage_location"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    retired_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    __table_args__ = (sa.CheckConstraint(_in("kind", LOCATION_KINDS), name="kind"),)

    @property
    def kind_label(self) -> str:
        return LOCATION_KINDS.get(self.kind, self.kind)


class Lot(VersionedMixin, Model):
    """A manufacturer's lot of one product. Receiving the same lot again adds to it."""

    __tablename__ = "lot"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id"), index=True)
    lot_number: Mapped[str] = mapped_column(sa.String(20), index=True)
    expiry_date: Mapped[date] = mapped_column(sa.Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set by the recall workflow; final.
    recalled_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # Units on the shelf as the lot's receipts, discards and uses left them, counted again from those rows
    # after every flush that touches them (``refresh_on_hand``): what lets a session form list the usable
    # lots of a chain with years of stock without summing every use. What must be exact (saving a session,
    # the stock pages) counts the rows themselves.
    units_on_hand: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")

    product: Mapped[Product] = relationship(back_populates="lots")
    receipts: Mapped[list[LotReceipt]] = relationship(back_populates="lot", order_by="LotReceipt.id")
    discards: Mapped[list[LotDiscard]] = relationship(back_populates="lot", order_by="LotDiscard.id")
    holds: Mapped[list[LotHold]] = relationship(back_populates="lot", order_by="LotHold.id")

    __table_args__ = (sa.UniqueConstraint("product_id", "lot_number", name="uq_lot_product_lot_number"),)

    @property
    def open_hold(self) -> LotHold | None:
        return next((hold for hold in self.holds if hold.released_at is None), None)


class LotReceipt(VoidableMixin, Model):
    """Units of a lot that arrived: when, from whom, into which location, received by whom."""

    __tablename__ = "lot_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lot.id"), index=True)
    quantity: Mapped[int] = mapped_column(sa.Integer)
    received_on: Mapped[date] = mapped_column(sa.Date, index=True)
    supplier: Mapped[str] = mapped_column(sa.String(200))
    storage_location_id: Mapped[int] = mapped_column(sa.ForeignKey("storage_location.id"), index=True)
    received_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    serial: Mapped[Optional[str]] = mapped_column(sa.String(20))
    # The scanner's text, kept as evidence of what the label said.
    scanned_text: Mapped[Optional[str]] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    lot: Mapped[Lot] = relationship(back_populates="receipts")
    storage_location: Mapped[StorageLocation] = relationship()
    received_by: Mapped[User] = relationship(foreign_keys=[received_by_id])

    __table_args__ = (sa.CheckConstraint("quantity > 0", name="quantity_positive"),)


class LotDiscard(VoidableMixin, Model):
    """Units thrown away, with the reason."""

    __tablename__ = "lot_discard"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lot.id"), index=True)
    quantity: Mapped[int] = mapped_column(sa.Integer)
    reason: Mapped[str] = mapped_column(sa.String(30))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    discarded_on: Mapped[date] = mapped_column(sa.Date)
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    lot: Mapped[Lot] = relationship(back_populates="discards")
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id])

    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint(_in("reason", DISCARD_REASONS), name="reason"),
    )

    @property
    def reason_label(self) -> str:
        return DISCARD_REASONS.get(self.reason, self.reason)


class LotHold(Model):
    """A quarantine: placed with a reason by an auditor or admin, released with a reason."""

    __tablename__ = "lot_hold"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lot.id"), index=True)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    placed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    reason: Mapped[str] = mapped_column(sa.Text)
    released_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    released_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))
    release_reason: Mapped[Optional[str]] = mapped_column(sa.Text)

    lot: Mapped[Lot] = relationship(back_populates="holds")
    placed_by: Mapped[User] = relationship(foreign_keys=[placed_by_id])
    released_by: Mapped[Optional[User]] = relationship(foreign_keys=[released_by_id])
