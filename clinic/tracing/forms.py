"""The trace search form (a GET form), and the recall forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from clinic.core.forms import CheckboxesField, optional_int, whole_number
from clinic.core.submissions import SubmissionKeyField
from clinic.tracing.models import CONTACT_METHODS, RECALL_SOURCES


class TraceForm(FlaskForm):
    class Meta:
        csrf = False

    lot = StringField("Lot number", validators=[Optional(), Length(max=40)],
                      render_kw={"autocomplete": "off", "spellcheck": "false", "autofocus": True})
    gtin = StringField("GTIN (optional)", validators=[Optional(), Length(max=14)],
                       description="When two products share a lot number.", render_kw={"inputmode": "numeric"})
    scan = StringField("Or scan the label", validators=[Optional(), Length(max=200)],
                       render_kw={"autocomplete": "off", "spellcheck": "false"})
    after = HiddenField()


class RecallForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[DataRequired("Give the reason for the recall."), Length(max=4000)],
                           render_kw={"rows": 3})
    source = SelectField("Source", choices=[SelectChoice("", "Choose…"),
                                            *[SelectChoice(k, v) for k, v in RECALL_SOURCES.items()]],
                         validators=[DataRequired("Choose where the recall comes from.")])
    reference = StringField("Reference", validators=[Optional(), Length(max=80)],
                            description="The manufacturer's or regulator's notice number, or your incident number.")
    notice_date = DateField("Notice date", validators=[InputRequired("Enter the date of the notice.")])
    lot_ids = CheckboxesField("Lots", coerce=whole_number, validators=[Optional()])
    location_id = SelectField("Or every lot kept in", coerce=optional_int, validators=[Optional()])
    window_start = DateField("From", validators=[Optional()])
    window_end = DateField("To", validators=[Optional()])


class ContactForm(FlaskForm):
    submission = SubmissionKeyField()
    method = SelectField("How", choices=[SelectChoice(k, v) for k, v in CONTACT_METHODS.items()],
                         validators=[DataRequired()])
    reached = BooleanField("The patient was reached")
    note = TextAreaField("What was said", validators=[Optional(), Length(max=4000)], render_kw={"rows": 2})
    outcome = SelectField("Close the row", validators=[Optional()], choices=[
        SelectChoice("", "Not yet"), SelectChoice("follow_up_booked", "Follow-up appointment booked"),
        SelectChoice("no_action_needed", "No action needed")])
