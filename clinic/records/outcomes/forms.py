"""Forms for recording measures, correcting one, and the measure catalogue."""

from __future__ import annotations

from collections.abc import Sequence

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from clinic.core.forms import CheckboxesField, optional_int
from clinic.core.submissions import SubmissionKeyField
from clinic.records.outcomes.models import GAIS, MEASURE_KINDS, TIMEPOINTS, MeasureDefinition

# What a value column holds (Numeric(10, 3)); a range end beyond it cannot be a measure.
RANGE_LIMIT = 999_999


def finite(form: object, field: DecimalField) -> None:
    """"NaN" and "Infinity" parse as decimals; no range end is either."""
    if field.data is not None and not field.data.is_finite():
        raise ValidationError("Give a number.")


GAIS_CHOICES = [SelectChoice("", "—")] + [SelectChoice(code, label) for code, (label, _) in GAIS.items()]


class MeasuresForm(FlaskForm):
    """When the measures were taken; one box per measure of the course's indication is added per course."""

    submission = SubmissionKeyField()
    timepoint = SelectField("When", choices=[SelectChoice(k, v) for k, v in TIMEPOINTS.items()],
                            validators=[DataRequired("Choose when the measures were taken.")])
    session_id = SelectField("Session", coerce=optional_int, validators=[Optional()],
                             description="The session they were taken at (needed for “at a session”).")
    measured_on = DateField("Measured on", validators=[InputRequired("Give the day the measures were taken.")])


def _value_field(definition: MeasureDefinition) -> object:
    how = definition.how_to_measure
    if definition.kind == "gais":
        return SelectField(definition.name, choices=GAIS_CHOICES, validators=[Optional()], description=how)
    if definition.kind == "text":
        return TextAreaField(definition.name, validators=[Optional(), Length(max=2000)], description=how,
                             render_kw={"rows": 2})
    return StringField(f"{definition.name} ({definition.unit})", validators=[Optional(), Length(max=40)],
                       description=f"{definition.range_text}. {how}", render_kw={"inputmode": "decimal"})


def measures_form(definitions: Sequence[MeasureDefinition]) -> MeasuresForm:
    """The form with a box per measure (``value_<code>``) and, for numbers, where it was taken (``site_<code>``)."""

    class CourseMeasuresForm(MeasuresForm):
        pass

    for definition in definitions:
        setattr(CourseMeasuresForm, f"value_{definition.code}", _value_field(definition))
        if definition.taken_at_a_site:
            setattr(CourseMeasuresForm, f"site_{definition.code}", StringField(
                "Where (if not the usual spot)", validators=[Optional(), Length(max=200)]))
    return CourseMeasuresForm()


class CorrectionForm(FlaskForm):
    value = StringField("Corrected value", validators=[DataRequired("Give the corrected value."), Length(max=2000)])
    site = StringField("Where it was measured", validators=[Optional(), Length(max=200)])
    reason = TextAreaField("Why it is corrected", validators=[DataRequired("Say why the value is corrected."),
                                                              Length(max=2000)], render_kw={"rows": 2})
    version = HiddenField()


def correction_form(definition: MeasureDefinition) -> CorrectionForm:
    if definition.kind != "gais":
        return CorrectionForm()

    class GaisCorrectionForm(CorrectionForm):
        value = SelectField("Corrected grade", choices=GAIS_CHOICES,
                            validators=[DataRequired("Choose the corrected grade.")])

    return GaisCorrectionForm()


class DefinitionForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=40)], description="Lower-case, e.g. arm_left.")
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    kind = SelectField("Given as", choices=[SelectChoice(k, v) for k, v in MEASURE_KINDS.items()])
    unit = StringField("Unit", validators=[Optional(), Length(max=20)], description="cm, kg, hairs/cm², grade…")
    min_value = DecimalField("Lowest value that can be right", places=None, validators=[
        Optional(), finite, NumberRange(-RANGE_LIMIT, RANGE_LIMIT)])
    max_value = DecimalField("Highest value that can be right", places=None, validators=[
        Optional(), finite, NumberRange(-RANGE_LIMIT, RANGE_LIMIT)])
    decimals = IntegerField("Decimals", default=0, validators=[Optional(), NumberRange(0, 3)])
    higher_is_better = BooleanField("A higher value is better", default=True)
    how_to_measure = TextAreaField("How to measure it", validators=[Optional(), Length(max=2000)],
                                   render_kw={"rows": 3})
    every_indication = BooleanField("Measured for every indication")
    indication_codes = CheckboxesField("…or for these indications", validators=[Optional()])
    sort_order = IntegerField("Order", default=100, validators=[Optional(), NumberRange(0, 10000)])
    active = BooleanField("In use", default=True)
