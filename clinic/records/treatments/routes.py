"""Courses, the session form (the doctor's main screen), signing, amendments and the aftercare sheet."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from clinic.audit.services import record_chart_read, record_event
from clinic.auth.forms import ActionForm
from clinic.auth.models import User
from clinic.auth.services import ReauthenticationFailed
from clinic.core.errors import ClinicError, FieldError, VersionConflictError
from clinic.core.forms import local_to_utc, show_error
from clinic.core.pdf import pdf_response
from clinic.core.services import check_version
from clinic.extensions import db
from clinic.inventory.models import Lot, Product
from clinic.inventory.services import lot_statuses, stock_query, stock_rows
from clinic.records.catalogue.models import Area, Indication
from clinic.records.patients.models import Patient
from clinic.records.treatments import services
from clinic.records.treatments.forms import (
    AmendForm,
    CourseForm,
    SessionForm,
    SignForm,
    StopCourseForm,
    VoidSessionForm,
)
from clinic.records.treatments.models import (
    SKIN_PREPARATIONS,
    TECHNIQUES,
    Amendment,
    Course,
    InjectionLog,
    Preparation,
    PreparationComponent,
    TreatmentSession,
)

bp = Blueprint("treatments", __name__)


# --- courses -------------------------------------------------------------------------------------


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
        form.starts_on.data = date.today()
        if request.args.get("indication"):
            form.indication_code.data = request.args["indication"]
        return render_template("treatments/course_form.html", form=form, patient=patient), 200
    if form.validate_on_submit():
        try:
            course = services.plan_course(patient, services.CourseInput(
                indication_code=form.indication_code.data, area_codes=form.area_codes.data,
                planned_sessions=form.planned_sessions.data, interval_days=form.interval_days.data,
                product_ids=form.product_ids.data or [], goals=form.goals.data or "",
                baseline_notes=form.baseline_notes.data or "", starts_on=form.starts_on.data,
            ), current_user)
        except ClinicError as error:
            db.session.rollback()
            show_error(form, error)
        else:
            db.session.commit()
            flash(f"Course planned: {course.planned_sessions} sessions, at least {course.interval_days} days apart.",
                  "success")
            return redirect(url_for("treatments.show_course", course_id=course.id))
    return render_template("treatments/course_form.html", form=form, patient=patient), 400


@bp.get("/courses/<int:course_id>")
def show_course(course_id: int) -> str:
    """The course: progress, next due date, every session in order."""
    course = db.get_or_404(Course, course_id)
    patient = course.patient
    record_chart_read(patient)
    db.session.commit()
    return render_template("treatments/course.html", course=course, patient=patient,
                           next_due=services.next_due(course), done=len(services.live_sessions(course)),
                           stop_form=StopCourseForm(formdata=None), action_form=ActionForm(), today=date.today())


@bp.post("/courses/<int:course_id>/stop")
def stop_course(course_id: int) -> Response:
    """End a course early, with the reason."""
    course = db.get_or_404(Course, course_id)
    form = StopCourseForm()
    if not form.validate_on_submit():
        flash("Say why the course stops early.", "error")
        return redirect(url_for("treatments.show_course", course_id=course.id))
    try:
        services.stop_course(course, form.reason.data)
    except ClinicError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash("Course stopped early.", "warning")
    return redirect(url_for("treatments.show_course", course_id=course.id))


@bp.post("/courses/<int:course_id>/complete")
def complete_course(course_id: int) -> Response:
    """Close a course whose sessions are done."""
    course = db.get_or_404(Course, course_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.complete_course(course)
    except ClinicError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash("Course completed.", "success")
    return redirect(url_for("treatments.show_course", course_id=course.id))


# --- the session form ------------------------------------------------------------------------------


def _lot_label(lot: Lot, on_hand: int) -> str:
    label = f"{lot.product.name} — lot {lot.lot_number}, exp. {lot.expiry_date:%d %b %Y}"
    return f"{label}, recalled {lot.recalled_at.astimezone():%d %b %Y}" if lot.recalled_at else f"{label}, {on_hand} left"


def _session_choices(form: SessionForm, course: Course, session: TreatmentSession | None) -> None:
    held = {c.lot_id for p in (session.preparations if session else []) for c in p.components}
    # What the doctor just chose stays chosen (and named) on a refused form, whatever its status now.
    held |= {c.form.lot_id.data for p in form.preparations.entries for c in p.form.components.entries
             if isinstance(c.form.lot_id.data, int)}
    if session and session.anaesthetic_lot_id:
        held.add(session.anaesthetic_lot_id)
    rows = stock_rows(stock_query().where(sa.or_(Lot.recalled_at.is_(None), Lot.id.in_(held)))
                      .order_by(Product.name, Lot.expiry_date))
    today = date.today()
    # Only lots a session may use (a draft keeps offering the lots it already holds, even if since recalled).
    offered = [r for r in rows if r.lot.id in held
               or lot_statuses(r.lot, today, r.on_hand) == ["available"]]
    creams = [r for r in offered if r.lot.product.kind == "anaesthetic_cream"]
    products = [r for r in offered if r.lot.product.kind != "anaesthetic_cream"]
    lot_choices = [SelectChoice("", "Choose a lot…")] + [SelectChoice(r.lot.id, _lot_label(r.lot, r.on_hand))
                                                         for r in products]
    form.anaesthetic_lot_id.choices = [SelectChoice("", "None")] + [
        SelectChoice(r.lot.id, _lot_label(r.lot, r.on_hand)) for r in creams]
    nurses = db.session.scalars(sa.select(User).where(User.role == "nurse", User.deactivated_at.is_(None))
                                .order_by(User.full_name))
    form.nurse_id.choices = [SelectChoice("", "None")] + [SelectChoice(n.id, n.full_name) for n in nurses]
    areas = list(db.session.scalars(sa.select(Area).where(Area.active.is_(True)).order_by(Area.sort_order)))
    planned = set(course.area_codes)
    area_choices = [SelectChoice("", "Choose…")] + [
        SelectChoice(a.code, a.name, optgroup="Planned for this course" if a.code in planned else "Other areas")
        for a in sorted(areas, key=lambda a: (a.code not in planned, a.sort_order))]
    preparation_choices = [SelectChoice("", "Choose…")] + [
        SelectChoice(index, f"{index + 1}. {entry.form.label.data or 'Preparation ' + str(index + 1)}")
        for index, entry in enumerate(form.preparations.entries)]
    for preparation in form.preparations.entries:
        for component in preparation.form.components.entries:
            component.form.lot_id.choices = lot_choices
    for injection in form.injections.entries:
        injection.form.area_code.choices = area_choices
        injection.form.preparation.choices = preparation_choices


def _session_data(session: TreatmentSession) -> dict[str, object]:
    """A draft's content in the form's shape, for editing."""
    preparation_index = {p.id: i for i, p in enumerate(session.preparations)}
    return {
        "performed_at": session.performed_at.astimezone().replace(tzinfo=None),
        "nurse_id": session.nurse_id, "skin_preparation": session.skin_preparation,
        "anaesthetic_lot_id": session.anaesthetic_lot_id, "anaesthetic_minutes": session.anaesthetic_minutes,
        "technique": session.technique, "needle_gauge": session.needle_gauge,
        "needle_length_mm": session.needle_length_mm, "notes": session.notes, "version": session.version,
        "preparations": [
            {"label": p.label, "components": [{"lot_id": c.lot_id, "units": c.units, "volume_ml": c.volume_ml}
                                              for c in p.components]}
            for p in session.preparations
        ],
        "injections": [
            {"area_code": i.area_code, "preparation": preparation_index.get(i.preparation_id),
             "technique": i.technique if i.technique != session.technique else "", "depth_mm": i.depth_mm,
             "volume_ml": i.volume_ml, "points": i.points, "needle_gauge": i.needle_gauge,
             "not_administered": not i.administered, "not_administered_reason": i.not_administered_reason or ""}
            for i in session.injections
        ],
    }


def _new_session_data(course: Course) -> dict[str, object]:
    """A new session starts from the last one's technique and needle, one row per planned area."""
    last = next((s for s in reversed(course.sessions) if not s.is_voided), None)
    data: dict[str, object] = {
        "performed_at": datetime.now().replace(second=0, microsecond=0),
        "injections": [{"area_code": code, "preparation": 0} for code in course.area_codes],
        "preparations": [{"label": "", "components": []}],
    }
    if last is not None:
        data.update(skin_preparation=last.skin_preparation, technique=last.technique,
                    needle_gauge=last.needle_gauge, needle_length_mm=last.needle_length_mm, nurse_id=last.nurse_id)
    return data


