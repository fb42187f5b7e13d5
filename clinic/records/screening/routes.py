"""Screening a patient for a planned treatment, doctors' overrides, and the rule catalogue (admins)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from clinic.audit.services import record_chart_read
from clinic.core.clock import clinic_today
from clinic.core.forms import VoidForm, submitted_version
from clinic.core.http import return_to
from clinic.core.transaction import attempt
from clinic.core.views import void_from_form
from clinic.extensions import db
from clinic.records.catalogue.models import Area, Condition, Indication
from clinic.records.patients.loading import patient_to_change
from clinic.records.patients.models import TREATMENT_KINDS, Patient
from clinic.records.patients.services import current_history
from clinic.records.screening import services
from clinic.records.screening.forms import OverrideForm, PlanForm, RuleForm, answers_form
from clinic.records.screening.models import COMPUTED_TRIGGERS, ContraindicationRule, Screening

bp = Blueprint("screening", __name__)
AGE_LIMITS = (16, 18, 21, 25)


def _plan_choices(form: PlanForm | RuleForm) -> None:
    indications = db.session.scalars(sa.select(Indication).where(Indication.active.is_(True))
                                     .order_by(Indication.sort_order))
    areas = db.session.scalars(sa.select(Area).where(Area.active.is_(True)).order_by(Area.sort_order))
    choices = [SelectChoice(i.code, i.name) for i in indications]
    if isinstance(form, PlanForm):
        form.indication.choices = [SelectChoice("", "Choose…"), *choices]
    else:
        form.indications.choices = choices
        conditions = db.session.scalars(sa.select(Condition).where(Condition.active.is_(True))
                                        .order_by(Condition.sort_order))
        form.trigger_value.choices = [
            SelectChoice("", "— (not needed for this trigger)"),
            *[SelectChoice(c.code, c.name, optgroup="A condition in the history") for c in conditions],
            *[SelectChoice(code, label, optgroup="A recent treatment") for code, label in TREATMENT_KINDS.items()],
            *[SelectChoice(str(years), f"Under {years} years", optgroup="An age") for years in AGE_LIMITS],
        ]
        known = {str(c.value) for c in form.trigger_value.choices}
        if form.trigger_value.data and form.trigger_value.data not in known:  # a rule made before, kept as is
            form.trigger_value.choices.append(SelectChoice(form.trigger_value.data, form.trigger_value.data))
    form.areas.choices = [SelectChoice(a.code, a.name, optgroup=a.region.title()) for a in areas]


@bp.route("/patients/<int:patient_id>/screenings/new", methods=["GET", "POST"])
def new_screening(patient_id: int) -> Response | tuple[str, int]:
    """Choose the plan, then answer every question that applies to it."""
    patient = patient_to_change(patient_id, "This patient was registered in error (voided); they cannot be screened.")
    source = request.form if request.method == "POST" else request.args
    plan = PlanForm(MultiDict([("indication", source.get("indication", "")),
                               *[("areas", a) for value in source.getlist("areas") for a in value.split()]]))
    _plan_choices(plan)
    if not (source.get("indication") or source.get("areas")) or not plan.validate():
        status = 400 if source.get("indication") or source.get("areas") or request.method == "POST" else 200
        return render_template("screening/plan.html", plan=plan, patient=patient), status
    today = clinic_today()
    rules = services.applicable_rules(plan.indication.data, plan.areas.data)
    history = current_history(patient)
    suggestions = {r.id: services.suggest(r, patient, history, today) for r in rules}
    form = answers_form(rules, indication=plan.indication.data, areas=" ".join(plan.areas.data))
    status = 200
    if request.method == "GET":
        for rule in rules:
            answer = getattr(form, f"rule_{rule.id}", None)
            if answer is not None and suggestions[rule.id].answer is not None:
                answer.data = "yes" if suggestions[rule.id].answer else "no"
            when = getattr(form, f"date_{rule.id}", None)
            if when is not None:
                when.data = suggestions[rule.id].event_date
    elif form.validate_on_submit():
        answers = [
            services.AnswerInput(
                rule.id, getattr(form, f"rule_{rule.id}").data == "yes",
                getattr(form, f"date_{rule.id}").data if hasattr(form, f"date_{rule.id}") else None,
            )
            for rule in rules if rule.trigger not in COMPUTED_TRIGGERS
        ]
        recorded = attempt(form, services.record_screening, patient, plan.indication.data, plan.areas.data,
                           answers, current_user, on_date=today, notes=form.notes.data or "")
        status = 400
        if recorded.ok:
            screening = recorded.value
            flash(f"Screening recorded: {screening.result_label.lower()}.",
                  "success" if screening.result == "eligible" else "warning")
            return redirect(return_to() or url_for("screening.show_screening", screening_id=screening.id))
    else:
        status = 400
    indication = db.session.get(Indication, plan.indication.data)
    return render_template("screening/answers.html", form=form, rules=rules, suggestions=suggestions,
                           patient=patient, indication=indication, area_codes=plan.areas.data,
                           computed=COMPUTED_TRIGGERS, history=history), status


@bp.get("/screenings/<int:screening_id>")
def show_screening(screening_id: int) -> str:
    """A screening's answers, result, reasons, overrides and whether it is still valid."""
    screening = db.get_or_404(Screening, screening_id)
    patient = db.get_or_404(Patient, screening.patient_id)
    record_chart_read(patient)
    today = clinic_today()
    evaluation = services.evaluate_screening(screening, patient, screening.screened_on)
    validity = services.screening_validity(screening, patient, current_history(patient), today)
    return render_template("screening/show.html", screening=screening, patient=patient, evaluation=evaluation,
                           validity=validity, override_form=OverrideForm(formdata=None),
                           void_form=VoidForm(formdata=None), open_rule=None)


