"""Lot trace: every patient who received a lot, alone or inside a cocktail, and the reverse.

The trace walks preparation_component (by lot) -> preparation -> session ->
course -> patient, with the injection logs of each preparation. One query
gives a page of rows (keyset in the order asked for) with the lot's totals
beside every row: the number of queries does not grow with the lot. Voided
sessions stay in the trace, marked voided.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import functools
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased, contains_eager

from clinic.auth.models import User
from clinic.core.errors import ClinicError, FieldError
from clinic.extensions import db
from clinic.inventory.gs1 import LabelError, normalise_gtin, parse_label
from clinic.inventory.models import Lot, LotReceipt, Product
from clinic.inventory.services import lots_stock
from clinic.records.catalogue.models import Area
from clinic.records.followups.queries import side_effects_by_patient_for_lots
from clinic.records.patients.models import Patient
from clinic.records.treatments.models import (
    Amendment,
    Course,
    InjectionLog,
    Preparation,
    PreparationComponent,
    TreatmentSession,
)

# A page: well under the 500-row cap, so a tablet renders it quickly and the page stays a small
# multiple of its SQL (rendering, not the database, is what grows with the page).
PAGE_SIZE = 250


class NoSuchLot(ClinicError):
    """No lot matches; ``close`` holds lot numbers that look alike."""

    def __init__(self, lot_number: str, close: list[str]) -> None:
        super().__init__(f"No such lot: {lot_number}.")
        self.close = close


def read_scan(scan: str) -> tuple[str, str]:
    """The lot number and GTIN a pasted label holds."""
    try:
        label = parse_label(scan)
    except LabelError as error:
        raise FieldError("scan", str(error)) from None
    if not label.lot_number:
        raise FieldError("scan", "This label holds no lot number; type the lot number instead.")
    return label.lot_number, label.gtin or ""


def find_lots(lot_number: str = "", gtin: str = "") -> list[Lot]:
    """The lots a trace is about: by lot number (any case), optionally narrowed by GTIN."""
    lot_number, gtin = (lot_number or "").strip(), (gtin or "").strip()
    if not lot_number:
        raise FieldError("lot", "Enter a lot number, or scan the label.")
    query = (sa.select(Lot).join(Product).options(contains_eager(Lot.product))
             .where(sa.func.upper(Lot.lot_number) == lot_number.upper()).order_by(Product.name, Lot.id))
    if gtin:
        try:
            gtin = normalise_gtin(gtin)
        except ClinicError as error:
            raise FieldError("gtin", str(error)) from None
        lots = list(db.session.scalars(query.where(Product.gtin == gtin)))
        if not lots:
            others = list(db.session.scalars(query))
            if others:
                held = "; ".join(f"{lot.product.name} (GTIN {lot.product.gtin or 'none'})" for lot in others)
                raise FieldError("gtin", f"Lot {others[0].lot_number} is on record for {held}, "
                                         f"not for GTIN {gtin}. Check the label, or trace without the GTIN.")
    else:
        lots = list(db.session.scalars(query))
    if not lots:
        numbers = db.session.scalars(sa.select(Lot.lot_number).distinct()).all()
        close = difflib.get_close_matches(lot_number.upper(), [n.upper() for n in numbers], n=5, cutoff=0.6)
        by_upper = {n.upper(): n for n in numbers}
        raise NoSuchLot(lot_number, [by_upper[c] for c in close])
    return lots


@dataclass
class TraceRow:
    performed_at: datetime
    session_id: int
    session_number: int
    session_voided: bool
    session_signed: bool
    patient_id: int
    record_number: str
    patient_name: str
    phone: str
    doctor: str
    lot_number: str
    product: str
    in_cocktail: bool
    injection_id: int | None
    area: str | None
    administered: bool | None
    injected_ml: Decimal | None
    lot_ml: Decimal | None  # this lot's share of the injected volume
    # The patient's side effects (not voided) on areas injected from the traced lots, and the worst grade.
    side_effects: int = 0
    worst_grade: int | None = None
    component_id: int | None = None
    # An amendment corrected this injection's area or volume, or this lot use: the row shows the current
    # values, the session page the values as signed.
    amended: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "performed_at": self.performed_at.isoformat(), "session_id": self.session_id,
            "session_number": self.session_number, "voided": self.session_voided, "signed": self.session_signed,
            "patient_id": self.patient_id, "record_number": self.record_number, "patient": self.patient_name,
            "phone": self.phone, "doctor": self.doctor, "lot": self.lot_number, "product": self.product,
            "in_cocktail": self.in_cocktail, "injection_id": self.injection_id, "area": self.area,
            "administered": self.administered,
            "injected_ml": str(self.injected_ml) if self.injected_ml is not None else None,
            "lot_ml": str(self.lot_ml) if self.lot_ml is not None else None,
            "side_effects": self.side_effects, "worst_grade": self.worst_grade, "amended": self.amended,
        }


@dataclass
class TraceTotals:
    patients: int
    sessions: int
    lot_ml: Decimal
    units_used: int
    units_received: int


@dataclass
class CorrectedUse:
    """A session once recorded with a traced lot and corrected, by an amendment, to another one."""

    session_id: int
    performed_at: datetime
    session_number: int
    patient_id: int
    patient_name: str
    record_number: str
    from_lot: str
    to_lot: str
    amended_at: datetime
    reason: str


@dataclass
class TracePage:
    lots: list[Lot]
    rows: list[TraceRow]
    totals: TraceTotals
    next_cursor: str | None
    corrected_away: list[CorrectedUse] = field(default_factory=list)


@dataclass(frozen=True)
class TraceOrder:
    """A sort order of the trace: its key columns, all one direction, so a page's cursor is a row value."""

    label: str
    columns: tuple[str, ...]  # labels in the trace statement
    descending: bool = False


