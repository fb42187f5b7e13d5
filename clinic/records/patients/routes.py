"""Patient search, registration, the chart, the medical history and patch tests."""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from clinic.audit.services import record_chart_read
from clinic.auth.forms import ActionForm
from clinic.core.clock import clinic_today, form_now
from clinic.core.errors import ClinicError, FieldError, VersionConflictError
from clinic.core.forms import VoidForm, local_to_utc, show_error, submitted_version
from clinic.core.http import content_disposition, return_to
from clinic.core.submissions import already_sent, claim, done
from clinic.core.transaction import attempt
from clinic.core.views import void_from_form
from clinic.extensions import db
from clinic.inventory.models import Ingredient, Product
from clinic.records.catalogue.models import Condition
from clinic.records.chart import load_chart
from clinic.records.patients import services
from clinic.records.patients.forms import (
    HistoryForm,
    PatchReadingForm,
    PatchTestForm,
    PatientForm,
    PatientSearchForm,
)
from clinic.records.patients.loading import patient_to_change
from clinic.records.patients.models import TREATMENT_KINDS, HistoryVersion, PatchTest, Patient
from clinic.records.patients.search import search_patients

bp = Blueprint("patients", __name__, url_prefix="/patients")

EXTRA_ROWS = 2  # blank medication and treatment rows offered on the history form


@bp.get("")
def search() -> tuple[str, int]:
    """Find a patient by name, record number, date of birth or phone."""
    form = PatientSearchForm(request.args)
    if not form.validate():
        return render_template("patients/search.html", form=form, page=None), 400
    page = search_patients(form.q.data or "", cursor=form.after.data or None)
    return render_template("patients/search.html", form=form, page=page), 200


def _details(form: PatientForm) -> services.PatientDetails:
    return services.PatientDetails(
        first_name=form.first_name.data, last_name=form.last_name.data, date_of_birth=form.date_of_birth.data,
        sex=form.sex.data, phone=form.phone.data or "", email=form.email.data or "",
        address=form.address.data or "", fitzpatrick=form.fitzpatrick.data,
        emergency_contact=form.emergency_contact.data or "", notes=form.notes.data or "",
        record_number=form.record_number.data or "",
    )


@bp.route("/new", methods=["GET", "POST"])
def register() -> Response | tuple[str, int]:
    """Register a patient; warn first when one with the same name and date of birth exists."""
    form = PatientForm()
    duplicates: list[Patient] = []
    status = 200
    if request.method == "POST":
        status = 400
        if (first := already_sent(form.submission)) is not None:
            return first
        if form.validate_on_submit():
            duplicates = services.likely_duplicates(form.first_name.data, form.last_name.data,
                                                    form.date_of_birth.data)
            if duplicates and not form.confirm_not_duplicate.data:
                status = 409
            elif (first := claim(form.submission)) is not None:
                return first
            else:
                registered = attempt(form, services.register_patient, _details(form), current_user)
                if registered.ok:
                    patient = registered.value
                    flash(f"{patient.full_name} is registered with record number {patient.record_number}.",
                          "success")
                    return done(form.submission, url_for("patients.show_chart", patient_id=patient.id))
    return render_template("patients/form.html", form=form, patient=None, duplicates=duplicates), status


@bp.get("/<int:patient_id>")
def show_chart(patient_id: int) -> str:
    """The chart on one screen: status, history, screenings, consents, patch tests. Audited."""
    patient = db.get_or_404(Patient, patient_id)
    record_chart_read(patient)
    chart = load_chart(patient, clinic_today())
    return render_template("patients/chart.html", chart=chart, patient=patient, today=clinic_today(),
                           void_form=VoidForm(formdata=None), action_form=ActionForm())


@bp.route("/<int:patient_id>/export.json", methods=["GET", "POST"], defaults={"kind": "json"})
@bp.route("/<int:patient_id>/export.pdf", methods=["GET", "POST"], defaults={"kind": "pdf"})
def export_patient(patient_id: int, kind: str) -> Response | tuple[str, int]:
    """Everything held about the patient, for their own copy (JSON to take elsewhere, PDF to read)."""
    from clinic.audit.services import record_event
    from clinic.auth.reauth import confirm_export
    from clinic.core.pdf import pdf_response
    from clinic.records.patients.export import patient_export

    patient = db.get_or_404(Patient, patient_id)
    asked = confirm_export(f"everything held about {patient.full_name} as {kind.upper()}",
                           back=url_for("patients.show_chart", patient_id=patient.id),
                           audit_as=f"patient's copy of record {patient.record_number} as {kind.upper()}")
    if asked is not None:
        return asked
    record_event("export", record_type="patient", record_id=patient.id, reason=f"patient's copy as {kind}")
    content = patient_export(patient)
    filename = f"patient-{patient.record_number}"
    if kind == "json":
        return Response(json.dumps(content, indent=1, ensure_ascii=False), mimetype="application/json",
                        headers={"Content-Disposition": content_disposition(f"{filename}.json")})
    return pdf_response(render_template("patients/export_pdf.html", export=content, patient=patient),
                        f"{filename}.pdf", download=True)


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
def edit(patient_id: int) -> Response | tuple[str, int]:
    """Correct the demographics (optimistic locking: a stale form gets 409)."""
    patient = patient_to_change(patient_id, "This patient is voided; the record can no longer be edited.")
    form = PatientForm(obj=patient if request.method == "GET" else None)
    if request.method == "GET":
        form.version.data = patient.version
        return render_template("patients/form.html", form=form, patient=patient, duplicates=[]), 200
    status = 400
    if form.validate_on_submit():

        def show(error: ClinicError) -> None:
            if isinstance(error, VersionConflictError):
                flash(f"{error} Compare with the saved record below, then save again.", "error")
            else:
                show_error(form, error)

        saved = attempt(show, services.update_patient, patient, _details(form),
                        expected_version=submitted_version(form.version))
        if saved.ok:
            flash("Patient details saved.", "success")
            return redirect(url_for("patients.show_chart", patient_id=patient.id))
        if saved.conflict:
            db.session.refresh(patient)
            form.version.data = patient.version
            return render_template("patients/form.html", form=form, patient=patient, duplicates=[],
                                   saved=patient), 409
    return render_template("patients/form.html", form=form, patient=patient, duplicates=[]), status


