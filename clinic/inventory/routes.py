"""Catalogue, receiving, stock and lot pages. None of them shows patient data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.interfaces import LoaderOption
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from clinic.audit.services import record_event
from clinic.auth.forms import ActionForm
from clinic.auth.permissions import can
from clinic.core.clock import clinic_today
from clinic.core.errors import FieldError
from clinic.core.exports import csv_response
from clinic.core.forms import submitted_version
from clinic.core.submissions import claim, remember
from clinic.core.transaction import attempt
from clinic.extensions import db
from clinic.inventory import services
from clinic.inventory.forms import (
    DiscardForm,
    HoldForm,
    IngredientForm,
    LocationForm,
    ProductForm,
    ReceiveForm,
    StockFilterForm,
)
from clinic.inventory.models import (
    Ingredient,
    Lot,
    LotDiscard,
    LotHold,
    LotReceipt,
    Product,
    ProductIngredient,
    StorageLocation,
)
from clinic.inventory.services import LotStock
from clinic.inventory.signals import lot_notes

bp = Blueprint("inventory", __name__, url_prefix="/inventory")

EXPIRY_WINDOWS = (30, 60, 90)


def _status(code_ok: int = 200) -> int:
    return 400 if request.method == "POST" else code_ok


# --- products ---------------------------------------------------------------------------


@bp.get("/products")
def list_products() -> str:
    """The product catalogue, active products first."""
    products = db.session.scalars(
        sa.select(Product).options(selectinload(Product.ingredients).joinedload(ProductIngredient.ingredient))
        .order_by(Product.retired_at.is_not(None), Product.name)
    ).all()
    return render_template("inventory/products.html", products=products)


def _ingredient_choices() -> list[SelectChoice]:
    ingredients = db.session.scalars(
        sa.select(Ingredient).where(Ingredient.retired_at.is_(None)).order_by(Ingredient.name)
    )
    return [SelectChoice(i.id, i.name) for i in ingredients]


def _details(form: ProductForm) -> services.ProductDetails:
    return services.ProductDetails(
        name=form.name.data, manufacturer=form.manufacturer.data, kind=form.kind.data,
        unit=form.unit.data, volume_ml=form.volume_ml.data, gtin=form.gtin.data,
        storage_conditions=form.storage_conditions.data or "",
        ingredient_ids=form.ingredient_ids.data or [],
    )


@bp.route("/products/new", methods=["GET", "POST"])
def new_product() -> Response | tuple[str, int]:
    """Add a product to the catalogue (a GTIN from an unknown scan may be passed in)."""
    form = ProductForm()
    form.ingredient_ids.choices = _ingredient_choices()
    if request.method == "GET" and request.args.get("gtin"):
        form.gtin.data = request.args["gtin"][:14]
    if form.validate_on_submit():
        created = attempt(form, services.create_product, _details(form))
        if created.ok:
            flash(f"{created.value.name} added to the catalogue.", "success")
            return redirect(url_for("inventory.show_product", product_id=created.value.id))
    return render_template("inventory/product_form.html", form=form, product=None), _status()


@bp.get("/products/<int:product_id>")
def show_product(product_id: int) -> str:
    """A product, what it contains, and its lots with stock."""
    product = db.get_or_404(Product, product_id)
    stock = services.stock_rows(
        services.stock_query().where(Lot.product_id == product.id).order_by(Lot.expiry_date)
    )
    return render_template("inventory/product.html", product=product, stock=stock,
                           today=clinic_today(), statuses=services.lot_statuses, action_form=ActionForm())


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
def edit_product(product_id: int) -> Response | tuple[str, int]:
    """Correct a product's description."""
    product = db.get_or_404(Product, product_id)
    form = ProductForm(obj=product if request.method == "GET" else None)
    form.ingredient_ids.choices = _ingredient_choices()
    if request.method == "GET":
        form.ingredient_ids.data = [link.ingredient_id for link in product.ingredients]
        form.version.data = product.version
    status = _status()
    if form.validate_on_submit():
        saved = attempt(form, services.update_product, product, _details(form),
                        expected_version=submitted_version(form.version))
        if saved.ok:
            flash("Product saved.", "success")
            return redirect(url_for("inventory.show_product", product_id=product.id))
        status = 409 if saved.conflict else 400
        if saved.conflict:
            form.version.data = product.version
    return render_template("inventory/product_form.html", form=form, product=product), status


@bp.post("/products/<int:product_id>/retire")
def retire_product(product_id: int) -> Response:
    """Stop receiving a product; its lots stay traceable."""
    return _set_retired(product_id, True)


