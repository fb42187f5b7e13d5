"""Recording and correcting a course's measures, the course report (page and PDF), and the measure catalogue."""

from __future__ import annotations

import base64

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from clinic.audit.services import record_chart_read, record_event
from clinic.core.clock import clinic_today, in_clinic_zone
from clinic.core.forms import submitted_version
from clinic.core.pdf import pdf_response
from clinic.core.submissions import claim, done
from clinic.core.transaction import attempt
from clinic.core.views import void_from_form
from clinic.extensions import db
from clinic.records.catalogue.models import Indication
from clinic.records.outcomes import services
from clinic.records.outcomes.forms import DefinitionForm, MeasuresForm, correction_form, measures_form
from clinic.records.outcomes.models import MeasureDefinition, OutcomeMeasure
from clinic.records.outcomes.report import CourseReport, course_for_report, load_course_report
from clinic.records.photos.storage import PhotoStoreError, photo_store
from clinic.records.treatments.models import Course

bp = Blueprint("outcomes", __name__)


# --- recording measures --------------------------------------------------------------------------


def _session_choices(form: MeasuresForm, course: Course) -> None:
    form.session_id.choices = [SelectChoice("", "None")] + [
        SelectChoice(s.id, f"Session {s.number} — {in_clinic_zone(s.performed_at):%d %b %Y}")
        for s in course.sessions if not s.is_voided]


def _values(form: MeasuresForm, definitions: list[MeasureDefinition]) -> list[services.MeasureValueInput]:
    values = [services.MeasureValueInput(d.code, getattr(form, f"value_{d.code}").data or "",
                                         getattr(getattr(form, f"site_{d.code}", None), "data", "") or "")
              for d in definitions]
    # A value for a measure the course's indication does not take (an old form, a crafted post) goes to the
    # service too, which refuses it by name rather than dropping it silently.
    known = {d.code for d in definitions}
    for name, value in request.form.items():
        code = name.removeprefix("value_")
        if name.startswith("value_") and code not in known and value.strip():
            values.append(services.MeasureValueInput(code, value))
    return values


@bp.route("/courses/<int:course_id>/measures/new", methods=["GET", "POST"])
def record_measures(course_id: int) -> Response | tuple[str, int]:
    """Record the measures of one occasion: baseline, a session, the end of the course, a maintenance visit."""
    course = db.get_or_404(Course, course_id)
    definitions = services.measures_for(course.indication_code)
    form = measures_form(definitions)
    _session_choices(form, course)
    if request.method == "POST":
        if form.validate_on_submit():
            if (first := claim(form.submission)) is not None:
                return first
            entry = services.MeasuresInput(timepoint=form.timepoint.data, measured_on=form.measured_on.data,
                                           session_id=form.session_id.data, values=_values(form, definitions))
            saved = attempt(form, services.record_measures, course, current_user, entry, today=clinic_today())
            if saved.ok:
                flash(f"{len(saved.value)} measure{'s' if len(saved.value) != 1 else ''} recorded.", "success")
                return done(form.submission, url_for("outcomes.course_report", course_id=course.id))
        status = 400
    else:
        record_chart_read(course.patient)
        form.timepoint.data = request.args.get("timepoint", "baseline")
        session_arg = request.args.get("session", "")
        form.session_id.data = int(session_arg) if session_arg.isdigit() else None
        form.measured_on.data = clinic_today()
        status = 200
    return render_template("outcomes/record.html", form=form, course=course, patient=course.patient,
                           definitions=definitions), status


@bp.route("/measures/<int:measure_id>/correct", methods=["GET", "POST"])
def correct_measure(measure_id: int) -> Response | tuple[str, int]:
    """Correct a value: the wrong one is voided with the reason, the right one replaces it."""
    measure = db.get_or_404(OutcomeMeasure, measure_id)
    form = correction_form(measure.definition)
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            saved = attempt(form, services.correct_measure, measure, current_user, value=form.value.data,
                            site=form.site.data or "", reason=form.reason.data,
                            expected_version=submitted_version(form.version))
            if saved.ok:
                flash(f"{measure.definition.name} corrected; the earlier value stays on record, voided.", "success")
                return redirect(url_for("outcomes.course_report", course_id=measure.course_id))
            if saved.conflict:
                status = 409
                form.version.data = measure.version
    else:
        record_chart_read(measure.course.patient)
        form.value.data = measure.value_text if measure.value_number is None else str(measure.value_number)
        form.site.data = measure.site
        form.version.data = measure.version
    return render_template("outcomes/correct.html", form=form, measure=measure, course=measure.course,
                           patient=measure.course.patient), status