@bp.post("/<int:patient_id>/void")
def void(patient_id: int) -> Response | tuple[str, int]:
    """Void a patient registered in error. Nothing is deleted."""
    patient = db.get_or_404(Patient, patient_id)
    return void_from_form(
        patient, done=f"{patient.full_name}'s record is voided (registered in error). It stays on record.",
        missing_reason="Give the reason for voiding this record.",
        back=url_for("patients.show_chart", patient_id=patient.id))


# --- medical history ------------------------------------------------------------------


def _history_choices(form: HistoryForm) -> None:
    conditions = db.session.scalars(sa.select(Condition).where(Condition.active.is_(True))
                                    .order_by(Condition.sort_order))
    form.condition_codes.choices = [SelectChoice(c.code, c.name) for c in conditions]
    ingredients = db.session.scalars(sa.select(Ingredient).where(Ingredient.retired_at.is_(None))
                                     .order_by(Ingredient.name))
    form.allergy_ingredient_ids.choices = [SelectChoice(i.id, i.name) for i in ingredients]


def _fill_history_form(form: HistoryForm, version: HistoryVersion | None) -> None:
    entry = services.history_input_from(version)
    form.condition_codes.data = list(entry.condition_codes)
    form.allergy_ingredient_ids.data = list(entry.allergy_ingredient_ids)
    form.other_allergies.data = "\n".join(entry.other_allergies)
    form.pregnancy.data, form.breastfeeding.data = entry.pregnancy, entry.breastfeeding
    form.notes.data = entry.notes
    while form.medications.entries:
        form.medications.pop_entry()
    for medication in [*entry.medications, *([None] * EXTRA_ROWS)]:
        form.medications.append_entry(
            {"name": medication.name, "anticoagulant": medication.anticoagulant} if medication else None)
    while form.treatments.entries:
        form.treatments.pop_entry()
    for treatment in [*entry.treatments, *([None] * EXTRA_ROWS)]:
        form.treatments.append_entry(
            {"kind": treatment.kind, "treated_on": treatment.treated_on, "note": treatment.note}
            if treatment else None)
    form.based_on.data = version.number if version else 0


def _history_input(form: HistoryForm) -> services.HistoryInput:
    treatments = []
    for row in form.treatments.entries:
        kind, treated_on = row.form.kind.data, row.form.treated_on.data
        if not kind and treated_on is None:
            continue
        if not kind or treated_on is None:
            raise FieldError("treatments", "Give both the kind and the date of each recent treatment.")
        treatments.append(services.TreatmentInput(kind, treated_on, row.form.note.data or ""))
    return services.HistoryInput(
        condition_codes=form.condition_codes.data or [],
        medications=[services.MedicationInput(r.form.name.data or "", bool(r.form.anticoagulant.data))
                     for r in form.medications.entries],
        allergy_ingredient_ids=form.allergy_ingredient_ids.data or [],
        other_allergies=(form.other_allergies.data or "").splitlines(),
        pregnancy=form.pregnancy.data, breastfeeding=form.breastfeeding.data,
        treatments=treatments, notes=form.notes.data or "", change_note=form.change_note.data or "",
    )


def _record_history(patient: Patient, form: HistoryForm) -> HistoryVersion:
    return services.record_history(patient, _history_input(form), current_user,
                                   based_on=int(form.based_on.data or 0))


