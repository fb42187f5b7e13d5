"""Lot register rules: receiving, discards, quarantine, derived stock and usability.

Services flush and audit (automatically, through the audit listener); the
caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from clinic.auth.models import User
from clinic.core.clock import clinic_today
from clinic.core.errors import ClinicError, FieldError
from clinic.core.findings import Finding
from clinic.core.models import utcnow
from clinic.core.services import check_version, required_text, stored
from clinic.extensions import db
from clinic.inventory.gs1 import LabelError, normalise_gtin, parse_label
from clinic.inventory.models import (
    DISCARD_REASONS,
    LOCATION_KINDS,
    PRODUCT_KINDS,
    PRODUCT_UNITS,
    Ingredient,
    Lot,
    LotDiscard,
    LotHold,
    LotReceipt,
    Product,
    ProductIngredient,
    StorageLocation,
)
from clinic.inventory.signals import units_used

LOT_NUMBER_MAX = 20  # GS1 AI (10) allows up to 20 characters


# --- catalogue --------------------------------------------------------------------


def clean_lot_number(text: str) -> str:
    """A lot number as printed: no control characters, at most 20 characters."""
    value = (text or "").strip()
    if not value:
        raise FieldError("lot_number", "Enter the lot number printed on the box.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise FieldError("lot_number", "The lot number contains control characters; type it as printed.")
    if len(value) > LOT_NUMBER_MAX:
        raise FieldError("lot_number", f"A lot number has at most {LOT_NUMBER_MAX} characters.")
    return value


def find_product_by_gtin(gtin: str) -> Product | None:
    return db.session.scalar(sa.select(Product).where(Product.gtin == gtin))


@dataclass
class ProductDetails:
    name: str
    manufacturer: str
    kind: str
    unit: str
    volume_ml: Decimal
    gtin: str | None = None
    storage_conditions: str = ""
    ingredient_ids: Sequence[int] = field(default_factory=tuple)


def _check_product(details: ProductDetails, product: Product | None) -> str | None:
    if details.kind not in PRODUCT_KINDS:
        raise FieldError("kind", "Choose a kind from the list.")
    if details.unit not in PRODUCT_UNITS:
        raise FieldError("unit", "Choose a unit from the list.")
    if details.volume_ml is None or details.volume_ml <= 0 or details.volume_ml > 1000:
        raise FieldError("volume_ml", "Give the volume of one unit in ml (more than 0, at most 1000).")
    gtin = None
    if details.gtin:
        try:
            gtin = normalise_gtin(details.gtin)
        except LabelError as error:
            raise FieldError("gtin", str(error)) from None
        other = find_product_by_gtin(gtin)
        if other is not None and other is not product:
            raise FieldError("gtin", f"This GTIN already belongs to {other.name}.")
    return gtin


def _set_ingredients(product: Product, ingredient_ids: Sequence[int]) -> None:
    wanted = set(ingredient_ids)
    known = set(db.session.scalars(sa.select(Ingredient.id).where(Ingredient.id.in_(wanted))))
    if known != wanted:
        raise FieldError("ingredient_ids", "Choose ingredients from the catalogue.")
    current = {link.ingredient_id: link for link in product.ingredients}
    for ingredient_id, link in current.items():
        if ingredient_id not in wanted:
            product.ingredients.remove(link)
    for ingredient_id in sorted(wanted - current.keys()):
        product.ingredients.append(ProductIngredient(ingredient_id=ingredient_id))


def create_product(details: ProductDetails) -> Product:
    """Add a product to the catalogue."""
    gtin = _check_product(details, None)
    product = Product(
        name=details.name.strip(), manufacturer=details.manufacturer.strip(), kind=details.kind,
        unit=details.unit, volume_ml=details.volume_ml, gtin=gtin,
        storage_conditions=(details.storage_conditions or "").strip(),
    )
    db.session.add(product)
    _set_ingredients(product, details.ingredient_ids)
    db.session.flush()
    return product


def update_product(product: Product, details: ProductDetails, *, expected_version: int | str | None = None) -> None:
    """Change a product's description; its lots keep pointing at it. ``expected_version`` as for patients."""
    if expected_version is not None:
        check_version(product, expected_version)
    gtin = _check_product(details, product)
    product.name = details.name.strip()
    product.manufacturer = details.manufacturer.strip()
    product.kind = details.kind
    product.unit = details.unit
    product.volume_ml = details.volume_ml
    product.gtin = gtin
    product.storage_conditions = (details.storage_conditions or "").strip()
    _set_ingredients(product, details.ingredient_ids)
    db.session.flush()


