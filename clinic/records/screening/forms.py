"""Screening forms: the plan, then one question per applicable rule (built for the rules that apply)."""

from __future__ import annotations

from collections.abc import Sequence

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from clinic.core.forms import CheckboxesField
from clinic.records.screening.models import (
    COMPUTED_TRIGGERS,
    RULE_KINDS,
    RULE_TRIGGERS,
    ContraindicationRule,
)

YES_NO = [SelectChoice("yes", "Yes"), SelectChoice("no", "No")]


class PlanForm(FlaskForm):
    """What is planned: a GET form, nothing is written."""

    class Meta:
        csrf = False

    indication = SelectField("Planned treatment", validators=[DataRequired("Choose the planned treatment.")])
    areas = CheckboxesField("Treatment areas", validators=[DataRequired("Choose at least one area.")])


class AnswersBase(FlaskForm):
    indication = HiddenField()
    areas = HiddenField()
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})
    confirm = BooleanField("I asked the patient every question above and the answers are theirs",
                           validators=[DataRequired("Confirm that each answer was asked and checked.")])


def answers_form(rules: Sequence[ContraindicationRule], **kwargs: object) -> AnswersBase:
    """A form with a yes/no (and a date where a waiting period applies) for each rule."""

    class AnswersForm(AnswersBase):
        pass

    for rule in rules:
        if rule.trigger in COMPUTED_TRIGGERS:
            continue
        setattr(AnswersForm, f"rule_{rule.id}", RadioField(
            rule.question, choices=YES_NO, validators=[InputRequired("Answer this question.")]))
        if rule.waiting_days:
            setattr(AnswersForm, f"date_{rule.id}", DateField("When?", validators=[Optional()]))
    return AnswersForm(**kwargs)


class OverrideForm(FlaskForm):
    reason = TextAreaField("Why treatment is safe despite this", render_kw={"rows": 2},
                           validators=[DataRequired("Write the reason for the override."), Length(max=2000)])


class RuleForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=40)],
                       description="Short and unique, e.g. isotretinoin.")
    question = StringField("Question shown to staff", validators=[DataRequired(), Length(max=300)])
    kind = SelectField("Kind", choices=[SelectChoice(k, v) for k, v in RULE_KINDS.items()])
    trigger = SelectField("Answered from the record by", choices=[SelectChoice(k, v) for k, v in RULE_TRIGGERS.items()])
    # Chosen from what the record knows (the condition catalogue, the treatment kinds, usual age limits);
    # the service checks that the choice fits the trigger.
    trigger_value = SelectField("Which condition, treatment or age", validators=[Optional()], validate_choice=False,
                                description="For a condition or a recent treatment: which one. For an age: the limit.")
    waiting_days = IntegerField("Waiting period (days)", validators=[Optional(), NumberRange(min=1, max=3650)],
                                description="For a dated event: how long after it treatment must wait.")
    indications = SelectMultipleField("Applies to treatments", validators=[Optional()],
                                      description="None chosen: every treatment.")
    areas = SelectMultipleField("Applies to areas", validators=[Optional()], description="None chosen: every area.")
    sort_order = IntegerField("Order", default=100, validators=[Optional(), NumberRange(min=0, max=10000)])
    active = BooleanField("In use", default=True)
    source = StringField("Source", validators=[Optional(), Length(max=200)])
    version = HiddenField()
