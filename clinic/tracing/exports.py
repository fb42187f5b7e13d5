"""A lot trace as CSV rows and as JSON: one wording for the trace page's downloads and `lots trace`."""

from __future__ import annotations

import json

from clinic.inventory.models import Lot
from clinic.tracing.services import TracePage

CSV_HEADER = ("session_date", "session_id", "session_number", "voided", "signed", "record_number", "patient",
              "phone", "doctor", "product", "lot", "in_cocktail", "area", "administered", "injected_ml",
              "lot_ml", "patient_side_effects", "patient_worst_grade")


def csv_rows(page: TracePage) -> list[tuple[object, ...]]:
    """One row per injection (or per session without one), in CSV_HEADER's order. The side effects are the
    row's patient's through the traced lots, a number (0 for none) so that a spreadsheet can add them up."""
    return [
        (r.performed_at.astimezone().strftime("%Y-%m-%d %H:%M"), r.session_id, r.session_number,
         "yes" if r.session_voided else "", "yes" if r.session_signed else "", r.record_number, r.patient_name,
         r.phone, r.doctor, r.product, r.lot_number, "yes" if r.in_cocktail else "", r.area or "",
         "" if r.administered is None else ("yes" if r.administered else "no"), r.injected_ml or "",
         r.lot_ml or "", r.side_effects, r.worst_grade or "")
        for r in page.rows
    ]


def _lot(lot: Lot) -> dict[str, object]:
    return {"id": lot.id, "lot": lot.lot_number, "product": lot.product.name, "gtin": lot.product.gtin,
            "expiry": lot.expiry_date.isoformat(), "recalled": lot.recalled_at is not None}


def trace_json(page: TracePage, *, with_lots: bool = True) -> str:
    """The trace as JSON: the lots traced (the download names them; the command line was given one),
    the totals and every row."""
    body: dict[str, object] = {"lots": [_lot(lot) for lot in page.lots]} if with_lots else {}
    body["totals"] = {k: str(v) for k, v in vars(page.totals).items()}
    body["rows"] = [r.as_dict() for r in page.rows]
    return json.dumps(body, indent=1)