@bp.post("/products/<int:product_id>/reinstate")
def reinstate_product(product_id: int) -> Response:
    """Receive a retired product again."""
    return _set_retired(product_id, False)


def _set_retired(product_id: int, retired: bool) -> Response:
    product = db.get_or_404(Product, product_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if attempt(None, services.set_product_retired, product, retired).ok:
        flash(f"{product.name} is {'retired' if retired else 'active again'}.", "success")
    return redirect(url_for("inventory.show_product", product_id=product.id))


# --- ingredients and locations -----------------------------------------------------------


def _catalogue_page(form: IngredientForm | LocationForm, add: Callable[[str, str], Any], kind: str,
                    rows: sa.Select[Any], template: str) -> Response | tuple[str, int]:
    """A catalogue list with its add form (ingredients, locations): a name and a kind."""
    if request.method == "POST" and form.validate_on_submit():
        created = attempt(form, add, form.name.data, getattr(form, kind).data)
        if created.ok:
            flash(f"{created.value.name} added.", "success")
            return redirect(request.path)
    return render_template(template, form=form, rows=db.session.scalars(rows).all()), _status()


@bp.route("/ingredients", methods=["GET", "POST"])
def list_ingredients() -> Response | tuple[str, int]:
    """The ingredient catalogue; admins add to it."""
    return _catalogue_page(IngredientForm(), services.create_ingredient, "family",
                           sa.select(Ingredient).order_by(Ingredient.family, Ingredient.name),
                           "inventory/ingredients.html")


@bp.route("/locations", methods=["GET", "POST"])
def list_locations() -> Response | tuple[str, int]:
    """Where stock is kept; admins add locations."""
    return _catalogue_page(LocationForm(), services.create_location, "kind",
                           sa.select(StorageLocation).order_by(StorageLocation.name), "inventory/locations.html")


# --- receiving ---------------------------------------------------------------------------


def _receive_choices(form: ReceiveForm) -> None:
    products = db.session.scalars(
        sa.select(Product).where(Product.retired_at.is_(None)).order_by(Product.name)
    )
    form.product_id.choices = [SelectChoice("", "Choose a product…")] + [
        SelectChoice(p.id, f"{p.name} — {p.manufacturer}") for p in products
    ]
    locations = db.session.scalars(
        sa.select(StorageLocation).where(StorageLocation.retired_at.is_(None)).order_by(StorageLocation.name)
    )
    form.storage_location_id.choices = [SelectChoice("", "Choose a location…")] + [
        SelectChoice(loc.id, loc.name) for loc in locations
    ]


def _apply_scan(form: ReceiveForm) -> tuple[bool, str | None]:
    """Fill the form from the scan. Returns (ok, unknown GTIN if the product is not known)."""
    label = services.read_receipt_label(
        form.scan.data, product_id=form.product_id.data, lot_number=form.lot_number.data,
        expiry_date=form.expiry_date.data, check_typed=request.form.get("action") != "read_scan")
    for name, message in label.errors.items():
        form[name].errors = [message]
    if not label.ok or label.product is None:
        return False, label.unknown_gtin
    form.product_id.data = label.product.id
    if label.lot_number:
        form.lot_number.data = label.lot_number
        form.lot_number_again.data = label.lot_number
        # raw_data wins over data when a field is rendered; the label's values must show.
        form.lot_number.raw_data = form.lot_number_again.raw_data = None
    if label.expiry_date:
        form.expiry_date.data = label.expiry_date
        form.expiry_date.raw_data = None
    form.serial.data = label.serial or ""
    form.serial.raw_data = None
    return True, None


def _render_receive(form: ReceiveForm, status: int, unknown_gtin: str | None = None) -> tuple[str, int]:
    return render_template("inventory/receive.html", form=form, unknown_gtin=unknown_gtin,
                           from_scan=bool(form.scan.data) and not form.scan.errors), status


@bp.route("/receive", methods=["GET", "POST"])
def receive() -> Response | tuple[str, int]:
    """Receive units of a lot, by scanning the label or typing it (the lot number twice)."""
    form = ReceiveForm()
    _receive_choices(form)
    if request.method == "GET":
        return _render_receive(form, 200)
    form.validate_on_submit()
    if form.csrf_token.errors:
        return _render_receive(form, 400)
    typed = any((request.form.get(name) or "").strip() for name in ("product_id", "lot_number", "expiry_date"))
    if request.form.get("action") == "read_scan" and (form.scan.data or not typed):
        # Reading the scan (the scanner's Enter) only fills the form; nothing is written. With nothing
        # scanned nor typed, it asks for the scan rather than for every field of the form. (Enter in a typed
        # form without a scan goes on to receive what was typed.)
        for field in form:
            field.errors = []
        if not form.scan.data:
            form.scan.errors = ["Nothing was scanned: scan the label, or type the product, lot and expiry below."]
            return _render_receive(form, 400)
        ok, unknown = _apply_scan(form)
        return _render_receive(form, 200 if ok else 400, unknown)
    if form.scan.data:
        # The label is the source of product, lot and expiry: no second typing needed.
        ok, unknown = _apply_scan(form)
        if not ok:
            return _render_receive(form, 400, unknown)
        form.product_id.errors, form.lot_number.errors, form.expiry_date.errors = [], [], []
    # A label with a lot fills both boxes; a label without one leaves the lot to be typed twice.
    if (form.lot_number.data or "").strip() != (form.lot_number_again.data or "").strip():
        form.lot_number_again.errors = ["The two lot numbers differ. Type it again from the box."]
    if not (form.lot_number.data or "").strip():
        form.lot_number.errors = ["Enter the lot number printed on the box."]
    if any(field.errors for field in form):
        return _render_receive(form, 400)
    product = db.session.get(Product, form.product_id.data)
    location = db.session.get(StorageLocation, form.storage_location_id.data)
    if product is None or location is None:
        abort(400)
    if (first := claim(form.submission)) is not None:
        return first
    received = attempt(form, services.receive_lot, services.Receipt(
        product=product, lot_number=form.lot_number.data, expiry_date=form.expiry_date.data,
        quantity=form.quantity.data, supplier=form.supplier.data, received_on=form.received_on.data,
        location=location, serial=form.serial.data or None, scanned_text=form.scan.data or None,
    ), current_user)
    if not received.ok:
        return _render_receive(form, 400)
    lot, receipt = received.value
    flash(
        f"Received {receipt.quantity} × {product.name}, lot {lot.lot_number} "
        f"(expires {lot.expiry_date:%d %b %Y}), into {location.name}.",
        "success",
    )
    shown = url_for("inventory.show_lot", lot_id=lot.id)
    remember(form.submission, shown)
    return redirect(shown)


# --- lots and stock -----------------------------------------------------------------------


# What a lot's page shows with the lot: its product, then its receipts, discards and holds, each with the
# people and the storage location they name (one statement each, however many rows).
def _lot_page_options() -> tuple[LoaderOption, ...]:
    return (
        joinedload(Lot.product),
        selectinload(Lot.receipts).options(joinedload(LotReceipt.storage_location), joinedload(LotReceipt.received_by)),
        selectinload(Lot.discards).joinedload(LotDiscard.recorded_by),
        selectinload(Lot.holds).options(joinedload(LotHold.placed_by), joinedload(LotHold.released_by)),
    )


@bp.get("/lots/<int:lot_id>")
def show_lot(lot_id: int) -> str:
    """A lot: status, stock, every receipt, discard and quarantine."""
    lot = db.first_or_404(sa.select(Lot).where(Lot.id == lot_id).options(*_lot_page_options()))
    stock = services.lot_stock(lot)
    today = clinic_today()
    notes = ([note for _, answer in lot_notes.send(lot) for note in answer or []]
             if can(current_user, "reports.index") else [])
    return render_template(
        "inventory/lot.html", lot=lot, stock=stock, today=today, notes=notes,
        statuses=services.lot_statuses(lot, today, stock.on_hand),
        usability=services.check_lot_usable(lot, today, stock=stock),
        hold_form=HoldForm(formdata=None),
    )


@bp.route("/lots/<int:lot_id>/discard", methods=["GET", "POST"])
def discard(lot_id: int) -> Response | tuple[str, int]:
    """Record units thrown away."""
    lot = db.get_or_404(Lot, lot_id)
    form = DiscardForm()
    if form.validate_on_submit():
        discarded = attempt(form, services.record_discard, lot, form.quantity.data, form.reason.data,
                            form.note.data, form.discarded_on.data, current_user)
        if discarded.ok:
            row = discarded.value
            flash(f"{row.quantity} unit{'s' if row.quantity != 1 else ''} of lot {lot.lot_number} "
                  "recorded as discarded.", "success")
            return redirect(url_for("inventory.show_lot", lot_id=lot.id))
    return render_template("inventory/discard.html", form=form, lot=lot,
                           stock=services.lot_stock(lot)), _status()


@bp.post("/lots/<int:lot_id>/quarantine")
def quarantine(lot_id: int) -> Response | tuple[str, int]:
    """Hold a lot: nobody may use it until it is released."""
    return _hold_action(lot_id, services.quarantine_lot, "quarantined")


@bp.post("/lots/<int:lot_id>/release")
def release(lot_id: int) -> Response | tuple[str, int]:
    """Release a quarantined lot."""
    return _hold_action(lot_id, services.release_lot, "released from quarantine")


def _hold_action(lot_id: int, action, done: str) -> Response | tuple[str, int]:  # noqa: ANN001
    lot = db.get_or_404(Lot, lot_id)
    form = HoldForm()
    if form.validate_on_submit():
        held = attempt(form, action, lot, current_user, form.reason.data)
        if held.ok:
            flash(f"Lot {lot.lot_number} {done}.", "success")
            return redirect(url_for("inventory.show_lot", lot_id=lot.id))
        if not isinstance(held.error, FieldError):
            # Not about the reason typed (e.g. the lot is recalled): flashed, and said on the lot's page.
            return redirect(url_for("inventory.show_lot", lot_id=lot.id))
    stock = services.lot_stock(lot)
    today = clinic_today()
    notes = ([note for _, answer in lot_notes.send(lot) for note in answer or []]
             if can(current_user, "reports.index") else [])
    return render_template(
        "inventory/lot.html", lot=lot, stock=stock, today=today, notes=notes,
        statuses=services.lot_statuses(lot, today, stock.on_hand),
        usability=services.check_lot_usable(lot, today), hold_form=form,
    ), 400


STOCK_CSV_HEADER = ("product", "manufacturer", "gtin", "lot", "expiry", "status", "received",
                    "discarded", "used", "on_hand")


def _csv_rows(rows: list[LotStock], today: date) -> list[tuple[object, ...]]:
    return [
        (r.lot.product.name, r.lot.product.manufacturer, r.lot.product.gtin or "", r.lot.lot_number,
         r.lot.expiry_date.isoformat(), " ".join(services.lot_statuses(r.lot, today, r.on_hand)),
         r.received, r.discarded, r.used, r.on_hand)
        for r in rows
    ]


def _stock_page(template: str, rows: list[LotStock], export_name: str, **context: object):  # noqa: ANN202
    today = clinic_today()
    if request.args.get("format") == "csv":
        record_event("export", record_type="stock", reason=export_name)
        return csv_response(f"{export_name}-{today.isoformat()}.csv", STOCK_CSV_HEADER, _csv_rows(rows, today))
    return render_template(template, rows=rows, today=today, statuses=services.lot_statuses, **context)


def _with_lot_details(query: sa.Select) -> sa.Select:
    return query.options(selectinload(Lot.product), selectinload(Lot.holds))


@bp.get("/stock")
def stock() -> Response | str | tuple[str, int]:
    """Stock on hand per product and lot (derived from receipts, discards and use)."""
    form = StockFilterForm(request.args)
    if not form.validate():
        return render_template("inventory/stock.html", rows=[], form=form, today=clinic_today(),
                               statuses=services.lot_statuses, show_all=False), 400
    query = _with_lot_details(services.stock_query()).order_by(Product.name, Lot.expiry_date)
    if form.q.data:
        term = f"%{form.q.data.strip().lower()}%"
        query = query.where(sa.or_(sa.func.lower(Lot.lot_number).like(term),
                                   sa.func.lower(Product.name).like(term)))
    rows = services.stock_rows(query)
    show_all = request.args.get("all") == "1"
    if not show_all:
        rows = [r for r in rows if r.on_hand > 0]
    return _stock_page("inventory/stock.html", rows, "stock", form=form, show_all=show_all)


@bp.get("/expiring")
def expiring() -> Response | str | tuple[str, int]:
    """Lots with units on hand that expire within 30, 60 or 90 days (or already have)."""
    try:
        days = int(request.args.get("days", 30))
    except ValueError:
        days = 0
    if days not in EXPIRY_WINDOWS:
        abort(400)
    today = clinic_today()
    query = (
        _with_lot_details(services.stock_query())
        .where(Lot.expiry_date <= today + timedelta(days=days))
        .order_by(Lot.expiry_date, Product.name)
    )
    rows = [r for r in services.stock_rows(query) if r.on_hand > 0]
    return _stock_page("inventory/expiring.html", rows, f"expiring-{days}-days", days=days,
                       windows=EXPIRY_WINDOWS)


@bp.get("/quarantined")
def quarantined() -> Response | str:
    """Lots on hold now."""
    held = sa.select(LotHold.lot_id).where(LotHold.released_at.is_(None))
    query = _with_lot_details(services.stock_query()).where(Lot.id.in_(held)).order_by(Product.name)
    return _stock_page("inventory/quarantined.html", services.stock_rows(query), "quarantined")