# Every key ends with session, injection and component: one trace row is one component of a preparation
# times one of its injections, so only all three together point at exactly one row.
_TAIL = ("performed_at", "session_id", "injection_key", "component_id")
ORDERS = {
    "date": TraceOrder("session date, oldest first", _TAIL),
    "-date": TraceOrder("session date, newest first", _TAIL, descending=True),
    "patient": TraceOrder("patient", ("last_name", "first_name", "patient_id", *_TAIL)),
    "doctor": TraceOrder("doctor", ("doctor", *_TAIL)),
}
# What each key column holds, to refuse a tampered cursor rather than send the database a wrong type.
_KEY_TYPES = {"performed_at": datetime, "session_id": int, "injection_key": int, "component_id": int,
              "patient_id": int, "doctor": str, "last_name": str, "first_name": str}
# Patient names never travel in the URL (and so in access logs): the cursor holds the patient's id.
_FROM_PATIENT = ("last_name", "first_name")


def _cursor(raw: sa.Row[Any], order: TraceOrder) -> str:
    values = [getattr(raw, c) for c in order.columns if c not in _FROM_PATIENT]
    encoded = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(encoded).encode()).decode().rstrip("=")


def _decode(cursor: str | None, order: TraceOrder) -> tuple[object, ...] | None:
    """The key values a cursor stands for, or None for one that is not ours (the first page then)."""
    if not cursor:
        return None
    names = [c for c in order.columns if c not in _FROM_PATIENT]
    try:
        encoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(encoded, list) or len(encoded) != len(names):
            return None
        values = dict(zip(names, (datetime.fromisoformat(v) if _KEY_TYPES[n] is datetime else v
                                  for n, v in zip(names, encoded, strict=True)), strict=True))
    except (ValueError, TypeError, binascii.Error):
        return None
    if not all(isinstance(values[n], _KEY_TYPES[n]) and not isinstance(values[n], bool) for n in names):
        return None
    if "patient_id" in values and "last_name" in order.columns:
        patient = db.session.get(Patient, values["patient_id"])
        if patient is None:
            return None
        values.update(last_name=patient.last_name, first_name=patient.first_name)
    return tuple(values[c] for c in order.columns)


def _drawn(lot_ids: list[int] | sa.BindParameter[list[int]]) -> sa.Subquery:
    """What each preparation that used the lots drew in all (for the lot's share of an injection)."""
    using_lot = sa.select(PreparationComponent.preparation_id).where(PreparationComponent.lot_id.in_(lot_ids))
    return (
        sa.select(PreparationComponent.preparation_id, sa.func.sum(PreparationComponent.volume_ml).label("drawn"),
                  sa.func.count().label("components"))
        .where(PreparationComponent.preparation_id.in_(using_lot))
        .group_by(PreparationComponent.preparation_id).subquery()
    )


