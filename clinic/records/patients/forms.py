"""Forms for registering patients, their history and patch tests."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from clinic.core.forms import CheckboxesField, LocalDateTimeField, optional_int, whole_number
from clinic.core.submissions import SubmissionKeyField
from clinic.records.patients.models import (
    BREASTFEEDING,
    FITZPATRICK,
    PREGNANCY,
    SEXES,
    TREATMENT_KINDS,
)


def _choices(labels: dict, blank: str | None = None) -> list[SelectChoice]:
    items = [SelectChoice(str(k), v) for k, v in labels.items()]
    return ([SelectChoice("", blank)] if blank else []) + items


class PatientForm(FlaskForm):
    submission = SubmissionKeyField()
    first_name = StringField("First name", validators=[DataRequired("Enter the first name."), Length(max=100)])
    last_name = StringField("Last name", validators=[DataRequired("Enter the last name."), Length(max=100)])
    date_of_birth = DateField("Date of birth", validators=[InputRequired("Enter the date of birth.")])
    sex = SelectField("Sex", choices=_choices(SEXES, blank="Choose…"),
                      validators=[DataRequired("Choose from the list.")])
    fitzpatrick = SelectField(
        "Skin type (Fitzpatrick)", coerce=optional_int, validators=[Optional()],
        choices=[SelectChoice("", "Not recorded"),
                 *(SelectChoice(str(k), f"Type {v}") for k, v in FITZPATRICK.items())],
        description="Types IV–VI carry a higher risk of hyperpigmentation.",
    )
    phone = StringField("Phone", validators=[Optional(), Length(max=32)], render_kw={"inputmode": "tel"})
    email = EmailField("Email", validators=[Optional(), Length(max=254)])
    address = TextAreaField("Address", validators=[Optional(), Length(max=1000)], render_kw={"rows": 2})
    emergency_contact = StringField("Emergency contact", validators=[Optional(), Length(max=200)],
                                    description="Name, relationship and phone.")
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=4000)], render_kw={"rows": 2})
    record_number = StringField("Record number", validators=[Optional(), Length(max=20)],
                                description="Leave empty to generate the next number. "
                                "Fill in only to carry over a number from paper records.")
    confirm_not_duplicate = BooleanField("This is a different person with the same name and date of birth")
    version = HiddenField()


class MedicationRow(Form):
    name = StringField("Medication", validators=[Optional(), Length(max=200)])
    anticoagulant = BooleanField("Blood thinner (anticoagulant / antiplatelet)")


class TreatmentRow(Form):
    kind = SelectField("Treatment", choices=_choices(TREATMENT_KINDS, blank="—"), validators=[Optional()])
    treated_on = DateField("Date", validators=[Optional()])
    note = StringField("Note", validators=[Optional(), Length(max=200)])


class HistoryForm(FlaskForm):
    condition_codes = CheckboxesField("Conditions", validators=[Optional()])
    medications = FieldList(FormField(MedicationRow), min_entries=1)
    allergy_ingredient_ids = CheckboxesField("Allergies to ingredients", coerce=whole_number,
                                             validators=[Optional()],
                                             description="The gate refuses products that contain these.")
    other_allergies = TextAreaField("Other allergies", validators=[Optional(), Length(max=2000)],
                                    description="One per line (drugs, latex, foods...).", render_kw={"rows": 2})
    pregnancy = SelectField("Pregnancy", choices=_choices(PREGNANCY), validators=[DataRequired()])
    breastfeeding = SelectField("Breastfeeding", choices=_choices(BREASTFEEDING), validators=[DataRequired()])
    treatments = FieldList(FormField(TreatmentRow), min_entries=1)
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=4000)], render_kw={"rows": 2})
    change_note = StringField("What changed", validators=[Optional(), Length(max=300)],
                              description="A short note for the history's version list.")
    based_on = HiddenField()


class PatchTestForm(FlaskForm):
    substance = SelectField("Product or ingredient", validators=[DataRequired("Choose what is tested.")])
    applied_at = LocalDateTimeField("Applied at", format="%Y-%m-%dT%H:%M",
                                    validators=[InputRequired("Enter when it was applied.")])


class PatchReadingForm(FlaskForm):
    result = SelectField("Result", choices=[SelectChoice("negative", "Negative: no reaction"),
                                            SelectChoice("positive", "Positive: reaction")],
                         validators=[DataRequired()])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=2000)], render_kw={"rows": 2},
                          description="Required for a positive result: describe the reaction.")
    read_at = LocalDateTimeField("Read at", format="%Y-%m-%dT%H:%M", validators=[InputRequired()])


class PatientSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional(), Length(max=100)],
                    render_kw={"placeholder": "Name, record number, date of birth or phone", "autofocus": True})
    after = HiddenField()