def _pad_rows(form: SessionForm) -> None:
    """Keep a few blank rows so a row can be added without scripts."""
    for preparation in form.preparations.entries:
        while len(preparation.form.components.entries) < 3:
            preparation.form.components.append_entry()
    blanks = sum(1 for e in form.injections.entries if not e.form.area_code.data)
    for _ in range(max(0, 1 - blanks)):
        form.injections.append_entry()


class _RowMap:
    """Form rows that hold something, and the form row each service index came from."""

    def __init__(self) -> None:
        self.preparations: list[int] = []
        self.injections: list[int] = []
        self.unmatched: tuple[str, str] | None = None  # a volume drawn with no lot: (row, message)


def _session_input(form: SessionForm) -> tuple[services.SessionInput, _RowMap]:
    rows = _RowMap()
    preparations: list[services.PreparationInput] = []
    compact: dict[int, int] = {}
    for form_index, entry in enumerate(form.preparations.entries):
        for component in entry.form.components.entries:
            if not component.form.lot_id.data and component.form.volume_ml.data:
                # Never drop what was drawn: a volume needs its lot, or to be cleared.
                rows.unmatched = (f"preparations-{form_index}",
                                  f"Choose the lot the {component.form.volume_ml.data.normalize():f} ml was drawn "
                                  "from, or clear that volume.")
        components = [
            services.ComponentInput(c.form.lot_id.data, c.form.volume_ml.data, c.form.units.data or 1)
            for c in entry.form.components.entries if c.form.lot_id.data
        ]
        if components:
            compact[form_index] = len(preparations)
            rows.preparations.append(form_index)
            preparations.append(services.PreparationInput(entry.form.label.data or "", components))
    injections: list[services.InjectionInput] = []
    for form_index, entry in enumerate(form.injections.entries):
        row = entry.form
        if not row.area_code.data:
            continue
        rows.injections.append(form_index)
        chosen = row.preparation.data
        injections.append(services.InjectionInput(
            area_code=row.area_code.data,
            preparation_index=compact.get(chosen, -1) if chosen is not None else None,
            technique=row.technique.data or "", depth_mm=row.depth_mm.data, volume_ml=row.volume_ml.data,
            points=row.points.data, needle_gauge=row.needle_gauge.data, administered=not row.not_administered.data,
            not_administered_reason=row.not_administered_reason.data or "",
        ))
    return services.SessionInput(
        performed_at=local_to_utc(form.performed_at.data), skin_preparation=form.skin_preparation.data,
        technique=form.technique.data, needle_gauge=form.needle_gauge.data,
        needle_length_mm=form.needle_length_mm.data, preparations=preparations, injections=injections,
        nurse_id=form.nurse_id.data, anaesthetic_lot_id=form.anaesthetic_lot_id.data,
        anaesthetic_minutes=form.anaesthetic_minutes.data, notes=form.notes.data or "",
        acknowledged=form.acknowledged.data or [],
    ), rows