def trace_statement(lot_ids: list[int] | sa.BindParameter[list[int]], sort: TraceOrder | None = None) -> sa.Select[Any]:
    """Every row of the trace, with ids and what the totals need; the names a sort order needs join here,
    the others only for a page's rows (``page_statement``)."""
    drawn = _drawn(lot_ids)
    component = aliased(PreparationComponent)
    columns = sort.columns if sort else ()
    statement = (
        sa.select(
            TreatmentSession.performed_at, TreatmentSession.id.label("session_id"),
            TreatmentSession.number, TreatmentSession.voided_at, TreatmentSession.locked_at,
            Course.patient_id, TreatmentSession.doctor_id, component.lot_id,
            drawn.c.components, drawn.c.drawn, component.volume_ml.label("component_ml"),
            InjectionLog.id.label("injection_id"), InjectionLog.area_code, InjectionLog.administered,
            InjectionLog.volume_ml.label("injected_ml"),
            sa.func.coalesce(InjectionLog.id, 0).label("injection_key"),
            component.id.label("component_id"), component.units.label("component_units"),
        )
        .select_from(component)
        .join(Preparation, Preparation.id == component.preparation_id)
        .join(drawn, drawn.c.preparation_id == Preparation.id)
        .join(TreatmentSession, TreatmentSession.id == Preparation.session_id)
        .join(Course, Course.id == TreatmentSession.course_id)
        .outerjoin(InjectionLog, InjectionLog.preparation_id == Preparation.id)
        .where(component.lot_id.in_(lot_ids))
    )
    if "last_name" in columns:
        sort_patient = aliased(Patient)
        statement = statement.join(sort_patient, sort_patient.id == Course.patient_id).add_columns(
            sort_patient.last_name, sort_patient.first_name)
    if "doctor" in columns:
        sort_doctor = aliased(User)
        statement = statement.join(sort_doctor, sort_doctor.id == TreatmentSession.doctor_id).add_columns(
            sort_doctor.full_name.label("doctor"))
    return statement


def _row(r: sa.Row[Any]) -> TraceRow:
    share = None
    if r.injected_ml is not None and r.drawn:
        share = (Decimal(r.injected_ml) * Decimal(r.component_ml) / Decimal(r.drawn)).quantize(Decimal("0.01"))
    return TraceRow(
        performed_at=r.performed_at, session_id=r.session_id, session_number=r.number,
        session_voided=r.voided_at is not None, session_signed=r.locked_at is not None, patient_id=r.patient_id,
        record_number=r.record_number, patient_name=f"{r.patient_first} {r.patient_last}", phone=r.phone or "",
        doctor=r.doctor_name, lot_number=r.lot_number, product=r.product, in_cocktail=r.components > 1,
        injection_id=r.injection_id, area=r.area, administered=r.administered, injected_ml=r.injected_ml,
        lot_ml=share, component_id=r.component_id,
    )


def _with_totals(lot_ids: list[int] | sa.BindParameter[list[int]], sort: TraceOrder) -> sa.Subquery:
    """Every trace row with the lot's totals beside it, computed over all its rows (window sums).

    The page and its totals then come from one statement: the joins are walked once, not twice.
    A patient, session or component counts once, through its first row; voided sessions count nowhere.
    """
    rows = trace_statement(lot_ids, sort).subquery("trace_rows")
    live = rows.c.voided_at.is_(None)
    ranked = sa.select(
        rows,
        sa.func.row_number().over(partition_by=(rows.c.patient_id, live), order_by=rows.c.session_id)
        .label("patient_rank"),
        # Both windows sort by (session, component, injection): the database sorts once for the two.
        sa.func.row_number().over(partition_by=rows.c.session_id,
                                  order_by=(rows.c.component_id, rows.c.injection_key)).label("session_rank"),
        sa.func.row_number().over(partition_by=(rows.c.session_id, rows.c.component_id),
                                  order_by=rows.c.injection_key).label("component_rank"),
    ).subquery("ranked")
    live = ranked.c.voided_at.is_(None)

    def first_live(rank: sa.ColumnElement[Any], value: sa.ColumnElement[Any] | int = 1) -> sa.ColumnElement[Any]:
        return sa.func.sum(sa.case((sa.and_(live, rank == 1), value), else_=0)).over()

    received = (sa.select(sa.func.coalesce(sa.func.sum(LotReceipt.quantity), 0))
                .where(LotReceipt.lot_id.in_(lot_ids), LotReceipt.voided_at.is_(None)).scalar_subquery())
    return sa.select(
        ranked,
        first_live(ranked.c.patient_rank).label("total_patients"),
        first_live(ranked.c.session_rank).label("total_sessions"),
        first_live(ranked.c.component_rank, ranked.c.component_units).label("total_units"),
        sa.func.sum(sa.case((live, ranked.c.injected_ml * ranked.c.component_ml / ranked.c.drawn), else_=0))
        .over().label("total_ml"),
        received.label("total_received"),
    ).subquery("with_totals")


