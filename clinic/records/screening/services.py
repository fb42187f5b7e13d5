"""Screening: which questions apply, what the history already answers, and what the answers mean.

``evaluate`` is the one function that turns answers into a result with every
reason; screenings, the chart badges and the treatment gate all use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from clinic.auth.models import Role, User
from clinic.core.clock import clinic_today
from clinic.core.errors import ClinicError, FieldError
from clinic.core.findings import Finding
from clinic.core.services import check_version, required_text, stored
from clinic.extensions import db
from clinic.records.catalogue.models import Area, Condition, Indication
from clinic.records.patients.models import TREATMENT_KINDS, HistoryVersion, Patient
from clinic.records.patients.services import current_history
from clinic.records.screening.models import (
    COMPUTED_TRIGGERS,
    RULE_KINDS,
    RULE_TRIGGERS,
    ContraindicationRule,
    RuleArea,
    RuleIndication,
    Screening,
    ScreeningAnswer,
    ScreeningArea,
    ScreeningOverride,
)


@dataclass
class Suggestion:
    """What the record says about a question before anyone asks it."""

    answer: bool | None
    event_date: date | None = None
    note: str = ""


@dataclass
class AnswerInput:
    rule_id: int
    answer: bool | None
    event_date: date | None = None
    note: str = ""


@dataclass
class RuleFinding:
    rule: ContraindicationRule
    answer: bool
    event_date: date | None
    message: str
    overridden_by: ScreeningOverride | None = None


@dataclass
class Evaluation:
    result: str
    absolute: list[RuleFinding] = field(default_factory=list)
    relative: list[RuleFinding] = field(default_factory=list)  # not overridden
    overridden: list[RuleFinding] = field(default_factory=list)
    warnings: list[RuleFinding] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [f.message for f in self.absolute + self.relative]


def active_rules() -> list[ContraindicationRule]:
    return list(db.session.scalars(
        sa.select(ContraindicationRule).where(ContraindicationRule.active.is_(True))
        .order_by(ContraindicationRule.sort_order, ContraindicationRule.id)
    ))


def applicable_rules(indication: str, areas: Iterable[str],
                     rules: Sequence[ContraindicationRule] | None = None) -> list[ContraindicationRule]:
    area_set = set(areas)
    return [r for r in (rules if rules is not None else active_rules()) if r.applies_to(indication, area_set)]


def _latest_treatment(history: HistoryVersion, kind: str) -> date | None:
    dates = [t.treated_on for t in history.treatments if t.kind == kind]
    return max(dates) if dates else None


def suggest(rule: ContraindicationRule, patient: Patient, history: HistoryVersion | None,
            on_date: date) -> Suggestion:
    """The answer the record suggests for a rule on a date (None: the record does not say)."""
    trigger = rule.trigger
    if trigger == "age_under":
        limit = int(rule.trigger_value or 18)
        age = patient.age_on(on_date)
        return Suggestion(age < limit, note=f"age {age} on {on_date:%d %b %Y}")
    if trigger == "skin_type_dark":
        if patient.fitzpatrick is None:
            return Suggestion(None)
        return Suggestion(patient.fitzpatrick >= 4, note=f"skin type {patient.fitzpatrick_label}")
    if history is None or trigger == "question":
        return Suggestion(None)
    if trigger == "condition":
        return Suggestion(rule.trigger_value in history.condition_codes)
    if trigger in ("pregnant", "breastfeeding"):
        status = history.pregnancy if trigger == "pregnant" else history.breastfeeding
        asked = f"recorded {history.pregnancy_recorded_on:%d %b %Y}" if history.pregnancy_recorded_on else ""
        if status == "yes":
            return Suggestion(True, note=asked)
        if status in ("no", "not_applicable"):
            return Suggestion(False, note=asked)
        return Suggestion(None)
    if trigger == "anticoagulant":
        names = [m.name for m in history.medications if m.anticoagulant]
        return Suggestion(bool(names), note=", ".join(names))
    if trigger == "treatment":
        treated = _latest_treatment(history, rule.trigger_value)
        if treated is None:
            return Suggestion(False)
        within = rule.waiting_days is None or treated + timedelta(days=rule.waiting_days) > on_date
        return Suggestion(within, event_date=treated, note=f"on {treated:%d %b %Y}")
    return Suggestion(None)


def _finding_message(rule: ContraindicationRule, event_date: date | None) -> str:
    if rule.waiting_days and event_date:
        until = event_date + timedelta(days=rule.waiting_days)
        return f"{rule.question} Yes, on {event_date:%d %b %Y}: wait until {until:%d %b %Y}."
    return f"{rule.question} Yes."


def evaluate(rules: Sequence[ContraindicationRule], answers: dict[int, AnswerInput], patient: Patient,
             on_date: date, overrides: Iterable[ScreeningOverride] = ()) -> Evaluation:
    """Eligible / needs doctor review / not eligible, with every reason."""
    by_rule = {o.rule_id: o for o in overrides}
    evaluation = Evaluation("eligible")
    for rule in rules:
        entry = answers.get(rule.id)
        if rule.trigger in COMPUTED_TRIGGERS:
            computed = suggest(rule, patient, None, on_date)
            entry = AnswerInput(rule.id, computed.answer, note=computed.note)
        if entry is None or not entry.answer:
            continue
        if rule.waiting_days and entry.event_date is not None:
            if entry.event_date + timedelta(days=rule.waiting_days) <= on_date:
                continue  # the waiting period is over
        finding = RuleFinding(rule, True, entry.event_date, _finding_message(rule, entry.event_date))
        if rule.kind == "absolute":
            evaluation.absolute.append(finding)
        elif rule.kind == "relative":
            finding.overridden_by = by_rule.get(rule.id)
            (evaluation.overridden if finding.overridden_by else evaluation.relative).append(finding)
        else:
            evaluation.warnings.append(finding)
    if evaluation.absolute:
        evaluation.result = "not_eligible"
    elif evaluation.relative:
        evaluation.result = "needs_review"
    return evaluation


# --- recording a screening -----------------------------------------------------------------------


def _check_plan(indication_code: str, area_codes: Sequence[str]) -> tuple[Indication, list[str]]:
    indication = db.session.get(Indication, indication_code or "")
    if indication is None or not indication.active:
        raise FieldError("indication_code", "Choose the planned treatment from the list.")
    areas = sorted(set(area_codes))
    if not areas:
        raise FieldError("area_codes", "Choose at least one treatment area.")
    known = set(db.session.scalars(sa.select(Area.code).where(Area.code.in_(areas), Area.active.is_(True))))
    if known != set(areas):
        raise FieldError("area_codes", "Choose areas from the list.")
    return indication, areas


def record_screening(patient: Patient, indication_code: str, area_codes: Sequence[str],
                     answers: Sequence[AnswerInput], by: User, *, on_date: date | None = None,
                     notes: str = "") -> Screening:
    """Store every answer for the planned treatment and the result they give."""
    on_date = on_date or clinic_today()
    if patient.is_voided:
        raise ClinicError("This patient was registered in error (voided); they cannot be screened.")
    if on_date > clinic_today():
        raise FieldError("screened_on", "A screening cannot be dated in the future.")
    indication, areas = _check_plan(indication_code, area_codes)
    rules = applicable_rules(indication.code, areas)
    history = current_history(patient)
    given = {a.rule_id: a for a in answers}
    unknown = set(given) - {r.id for r in rules}
    if unknown:
        raise FieldError("answers", "An answer was given to a question that does not apply.")
    answered: dict[int, AnswerInput] = {}
    for rule in rules:
        suggestion = suggest(rule, patient, history, on_date)
        entry = given.get(rule.id)
        if rule.trigger in COMPUTED_TRIGGERS:
            entry = AnswerInput(rule.id, suggestion.answer, note=suggestion.note)
        if entry is None or entry.answer is None:
            raise FieldError(f"rule_{rule.id}", "Answer this question.")
        if entry.answer and rule.waiting_days and entry.event_date is None:
            raise FieldError(f"rule_{rule.id}", "Give the date, so the waiting period can be worked out.")
        if entry.event_date is not None and entry.event_date > on_date:
            raise FieldError(f"rule_{rule.id}", "This date is in the future.")
        answered[rule.id] = entry
    evaluation = evaluate(rules, answered, patient, on_date)
    screening = Screening(
        patient_id=patient.id, indication_code=indication.code, screened_on=on_date,
        area_links=[ScreeningArea(area_code=code) for code in areas],
        screened_by_id=by.id, history_version_id=history.id if history else None, result=evaluation.result,
        notes=(notes or "").strip(),
    )
    for rule in rules:
        entry = answered[rule.id]
        suggestion = suggest(rule, patient, history, on_date)
        screening.answers.append(ScreeningAnswer(
            rule_id=rule.id, question=rule.question, kind=rule.kind, answer=bool(entry.answer),
            from_history=suggestion.answer is not None and suggestion.answer == entry.answer,
            event_date=entry.event_date, note=(entry.note or suggestion.note or "")[:300],
        ))
    return stored(screening)


def _stored_answers(screening: Screening) -> dict[int, AnswerInput]:
    return {a.rule_id: AnswerInput(a.rule_id, a.answer, a.event_date, a.note) for a in screening.answers}


def _rules_of(screening: Screening) -> list[ContraindicationRule]:
    return [a.rule for a in screening.answers]


def evaluate_screening(screening: Screening, patient: Patient, on_date: date) -> Evaluation:
    return evaluate(_rules_of(screening), _stored_answers(screening), patient, on_date, screening.overrides)


def override_relative(screening: Screening, rule_id: int, doctor: User, reason: str) -> ScreeningOverride:
    """A doctor decides that a relative contraindication does not stop treatment."""
    if doctor.role != Role.DOCTOR:
        raise ClinicError("Only a doctor can override a contraindication.")
    if screening.is_voided:
        raise ClinicError("This screening is voided.")
    reason = required_text(reason, "reason", "Write why treatment is safe despite this contraindication.")
    answer = next((a for a in screening.answers if a.rule_id == rule_id), None)
    if answer is None or not answer.answer:
        raise ClinicError("Only a contraindication answered yes can be overridden.")
    if answer.kind == "absolute":
        raise ClinicError("An absolute contraindication cannot be overridden.")
    if answer.kind != "relative":
        raise ClinicError("A warning is acknowledged at the session, not overridden.")
    if any(o.rule_id == rule_id for o in screening.overrides):
        raise ClinicError("This contraindication has already been overridden.")
    override = ScreeningOverride(rule_id=rule_id, doctor_id=doctor.id, reason=reason)
    screening.overrides.append(override)
    db.session.flush()
    patient = db.session.get_one(Patient, screening.patient_id)
    screening.result = evaluate_screening(screening, patient, screening.screened_on).result
    db.session.flush()
    return override


@dataclass
class Validity:
    valid: bool
    reasons: list[Finding]
    valid_until: date


def screening_validity(screening: Screening, patient: Patient, history: HistoryVersion | None,
                       on_date: date) -> Validity:
    """Still valid on a date? Not if too old, voided, or the history now raises a new concern."""
    days = current_app.config["SCREENING_VALID_DAYS"]
    valid_until = screening.screened_on + timedelta(days=days)
    reasons = []
    if screening.is_voided:
        reasons.append(Finding("screening_voided", "The screening was voided."))
    if on_date > valid_until:
        reasons.append(Finding("screening_expired", f"The screening of {screening.screened_on:%d %b %Y} expired on "
                                                 f"{valid_until:%d %b %Y}."))
    if history is not None and history.id != screening.history_version_id:
        for answer in screening.answers:
            now = suggest(answer.rule, patient, history, on_date)
            if now.answer and not answer.answer:
                reasons.append(Finding("history_changed",
                                       f"The history changed since the screening: {answer.question} Now yes."))
            elif (now.answer and now.event_date and answer.event_date
                  and now.event_date > answer.event_date):
                reasons.append(Finding("history_changed",
                                       f"The history changed since the screening: {answer.question} "
                                       f"A newer date is recorded ({now.event_date:%d %b %Y})."))
    return Validity(not reasons, reasons, valid_until)


# --- the rule catalogue ---------------------------------------------------------------------


@dataclass
class RuleInput:
    code: str
    question: str
    kind: str
    trigger: str
    trigger_value: str = ""
    waiting_days: int | None = None
    indications: Sequence[str] = ()
    areas: Sequence[str] = ()
    sort_order: int = 100
    active: bool = True
    source: str = ""


def save_rule(rule: ContraindicationRule | None, entry: RuleInput, *,
              expected_version: int | str | None = None) -> ContraindicationRule:
    """Create or change a rule, checking that what it points at exists. ``expected_version`` as for patients."""
    if rule is not None and expected_version is not None:
        check_version(rule, expected_version)
    code = (entry.code or "").strip().lower()
    if not code or not all(ch.isalnum() or ch == "_" for ch in code):
        raise FieldError("code", "Use lower-case letters, digits and _ only.")
    other = db.session.scalar(sa.select(ContraindicationRule).where(ContraindicationRule.code == code))
    if other is not None and other is not rule:
        raise FieldError("code", "Another rule has this code.")
    if not (entry.question or "").strip():
        raise FieldError("question", "Write the question staff will ask.")
    if entry.kind not in RULE_KINDS:
        raise FieldError("kind", "Choose from the list.")
    if entry.trigger not in RULE_TRIGGERS:
        raise FieldError("trigger", "Choose from the list.")
    value = (entry.trigger_value or "").strip()
    if entry.trigger == "condition" and db.session.get(Condition, value) is None:
        raise FieldError("trigger_value", "Give the code of a condition in the catalogue.")
    if entry.trigger == "treatment":
        if value not in TREATMENT_KINDS:
            raise FieldError("trigger_value", "Give one of: " + ", ".join(TREATMENT_KINDS) + ".")
        if not entry.waiting_days:
            raise FieldError("waiting_days", "A recent-treatment rule needs a waiting period.")
    if entry.trigger == "age_under" and not value.isdigit():
        raise FieldError("trigger_value", "Give the age limit in years, e.g. 18.")
    _check_plan_codes(entry.indications, entry.areas)
    rule = rule or ContraindicationRule()
    values = {
        "code": code, "question": entry.question.strip(), "kind": entry.kind, "trigger": entry.trigger,
        "trigger_value": value, "waiting_days": entry.waiting_days or None,
        "sort_order": entry.sort_order, "active": entry.active, "source": (entry.source or "").strip(),
    }
    for key, new in values.items():
        if getattr(rule, key) != new:
            setattr(rule, key, new)
    rescoped = _relink(rule.indication_links, set(entry.indications), RuleIndication, "indication_code")
    rescoped |= _relink(rule.area_links, set(entry.areas), RuleArea, "area_code")
    if rescoped and rule.id is not None:
        rule.version += 1  # a change of scope alone is still a new version of the rule (checked by the UPDATE)
    return stored(rule)


def _relink(links: list[Any], wanted: set[str], link_type: type, key: str) -> bool:
    """Make ``links`` hold exactly the ``wanted`` codes, keeping rows that stay. True if anything changed."""
    have = {getattr(link, key) for link in links}
    links[:] = [link for link in links if getattr(link, key) in wanted]
    links.extend(link_type(**{key: code}) for code in sorted(wanted - have))
    return have != wanted


def _check_plan_codes(indications: Sequence[str], areas: Sequence[str]) -> None:
    if indications:
        known = set(db.session.scalars(sa.select(Indication.code).where(Indication.code.in_(indications))))
        if known != set(indications):
            raise FieldError("indications", "Choose treatments from the list.")
    if areas:
        known = set(db.session.scalars(sa.select(Area.code).where(Area.code.in_(areas))))
        if known != set(areas):
            raise FieldError("areas", "Choose areas from the list.")