@bp.route("/<int:patient_id>/history", methods=["GET", "POST"])
def edit_history(patient_id: int) -> Response | tuple[str, int]:
    """Record the medical history; each save is a new version, the old ones stay readable."""
    patient = db.get_or_404(Patient, patient_id)
    current = services.current_history(patient)
    form = HistoryForm()
    _history_choices(form)
    if request.method == "GET":
        _fill_history_form(form, current)
        return render_template("patients/history_form.html", form=form, patient=patient, current=current,
                               treatment_kinds=TREATMENT_KINDS), 200
    action = request.form.get("action", "save")
    if action in ("add_medication", "add_treatment"):
        # Posting back for another row saves nothing; what was typed stays.
        (form.medications if action == "add_medication" else form.treatments).append_entry()
        for each in form:
            each.errors = []
        # The new row takes the focus, so typing goes on there rather than at the top of the page.
        return render_template("patients/history_form.html", form=form, patient=patient, current=current,
                               treatment_kinds=TREATMENT_KINDS, added=action.removeprefix("add_")), 200
    status = 400
    if form.validate_on_submit():

        def show(error: ClinicError) -> None:
            if not isinstance(error, VersionConflictError):  # worded below, with the version saved meanwhile
                show_error(form, error)

        saved = attempt(show, _record_history, patient, form)
        if saved.ok:
            flash(f"Medical history saved as version {saved.value.number}.", "success")
            return redirect(return_to() or url_for("patients.show_chart", patient_id=patient.id))
        if saved.conflict:
            db.session.expire_all()
            current = services.current_history(patient)
            flash(f"Someone saved version {current.number if current else 0} of this history while you were "
                  "editing. Your entries are still in the form, but they do not include that version's changes, "
                  "shown above the form: add them to your entries, then save.", "error")
            form.based_on.data = current.number if current else 0
            status = 409
            return render_template("patients/history_form.html", form=form, patient=patient, current=current,
                                   treatment_kinds=TREATMENT_KINDS, saved=current), status
    return render_template("patients/history_form.html", form=form, patient=patient, current=current,
                           treatment_kinds=TREATMENT_KINDS), status


@bp.get("/<int:patient_id>/history/<int:number>")
def show_history(patient_id: int, number: int) -> str:
    """The history exactly as it stood at one version (what a screening was checked against)."""
    patient = db.get_or_404(Patient, patient_id)
    version = db.session.scalar(sa.select(HistoryVersion).where(
        HistoryVersion.patient_id == patient.id, HistoryVersion.number == number))
    if version is None:
        abort(404)
    record_chart_read(patient)
    return render_template("patients/history.html", patient=patient, version=version,
                           latest=services.current_history(patient))


# --- patch tests -------------------------------------------------------------------------


def _substance_choices(form: PatchTestForm) -> None:
    products = db.session.scalars(sa.select(Product).where(Product.retired_at.is_(None)).order_by(Product.name))
    ingredients = db.session.scalars(sa.select(Ingredient).where(Ingredient.retired_at.is_(None))
                                     .order_by(Ingredient.name))
    form.substance.choices = [SelectChoice("", "Choose…")] + [
        SelectChoice(f"product:{p.id}", p.name, optgroup="Products") for p in products
    ] + [SelectChoice(f"ingredient:{i.id}", i.name, optgroup="Ingredients") for i in ingredients]


@bp.route("/<int:patient_id>/patch-tests/new", methods=["GET", "POST"])
def new_patch_test(patient_id: int) -> Response | tuple[str, int]:
    """Record a patch test applied to the patient."""
    patient = db.get_or_404(Patient, patient_id)
    form = PatchTestForm()
    _substance_choices(form)
    if request.method == "GET":
        form.applied_at.data = form_now()
        return render_template("patients/patch_test_form.html", form=form, patient=patient), 200
    if form.validate_on_submit():
        kind, _, raw_id = form.substance.data.partition(":")
        product = db.session.get(Product, int(raw_id)) if kind == "product" else None
        ingredient = db.session.get(Ingredient, int(raw_id)) if kind == "ingredient" else None
        if attempt(form, services.record_patch_test, patient, current_user, product=product, ingredient=ingredient,
                   applied_at=local_to_utc(form.applied_at.data)).ok:
            flash("Patch test recorded. Read it in 24 to 48 hours.", "success")
            return redirect(return_to() or url_for("patients.show_chart", patient_id=patient.id))
    return render_template("patients/patch_test_form.html", form=form, patient=patient), 400


@bp.route("/<int:patient_id>/patch-tests/<int:test_id>/read", methods=["GET", "POST"])
def read_patch_test(patient_id: int, test_id: int) -> Response | tuple[str, int]:
    """Record the reading; a positive result adds the allergy to the history."""
    patient = db.get_or_404(Patient, patient_id)
    test = db.first_or_404(sa.select(PatchTest).filter_by(id=test_id, patient_id=patient.id))
    form = PatchReadingForm()
    if request.method == "GET":
        form.read_at.data = form_now()
        return render_template("patients/patch_reading_form.html", form=form, patient=patient, test=test), 200
    if form.validate_on_submit():
        read = attempt(form, services.read_patch_test, test, form.result.data, form.notes.data, current_user,
                       read_at=local_to_utc(form.read_at.data))
        if read.ok:
            version = read.value
            if version is not None:
                flash(f"Positive result recorded; the allergy is now in the history (version {version.number}).",
                      "warning")
            else:
                flash("Negative result recorded.", "success")
            return redirect(url_for("patients.show_chart", patient_id=patient.id))
    return render_template("patients/patch_reading_form.html", form=form, patient=patient, test=test), 400