def _row_error(error: FieldError, rows: _RowMap) -> tuple[str, str] | None:
    """Translate "injections-2" (the service's index) into the form row it came from."""
    kind, _, index = error.field.partition("-")
    if kind not in ("preparations", "injections"):
        return None
    if not index.isdigit():  # about the rows as a whole ("record what was drawn up"): shown on the first
        return f"{kind}-0", str(error)
    mapping = rows.preparations if kind == "preparations" else rows.injections
    position = int(index)
    form_index = mapping[position] if position < len(mapping) else position
    return f"{kind}-{form_index}", str(error)


def _session_page(form: SessionForm, course: Course, session: TreatmentSession | None, status: int, **context):  # noqa: ANN003, ANN202
    _pad_rows(form)
    _session_choices(form, course, session)
    areas = list(db.session.scalars(sa.select(Area).where(Area.active.is_(True)).order_by(Area.sort_order)))
    return render_template(
        "treatments/session_form.html", form=form, course=course, session=session,
        patient=course.patient, areas=areas, reasons=context.get("reasons", []),
        warnings=context.get("warnings", []), row_errors=context.get("row_errors", {}),
    ), status


def _handle_session_post(course: Course, session: TreatmentSession | None) -> Response | tuple[str, int]:
    form = SessionForm()
    action = request.form.get("action", "save")
    if action in ("add_injection", "add_preparation"):
        # Posting back for another row saves nothing.
        (form.injections if action == "add_injection" else form.preparations).append_entry()
        for field in form:
            field.errors = []
        return _session_page(form, course, session, 200)
    _session_choices(form, course, session)
    if not form.validate_on_submit():
        return _session_page(form, course, session, 400)
    entry, rows = _session_input(form)
    if rows.unmatched:
        return _session_page(form, course, session, 400, row_errors=dict([rows.unmatched]))
    try:
        if session is not None:
            check_version(session, form.version.data)
        saved = services.save_session(course, entry, current_user, session=session)
    except VersionConflictError:
        db.session.rollback()
        flash("Another doctor saved this draft while you were editing it. Your entries are still in the form; "
              "open the session in another tab to compare, then save again.", "error")
        form.version.data = session.version if session else ""
        return _session_page(form, course, session, 409)
    except services.SessionRefused as refused:
        db.session.rollback()
        return _session_page(form, course, session, 400, reasons=refused.reasons)
    except services.NeedsAcknowledgement as asked:
        db.session.rollback()
        return _session_page(form, course, session, 400, warnings=asked.warnings)
    except FieldError as error:
        db.session.rollback()
        located = _row_error(error, rows)
        if located:
            return _session_page(form, course, session, 400, row_errors=dict([located]))
        show_error(form, error)
        return _session_page(form, course, session, 400)
    except ClinicError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _session_page(form, course, session, 400)
    db.session.commit()
    flash(f"Session {saved.number} saved as a draft. Check it, then sign it.", "success")
    return redirect(url_for("treatments.show_session", session_id=saved.id))