@functools.lru_cache(maxsize=32)
def _page_template(sort: TraceOrder, with_cursor: bool, limited: bool) -> sa.Select[Any]:
    """The page's statement with its lots, cursor and limit as parameters: built once per shape, since
    building this many subqueries and windows costs more Python time than a small lot's SQL."""
    rows = _with_totals(sa.bindparam("lot_ids", expanding=True), sort)
    key = [rows.c[c] for c in sort.columns]
    statement = sa.select(rows)
    if with_cursor:
        row_key = sa.tuple_(*key)
        cursor_key = sa.tuple_(*(sa.bindparam(f"after_{i}", type_=k.type) for i, k in enumerate(key)))
        statement = statement.where(row_key < cursor_key if sort.descending else row_key > cursor_key)
    direction = (lambda c: c.desc()) if sort.descending else (lambda c: c)
    statement = statement.order_by(*map(direction, key))
    if limited:
        statement = statement.limit(sa.bindparam("page_limit", type_=sa.Integer))
    # Names of patients, doctors, areas, lots and products only for the rows of the page.
    page = statement.subquery("page")
    return (
        sa.select(page, Area.name.label("area"), Lot.lot_number, Product.name.label("product"),
                  Patient.record_number, Patient.first_name.label("patient_first"),
                  Patient.last_name.label("patient_last"), Patient.phone, User.full_name.label("doctor_name"))
        .join(Lot, Lot.id == page.c.lot_id).join(Product, Product.id == Lot.product_id)
        .join(Patient, Patient.id == page.c.patient_id).join(User, User.id == page.c.doctor_id)
        .outerjoin(Area, Area.code == page.c.area_code)
        .order_by(*map(direction, (page.c[c] for c in sort.columns)))
    )


def _page_params(lot_ids: list[int], after: tuple[object, ...] | None, limit: int | None) -> dict[str, object]:
    params: dict[str, object] = {"lot_ids": list(lot_ids)}
    if after is not None:
        params.update({f"after_{i}": value for i, value in enumerate(after)})
    if limit is not None:
        params["page_limit"] = limit
    return params


def page_statement(lot_ids: list[int], sort: TraceOrder, after: tuple[object, ...] | None = None,
                   limit: int | None = PAGE_SIZE + 1) -> sa.Select[Any]:
    """A page of the trace in one sort order, from just after a cursor's row, with the totals on every row:
    the statement ``trace_lot`` runs, with its values bound (for the benchmark and EXPLAIN)."""
    template = _page_template(sort, after is not None, limit is not None)
    return template.params(_page_params(lot_ids, after, limit))


def _totals_of(row: sa.Row[Any]) -> TraceTotals:
    return TraceTotals(patients=int(row.total_patients), sessions=int(row.total_sessions),
                       lot_ml=Decimal(str(row.total_ml or 0)).quantize(Decimal("0.01")),
                       units_used=int(row.total_units), units_received=int(row.total_received))


def _totals(lots: list[Lot]) -> TraceTotals:
    """The totals when a page has no row to carry them (past the last row, or a lot nobody received):
    from the trace's first row, or nothing used yet of what was received."""
    lot_ids = [lot.id for lot in lots]
    first = db.session.execute(_page_template(ORDERS["date"], False, True), _page_params(lot_ids, None, 1)).first()
    if first is not None:
        return _totals_of(first)
    return TraceTotals(0, 0, Decimal("0.00"), 0, sum(r.received for r in lots_stock(lot_ids)))


