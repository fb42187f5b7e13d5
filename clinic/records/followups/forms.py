"""Forms of the follow-up worklist, side effects, flag reviews, the side-effect catalogue, and the
patient's own report (worded for the patient)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from clinic.core.forms import CheckboxesField, LocalDateTimeField, whole_number
from clinic.core.submissions import SubmissionKeyField
from clinic.records.followups.models import (
    ACTIONS,
    CAUSALITY,
    CHANNELS,
    GRADES,
    OUTCOMES,
    PATIENT_SEVERITIES,
    SIZE_GUIDE,
)
from clinic.records.followups.patient_report import NOTE_MAX as PATIENT_NOTE_MAX

LOCAL_MINUTE = "%Y-%m-%dT%H:%M"


class AttemptForm(FlaskForm):
    attempted_at = LocalDateTimeField("When", format=LOCAL_MINUTE, validators=[InputRequired("Give the time.")])
    channel = SelectField("How", choices=[SelectChoice(k, v) for k, v in CHANNELS.items()],
                          validators=[DataRequired()])
    reached = RadioField("Was the patient reached?",
                         choices=[SelectChoice("yes", "Reached"), SelectChoice("no", "Not reached")],
                         validators=[DataRequired("Say whether the patient was reached.")])
    patient_report = TextAreaField("What the patient reports", validators=[Optional(), Length(max=4000)],
                                   render_kw={"rows": 3}, description="Reached: in their words, even briefly.")
    side_effects = RadioField("Side effects", default="none", choices=[
        SelectChoice("none", "No new side effects"),
        SelectChoice("some", "Side effects to record (the form opens next)")])
    reschedule_to = DateField("Try again on", validators=[Optional()],
                              description="Not reached: empty means the next working day.")
    note = TextAreaField("Note", validators=[Optional(), Length(max=4000)], render_kw={"rows": 2})
    # Side effects still open on record that the nurse confirms are still ongoing with nothing new.
    acknowledged = SelectMultipleField("Still ongoing, nothing new", validators=[Optional()], validate_choice=False)
    version = HiddenField()


class SideEffectForm(FlaskForm):
    submission = SubmissionKeyField()
    type_code = SelectField("Side effect", validators=[DataRequired("Choose the side effect.")])
    other_text = StringField("What it is (for “other”)", validators=[Optional(), Length(max=200)])
    injection_ids = CheckboxesField("Treated areas it concerns", coerce=whole_number, validators=[Optional()],
                                    description="From this session's injections: so it links to their lots.")
    onset_at = LocalDateTimeField("Started at", format=LOCAL_MINUTE, validators=[Optional()])
    onset_hours = IntegerField("…or hours after the session", validators=[Optional(), NumberRange(min=0, max=8760)])
    size_cm = DecimalField("Size (cm)", places=1, validators=[Optional(), NumberRange(min=0, max=999)],
                           description=SIZE_GUIDE)
    grade = RadioField("Severity", coerce=whole_number, choices=[SelectChoice(k, v) for k, v in GRADES.items()],
                       validators=[InputRequired("Choose a grade from 1 to 4.")],
                       description=SIZE_GUIDE)
    serious = BooleanField("Serious: hospitalisation, lasting harm or medical intervention")
    action = SelectField("Action taken", choices=[SelectChoice(k, v) for k, v in ACTIONS.items()])
    action_other = StringField("What was done (for “other”)", validators=[Optional(), Length(max=200)])
    causality = SelectField("Link with the treatment (your judgement)",
                            validators=[DataRequired("Give your judgement of the link with the treatment.")], choices=[
        SelectChoice("", "Choose…"), *[SelectChoice(k, v) for k, v in CAUSALITY.items()]])
    outcome = SelectField("Outcome", choices=[SelectChoice(k, v) for k, v in OUTCOMES.items()])
    resolved_on = DateField("Resolved on", validators=[Optional()])
    note = TextAreaField("Note", validators=[Optional(), Length(max=4000)], render_kw={"rows": 3})
    version = HiddenField()


class ReviewForm(FlaskForm):
    assessment = TextAreaField("Your assessment", validators=[DataRequired("Write your assessment."),
                                                              Length(max=4000)], render_kw={"rows": 3})
    plan = TextAreaField("Plan", validators=[DataRequired("Write the plan, even “no further action”."),
                                             Length(max=4000)], render_kw={"rows": 2})
    next_contact_on = DateField("Next contact", validators=[Optional()],
                                description="A date schedules a follow-up call for the nurses that day.")


class SideEffectTypeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=40)], description="Lower-case, e.g. blister.")
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    plain_name = StringField("In the patient's words", validators=[DataRequired(), Length(max=160)])
    expected_min_hours = IntegerField("Expected to last from (hours)", validators=[Optional(), NumberRange(0, 8760)])
    expected_max_hours = IntegerField("…to (hours)", validators=[Optional(), NumberRange(0, 8760)],
                                      description="Empty for a rare kind: every one is shown to a doctor.")
    always_flag = BooleanField("Rare: always shown to a doctor")
    sized = BooleanField("Measured in cm")
    sort_order = IntegerField("Order", default=100, validators=[Optional(), NumberRange(0, 10000)])
    active = BooleanField("In use", default=True)


class PatientReportForm(FlaskForm):
    """What the patient notices since their treatment. The choices are checked by the service (the
    catalogue's active types, the three severities), which words its refusals for the patient."""

    type_code = RadioField("What do you notice?", validate_choice=False,
                           validators=[InputRequired("Choose what you notice.")])
    onset_at = LocalDateTimeField("Since when?", format=LOCAL_MINUTE,
                                  validators=[InputRequired("Give the day and time it started.")])
    severity = RadioField("How bad is it?", validate_choice=False,
                          choices=[SelectChoice(code, label) for code, (label, _) in PATIENT_SEVERITIES.items()],
                          validators=[InputRequired("Choose how bad it is.")])
    note = TextAreaField("Anything else we should know?", validators=[Optional(), Length(max=PATIENT_NOTE_MAX)],
                         render_kw={"rows": 4, "maxlength": PATIENT_NOTE_MAX})
    callback_phone = TelField("A number we can call you on",
                              description="Leave it empty and we call the number we have for you.",
                              validators=[Optional(), Length(max=40)],
                              render_kw={"autocomplete": "tel", "inputmode": "tel"})
