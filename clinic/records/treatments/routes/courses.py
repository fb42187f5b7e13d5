"""Planning a course, the course page, stopping and completing a course."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from clinic.audit.services import record_chart_read
from clinic.auth.forms import ActionForm
from clinic.core.clock import clinic_today
from clinic.core.submissions import claim, done
from clinic.core.transaction import attempt
from clinic.extensions import db
from clinic.inventory.models import Product
from clinic.records.catalogue.models import PROTOCOL_MEASURES, Area, Indication, ProtocolRange
from clinic.records.patients.models import Patient
from clinic.records.treatments import services
from clinic.records.treatments.forms import (
    CourseForm,
    NewProtocolRangeForm,
    ProtocolRangeForm,
    ReopenCourseForm,
    StopCourseForm,
)
from clinic.records.treatments.models import Course, CourseProduct, TreatmentSession
from clinic.records.treatments.routes.blueprint import bp


def _course_choices(form: CourseForm) -> None:
    indications = db.session.scalars(sa.select(Indication).where(Indication.active.is_(True))
                                     .order_by(Indication.sort_order))
    form.indication_code.choices = [SelectChoice("", "Choose…")] + [
        SelectChoice(i.code, f"{i.name} — {i.sessions_min}–{i.sessions_max} sessions, every "
                             f"{i.interval_min_days}–{i.interval_max_days} days") for i in indications]
    areas = db.session.scalars(sa.select(Area).where(Area.active.is_(True)).order_by(Area.sort_order))
    form.area_codes.choices = [SelectChoice(a.code, a.name, optgroup=a.region.title()) for a in areas]
    products = db.session.scalars(sa.select(Product).where(Product.retired_at.is_(None)).order_by(Product.name))
    form.product_ids.choices = [SelectChoice(p.id, p.name) for p in products]


@bp.route("/patients/<int:patient_id>/courses/new", methods=["GET", "POST"])
def new_course(patient_id: int) -> Response | tuple[str, int]:
    """Plan a course; sessions and interval default to the indication's protocol."""
    patient = db.get_or_404(Patient, patient_id)
    form = CourseForm()
    _course_choices(form)
    if request.method == "GET":
        form.starts_on.data = clinic_today()
        if request.args.get("indication"):
            form.indication_code.data = request.args["indication"]
        return render_template("treatments/course_form.html", form=form, patient=patient), 200
    if form.validate_on_submit():
        if (first := claim(form.submission)) is not None:
            return first
        planned = attempt(form, services.plan_course, patient, services.CourseInput(
            indication_code=form.indication_code.data, area_codes=form.area_codes.data,
            planned_sessions=form.planned_sessions.data, interval_days=form.interval_days.data,
            product_ids=form.product_ids.data or [], goals=form.goals.data or "",
            baseline_notes=form.baseline_notes.data or "", starts_on=form.starts_on.data,
        ), current_user)
        if planned.result is not None:
            course = planned.result
            flash(f"Course planned: {course.planned_sessions} sessions, at least {course.interval_days} days apart.",
                  "success")
            return done(form.submission, url_for("treatments.show_course", course_id=course.id))
    return render_template("treatments/course_form.html", form=form, patient=patient), 400


@bp.get("/courses/<int:course_id>")
def show_course(course_id: int) -> str:
    """The course: progress, next due date, every session in order."""
    # unique(): the course's areas and planned products come joined, a row each.
    course = db.session.scalars(sa.select(Course).where(Course.id == course_id).options(
        joinedload(Course.patient), joinedload(Course.indication), joinedload(Course.area_links),
        joinedload(Course.planned_products).joinedload(CourseProduct.product),
        selectinload(Course.sessions).options(
            joinedload(TreatmentSession.doctor), joinedload(TreatmentSession.signature),
            selectinload(TreatmentSession.injections)))).unique().one_or_none() \
        or abort(404)
    patient = course.patient
    record_chart_read(patient)
    return render_template("treatments/course.html", course=course, patient=patient,
                           next_due=services.next_due(course), done=len(services.live_sessions(course)),
                           stop_form=StopCourseForm(formdata=None), action_form=ActionForm(), today=clinic_today(),
                           reopen_form=ReopenCourseForm(formdata=None),
                           readiness=services.course_readiness(course)
                           if course.status in ("planned", "active") else None)


@bp.post("/courses/<int:course_id>/stop")
def stop_course(course_id: int) -> Response:
    """End a course early, with the reason."""
    course = db.get_or_404(Course, course_id)
    form = StopCourseForm()
    if not form.validate_on_submit():
        flash("Say why the course stops early.", "error")
    elif attempt(None, services.stop_course, course, form.reason.data).ok:
        flash("Course stopped early.", "warning")
    return redirect(url_for("treatments.show_course", course_id=course.id))


