"""The reports' filter (a GET form), and the vigilance report's forms."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from clinic.core.clock import clinic_today
from clinic.core.submissions import SubmissionKeyField
from clinic.reports.models import RECIPIENTS
from clinic.reports.queries import ReportFilter

PRESETS = {"30": "Last 30 days", "quarter": "Last quarter (3 months)", "year": "Last 12 months",
           "all": "All records", "custom": "The dates below"}
PRESET_DAYS = {"30": 30, "quarter": 91, "year": 365}
# No clinic kept these records before; a day far outside is a typing slip, not a report.
EARLIEST = date(1990, 1, 1)
FILTERS = {"indication": "indication", "product": "product", "doctor": "doctor", "location": "storage location"}


class ReportForm(FlaskForm):
    class Meta:
        csrf = False

    period = SelectField("Period", choices=[SelectChoice(k, v) for k, v in PRESETS.items()], default="30")
    start = DateField("From", validators=[Optional()])
    end = DateField("To", validators=[Optional()])
    indication = SelectField("Indication", validators=[Optional()])
    product = SelectField("Product", validators=[Optional()])
    doctor = SelectField("Doctor", validators=[Optional()])
    location = SelectField("Storage location", validators=[Optional()],
                           description="Lots received into it. Choose a product or a location, not both.")

    def offer(self, choices: dict[str, list[tuple[str, str]]]) -> None:
        for name in FILTERS:
            getattr(self, name).choices = [SelectChoice("", "Any")] + [SelectChoice(v, label)
                                                                       for v, label in choices[name]]

    def validate(self, extra_validators: Any = None) -> bool:
        valid = bool(super().validate(extra_validators))
        if not self.period.raw_data and (self.start.data or self.end.data):
            self.period.data = "custom"  # two dates and no period chosen: those dates
        for name, words in FILTERS.items():
            field = getattr(self, name)
            if field.errors:
                field.errors = [f"There is no such {words}: choose one from the list."]
        if self.period.errors:
            self.period.errors = ["Choose a period from the list."]
        if self.product.data and self.location.data and not self.location.errors:
            self.location.errors = ["Choose a product or a storage location, not both."]
            valid = False
        if self.period.data == "custom":
            if self.start.data is None and not self.start.errors:
                self.start.errors = ["Give the first day of the range."]
                valid = False
            if self.end.data is None and not self.end.errors:
                self.end.errors = ["Give the last day of the range."]
                valid = False
            for field in (self.start, self.end):
                if field.data is not None and not EARLIEST <= field.data <= clinic_today() + timedelta(days=366):
                    field.errors = ["Give a day between 1 January 1990 and a year from today."]
                    valid = False
            if valid and self.start.data and self.end.data:
                if self.end.data < self.start.data:
                    self.end.errors = ["The end is before the start."]
                    valid = False
                elif (self.end.data - self.start.data).days + 1 > current_app.config["REPORTS_MAX_RANGE_DAYS"]:
                    self.end.errors = [f"A range covers at most {current_app.config['REPORTS_MAX_RANGE_DAYS']} "
                                       "days: narrow it, or choose “All records”."]
                    valid = False
        return valid

    def report_filter(self, today: date, first_day: date | None) -> ReportFilter:
        """The range and filters chosen, once valid."""
        period = self.period.data or "30"
        if period in PRESET_DAYS:
            start, end = today - timedelta(days=PRESET_DAYS[period] - 1), today
        elif period == "all":
            start, end = min(first_day or today, today), today
        else:
            start, end = self.start.data, self.end.data
        return ReportFilter(start=start, end=end, indication=self.indication.data or None,
                            product_id=int(self.product.data) if self.product.data else None,
                            doctor_id=int(self.doctor.data) if self.doctor.data else None,
                            location_id=int(self.location.data) if self.location.data else None)


class VigilanceForm(FlaskForm):
    """What the auditor completes before sending."""

    recipient = SelectField("Sent to", choices=[SelectChoice(k, v) for k, v in RECIPIENTS.items()])
    recipient_name = StringField("Recipient's name", validators=[Length(max=200)],
                                 description="The manufacturer's vigilance contact, or the authority.")
    reporter_contact = StringField("Contact at the clinic", validators=[Length(max=200)],
                                   description="Who answers the recipient's questions (no patient details).")
    narrative = TextAreaField("What happened", validators=[Length(max=8000)], render_kw={"rows": 5},
                              description="In the clinic's words, without the patient's name or record number.")
    further_information = TextAreaField("Further information", validators=[Length(max=8000)],
                                        render_kw={"rows": 3})
    version = HiddenField()


class SentForm(FlaskForm):
    """The record that the report was sent: when, to whom, and the reference received."""

    submission = SubmissionKeyField()
    sent_on = DateField("Sent on", validators=[DataRequired("Give the day it was sent.")])
    sent_to = StringField("Sent to", validators=[DataRequired("Say to whom it was sent."), Length(max=200)])
    reference = StringField("Reference received", validators=[Length(max=120)],
                            description="The recipient's case or acknowledgement number, if any.")