@bp.route("/courses/<int:course_id>/sessions/new", methods=["GET", "POST"])
def new_session(course_id: int) -> Response | tuple[str, int]:
    """Log a session: what was drawn up, and what was injected where. The gate runs before saving."""
    course = db.get_or_404(Course, course_id)
    if course.status in ("completed", "stopped"):
        flash(f"This course is {course.status_label.lower()}; no more sessions can be added.", "error")
        return redirect(url_for("treatments.show_course", course_id=course.id))
    if request.method == "GET":
        form = SessionForm(formdata=None, data=_new_session_data(course))
        return _session_page(form, course, None, 200)
    return _handle_session_post(course, None)


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
def edit_session(session_id: int) -> Response | tuple[str, int]:
    """Change a draft; a signed session is amended instead."""
    session = db.get_or_404(TreatmentSession, session_id)
    if session.is_signed or session.is_voided:
        flash("A signed or voided session cannot be edited; a signed one is corrected by an amendment.", "error")
        return redirect(url_for("treatments.show_session", session_id=session.id))
    if request.method == "GET":
        return _session_page(SessionForm(formdata=None, data=_session_data(session)), session.course, session, 200)
    return _handle_session_post(session.course, session)


# --- the session page, signing, amendments -----------------------------------------------------------


def _amendable_targets(session: TreatmentSession) -> list[SelectChoice]:
    choices = [SelectChoice(f"session:{name}", f"Session — {label}")
               for name, label in services.AMENDABLE_SESSION_FIELDS.items()]
    for injection in session.injections:
        if not injection.administered:
            continue
        for name, label in services.AMENDABLE_INJECTION_FIELDS.items():
            choices.append(SelectChoice(f"injection:{injection.id}:{name}", f"{injection.area.name} — {label}"))
    return choices


def _session_view(session: TreatmentSession, **forms) -> str:  # noqa: ANN003
    patient = session.course.patient
    amended = {}
    for amendment in session.amendments:
        amended.setdefault((amendment.target, amendment.field), []).append(amendment)
    return render_template(
        "treatments/session.html", session=session, course=session.course, patient=patient,
        intact=services.signature_intact(session) if session.is_signed else None, amended=amended,
        sign_form=forms.get("sign_form") or SignForm(formdata=None),
        void_form=forms.get("void_form") or VoidSessionForm(formdata=None),
        skin_preparations=SKIN_PREPARATIONS, techniques=TECHNIQUES,
        field_labels={**services.AMENDABLE_SESSION_FIELDS, **services.AMENDABLE_INJECTION_FIELDS},
        target_areas={f"injection:{i.id}": i.area.name for i in session.injections},
    )


@bp.get("/sessions/<int:session_id>")
def show_session(session_id: int) -> str:
    """Everything recorded, the signature (and "altered" if the content changed), amendments beside the original."""
    session = db.session.scalar(
        sa.select(TreatmentSession).where(TreatmentSession.id == session_id).options(
            selectinload(TreatmentSession.injections).selectinload(InjectionLog.area),
            selectinload(TreatmentSession.injections).selectinload(InjectionLog.preparation),
            selectinload(TreatmentSession.preparations).selectinload(Preparation.components)
            .selectinload(PreparationComponent.lot).selectinload(Lot.product),
            selectinload(TreatmentSession.amendments).selectinload(Amendment.amended_by),
            selectinload(TreatmentSession.signature), selectinload(TreatmentSession.doctor),
            selectinload(TreatmentSession.nurse), selectinload(TreatmentSession.anaesthetic_lot),
        ))
    if session is None:
        abort(404)
    record_chart_read(session.course.patient)
    db.session.commit()
    return _session_view(session)


