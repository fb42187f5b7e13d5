"""The session form, the doctor's main screen: what was drawn up, and what was injected where."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.strategy_options import _AbstractLoad
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from clinic.auth.models import Role, User
from clinic.core.clock import clinic_today, form_now, in_clinic_zone
from clinic.core.errors import ClinicError, FieldError, VersionConflictError
from clinic.core.forms import local_to_utc, show_error, submitted_version
from clinic.core.lists import Listing, ListsQuery
from clinic.core.submissions import claim, remember
from clinic.core.transaction import run_service
from clinic.extensions import db
from clinic.inventory.services import ShelfLot, lots_on_the_shelf
from clinic.records.catalogue.models import Area, area_catalogue
from clinic.records.followups.queries import after_previous_session
from clinic.records.treatments import services
from clinic.records.treatments.forms import SessionForm
from clinic.records.treatments.models import (
    Course,
    InjectionLog,
    Preparation,
    PreparationComponent,
    TreatmentSession,
)
from clinic.records.treatments.routes.blueprint import bp


def _course_shown() -> tuple[_AbstractLoad, ...]:
    """What the form shows of its course (the patient, the last session's settings, the planned products),
    loaded with it rather than a row at a time. Built per call: loader options built at import would
    configure the mappers before the audit's listeners are attached to them."""
    return (joinedload(Course.patient), joinedload(Course.indication), joinedload(Course.area_links),
            joinedload(Course.planned_products),
            selectinload(Course.sessions).joinedload(TreatmentSession.signature))


def _lot_label(lot: ShelfLot) -> str:
    label = f"{lot.product_name} — lot {lot.lot_number}, exp. {lot.expiry_date:%d %b %Y}"
    if lot.recalled_at:
        return f"{label}, recalled {in_clinic_zone(lot.recalled_at):%d %b %Y}"
    if lot.quarantined:  # only a draft that holds it still offers it: say why saving will refuse it
        return f"{label}, quarantined"
    return f"{label}, {lot.units_on_hand} left"


def _session_choices(form: SessionForm, course: Course, session: TreatmentSession | None, areas: list[Area],
                     *, shown: bool = True) -> None:
    """The form's choices. ``shown=False`` for a submitted form about to be checked: its chosen lots are
    choices whatever their status (the service says why one cannot be used), so the rest of the shelf,
    hundreds of lots, is read only when the form is shown again."""
    held = {c.lot_id for p in (session.preparations if session else []) for c in p.components}
    # What the doctor just chose stays chosen (and named) on a refused form, whatever its status now.
    held |= {c.form.lot_id.data for p in form.preparations.entries for c in p.form.components.entries
             if isinstance(c.form.lot_id.data, int)}
    if isinstance(form.anaesthetic_lot_id.data, int):
        held.add(form.anaesthetic_lot_id.data)
    if session and session.anaesthetic_lot_id:
        held.add(session.anaesthetic_lot_id)
    # Lots a session may use, by their kept count of units on hand (a chain's years of used-up lots are never
    # summed; saving counts the chosen lots' rows exactly), and the lots the draft holds whatever their status.
    offered = lots_on_the_shelf(clinic_today(), also=held, usable=shown)
    creams = [lot for lot in offered if lot.product_kind == "anaesthetic_cream"]
    products = [lot for lot in offered if lot.product_kind != "anaesthetic_cream"]
    lot_choices = [SelectChoice("", "Choose a lot…")] + [SelectChoice(lot.id, _lot_label(lot)) for lot in products]
    form.anaesthetic_lot_id.choices = [SelectChoice("", "None")] + [
        SelectChoice(lot.id, _lot_label(lot)) for lot in creams]
    nurses = db.session.scalars(sa.select(User).where(User.role == Role.NURSE, User.deactivated_at.is_(None))
                                .order_by(User.full_name))
    form.nurse_id.choices = [SelectChoice("", "None")] + [SelectChoice(n.id, n.full_name) for n in nurses]
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


def _active_areas() -> list[Area]:
    return sorted((area for area in area_catalogue().values() if area.active), key=lambda area: area.sort_order)


def _session_data(session: TreatmentSession) -> dict[str, object]:
    """A draft's content in the form's shape, for editing."""
    preparation_index: dict[int | None, int] = {p.id: i for i, p in enumerate(session.preparations)}
    return {
        "performed_at": in_clinic_zone(session.performed_at).replace(tzinfo=None),
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
    order = area_catalogue()
    data: dict[str, object] = {
        "performed_at": form_now(),
        # In the catalogue's order (top of the face down), as the course page and the area choices list them.
        "injections": [{"area_code": code, "preparation": 0} for code in sorted(
            course.area_codes, key=lambda code: (order[code].sort_order if code in order else 1 << 30, code))],
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
    areas = _active_areas()
    _session_choices(form, course, session, areas)
    # What followed the previous session, for the doctor to read before starting this one.
    previous, after_previous = after_previous_session(session or course)
    readiness = services.session_readiness(session) if session else services.course_readiness(course)
    ranges = services.protocol_ranges(course.indication_code)

    def usual_hint(measure: str, area: str | None = None, per: str = "") -> str | None:
        usual = services.usual_range(ranges, measure, area or None)
        return f"Usual: {usual.text}{per}." if usual else None

    return render_template(
        "treatments/session_form.html", form=form, course=course, session=session,
        patient=course.patient, areas=areas, reasons=context.get("reasons", []),
        warnings=context.get("warnings", []), row_errors=context.get("row_errors", {}),
        previous=previous, after_previous=after_previous, readiness=readiness, usual_hint=usual_hint,
        face_areas={a.code for a in areas if a.region == "face"}, area_names={a.code: a.name for a in areas},
        points_hint="Usual: 50–150 points for a full face, shared among its areas.",
        added=context.get("added"),
    ), status


def _handle_session_post(course: Course, session: TreatmentSession | None) -> Response | tuple[str, int]:
    form = SessionForm()
    action = request.form.get("action", "save")
    if action in ("add_injection", "add_preparation"):
        # Posting back for another row saves nothing.
        (form.injections if action == "add_injection" else form.preparations).append_entry()
        for field in form:
            field.errors = []
        # The new row takes the focus, so typing goes on there rather than at the top of the page.
        return _session_page(form, course, session, 200, added=action.removeprefix("add_"))
    _session_choices(form, course, session, _active_areas(), shown=False)
    if not form.validate_on_submit():
        return _session_page(form, course, session, 400)
    entry, rows = _session_input(form)
    if rows.unmatched:
        return _session_page(form, course, session, 400, row_errors=dict([rows.unmatched]))
    if session is None and (first := claim(form.submission)) is not None:
        return first
    outcome = run_service(services.save_draft, course, entry, current_user, session=session,
                          expected_version=submitted_version(form.version))
    if outcome.result is None:
        return _refused_session_page(outcome.error, form, course, session, rows)
    saved, blocks = outcome.result.session, outcome.result.readiness.reasons
    if blocks:
        flash(f"Session {saved.number} saved as a draft. It cannot be signed until this is in order: "
              + " ".join(b.message for b in blocks), "warning")
    else:
        flash(f"Session {saved.number} saved as a draft. Check it, then sign it.", "success")
    shown = url_for("treatments.show_session", session_id=saved.id)
    remember(form.submission, shown)
    return redirect(shown)


def _refused_session_page(error: ClinicError | None, form: SessionForm, course: Course,
                          session: TreatmentSession | None, rows: _RowMap) -> tuple[str, int]:
    """The form again, as typed, with each refusal where it belongs: the session form's many rows need
    more than ``attempt`` gives (reasons and warnings lists, errors on the row they came from)."""
    if isinstance(error, VersionConflictError):
        flash("Someone saved this draft while you were editing it. Your entries are still in the form; "
              "open the session in another tab to compare, then save again.", "error")
        form.version.data = session.version if session else ""
        return _session_page(form, course, session, 409)
    assert error is not None
    if isinstance(error, services.SessionRefused):
        return _session_page(form, course, session, 400, reasons=error.reasons)
    if isinstance(error, services.NeedsAcknowledgement):
        return _session_page(form, course, session, 400, warnings=error.warnings)
    located = _row_error(error, rows) if isinstance(error, FieldError) else None
    if located:
        return _session_page(form, course, session, 400, row_errors=dict([located]))
    show_error(form, error)
    return _session_page(form, course, session, 400)


@bp.route("/courses/<int:course_id>/sessions/new", methods=["GET", "POST"])
def new_session(course_id: int) -> Response | tuple[str, int]:
    """Log a session: what was drawn up, and what was injected where. The gate runs before saving."""
    # unique(): the course's areas and planned products come joined, a row each.
    course = db.session.scalars(sa.select(Course).where(Course.id == course_id).options(*_course_shown())).unique() \
        .one_or_none() or abort(404)
    if course.status in ("completed", "stopped"):
        flash(f"This course is {course.status_label.lower()}; no more sessions can be added.", "error")
        return redirect(url_for("treatments.show_course", course_id=course.id))
    if request.method == "GET":
        form = SessionForm(formdata=None, data=_new_session_data(course))
        return _session_page(form, course, None, 200)
    return _handle_session_post(course, None)


def _draft_listings() -> list[Listing]:
    session_id: sa.BindParameter[int] = sa.bindparam("session_id")
    return [Listing(Preparation, [Preparation.session_id == session_id], order_by=lambda alias: [alias.id],
                    options=lambda alias: [joinedload(alias.components).joinedload(PreparationComponent.lot)]),
            Listing(InjectionLog, [InjectionLog.session_id == session_id], order_by=lambda alias: [alias.id])]


_DRAFT_ROWS = ListsQuery(_draft_listings)


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
def edit_session(session_id: int) -> Response | tuple[str, int]:
    """Change a draft; a signed session is amended instead."""
    session = db.session.scalars(sa.select(TreatmentSession).where(TreatmentSession.id == session_id).options(
        joinedload(TreatmentSession.course).options(*_course_shown()), joinedload(TreatmentSession.signature),
    )).unique().one_or_none() or abort(404)
    # The draft's preparations and injection rows in one statement.
    preparations, injections = _DRAFT_ROWS.load(session_id=session.id)
    set_committed_value(session, "preparations", preparations)
    set_committed_value(session, "injections", injections)
    if session.is_signed or session.is_voided:
        flash("A signed or voided session cannot be edited; a signed one is corrected by an amendment.", "error")
        return redirect(url_for("treatments.show_session", session_id=session.id))
    if request.method == "GET":
        return _session_page(SessionForm(formdata=None, data=_session_data(session)), session.course, session, 200)
    return _handle_session_post(session.course, session)
