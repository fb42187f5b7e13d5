"""Consent forms: signing, withdrawing, and publishing a new text version."""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional


class ChooseConsentForm(FlaskForm):
    class Meta:
        csrf = False

    form = SelectField("Consent", validators=[DataRequired("Choose the consent to record.")])


class SignConsentForm(FlaskForm):
    text_version_id = HiddenField()
    content_hash = HiddenField()
    signed_name = StringField("Patient's full name, typed by the patient",
                              validators=[DataRequired("The patient types their full name."), Length(max=200)],
                              render_kw={"autocomplete": "off"})
    signature_image = HiddenField()
    # Set to 1 by the signature script: the pad was offered, so a drawn signature is expected.
    pad_shown = HiddenField()


class WithdrawConsentForm(FlaskForm):
    withdrawn_on = DateField("Withdrawn on", default=date.today, validators=[InputRequired()])
    reason = TextAreaField(
        "Reason given",
        validators=[DataRequired("Record the reason (or \u201cno reason given\u201d)."), Length(max=2000)],
        render_kw={"rows": 2})


class ConsentTextForm(FlaskForm):
    body = TextAreaField("Text of the new version", validators=[DataRequired(), Length(max=20000)],
                         render_kw={"rows": 18})


class WithdrawTextForm(FlaskForm):
    reason = StringField("Why this version must not be signed again", validators=[Optional(), Length(max=500)])