def set_product_retired(product: Product, retired: bool) -> None:
    """A retired product cannot be received any more; its lots stay traceable."""
    if retired == (product.retired_at is not None):
        raise ClinicError("The product is already " + ("retired." if retired else "active."))
    product.retired_at = utcnow() if retired else None


def create_ingredient(name: str, family: str) -> Ingredient:
    name = required_text(name, "name", "Enter the ingredient's name.")
    if db.session.scalar(sa.select(Ingredient).where(sa.func.lower(Ingredient.name) == name.lower())):
        raise FieldError("name", "This ingredient is already in the catalogue.")
    ingredient = Ingredient(name=name, family=(family or "").strip() or "other")
    return stored(ingredient)


def create_location(name: str, kind: str) -> StorageLocation:
    name = required_text(name, "name", "Enter the location's name, as written on the fridge or cabinet.")
    if kind not in LOCATION_KINDS:
        raise FieldError("kind", "Choose a kind from the list.")
    if db.session.scalar(sa.select(StorageLocation).where(sa.func.lower(StorageLocation.name) == name.lower())):
        raise FieldError("name", "A location with this name exists already.")
    location = StorageLocation(name=name, kind=kind)
    return stored(location)


# --- receiving ------------------------------------------------------------------------


@dataclass
class Receipt:
    product: Product
    lot_number: str
    expiry_date: date
    quantity: int
    supplier: str
    received_on: date
    location: StorageLocation
    serial: str | None = None
    scanned_text: str | None = None


def receive_lot(receipt: Receipt, by: User, *, today: date | None = None) -> tuple[Lot, LotReceipt]:
    """Record units arriving. The same product and lot number adds to the existing lot."""
    today = today or clinic_today()
    lot_number = clean_lot_number(receipt.lot_number)
    product = receipt.product
    if not product.is_active:
        raise FieldError("product_id", f"{product.name} is retired and cannot be received.")
    if receipt.location.retired_at is not None:
        raise FieldError("storage_location_id", "This storage location is no longer in use.")
    if receipt.quantity is None or receipt.quantity <= 0:
        raise FieldError("quantity", "Enter how many units arrived (a whole number above 0).")
    if receipt.quantity > 100_000:
        raise FieldError("quantity", "That is more units than one delivery holds; check the number.")
    if receipt.received_on > today:
        raise FieldError("received_on", "The received date cannot be in the future.")
    if receipt.expiry_date < receipt.received_on:
        raise FieldError(
            "expiry_date",
            f"This lot expired on {receipt.expiry_date:%d %b %Y}, before it was received. "
            "Do not accept it; return it to the supplier.",
        )
    supplier = (receipt.supplier or "").strip()
    if not supplier:
        raise FieldError("supplier", "Enter the supplier the units came from.")
    lot = db.session.scalar(
        sa.select(Lot).where(Lot.product_id == product.id, Lot.lot_number == lot_number)
    )
    if lot is None:
        lot = Lot(product=product, lot_number=lot_number, expiry_date=receipt.expiry_date)
        db.session.add(lot)
    else:
        if lot.expiry_date != receipt.expiry_date:
            raise FieldError(
                "expiry_date",
                f"Lot {lot_number} of {product.name} is on record with expiry "
                f"{lot.expiry_date:%d %b %Y}, not {receipt.expiry_date:%d %b %Y}. Check the label.",
            )
        if lot.recalled_at is not None:
            raise FieldError("lot_number", f"Lot {lot_number} has been recalled; do not accept it.")
    row = LotReceipt(
        lot=lot, quantity=receipt.quantity, received_on=receipt.received_on, supplier=supplier,
        storage_location=receipt.location, received_by_id=by.id,
        serial=(receipt.serial or None), scanned_text=(receipt.scanned_text or None),
    )
    db.session.add(row)
    db.session.flush()
    return lot, row


@dataclass
class LabelReading:
    """What a scanned label says for a receipt, or why it cannot be used (messages by receipt form field)."""

    product: Product | None = None
    lot_number: str | None = None
    expiry_date: date | None = None
    serial: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    unknown_gtin: str | None = None  # a valid GTIN that no catalogue product has

    @property
    def ok(self) -> bool:
        return not self.errors


