"""The trace page (with CSV and JSON) and the reverse trace from a patient's chart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from clinic.audit.services import record_chart_read, record_event
from clinic.auth.forms import ActionForm
from clinic.auth.permissions import can
from clinic.auth.reauth import confirm_export
from clinic.core.clock import clinic_today, csv_time
from clinic.core.errors import ClinicError, FieldError
from clinic.core.exports import csv_response
from clinic.core.forms import show_error
from clinic.core.http import content_disposition
from clinic.core.models import utcnow
from clinic.core.pdf import pdf_response
from clinic.core.submissions import claim, remember
from clinic.core.transaction import attempt
from clinic.extensions import db
from clinic.inventory.models import Lot, Product, StorageLocation
from clinic.records.followups.queries import LotSideEffects, side_effects_by_patient_for_lots
from clinic.records.patients.models import Patient
from clinic.records.treatments.queries import lots_received_by
from clinic.tracing import exports, services
from clinic.tracing import recalls as recalls_service
from clinic.tracing.forms import ContactForm, RecallForm, TraceForm
from clinic.tracing.models import Recall, RecallContact, RecallLot, RecallPatient

bp = Blueprint("tracing", __name__)


@bp.route("/trace", methods=["GET", "POST"])
def trace() -> Response | tuple[str, int]:
    """Who received a lot: by lot number (and GTIN), or from a pasted scan. Every trace is audited."""
    form = TraceForm(request.args or MultiDict())
    if not (request.args.get("lot") or request.args.get("scan")):
        return render_template("tracing/trace.html", form=form, page=None, close=[]), 200
    if not form.validate():
        return render_template("tracing/trace.html", form=form, page=None, close=[]), 400
    try:
        if (form.scan.data or "").strip():
            # The scan is what is traced: the lot and GTIN fields show what it held.
            form.lot.data, form.gtin.data = services.read_scan(form.scan.data)
            form.scan.data = ""
        lots = services.find_lots(form.lot.data or "", form.gtin.data or "")
    except services.NoSuchLot as missing:
        form.lot.errors = [str(missing)]
        return render_template("tracing/trace.html", form=form, page=None, close=missing.close), 404
    except FieldError as error:
        getattr(form, error.field, form.lot).errors = [str(error)]
        return render_template("tracing/trace.html", form=form, page=None, close=[]), 400
    export = request.args.get("format") if request.args.get("format") in ("csv", "json") else None
    if export:
        back_args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "format"}
        asked = confirm_export(f"the trace of lot {', '.join(sorted({lot.lot_number for lot in lots}))} "
                               f"as {export.upper()}",
                               back=url_for("tracing.trace", **back_args))
        if asked is not None:
            return asked
    elif request.method == "POST":
        abort(405)
    order = request.args.get("sort", "date")
    order = order if order in services.ORDERS else "date"
    page = services.trace_lot(lots, cursor=form.after.data or None, everything=export is not None, order=order)
    numbers = ", ".join(sorted({lot.lot_number for lot in lots}))
    record_event("export" if export else "trace", record_type="lot",
                 record_id=",".join(str(lot.id) for lot in lots)[:60],
                 reason=f"trace of lot {numbers}" + (f" as {export}" if export else ""))
    if export == "csv":
        return csv_response(f"trace-{numbers.replace(', ', '_')}.csv", exports.CSV_HEADER, exports.csv_rows(page))
    if export == "json":
        return current_app.response_class(exports.trace_json(page), mimetype="application/json",
                        headers={"Content-Disposition": content_disposition(f"trace-{lots[0].lot_number}.json")})
    query = {"lot": form.lot.data or "", "gtin": form.gtin.data or "", "scan": form.scan.data or ""}
    recall_of = dict(db.session.execute(sa.select(RecallLot.lot_id, RecallLot.recall_id).where(
        RecallLot.lot_id.in_([lot.id for lot in lots if lot.recalled_at]))).tuples().all()) if any(
        lot.recalled_at for lot in lots) else {}
    return render_template("tracing/trace.html", form=form, page=page, close=[], order=order,
                           orders=services.ORDERS, query={k: v for k, v in query.items() if v},
                           recall_of=recall_of), 200


@bp.route("/patients/<int:patient_id>/lots", methods=["GET", "POST"])
def patient_lots(patient_id: int) -> str | Response | tuple[str, int]:
    """Every lot this patient received, session by session (CSV for the patient's own copy)."""
    patient = db.get_or_404(Patient, patient_id)
    if request.args.get("format") == "csv":
        asked = confirm_export(f"every lot {patient.full_name} received, as CSV",
                               back=url_for("tracing.patient_lots", patient_id=patient.id),
                               audit_as=f"lots received by record {patient.record_number} as CSV")
        if asked is not None:
            return asked
    elif request.method == "POST":
        abort(405)
    received = lots_received_by(patient)
    if request.args.get("format") == "csv":
        record_event("export", record_type="patient", record_id=patient.id, reason="lots received as csv")
        return csv_response(
            f"lots-received-{patient.record_number}.csv",
            ("session_date", "session_number", "voided", "treatment", "product", "lot", "expiry", "units",
             "ml_drawn", "lot_recalled"),
            [(csv_time(r.performed_at), r.session_number,
              "yes" if r.session_voided else "", r.indication, r.product, r.lot_number, r.expiry.isoformat(),
              r.units, r.volume_ml, "yes" if r.recalled else "") for r in received])
    record_chart_read(patient)
    return render_template("tracing/patient_lots.html", patient=patient, received=received)


# --- recalls -----------------------------------------------------------------------------------


def _recall_choices(form: RecallForm) -> None:
    lots = db.session.scalars(sa.select(Lot).join(Product).where(Lot.recalled_at.is_(None))
                              .order_by(Product.name, Lot.expiry_date)).all()
    form.lot_ids.choices = [SelectChoice(lot.id, f"{lot.product.name} — lot {lot.lot_number}, exp. "
                                                 f"{lot.expiry_date:%d %b %Y}") for lot in lots]
    locations = db.session.scalars(sa.select(StorageLocation).order_by(StorageLocation.name)).all()
    form.location_id.choices = [SelectChoice("", "No location")] + [SelectChoice(loc.id, loc.name) for loc in locations]


@bp.get("/recalls")
def list_recalls() -> str:
    """Open recalls first, with their progress."""
    recalls = db.session.scalars(sa.select(Recall).order_by(Recall.closed_at.is_not(None), Recall.opened_at.desc())
                                 .options(selectinload(Recall.rows).selectinload(RecallPatient.contacts),
                                          selectinload(Recall.lots).selectinload(RecallLot.lot),
                                          selectinload(Recall.location))).all()
    return render_template("tracing/recalls.html", recalls=[(r, recalls_service.progress(r)) for r in recalls])


@bp.route("/recalls/new", methods=["GET", "POST"])
def new_recall() -> Response | tuple[str, int]:
    """Open a recall for lots, or for a storage location and a time window."""
    form = RecallForm()
    _recall_choices(form)
    if request.method == "GET":
        form.notice_date.data = clinic_today()
        if request.args.get("lot", "").isdigit():
            form.lot_ids.data = [int(request.args["lot"])]
        return render_template("tracing/recall_form.html", form=form), 200
    just_opened = recalls_service.just_opened(request.form.get("confirm_plan", ""), current_user)
    if just_opened is not None:  # a double click on "Recall now": the first click opened it
        flash("This recall is open; the second click changed nothing.", "warning")
        return redirect(url_for("tracing.show_recall", recall_id=just_opened.id))
    if form.validate_on_submit():
        entry = recalls_service.RecallInput(
            reason=form.reason.data, source=form.source.data, reference=form.reference.data or "",
            notice_date=form.notice_date.data, lot_ids=form.lot_ids.data or [], location_id=form.location_id.data,
            window_start=form.window_start.data, window_end=form.window_end.data)
        planned = attempt(form, recalls_service.plan_recall, entry)
        if planned.ok:
            # The confirmation holds the lots it showed: a changed form is shown again, never opened unseen.
            plan_key = recalls_service.plan_key(planned.value)
            if request.form.get("confirm_plan") != plan_key:
                return render_template("tracing/recall_form.html", form=form, plan=planned.value,
                                       plan_key=plan_key), 200

            def show(error: ClinicError) -> None:
                if not isinstance(error, recalls_service.RecallOpenedTwice):
                    show_error(form, error)

            opened = attempt(show, recalls_service.open_recall, entry, current_user)
            if opened.ok:
                recall = opened.value
                flash(f"Recall opened: {len(recall.lots)} lot{'s' if len(recall.lots) != 1 else ''} recalled, "
                      f"{len(recall.rows)} patient{'s' if len(recall.rows) != 1 else ''} to contact.", "warning")
                return redirect(url_for("tracing.show_recall", recall_id=recall.id))
            if isinstance(opened.error, recalls_service.RecallOpenedTwice):
                # Two clicks at the same moment: the other one opened it.
                other = recalls_service.just_opened(plan_key, current_user)
                if other is None:
                    raise opened.error
                flash("This recall is open; the second click changed nothing.", "warning")
                return redirect(url_for("tracing.show_recall", recall_id=other.id))
    return render_template("tracing/recall_form.html", form=form), 400


@bp.get("/recalls/<int:recall_id>")
def show_recall(recall_id: int) -> str:
    """Progress, the lots, and (not for admins) the worklist of affected patients."""
    # The recall with who opened and closed it and where, its lots with their products, and its patients
    # with their contacts: one statement each, however many rows.
    recall = db.first_or_404(sa.select(Recall).where(Recall.id == recall_id).options(
        joinedload(Recall.opened_by), joinedload(Recall.closed_by), joinedload(Recall.location),
        selectinload(Recall.lots).joinedload(RecallLot.lot).joinedload(Lot.product),
        selectinload(Recall.rows).options(joinedload(RecallPatient.patient), selectinload(RecallPatient.contacts))))
    shows_patients = can(current_user, "tracing.contact", "POST")
    rows = recall.rows  # in id order
    affected = {}
    side_effects: dict[int, LotSideEffects] = {}
    if shows_patients:
        affected = recalls_service.affected_sessions(recall)
        side_effects = side_effects_by_patient_for_lots([link.lot_id for link in recall.lots])
        record_event("read_worklist", record_type="recall", record_id=recall.id)
    return render_template("tracing/recall.html", recall=recall, rows=rows, affected=affected,
                           side_effects=side_effects, progress=recalls_service.progress(recall),
                           shows_patients=shows_patients, action_form=ActionForm())


@bp.route("/recalls/<int:recall_id>/patients/<int:row_id>", methods=["GET", "POST"])
def contact(recall_id: int, row_id: int) -> Response | tuple[str, int]:
    """One affected patient: what they received, every attempt so far, and the next one."""
    recall = db.get_or_404(Recall, recall_id)
    row = db.first_or_404(sa.select(RecallPatient).filter_by(id=row_id, recall_id=recall.id))
    form = ContactForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit() and (first := claim(form.submission)) is not None:
            return first
        if form.validate_on_submit() and attempt(form, recalls_service.record_contact, row, form.method.data,
                                                 bool(form.reached.data), form.note.data or "", current_user,
                                                 outcome=form.outcome.data or "").ok:
            flash(f"Contact recorded: {row.patient.full_name} is now “{row.status_label.lower()}”.", "success")
            shown = url_for("tracing.show_recall", recall_id=recall.id)
            remember(form.submission, shown)
            return redirect(shown)
    else:
        record_chart_read(row.patient)
    affected = recalls_service.affected_sessions(recall, [row.patient_id]).get(row.patient_id, [])
    return render_template("tracing/contact.html", recall=recall, row=row, form=form, affected=affected,
                           failures=recalls_service.failed_attempts(row),
                           max_attempts=current_app.config["RECALL_MAX_ATTEMPTS"]), status


@bp.get("/recalls/<int:recall_id>/patients/<int:row_id>/letter")
def letter(recall_id: int, row_id: int) -> str:
    """A printable letter to the patient about the recall."""
    recall = db.get_or_404(Recall, recall_id)
    row = db.first_or_404(sa.select(RecallPatient).filter_by(id=row_id, recall_id=recall.id))
    record_event("export", record_type="recall_patient", record_id=row.id, reason="recall letter")
    affected = recalls_service.affected_sessions(recall, [row.patient_id]).get(row.patient_id, [])
    # One line per product and lot, with every date it was used: two sessions with one lot are one lot.
    by_lot: dict[str, list[datetime]] = {}
    for session in affected:
        for product in session.products:
            by_lot.setdefault(product, []).append(session.performed_at)
    return render_template("tracing/letter.html", recall=recall, row=row, by_lot=by_lot, today=clinic_today(),
                           contact_line=current_app.config["CLINIC_SIDE_EFFECTS_CONTACT"])


@bp.post("/recalls/<int:recall_id>/close")
def close_recall(recall_id: int) -> Response:
    """Close the recall once every patient is closed or unreachable."""
    recall = db.get_or_404(Recall, recall_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if attempt(None, recalls_service.close_recall, recall, current_user).ok:
        flash("Recall closed." + (" Its report lists every patient and every contact." if can(
            current_user, "tracing.recall_report") else " Its report holds patient data: an auditor prints it."),
              "success")
    return redirect(url_for("tracing.show_recall", recall_id=recall.id))


def _report_context(recall: Recall) -> dict[str, object]:
    rows = db.session.scalars(
        sa.select(RecallPatient).where(RecallPatient.recall_id == recall.id).order_by(RecallPatient.id)
        .options(selectinload(RecallPatient.patient),
                 selectinload(RecallPatient.contacts).selectinload(RecallContact.contacted_by))).all()
    return {"recall": recall, "rows": rows, "progress": recalls_service.progress(recall),
            "affected": recalls_service.affected_sessions(recall), "generated_at": utcnow()}


@bp.get("/recalls/<int:recall_id>/report")
def recall_report(recall_id: int) -> str:
    """Every patient, every contact attempt and who made it."""
    recall = db.get_or_404(Recall, recall_id)
    record_event("read_worklist", record_type="recall", record_id=recall.id, reason="report")
    return render_template("tracing/report.html", **_report_context(recall))


@bp.route("/recalls/<int:recall_id>/report.pdf", methods=["GET", "POST"])
def recall_report_pdf(recall_id: int) -> Response | tuple[str, int]:
    """The recall report as a PDF, for the file and the manufacturer."""
    recall = db.get_or_404(Recall, recall_id)
    asked = confirm_export(f"the report of recall {recall.reference or '#' + str(recall.id)} as PDF",
                           back=url_for("tracing.recall_report", recall_id=recall.id))
    if asked is not None:
        return asked
    record_event("export", record_type="recall", record_id=recall.id, reason="report PDF")
    html = render_template("tracing/report_pdf.html", **_report_context(recall))
    return pdf_response(html, f"recall-{recall.id}-report.pdf", download=True)  # an export: a file, not a view