@bp.post("/screenings/<int:screening_id>/override/<int:rule_id>")
def override(screening_id: int, rule_id: int) -> Response | tuple[str, int]:
    """A doctor overrides a relative contraindication, with a written reason."""
    screening = db.get_or_404(Screening, screening_id)
    patient = db.get_or_404(Patient, screening.patient_id)
    form = OverrideForm()
    if form.validate_on_submit() and attempt(form, services.override_relative, screening, rule_id, current_user,
                                             form.reason.data).ok:
        flash("Override recorded.", "success")
        return redirect(url_for("screening.show_screening", screening_id=screening.id))
    evaluation = services.evaluate_screening(screening, patient, screening.screened_on)
    validity = services.screening_validity(screening, patient, current_history(patient), clinic_today())
    return render_template("screening/show.html", screening=screening, patient=patient, evaluation=evaluation,
                           validity=validity, override_form=form, void_form=VoidForm(formdata=None),
                           open_rule=rule_id), 400


@bp.post("/screenings/<int:screening_id>/void")
def void_screening(screening_id: int) -> Response:
    """Void a screening entered in error."""
    screening = db.get_or_404(Screening, screening_id)
    return void_from_form(screening, done="Screening voided.",
                          missing_reason="Give the reason for voiding this screening.",
                          back=url_for("screening.show_screening", screening_id=screening.id))


# --- the rule catalogue (admins) ----------------------------------------------------------


@bp.get("/admin/rules")
def list_rules() -> str:
    """Every contraindication rule, in the order staff see the questions."""
    rules = db.session.scalars(sa.select(ContraindicationRule).order_by(
        ContraindicationRule.active.desc(), ContraindicationRule.sort_order, ContraindicationRule.id)).all()
    return render_template("screening/rules.html", rules=rules)


def _save_rule(form: RuleForm, rule: ContraindicationRule | None) -> ContraindicationRule:
    return services.save_rule(rule, services.RuleInput(
        code=form.code.data, question=form.question.data, kind=form.kind.data, trigger=form.trigger.data,
        trigger_value=form.trigger_value.data or "", waiting_days=form.waiting_days.data,
        indications=form.indications.data or [], areas=form.areas.data or [],
        sort_order=form.sort_order.data or 100, active=bool(form.active.data), source=form.source.data or "",
    ), expected_version=submitted_version(form.version) if rule is not None else None)


@bp.route("/admin/rules/new", methods=["GET", "POST"])
def new_rule() -> Response | tuple[str, int]:
    """Add a contraindication rule."""
    form = RuleForm()
    _plan_choices(form)
    if request.method == "POST":
        if form.validate_on_submit():
            added = attempt(form, _save_rule, form, None)
            if added.ok:
                flash(f"Rule {added.value.code} added.", "success")
                return redirect(url_for("screening.list_rules"))
        return render_template("screening/rule_form.html", form=form, rule=None), 400
    return render_template("screening/rule_form.html", form=form, rule=None), 200


@bp.route("/admin/rules/<int:rule_id>", methods=["GET", "POST"])
def edit_rule(rule_id: int) -> Response | tuple[str, int]:
    """Change a rule; screenings already recorded keep the wording they were asked with."""
    rule = db.session.get(ContraindicationRule, rule_id)
    if rule is None:
        abort(404)
    form = RuleForm(obj=rule if request.method == "GET" else None)
    _plan_choices(form)
    if request.method == "GET":
        form.indications.data = sorted(rule.indication_codes)
        form.areas.data = sorted(rule.area_codes)
        form.version.data = rule.version
        return render_template("screening/rule_form.html", form=form, rule=rule), 200
    status = 400
    if form.validate_on_submit():
        saved = attempt(form, _save_rule, form, rule)
        if saved.ok:
            flash(f"Rule {rule.code} saved.", "success")
            return redirect(url_for("screening.list_rules"))
        if saved.conflict:
            form.version.data = rule.version
            status = 409
    return render_template("screening/rule_form.html", form=form, rule=rule), status
