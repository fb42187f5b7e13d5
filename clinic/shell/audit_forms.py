"""Filters of the audit page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

ACTION_LABELS = [
    ("", "Any action"),
    ("create", "Created"),
    ("update", "Changed"),
    ("void", "Voided"),
    ("delete", "Removed (catalogue rows only)"),
    ("lock", "Locked / signed"),
    ("read_chart", "Chart viewed"),
    ("login", "Signed in"),
    ("logout", "Signed out"),
    ("login_failed", "Failed sign-in"),
    ("login_throttled", "Sign-in throttled"),
    ("timeout", "Session timed out"),
    ("forbidden", "Forbidden attempt"),
    ("reauth_failed", "Failed re-authentication"),
    ("admin_power", "Admin power used (high severity)"),
    ("audit_verify", "Audit verification"),
    ("export", "Export or print"),
    ("trace", "Lot traced"),
    ("read_worklist", "Recall worklist viewed"),
]
ACTION_CHOICES = [SelectChoice(value, label) for value, label in ACTION_LABELS]


class AuditFilterForm(FlaskForm):
    """GET filters: no CSRF needed, nothing is written."""

    class Meta:
        csrf = False

    user = SelectField("User", coerce=str, validators=[Optional()])
    action = SelectField("Action", choices=ACTION_CHOICES, validators=[Optional()])
    record_type = StringField("Record type", validators=[Optional(), Length(max=60)],
                              description="For example user, patient, lot.")
    record_id = StringField("Record id", validators=[Optional(), Length(max=60)],
                            description="A number, or a patient's record number such as P000025.")
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    before = IntegerField(validators=[Optional(), NumberRange(min=1)])

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")