@bp.post("/measures/<int:measure_id>/void")
def void_measure(measure_id: int) -> Response:
    """Void a value entered in error (kept, marked, left out of every figure)."""
    measure = db.get_or_404(OutcomeMeasure, measure_id)
    return void_from_form(measure, done="Value voided (kept on record, left out of the report).",
                          missing_reason="Give the reason for voiding this value.",
                          back=url_for("outcomes.course_report", course_id=measure.course_id))


# --- the course report ---------------------------------------------------------------------------


@bp.get("/courses/<int:course_id>/report")
def course_report(course_id: int) -> str:
    """Plan against what was done, products and lots, side effects, measures charted, photo pairs, status."""
    course, areas = course_for_report(course_id) or abort(404)
    record_chart_read(course.patient)
    report = load_course_report(course, clinic_today(), areas)
    return render_template("outcomes/report.html", report=report, course=course, patient=course.patient,
                           today=clinic_today())


def _embedded_thumbnails(report: CourseReport) -> dict[int, str]:
    """The photo pairs as data: URIs for the PDF (WeasyPrint fetches nothing, and these need a sign-in);
    each one put in the PDF is a view of that photo, audited."""
    store = photo_store()
    embedded = {}
    for pair in report.photo_pairs:
        for photo in (pair.first, pair.last):
            try:
                data = store.read(photo.thumbnail_key)
            except PhotoStoreError:
                current_app.logger.warning("photo %s: thumbnail missing from the store", photo.id)
                continue
            record_event("read_photo", record_type="photo", record_id=photo.id, reason="course report PDF")
            embedded[photo.id] = "data:image/jpeg;base64," + base64.b64encode(data).decode()
    return embedded


@bp.get("/courses/<int:course_id>/report.pdf")
def course_report_pdf(course_id: int) -> Response:
    """The course report as a PDF, with the same charts."""
    course, areas = course_for_report(course_id) or abort(404)
    record_event("export", record_type="course", record_id=course.id, reason="course report PDF")
    report = load_course_report(course, clinic_today(), areas)
    html = render_template("outcomes/report_pdf.html", report=report, course=course, patient=course.patient,
                           thumbnails=_embedded_thumbnails(report), today=clinic_today())
    return pdf_response(html, f"course-report-{course.patient.record_number}-{course.id}.pdf")


# --- the measure catalogue (admins) ----------------------------------------------------------------


def _definition_choices(form: DefinitionForm) -> None:
    indications = db.session.scalars(sa.select(Indication).order_by(Indication.sort_order))
    form.indication_codes.choices = [SelectChoice(i.code, i.name) for i in indications]


def _definition_input(form: DefinitionForm) -> services.DefinitionInput:
    return services.DefinitionInput(
        code=form.code.data or "", name=form.name.data or "", kind=form.kind.data, unit=form.unit.data or "",
        min_value=form.min_value.data, max_value=form.max_value.data,
        decimals=form.decimals.data if form.decimals.data is not None else 0,
        higher_is_better=bool(form.higher_is_better.data), how_to_measure=form.how_to_measure.data or "",
        every_indication=bool(form.every_indication.data), indication_codes=list(form.indication_codes.data or []),
        sort_order=form.sort_order.data if form.sort_order.data is not None else 100, active=bool(form.active.data))


@bp.route("/admin/outcome-measures", methods=["GET", "POST"])
def list_definitions() -> Response | tuple[str, int]:
    """The outcome measures the clinic takes, per indication; admins add to them."""
    form = DefinitionForm()
    _definition_choices(form)
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit() and attempt(form, services.save_definition, None, _definition_input(form)).ok:
            flash(f"{form.name.data} added.", "success")
            return redirect(url_for("outcomes.list_definitions"))
    definitions = db.session.scalars(sa.select(MeasureDefinition)
                                     .order_by(MeasureDefinition.sort_order, MeasureDefinition.name)).all()
    names = dict(db.session.execute(sa.select(Indication.code, Indication.name)).tuples().all())
    return render_template("outcomes/definitions.html", definitions=definitions, form=form,
                           indication_names=names), status


@bp.route("/admin/outcome-measures/<code>", methods=["GET", "POST"])
def edit_definition(code: str) -> Response | tuple[str, int]:
    """Change a measure's name, range, indications or whether it is in use; its code stays."""
    definition = db.get_or_404(MeasureDefinition, code)
    form = DefinitionForm(obj=definition if request.method == "GET" else None)
    _definition_choices(form)
    if request.method == "GET":
        form.indication_codes.data = definition.indication_codes
        return render_template("outcomes/definition_form.html", form=form, definition=definition), 200
    form.code.data = definition.code
    if form.validate_on_submit() and attempt(form, services.save_definition, definition,
                                             _definition_input(form)).ok:
        flash(f"{definition.name} saved.", "success")
        return redirect(url_for("outcomes.list_definitions"))
    return render_template("outcomes/definition_form.html", form=form, definition=definition), 400