@bp.post("/sessions/<int:session_id>/sign")
def sign(session_id: int) -> Response | tuple[str, int]:
    """The performing doctor signs with their password; the session is then locked."""
    session = db.get_or_404(TreatmentSession, session_id)
    form = SignForm()
    if form.validate_on_submit():
        try:
            services.sign_session(session, current_user, form.password.data, form.code.data or None)
        except ReauthenticationFailed as error:
            db.session.commit()  # keeps the audit row of the failed attempt; nothing else was written
            form.password.errors = [str(error)]
        except ClinicError as error:
            db.session.rollback()
            flash(str(error), "error")
            return redirect(url_for("treatments.show_session", session_id=session.id))
        else:
            db.session.commit()
            flash(f"Session {session.number} signed and locked. Follow-up calls are scheduled.", "success")
            return redirect(url_for("treatments.show_session", session_id=session.id))
    return _session_view(session, sign_form=form), 400


@bp.route("/sessions/<int:session_id>/amend", methods=["GET", "POST"])
def amend(session_id: int) -> Response | tuple[str, int]:
    """Correct a signed session: the original stays, the amendment sits beside it."""
    session = db.get_or_404(TreatmentSession, session_id)
    if not session.is_signed:
        flash("A draft is edited, not amended.", "error")
        return redirect(url_for("treatments.show_session", session_id=session.id))
    form = AmendForm()
    form.target_field.choices = [SelectChoice("", "Choose…"), *_amendable_targets(session)]
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            kind, _, rest = form.target_field.data.partition(":")
            target, name = ("session", rest) if kind == "session" else (f"injection:{rest.split(':')[0]}",
                                                                        rest.split(":")[-1])
            try:
                services.amend_session(session, current_user, target, name, form.new_value.data, form.reason.data,
                                       form.password.data, form.code.data or None)
            except ReauthenticationFailed as error:
                db.session.commit()
                form.password.errors = [str(error)]
            except FieldError as error:
                db.session.rollback()
                (form.target_field if error.field == "field" else form.new_value if error.field == "new_value"
                 else form.reason).errors = [str(error)]
            except ClinicError as error:
                db.session.rollback()
                flash(str(error), "error")
            else:
                db.session.commit()
                flash("Amendment recorded beside the original.", "success")
                return redirect(url_for("treatments.show_session", session_id=session.id))
    return render_template("treatments/amend.html", form=form, session=session,
                           patient=session.course.patient), status


@bp.post("/sessions/<int:session_id>/void")
def void(session_id: int) -> Response | tuple[str, int]:
    """Void a session entered in error; it stays on record and in traces."""
    session = db.get_or_404(TreatmentSession, session_id)
    form = VoidSessionForm()
    if form.validate_on_submit():
        try:
            services.void_session(session, current_user, form.reason.data)
        except ClinicError as error:
            db.session.rollback()
            flash(str(error), "error")
            return redirect(url_for("treatments.show_session", session_id=session.id))
        db.session.commit()
        flash(f"Session {session.number} voided. It stays on record, marked voided.", "warning")
        return redirect(url_for("treatments.show_session", session_id=session.id))
    return _session_view(session, void_form=form), 400


# --- aftercare -----------------------------------------------------------------------------------


def _aftercare_context(session: TreatmentSession) -> dict[str, object]:
    components = db.session.scalars(
        sa.select(PreparationComponent).join(Preparation).where(Preparation.session_id == session.id)
    ).all()
    products = sorted({(c.lot.product.name, c.lot.lot_number) for c in components})
    areas = sorted({i.area.name for i in session.injections if i.administered})
    return {"session": session, "patient": session.course.patient, "products": products,
            "areas": areas, "items": services.aftercare(session.performed_at),
            "contact": current_app.config["CLINIC_SIDE_EFFECTS_CONTACT"]}


@bp.get("/sessions/<int:session_id>/aftercare")
def aftercare(session_id: int) -> str:
    """The patient's aftercare sheet with real dates, printable."""
    session = db.get_or_404(TreatmentSession, session_id)
    record_chart_read(session.course.patient)
    db.session.commit()
    return render_template("treatments/aftercare.html", **_aftercare_context(session))


@bp.get("/sessions/<int:session_id>/aftercare.pdf")
def aftercare_pdf(session_id: int) -> Response:
    """The aftercare sheet as a PDF to hand or send to the patient."""
    session = db.get_or_404(TreatmentSession, session_id)
    record_event("export", record_type="treatment_session", record_id=session.id, reason="aftercare PDF")
    db.session.commit()
    context = _aftercare_context(session)
    html = render_template("treatments/aftercare_pdf.html", **context)
    return pdf_response(html, f"aftercare-{context['patient'].record_number}-{session.number}.pdf")