def trace_lot(lots: list[Lot], *, cursor: str | None = None, page_size: int = PAGE_SIZE,
              everything: bool = False, order: str = "date") -> TracePage:
    """One page of the trace (or all of it, for exports) in the order asked for, and the totals."""
    sort = ORDERS.get(order, ORDERS["date"])
    after, limit = _decode(cursor, sort), None if everything else page_size + 1
    raw = db.session.execute(_page_template(sort, after is not None, limit is not None),
                             _page_params([lot.id for lot in lots], after, limit)).all()
    next_cursor = None
    if not everything and len(raw) > page_size:
        raw = raw[:page_size]
        next_cursor = _cursor(raw[-1], sort)
    # Past the last row (or a lot nobody received) there is no row to carry the totals.
    totals = _totals_of(raw[0]) if raw else _totals(lots)
    rows = [_row(r) for r in raw]
    _add_side_effects(rows, [lot.id for lot in lots])
    _mark_amended(rows)
    return TracePage(lots, rows, totals, next_cursor, corrected_away(lots))


# What an amendment can change in a trace row: the lot, units and volume of a lot use, an injection's
# area and volume.
_TRACED_FIELDS = ("lot_id", "units", "volume_ml", "area_code")


def _mark_amended(rows: list[TraceRow]) -> None:
    """Rows whose injection or lot use an amendment corrected: one statement for the page."""
    sessions = {row.session_id for row in rows}
    if not sessions:
        return
    found = db.session.execute(sa.select(Amendment.injection_id, Amendment.component_id).where(
        Amendment.session_id.in_(sessions), Amendment.field.in_(_TRACED_FIELDS))).all()
    injections = {i for i, _ in found if i is not None}
    components = {c for _, c in found if c is not None}
    for row in rows:
        row.amended = row.injection_id in injections or row.component_id in components


def corrected_away(lots: list[Lot]) -> list[CorrectedUse]:
    """Lot uses signed with one of these lots and now, after amendments, on another: the old lot's trace
    keeps them, marked. A use corrected back, or only passing through a lot, is not listed."""
    by_id = {str(lot.id): lot.lot_number for lot in lots}
    found = db.session.execute(
        sa.select(Amendment, TreatmentSession, Patient, PreparationComponent.lot_id)
        .join(TreatmentSession, TreatmentSession.id == Amendment.session_id)
        .join(PreparationComponent, PreparationComponent.id == Amendment.component_id)
        .join(Course, Course.id == TreatmentSession.course_id).join(Patient, Patient.id == Course.patient_id)
        .where(Amendment.field == "lot_id")
        .order_by(TreatmentSession.performed_at, Amendment.id)).all()
    signed_lot: dict[int, tuple[str, Any, Any]] = {}  # component: (lot as signed, session, patient)
    latest: dict[int, tuple[Amendment, int]] = {}
    for amendment, session, patient, current_lot in found:
        signed_lot.setdefault(amendment.component_id, (amendment.old_value, session, patient))
        latest[amendment.component_id] = (amendment, current_lot)
    moved = [(component, signed, latest[component]) for component, signed in signed_lot.items()
             if signed[0] in by_id and str(latest[component][1]) not in by_id]
    new_lots = {lot.id: lot.lot_number for lot in db.session.scalars(
        sa.select(Lot).where(Lot.id.in_({current for _, _, (_, current) in moved})))} if moved else {}
    return [CorrectedUse(session.id, session.performed_at, session.number, patient.id, patient.full_name,
                         patient.record_number, by_id[signed], new_lots.get(current, str(current)),
                         amendment.amended_at, amendment.reason)
            for _, (signed, session, patient), (amendment, current) in moved]


def _add_side_effects(rows: list[TraceRow], lot_ids: list[int]) -> None:
    """Each row's patient's side effects through the traced lots: one statement for the page's patients."""
    counted = side_effects_by_patient_for_lots(lot_ids, sorted({row.patient_id for row in rows}))
    for row in rows:
        found = counted.get(row.patient_id)
        if found is not None:
            row.side_effects, row.worst_grade = found.count, found.worst_grade
