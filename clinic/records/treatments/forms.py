"""Forms for planning courses and recording, signing and amending sessions.

The session form works without scripts: it always offers a few blank rows, and
"Add an area" / "Add a preparation" post the form back with one more row.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from clinic.auth.forms import ConfirmPasswordForm
from clinic.core.forms import CheckboxesField, LocalDateTimeField, SharedChoicesSelect, optional_int, whole_number
from clinic.core.submissions import SubmissionKeyField
from clinic.records.treatments.models import NEEDLE_GAUGES, SKIN_PREPARATIONS, TECHNIQUES

BLANK_COMPONENTS = 3
BLANK_INJECTIONS = 2


def _choices(labels: dict[str, str], blank: str | None = None) -> list[SelectChoice]:
    items = [SelectChoice(k, v) for k, v in labels.items()]
    return ([SelectChoice("", blank)] if blank else []) + items


GAUGE_CHOICES = [SelectChoice(str(g), f"{g}G") for g in NEEDLE_GAUGES]


class CourseForm(FlaskForm):
    submission = SubmissionKeyField()
    indication_code = SelectField("Indication", validators=[DataRequired("Choose the indication.")])
    area_codes = CheckboxesField("Target areas", validators=[DataRequired("Choose at least one area.")])
    planned_sessions = IntegerField("Planned sessions", validators=[Optional(), NumberRange(1, 50)],
                                    description="Leave empty for the indication's default.")
    interval_days = IntegerField("Minimum days between sessions", validators=[Optional(), NumberRange(1, 365)],
                                 description="Leave empty for the indication's default.")
    product_ids = SelectMultipleField("Planned products", coerce=whole_number, validators=[Optional()])
    starts_on = DateField("Starts on", validators=[InputRequired("Enter the start date.")])
    goals = TextAreaField("Goals", validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})
    baseline_notes = TextAreaField("Baseline notes", validators=[Optional(), Length(max=4000)], render_kw={"rows": 2})


class StopCourseForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[DataRequired("Say why the course stops early."), Length(max=2000)],
                           render_kw={"rows": 2})


class ProtocolRangeForm(FlaskForm):
    low = DecimalField("From", places=3, validators=[InputRequired("Give the lower end.")])
    high = DecimalField("To", places=3, validators=[InputRequired("Give the upper end.")])
    active = BooleanField("In use (shown as a hint, warned about when outside)")


class NewProtocolRangeForm(ProtocolRangeForm):
    """A usual range for a measure, an indication and an area (the choices come from the catalogues)."""

    submission = SubmissionKeyField()
    measure = SelectField("Measure", validators=[DataRequired("Choose the measure.")])
    indication_code = SelectField("Indication", description="“Any” holds for every indication without its own.")
    area_code = SelectField("Area", description="“Any” holds for every area without its own.")
    source = StringField("Source", validators=[Optional(), Length(max=300)],
                         description="Where the range comes from, e.g. the clinic's protocol of March 2026.")


class ReopenCourseForm(FlaskForm):
    reason = TextAreaField("Why it is reopened", validators=[DataRequired("Say why the course is reopened."),
                                                              Length(max=2000)], render_kw={"rows": 2})


class ComponentRow(Form):
    lot_id = SelectField("Lot", coerce=optional_int, validators=[Optional()], validate_choice=False,
                         widget=SharedChoicesSelect())
    units = IntegerField("Units opened", default=1, validators=[Optional(), NumberRange(1, 50)],
                         render_kw={"inputmode": "numeric", "min": 1})
    volume_ml = DecimalField("ml drawn", places=2, validators=[Optional()], render_kw={"inputmode": "decimal",
                                                                                          "step": "0.01"})


class PreparationRow(Form):
    label = StringField("Name", validators=[Optional(), Length(max=80)])
    components = FieldList(FormField(ComponentRow), min_entries=BLANK_COMPONENTS)


class InjectionRow(Form):
    area_code = SelectField("Area", validators=[Optional()], validate_choice=False, widget=SharedChoicesSelect())
    preparation = SelectField("Preparation", coerce=optional_int, validators=[Optional()], validate_choice=False,
                              widget=SharedChoicesSelect())
    technique = SelectField("Technique", choices=_choices(TECHNIQUES, blank="As the session"),
                            validators=[Optional()])
    depth_mm = DecimalField("Depth (mm)", places=1, validators=[Optional()],
                            render_kw={"inputmode": "decimal", "step": "0.1", "min": "0.5", "max": "13"})
    volume_ml = DecimalField("Volume (ml)", places=2, validators=[Optional()],
                             render_kw={"inputmode": "decimal", "step": "0.01"})
    points = IntegerField("Points", validators=[Optional()], render_kw={"inputmode": "numeric", "min": 1})
    needle_gauge = SelectField("Needle", coerce=optional_int, validators=[Optional()],
                               choices=[SelectChoice("", "As the session"), *GAUGE_CHOICES])
    not_administered = BooleanField("Not administered")
    not_administered_reason = StringField("Why not", validators=[Optional(), Length(max=300)])


class SessionForm(FlaskForm):
    submission = SubmissionKeyField()
    performed_at = LocalDateTimeField("Date and time", format="%Y-%m-%dT%H:%M",
                                      validators=[InputRequired("Enter the date and time.")])
    nurse_id = SelectField("Assisting nurse", coerce=optional_int, validators=[Optional()])
    skin_preparation = SelectField("Skin preparation", choices=_choices(SKIN_PREPARATIONS, blank="Choose…"),
                                   validators=[DataRequired("Choose the skin preparation.")])
    anaesthetic_lot_id = SelectField("Anaesthetic cream lot", coerce=optional_int, validators=[Optional()])
    anaesthetic_minutes = IntegerField("Minutes applied", validators=[Optional(), NumberRange(1, 120)])
    technique = SelectField("Technique", choices=_choices(TECHNIQUES, blank="Choose…"),
                            validators=[DataRequired("Choose the technique.")])
    needle_gauge = SelectField("Needle gauge", coerce=optional_int,
                               choices=[SelectChoice("", "Choose…"), *GAUGE_CHOICES],
                               validators=[InputRequired("Choose the needle gauge.")])
    needle_length_mm = DecimalField("Needle length (mm)", places=1,
                                    validators=[InputRequired("Enter the needle length.")],
                                    render_kw={"inputmode": "decimal", "step": "0.5"})
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=4000)], render_kw={"rows": 2})
    preparations = FieldList(FormField(PreparationRow), min_entries=1)
    injections = FieldList(FormField(InjectionRow), min_entries=BLANK_INJECTIONS)
    acknowledged = SelectMultipleField("I have considered these warnings", validators=[Optional()],
                                       validate_choice=False)
    version = HiddenField()


class AmendForm(ConfirmPasswordForm):
    target_field = SelectField("What to correct", validators=[DataRequired("Choose what to correct.")])
    new_value = StringField("Corrected value", validators=[DataRequired("Enter the corrected value."),
                                                          Length(max=2000)])
    reason = TextAreaField("Reason", validators=[DataRequired("Say why the record is corrected."), Length(max=2000)],
                           render_kw={"rows": 2})
