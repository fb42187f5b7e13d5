"""A lot trace as CSV rows and as JSON: one wording for the trace page's downloads and `lots trace`."""

from __future__ import annotations

import json
from decimal import Decimal

from clinic.core.clock import csv_time
from clinic.core.exports import phone_cell
from clinic.inventory.models import Lot
from clinic.tracing.services import TracePage

CSV_HEADER = ("session_date", "session_id", "session_number", "voided", "signed", "record_number", "patient",
              "phone", "doctor", "product", "lot", "in_cocktail", "area", "administered", "injected_ml",
              "lot_ml", "patient_side_effects", "patient_worst_grade", "amended", "corrected_to_lot")


def csv_rows(page: TracePage) -> list[tuple[object, ...]]:
    """One row per injection (or per session without one), in CSV_HEADER's order. The side effects are the
    row's patient's through the traced lots, a number (0 for none) so that a spreadsheet can add them up."""
    return [
        (csv_time(r.performed_at), r.session_id, r.session_number,
         "yes" if r.session_voided else "", "yes" if r.session_signed else "", r.record_number, r.patient_name,
         phone_cell(r.phone), r.doctor, r.product, r.lot_number, "yes" if r.in_cocktail else "", r.area or "",
         "" if r.administered is None else ("yes" if r.administered else "no"), r.injected_ml or "",
         r.lot_ml or "", r.side_effects, r.worst_grade or "", "yes" if r.amended else "", "")
        for r in page.rows
    ] + [
        # The sessions corrected to another lot: kept in this lot's file, marked, with nothing from the lot.
        (csv_time(c.performed_at), c.session_id, c.session_number, "", "yes",
         c.record_number, c.patient_name, "", "", "", c.from_lot, "", "", "", "", "", "", "", "yes", c.to_lot)
        for c in page.corrected_away
    ]


def _lot(lot: Lot) -> dict[str, object]:
    return {"id": lot.id, "lot": lot.lot_number, "product": lot.product.name, "gtin": lot.product.gtin,
            "expiry": lot.expiry_date.isoformat(), "recalled": lot.recalled_at is not None}


def trace_json(page: TracePage, *, with_lots: bool = True) -> str:
    """The trace as JSON: the lots traced (the download names them; the command line was given one),
    the totals and every row."""
    body: dict[str, object] = {"lots": [_lot(lot) for lot in page.lots]} if with_lots else {}
    # Numbers as numbers: counts as integers, millilitres as decimals (JSON has no exact decimal type).
    body["totals"] = {k: float(v) if isinstance(v, Decimal) else v for k, v in vars(page.totals).items()}
    body["rows"] = [r.as_dict() for r in page.rows]
    body["corrected_to_another_lot"] = [
        {"session_id": c.session_id, "performed_at": c.performed_at.isoformat(), "record_number": c.record_number,
         "patient": c.patient_name, "from_lot": c.from_lot, "to_lot": c.to_lot,
         "amended_at": c.amended_at.isoformat(), "reason": c.reason} for c in page.corrected_away]
    return json.dumps(body, indent=1)
