"""The nurses' follow-up worklist and work, side effects, the doctors' flags and the side-effect catalogue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload, lazyload, selectinload
from sqlalchemy.orm.interfaces import LoaderOption
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from clinic.audit.services import record_chart_read
from clinic.core.clock import clinic_today, form_now, in_clinic_zone
from clinic.core.forms import VoidForm, local_to_utc, submitted_version
from clinic.core.http import return_to
from clinic.core.submissions import claim, done
from clinic.core.transaction import attempt, run_service, show_refusal
from clinic.core.views import void_from_form
from clinic.extensions import db
from clinic.inventory.models import Lot
from clinic.records.followups import queries, services
from clinic.records.followups.forms import AttemptForm, ReviewForm, SideEffectForm, SideEffectTypeForm
from clinic.records.followups.models import (
    SOURCES,
    FollowUpAttempt,
    FollowUpTask,
    SideEffect,
    SideEffectArea,
    SideEffectType,
    SideEffectVersion,
)
from clinic.records.treatments.models import (
    Course,
    InjectionLog,
    Preparation,
    PreparationComponent,
    TreatmentSession,
)

bp = Blueprint("followups", __name__)


def _now() -> datetime:
    return datetime.now(UTC)


# --- the worklist and one follow-up --------------------------------------------------------------


@bp.get("/follow-ups")
def worklist() -> str:
    """Open follow-ups: overdue, today, the next seven days; the whole clinic or the sessions one assisted."""
    mine = request.args.get("scope") == "mine"
    today = clinic_today()
    found = queries.nurse_worklist(today, nurse_id=current_user.id if mine else None,
                                   after=request.args.get("after"))
    return render_template("followups/worklist.html", worklist=found, today=today, mine=mine,
                           paged=bool(request.args.get("after")), urgent=queries.urgent_follow_ups(today))


def _attempt_input(form: AttemptForm) -> services.AttemptInput:
    return services.AttemptInput(
        attempted_at=local_to_utc(form.attempted_at.data), channel=form.channel.data,
        reached=form.reached.data == "yes", note=form.note.data or "", reschedule_to=form.reschedule_to.data,
        patient_report=form.patient_report.data or "", no_side_effects=form.side_effects.data == "none",
        acknowledged=list(form.acknowledged.data or []))


# What the follow-up page shows, loaded with the task: its patient, session, course and indication in one
# statement, the session's areas and the attempts with who made them in one each (not one per row).
def _follow_up_page_options() -> tuple[LoaderOption, ...]:
    return (
        joinedload(FollowUpTask.patient),
        joinedload(FollowUpTask.session).joinedload(TreatmentSession.course).options(
            joinedload(Course.indication), lazyload(Course.area_links)),
        selectinload(FollowUpTask.session, TreatmentSession.injections).joinedload(InjectionLog.area),
        selectinload(FollowUpTask.attempts).joinedload(FollowUpAttempt.by),
    )


@bp.route("/follow-ups/<int:task_id>", methods=["GET", "POST"])
def show_follow_up(task_id: int) -> Response | tuple[str, int]:
    """One follow-up: the session it follows, every attempt, what was found, and the next attempt."""
    task = db.first_or_404(sa.select(FollowUpTask).where(FollowUpTask.id == task_id)
                           .options(*_follow_up_page_options()))
    form = AttemptForm()
    status = 200
    ongoing: list[SideEffect] = []
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            done = run_service(services.record_attempt, task, current_user, _attempt_input(form), now=_now(),
                               expected_version=submitted_version(form.version))
            if done.ok:
                return _after_attempt(task, form)
            if isinstance(done.error, services.StillOngoing):
                # Named with a link each, to update or to confirm as still ongoing (read again: rolled back).
                ongoing = services.open_side_effects(task.patient_id)
            elif done.error is not None:
                show_refusal(form, done.error)
            if done.conflict:
                status = 409
                form.version.data = task.version
    else:
        record_chart_read(task.patient)
        form.attempted_at.data = form_now()
        form.version.data = task.version
    side_effects = queries.side_effects_of(session_ids=[task.session_id])
    return render_template("followups/follow_up.html", task=task, form=form, side_effects=side_effects,
                           session=task.session, patient=task.patient,
                           reviews=queries.reviews_of(follow_up_id=task.id),
                           # What the patient sent on their own (a call's side effects are the nurse's record)
                           reported=[s for s in side_effects if s.follow_up_id == task.id and s.source == "patient"],
                           ongoing=ongoing,
                           ongoing_code=services.ongoing_code), status


def _after_attempt(task: FollowUpTask, form: AttemptForm) -> Response:
    if task.status == "done" and form.side_effects.data == "some":
        flash("Follow-up done. Now record each side effect the patient reports.", "success")
        return redirect(url_for("followups.new_side_effect", session_id=task.session_id, follow_up=task.id))
    flash({"done": "Follow-up done.", "not_reached": "Not reached three times: a doctor is told.",
           }.get(task.status, f"Attempt kept; the follow-up moves to {task.due_on:%d %b %Y}."), "success")
    return redirect(url_for("followups.worklist"))


# --- side effects --------------------------------------------------------------------------------


def _side_effect_choices(form: SideEffectForm, session: TreatmentSession, keep: SideEffectType | None = None) -> None:
    """The kinds in use (and ``keep``, the kind an existing side effect has, even if retired since)."""
    kinds = list(db.session.scalars(sa.select(SideEffectType).where(SideEffectType.active.is_(True))
                                    .order_by(SideEffectType.sort_order, SideEffectType.name)))
    if keep is not None and keep not in kinds:
        kinds.append(keep)
    form.type_code.choices = [SelectChoice("", "Choose…")] + [SelectChoice(k.code, k.name) for k in kinds]
    form.injection_ids.choices = [
        SelectChoice(i.id, f"{i.area.name} ({i.preparation.label if i.preparation else 'no preparation'})")
        for i in session.injections if i.administered]


def _side_effect_input(form: SideEffectForm) -> services.SideEffectInput:
    return services.SideEffectInput(
        type_code=form.type_code.data or "", grade=form.grade.data, onset_at=local_to_utc(form.onset_at.data),
        onset_hours=form.onset_hours.data, injection_ids=list(form.injection_ids.data or []),
        other_text=form.other_text.data or "", size_cm=form.size_cm.data, serious=bool(form.serious.data),
        action=form.action.data, action_other=form.action_other.data or "", causality=form.causality.data or None,
        outcome=form.outcome.data, resolved_on=form.resolved_on.data, note=form.note.data or "")


def _render_side_effect_form(form: SideEffectForm, session: TreatmentSession, status: int, *,
                             side_effect: SideEffect | None = None, **context: Any) -> tuple[str, int]:
    return render_template("followups/side_effect_form.html", form=form, session=session,
                           patient=session.course.patient, side_effect=side_effect, **context), status


@bp.route("/sessions/<int:session_id>/side-effects/new", methods=["GET", "POST"])
def new_side_effect(session_id: int) -> Response | tuple[str, int]:
    """Record a side effect after a session: from a follow-up, a call-in (chart) or at the next session."""
    session = db.get_or_404(TreatmentSession, session_id)
    follow_up_id = request.args.get("follow_up", "")
    follow_up = (db.first_or_404(sa.select(FollowUpTask).filter_by(id=int(follow_up_id), session_id=session.id))
                 if follow_up_id.isdigit() else None)
    source = "follow_up" if follow_up else request.args.get("source", "chart")
    if source not in SOURCES or source == "patient":
        abort(404)
    form = SideEffectForm()
    _side_effect_choices(form, session)
    if request.method == "POST":
        if form.validate_on_submit():
            if (first := claim(form.submission)) is not None:
                return first
            created = attempt(form, services.record_side_effect, session, current_user, _side_effect_input(form),
                              source=source, now=_now(), follow_up=follow_up)
            if created.ok:
                flash(f"{created.value.name} recorded.", "success")
                if follow_up is not None:
                    return done(form.submission, url_for("followups.show_follow_up", task_id=follow_up.id))
                if source == "next_session":
                    return done(form.submission, url_for("treatments.new_session", course_id=session.course_id))
                return done(form.submission,
                            url_for("followups.show_side_effect", side_effect_id=created.value.id))
        return _render_side_effect_form(form, session, 400, follow_up=follow_up, source=source)
    if session.is_voided:
        flash("This session was voided (entered in error): nothing more is recorded against it.", "error")
        return redirect(url_for("treatments.show_session", session_id=session.id))
    form.outcome.data = "ongoing"
    return _render_side_effect_form(form, session, 200, follow_up=follow_up, source=source)


# What the side-effect page shows, with the side effect: patient, session, kind and who recorded it in one
# statement; its areas with their injections and preparations; the lots and products of those
# preparations; every version with who recorded it.
def _side_effect_page_options() -> tuple[LoaderOption, ...]:
    return (
        joinedload(SideEffect.patient), joinedload(SideEffect.session), joinedload(SideEffect.type),
        joinedload(SideEffect.recorded_by),
        selectinload(SideEffect.areas).joinedload(SideEffectArea.injection).options(
            joinedload(InjectionLog.area),
            joinedload(InjectionLog.preparation).selectinload(Preparation.components)
            .joinedload(PreparationComponent.lot).joinedload(Lot.product)),
        selectinload(SideEffect.versions).joinedload(SideEffectVersion.recorded_by),
    )


@bp.get("/side-effects/<int:side_effect_id>")
def show_side_effect(side_effect_id: int) -> str:
    """A side effect as it stands, every earlier version under it, and the lots behind its areas."""
    side_effect = db.first_or_404(sa.select(SideEffect).where(SideEffect.id == side_effect_id)
                                  .options(*_side_effect_page_options()))
    record_chart_read(side_effect.patient)
    return render_template("followups/side_effect.html", side_effect=side_effect, session=side_effect.session,
                           patient=side_effect.patient, void_form=VoidForm(formdata=None),
                           reviews=queries.reviews_of(side_effect_id=side_effect.id))


@bp.route("/side-effects/<int:side_effect_id>/update", methods=["GET", "POST"])
def update_side_effect(side_effect_id: int) -> Response | tuple[str, int]:
    """How it evolves: grade, size, action, causality, outcome. A new version; the old ones stay."""
    side_effect = db.get_or_404(SideEffect, side_effect_id)
    session = side_effect.session
    if side_effect.is_voided or session.is_voided:
        flash("This side effect, or its session, was voided (entered in error): it is not updated.", "error")
        return redirect(url_for("followups.show_side_effect", side_effect_id=side_effect.id))
    form = SideEffectForm(obj=side_effect if request.method == "GET" else None)
    _side_effect_choices(form, session, keep=side_effect.type)
    status = 200
    if request.method == "POST":
        status = 400
        if side_effect.areas:
            form.injection_ids.data = [a.injection_id for a in side_effect.areas]
        if form.validate_on_submit():
            saved = attempt(form, services.update_side_effect, side_effect, current_user, _side_effect_input(form),
                            now=_now(), expected_version=submitted_version(form.version))
            if saved.ok:
                flash(f"{side_effect.name}: version {len(side_effect.versions)} saved.", "success")
                return redirect(return_to() or url_for("followups.show_side_effect", side_effect_id=side_effect.id))
            if saved.conflict:
                status = 409
                form.version.data = side_effect.version
    else:
        form.onset_at.data = in_clinic_zone(side_effect.onset_at).replace(tzinfo=None)
        form.injection_ids.data = [a.injection_id for a in side_effect.areas]
    return _render_side_effect_form(form, session, status, side_effect=side_effect, source=side_effect.source)


@bp.post("/side-effects/<int:side_effect_id>/void")
def void_side_effect(side_effect_id: int) -> Response:
    """Void a side effect recorded in error (kept, marked)."""
    side_effect = db.get_or_404(SideEffect, side_effect_id)
    return void_from_form(side_effect, done="Side effect voided (kept on record, marked).",
                          missing_reason="Give the reason for voiding this side effect.",
                          back=url_for("followups.show_side_effect", side_effect_id=side_effect.id),
                          void=services.void_side_effect)


# --- the doctors' flags --------------------------------------------------------------------------


@bp.get("/flags")
def flags() -> str:
    """Every flag waiting for a doctor, oldest first."""
    return render_template("followups/flags.html", flags=queries.doctor_flags(_now()))


@bp.route("/flags/<kind>/<int:subject_id>/review", methods=["GET", "POST"])
def review(kind: str, subject_id: int) -> Response | tuple[str, int]:
    """A doctor's assessment and plan; a next-contact date books a follow-up for the nurses."""
    subject: SideEffect | FollowUpTask
    if kind == "side-effect":
        subject = db.get_or_404(SideEffect, subject_id)
    elif kind == "follow-up":
        subject = db.get_or_404(FollowUpTask, subject_id)
    else:
        abort(404)
    form = ReviewForm()
    if request.method == "POST":
        if form.validate_on_submit():
            target = {"side_effect": subject} if isinstance(subject, SideEffect) else {"follow_up": subject}
            done = attempt(form, services.review_flag, current_user, assessment=form.assessment.data,
                           plan=form.plan.data, next_contact_on=form.next_contact_on.data, today=clinic_today(),
                           **target)
            if done.ok:
                flash("Reviewed." + (" The nurses have a follow-up on " + f"{done.value.next_contact_on:%d %b %Y}."
                                     if done.value.next_contact_on else ""), "success")
                return redirect(url_for("followups.flags"))
        status = 400
    else:
        record_chart_read(subject.patient)
        status = 200
    return render_template("followups/review.html", form=form, kind=kind, subject=subject,
                           patient=subject.patient, session=subject.session), status