LABEL_DIFFERS = ("This differs from the scanned label. Empty the scan field to type the details yourself, "
                 "or clear this field to use the label.")


def read_receipt_label(scan: str, *, product_id: int | None = None, lot_number: str | None = None,
                       expiry_date: date | None = None, check_typed: bool = True) -> LabelReading:
    """Read a scanned label for a receipt: its product must be in the catalogue and active.

    With ``check_typed``, details already typed that contradict the label are a mix-up, not something to
    overwrite quietly: each one is refused beside its field.
    """
    try:
        label = parse_label(scan)
    except LabelError as error:
        return LabelReading(errors={"scan": str(error)})
    product = find_product_by_gtin(label.gtin)
    if product is None:
        return LabelReading(errors={"scan": f"No product in the catalogue has GTIN {label.gtin}."},
                            unknown_gtin=label.gtin)
    if not product.is_active:
        return LabelReading(
            errors={"scan": f"{product.name} (GTIN {label.gtin}) is retired and cannot be received."})
    typed_lot = (lot_number or "").strip()
    typed = {
        "product_id": product_id is not None and product_id != product.id,
        "lot_number": bool(label.lot_number) and bool(typed_lot) and typed_lot != label.lot_number,
        "expiry_date": bool(label.expiry_date) and expiry_date is not None and expiry_date != label.expiry_date,
    }
    if check_typed and any(typed.values()):
        return LabelReading(errors={name: LABEL_DIFFERS for name, differs in typed.items() if differs})
    return LabelReading(product=product, lot_number=label.lot_number, expiry_date=label.expiry_date,
                        serial=label.serial)


# --- stock, derived -------------------------------------------------------------------------


@dataclass
class LotStock:
    lot: Lot
    received: int
    discarded: int
    used: int

    @property
    def on_hand(self) -> int:
        return self.received - self.discarded - self.used


def _units_by_lot(movement: type[LotReceipt] | type[LotDiscard]) -> sa.Subquery:
    """Units received (or discarded) per lot, voided entries left out."""
    return (
        sa.select(movement.lot_id, sa.func.sum(movement.quantity).label("units"))
        .where(movement.voided_at.is_(None))
        .group_by(movement.lot_id)
        .subquery()
    )


def _units_used_rows() -> sa.Subquery:
    """Every use of a lot for a patient (lot_id, units), as the package that records sessions gives it."""
    answers: list[sa.Subquery] = [rows for _, rows in units_used.send()]
    if not answers:
        return sa.select(sa.null().label("lot_id"), sa.literal(0).label("units")).where(sa.false()).subquery()
    if len(answers) > 1:
        raise RuntimeError("more than one package answers units_used")
    return answers[0]


def _used_by_lot() -> sa.Subquery:
    """Units opened for preparations in sessions, per lot."""
    rows = _units_used_rows()
    return sa.select(rows.c.lot_id, sa.func.sum(rows.c.units).label("units")).group_by(rows.c.lot_id).subquery()


def stock_query() -> sa.Select[tuple[Lot, int, int, int]]:
    """Lots with units received, discarded and used in sessions, in one query."""
    received, discarded, used = _units_by_lot(LotReceipt), _units_by_lot(LotDiscard), _used_by_lot()
    return (
        sa.select(
            Lot,
            sa.func.coalesce(received.c.units, 0).label("received"),
            sa.func.coalesce(discarded.c.units, 0).label("discarded"),
            sa.func.coalesce(used.c.units, 0).label("used"),
        )
        .join(Product, Lot.product_id == Product.id)
        .outerjoin(received, received.c.lot_id == Lot.id)
        .outerjoin(discarded, discarded.c.lot_id == Lot.id)
        .outerjoin(used, used.c.lot_id == Lot.id)
    )


def stock_rows(query: sa.Select[tuple[Lot, int, int, int]]) -> list[LotStock]:
    return [LotStock(lot, int(rec), int(dis), int(use)) for lot, rec, dis, use in db.session.execute(query)]


