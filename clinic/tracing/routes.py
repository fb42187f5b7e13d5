"""The trace page (with CSV and JSON) and the reverse trace from a patient's chart."""

from __future__ import annotations

import json

from flask import Blueprint, Response, render_template, request
from werkzeug.datastructures import MultiDict

from clinic.audit.services import record_chart_read, record_event
from clinic.core.errors import FieldError
from clinic.core.exports import csv_response
from clinic.extensions import db
from clinic.records.patients.routes import load_patient
from clinic.tracing import services
from clinic.tracing.forms import TraceForm

bp = Blueprint("tracing", __name__)

CSV_HEADER = ("session_date", "session_id", "session_number", "voided", "signed", "record_number", "patient",
              "phone", "doctor", "product", "lot", "in_cocktail", "area", "administered", "injected_ml",
              "lot_ml")


def _csv_rows(page: services.TracePage) -> list[tuple[object, ...]]:
    return [
        (r.performed_at.astimezone().strftime("%Y-%m-%d %H:%M"), r.session_id, r.session_number,
         "yes" if r.session_voided else "", "yes" if r.session_signed else "", r.record_number, r.patient_name,
         r.phone, r.doctor, r.product, r.lot_number, "yes" if r.in_cocktail else "", r.area or "",
         "" if r.administered is None else ("yes" if r.administered else "no"), r.injected_ml or "",
         r.lot_ml or "")
        for r in page.rows
    ]


@bp.get("/trace")
def trace() -> Response | tuple[str, int]:
    """Who received a lot: by lot number (and GTIN), or from a pasted scan. Every trace is audited."""
    form = TraceForm(request.args or MultiDict())
    if not (request.args.get("lot") or request.args.get("scan")):
        return render_template("tracing/trace.html", form=form, page=None, close=[]), 200
    if not form.validate():
        return render_template("tracing/trace.html", form=form, page=None, close=[]), 400
    try:
        lots = services.find_lots(form.lot.data or "", form.gtin.data or "", form.scan.data or "")
    except services.NoSuchLot as missing:
        form.lot.errors = [str(missing)]
        return render_template("tracing/trace.html", form=form, page=None, close=missing.close), 404
    except FieldError as error:
        getattr(form, error.field, form.lot).errors = [str(error)]
        return render_template("tracing/trace.html", form=form, page=None, close=[]), 400
    export = request.args.get("format")
    page = services.trace_lot(lots, cursor=form.after.data or None, everything=export in ("csv", "json"))
    numbers = ", ".join(sorted({lot.lot_number for lot in lots}))
    record_event("export" if export else "trace", record_type="lot",
                 record_id=",".join(str(lot.id) for lot in lots)[:60],
                 reason=f"trace of lot {numbers}" + (f" as {export}" if export else ""))
    db.session.commit()
    if export == "csv":
        return csv_response(f"trace-{numbers.replace(', ', '_')}.csv", CSV_HEADER, _csv_rows(page))
    if export == "json":
        body = {"lots": [{"id": lot.id, "lot": lot.lot_number, "product": lot.product.name,
                          "gtin": lot.product.gtin, "expiry": lot.expiry_date.isoformat(),
                          "recalled": lot.recalled_at is not None} for lot in lots],
                "totals": {k: str(v) for k, v in vars(page.totals).items()},
                "rows": [r.as_dict() for r in page.rows]}
        return Response(json.dumps(body, indent=1), mimetype="application/json",
                        headers={"Content-Disposition": f'attachment; filename="trace-{lots[0].lot_number}.json"'})
    return render_template("tracing/trace.html", form=form, page=page, close=[]), 200


@bp.get("/patients/<int:patient_id>/lots")
def patient_lots(patient_id: int) -> str:
    """Every lot this patient received, session by session."""
    patient = load_patient(patient_id)
    record_chart_read(patient)
    db.session.commit()
    return render_template("tracing/patient_lots.html", patient=patient, received=services.lots_received_by(patient))