@bp.post("/courses/<int:course_id>/reopen")
def reopen_course(course_id: int) -> Response:
    """Reopen a course completed too soon, with the reason."""
    course = db.get_or_404(Course, course_id)
    form = ReopenCourseForm()
    if not form.validate_on_submit():
        flash("Say why the course is reopened.", "error")
    elif attempt(None, services.reopen_course, course, current_user, form.reason.data).ok:
        flash("Course reopened: sessions can be logged in it again.", "success")
    return redirect(url_for("treatments.show_course", course_id=course.id))


@bp.post("/courses/<int:course_id>/complete")
def complete_course(course_id: int) -> Response:
    """Close a course whose sessions are done."""
    course = db.get_or_404(Course, course_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if attempt(None, services.complete_course, course).ok:
        # Completing a course asks for its end-of-course measures: the course report compares them with baseline.
        flash("Course completed. Now record the end-of-course measures.", "success")
        return redirect(url_for("outcomes.record_measures", course_id=course.id, timepoint="end"))
    return redirect(url_for("treatments.show_course", course_id=course.id))


@bp.get("/admin/protocol-ranges")
def list_protocol_ranges() -> str:
    """The usual ranges at the chair, as the session form hints and warns with them."""
    rows = db.session.scalars(sa.select(ProtocolRange).order_by(
        ProtocolRange.measure, ProtocolRange.indication_code.is_not(None), ProtocolRange.indication_code,
        ProtocolRange.area_code)).all()
    indications = dict(db.session.execute(sa.select(Indication.code, Indication.name)).tuples().all())
    areas = dict(db.session.execute(sa.select(Area.code, Area.name)).tuples().all())
    return render_template("treatments/protocol_ranges.html", rows=rows, indications=indications, areas=areas)


def _range_choices(form: NewProtocolRangeForm) -> None:
    form.measure.choices = [SelectChoice("", "Choose…")] + [
        SelectChoice(code, f"{label} ({unit})") for code, (label, unit) in PROTOCOL_MEASURES.items()]
    form.indication_code.choices = [SelectChoice("", "Any indication")] + [
        SelectChoice(i.code, i.name) for i in db.session.scalars(
            sa.select(Indication).where(Indication.active.is_(True)).order_by(Indication.sort_order))]
    form.area_code.choices = [SelectChoice("", "Any area")] + [
        SelectChoice(a.code, a.name) for a in db.session.scalars(
            sa.select(Area).where(Area.active.is_(True)).order_by(Area.sort_order))]


@bp.route("/admin/protocol-ranges/new", methods=["GET", "POST"])
def new_protocol_range() -> Response | tuple[str, int]:
    """An admin adds a usual range: for a measure, and an indication or an area when it is narrower."""
    form = NewProtocolRangeForm()
    _range_choices(form)
    if request.method == "GET":
        form.active.data = True
        return render_template("treatments/protocol_range_new.html", form=form), 200
    if form.validate_on_submit():
        if (first := claim(form.submission)) is not None:
            return first
        entry = services.ProtocolRangeInput(
            measure=form.measure.data, low=form.low.data, high=form.high.data,
            indication_code=form.indication_code.data or None, area_code=form.area_code.data or None,
            source=form.source.data or "", active=bool(form.active.data))
        added = attempt(form, services.add_protocol_range, entry)
        if added.ok:
            flash(f"{added.value.label} range added: {added.value.text}.", "success")
            return done(form.submission, url_for("treatments.list_protocol_ranges"))
    return render_template("treatments/protocol_range_new.html", form=form), 400


@bp.route("/admin/protocol-ranges/<int:range_id>", methods=["GET", "POST"])
def edit_protocol_range(range_id: int) -> Response | tuple[str, int]:
    """An admin corrects a usual range; the audit trail keeps the one before."""
    row = db.get_or_404(ProtocolRange, range_id)
    form = ProtocolRangeForm(obj=row if request.method == "GET" else None)
    if request.method == "POST":
        if form.validate_on_submit() and attempt(form, services.save_protocol_range, row, form.low.data,
                                                 form.high.data, bool(form.active.data)).ok:
            flash(f"{row.label} range saved: {row.text}.", "success")
            return redirect(url_for("treatments.list_protocol_ranges"))
        return render_template("treatments/protocol_range_form.html", form=form, row=row), 400
    return render_template("treatments/protocol_range_form.html", form=form, row=row), 200