def _own_movements() -> tuple[sa.ScalarSelect[int], sa.ScalarSelect[int], sa.ScalarSelect[int]]:
    """A lot's units received, discarded and used, each summed over that lot's own rows (correlated to it)."""
    received = (sa.select(sa.func.coalesce(sa.func.sum(LotReceipt.quantity), 0))
                .where(LotReceipt.lot_id == Lot.id, LotReceipt.voided_at.is_(None)).scalar_subquery())
    discarded = (sa.select(sa.func.coalesce(sa.func.sum(LotDiscard.quantity), 0))
                 .where(LotDiscard.lot_id == Lot.id, LotDiscard.voided_at.is_(None)).scalar_subquery())
    uses = _units_used_rows()
    used = sa.select(sa.func.coalesce(sa.func.sum(uses.c.units), 0)).where(uses.c.lot_id == Lot.id).scalar_subquery()
    return received, discarded, used


def few_lots_stock_query() -> sa.Select[tuple[Lot, int, int, int]]:
    """Lots with their units received, discarded and used, each summed over that lot's own rows (by index):
    for a WHERE that keeps a few lots (a lot's page, the lots a session uses) in a history of millions of
    uses, where ``stock_query`` aggregates every lot first."""
    return sa.select(Lot, *_own_movements())


def _on_hand_now() -> sa.ColumnElement[int]:
    """SQL: a lot's units on hand counted from its own rows (correlated to ``lot``)."""
    received, discarded, used = _own_movements()
    return received - discarded - used


def refresh_on_hand(connection: sa.Connection, lot_ids: Sequence[int] | None) -> None:
    """Count the units on hand of these lots (None: every lot) again from their rows, on the connection of
    the flush that changed them: the same transaction, so the count commits or rolls back with the change."""
    update = sa.update(Lot.__table__).values(units_on_hand=_on_hand_now())
    if lot_ids is not None:
        if not lot_ids:
            return
        update = update.where(Lot.__table__.c.id.in_(sorted(set(lot_ids))))
    connection.execute(update)


def lots_stock(lot_ids: list[int]) -> list[LotStock]:
    """Stock of a few lots, aggregating only their own rows (the stock pages aggregate every lot)."""
    return stock_rows(few_lots_stock_query().where(Lot.id.in_(lot_ids)).order_by(Lot.id))


def lot_stock(lot: Lot) -> LotStock:
    return lots_stock([lot.id])[0]


# --- status and usability ----------------------------------------------------------------------

STATUS_LABELS = {
    "available": "available",
    "quarantined": "quarantined",
    "recalled": "recalled",
    "expired": "expired",
    "depleted": "depleted",
}


def lot_statuses(lot: Lot, on_date: date, on_hand: int) -> list[str]:
    """Every status that applies on a date, most serious first ("available" when none)."""
    return _statuses(lot.recalled_at is not None, lot.open_hold is not None, lot.expiry_date, on_date, on_hand)


def _statuses(recalled: bool, quarantined: bool, expiry_date: date, on_date: date, on_hand: int) -> list[str]:
    statuses = []
    if recalled:
        statuses.append("recalled")
    if quarantined:
        statuses.append("quarantined")
    if expiry_date < on_date:  # usable through its expiry date, not after
        statuses.append("expired")
    if on_hand <= 0:
        statuses.append("depleted")
    return statuses or ["available"]


@dataclass(frozen=True)
class ShelfLot:
    """A lot as a list of choices shows it: its columns, not the entity (a chain's shelf holds hundreds)."""

    id: int
    lot_number: str
    expiry_date: date
    recalled_at: datetime | None
    quarantined: bool
    units_on_hand: int  # the lot's kept count
    product_name: str
    product_kind: str

    def statuses(self, on_date: date) -> list[str]:
        return _statuses(self.recalled_at is not None, self.quarantined, self.expiry_date, on_date,
                         self.units_on_hand)


def lots_on_the_shelf(on_date: date, *, also: Iterable[int] = (), usable: bool = True) -> list[ShelfLot]:
    """The lots a session may use on ``on_date`` (not recalled, quarantined, expired or used up, by their
    kept count of units on hand), with the lots ``also`` names whatever their status (a draft keeps offering
    the lots it holds), by product name and expiry. Each is checked again by ``lot_statuses``' rule.
    ``usable=False``: only the lots ``also`` names (a submitted form's choices, checked before saving)."""
    held = sorted(set(also))
    quarantined = sa.exists().where(LotHold.lot_id == Lot.id, LotHold.released_at.is_(None))
    usable_on_date = sa.and_(Lot.recalled_at.is_(None), Lot.expiry_date >= on_date, Lot.units_on_hand > 0,
                             ~quarantined)
    rows = db.session.execute(
        sa.select(Lot.id, Lot.lot_number, Lot.expiry_date, Lot.recalled_at, quarantined.label("quarantined"),
                  Lot.units_on_hand, Product.name, Product.kind)
        .join(Product, Product.id == Lot.product_id)
        .where(sa.or_(usable_on_date, Lot.id.in_(held)) if usable else Lot.id.in_(held))
        .order_by(Product.name, Lot.expiry_date))
    lots = [ShelfLot(*row) for row in rows]
    return [lot for lot in lots if lot.id in held or lot.statuses(on_date) == ["available"]]