# --- the side-effect catalogue (admins) ----------------------------------------------------------


def _type_input(form: SideEffectTypeForm) -> services.SideEffectTypeInput:
    return services.SideEffectTypeInput(
        code=form.code.data or "", name=form.name.data or "", plain_name=form.plain_name.data or "",
        expected_min_hours=form.expected_min_hours.data, expected_max_hours=form.expected_max_hours.data,
        always_flag=bool(form.always_flag.data), sized=bool(form.sized.data),
        sort_order=form.sort_order.data if form.sort_order.data is not None else 100, active=bool(form.active.data))


@bp.route("/admin/side-effect-types", methods=["GET", "POST"])
def list_types() -> Response | tuple[str, int]:
    """The side-effect catalogue with its expected durations; admins add to it."""
    form = SideEffectTypeForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit() and attempt(form, services.save_side_effect_type, None, _type_input(form)).ok:
            flash(f"{form.name.data} added.", "success")
            return redirect(url_for("followups.list_types"))
    kinds = db.session.scalars(sa.select(SideEffectType).order_by(SideEffectType.sort_order)).all()
    return render_template("followups/types.html", kinds=kinds, form=form), status


@bp.route("/admin/side-effect-types/<code>", methods=["GET", "POST"])
def edit_type(code: str) -> Response | tuple[str, int]:
    """Change a kind's names, expected duration or whether it is in use; its code stays."""
    kind = db.get_or_404(SideEffectType, code)
    form = SideEffectTypeForm(obj=kind if request.method == "GET" else None)
    if request.method == "POST":
        form.code.data = kind.code
        if form.validate_on_submit() and attempt(form, services.save_side_effect_type, kind, _type_input(form)).ok:
            flash(f"{kind.name} saved.", "success")
            return redirect(url_for("followups.list_types"))
        return render_template("followups/type_form.html", form=form, kind=kind), 400
    return render_template("followups/type_form.html", form=form, kind=kind), 200