@dataclass
class Usability:
    usable: bool
    reasons: list[Finding]


# Codes of the reasons a lot cannot be used: callers branch on these, never on the wording.
LOT_RECALLED = "lot_recalled"
LOT_QUARANTINED = "lot_quarantined"
LOT_EXPIRED = "lot_expired"
LOT_DEPLETED = "lot_depleted"


def check_lot_usable(lot: Lot, on_date: date, *, stock: LotStock | None = None) -> Usability:
    """Whether a lot may be used for a patient on a date, with every reason if not (``stock``: the lot's
    stock when the caller has it already)."""
    stock = stock or lot_stock(lot)
    reasons = []
    for status in lot_statuses(lot, on_date, stock.on_hand):
        if status == "recalled":
            reasons.append(Finding(LOT_RECALLED, f"Lot {lot.lot_number} has been recalled."))
        elif status == "quarantined":
            hold = lot.open_hold
            assert hold is not None  # "quarantined" is an open hold
            reasons.append(Finding(LOT_QUARANTINED, f"Lot {lot.lot_number} is quarantined: {hold.reason}"))
        elif status == "expired":
            reasons.append(Finding(LOT_EXPIRED, f"Lot {lot.lot_number} expired on {lot.expiry_date:%d %b %Y}."))
        elif status == "depleted":
            reasons.append(Finding(LOT_DEPLETED, f"No units of lot {lot.lot_number} are left in stock."))
    return Usability(not reasons, reasons)


# --- discards and quarantine -------------------------------------------------------------------


def record_discard(lot: Lot, quantity: int, reason: str, note: str, on: date, by: User,
                   *, today: date | None = None) -> LotDiscard:
    """Units thrown away; never more than are on hand."""
    today = today or clinic_today()
    if reason not in DISCARD_REASONS:
        raise FieldError("reason", "Choose a reason from the list.")
    if quantity is None or quantity <= 0:
        raise FieldError("quantity", "Enter how many units were discarded (a whole number above 0).")
    on_hand = lot_stock(lot).on_hand
    if quantity > on_hand:
        raise FieldError("quantity", f"Only {on_hand} unit{'s' if on_hand != 1 else ''} of this lot are on hand.")
    if on > today:
        raise FieldError("discarded_on", "The discard date cannot be in the future.")
    first_received = min((receipt.received_on for receipt in lot.receipts), default=None)
    if first_received is not None and on < first_received:
        raise FieldError("discarded_on", f"This lot was first received on {first_received:%d %b %Y}; "
                         "a discard cannot be dated before that.")
    note = (note or "").strip()
    if reason == "other" and not note:
        raise FieldError("note", "Say what happened when the reason is \"other\".")
    discard = LotDiscard(lot=lot, quantity=quantity, reason=reason, note=note, discarded_on=on,
                         recorded_by_id=by.id)
    return stored(discard)


def quarantine_lot(lot: Lot, by: User, reason: str) -> LotHold:
    """Hold a lot so that nobody uses it until it is released."""
    reason = required_text(reason, "reason", "Give the reason for the quarantine.")
    if lot.recalled_at is not None:
        raise ClinicError("This lot is recalled; a recall is final.")
    if lot.open_hold is not None:
        raise ClinicError("This lot is already quarantined.")
    hold = LotHold(lot=lot, placed_by_id=by.id, reason=reason)
    return stored(hold)


def release_lot(lot: Lot, by: User, reason: str) -> LotHold:
    """End a quarantine, with the reason it is safe again."""
    reason = required_text(reason, "reason", "Give the reason the lot is safe to use again.")
    hold = lot.open_hold
    if hold is None:
        raise ClinicError("This lot is not quarantined.")
    by_id = by.id  # read first: loading it must not flush half a release
    hold.released_at = utcnow()
    hold.released_by_id = by_id
    hold.release_reason = reason
    db.session.flush()
    return hold
