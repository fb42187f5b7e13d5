"""The photo upload form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from clinic.core.forms import optional_int
from clinic.core.submissions import SubmissionKeyField
from clinic.records.outcomes.models import TIMEPOINTS
from clinic.records.photos.models import VIEWS


class PhotoForm(FlaskForm):
    submission = SubmissionKeyField()
    file = FileField("Photo", description="JPEG, PNG or HEIC straight from the camera or phone.",
                     render_kw={"accept": "image/jpeg,image/png,image/heic,image/heif"})
    timepoint = SelectField("When", choices=[SelectChoice(k, v) for k, v in TIMEPOINTS.items()],
                            validators=[DataRequired("Choose when the photo was taken.")])
    session_id = SelectField("Session", coerce=optional_int, validators=[Optional()],
                             description="The session it was taken at (needed for “at a session”).")
    taken_on = DateField("Taken on", validators=[InputRequired("Give the day the photo was taken.")])
    view = SelectField("Standard view", choices=[SelectChoice("", "Choose…")] + [
        SelectChoice(k, v) for k, v in VIEWS.items()], validators=[DataRequired("Choose the standard view.")])
    area_code = SelectField("Area", validators=[Optional()])
    note = StringField("Note", validators=[Optional(), Length(max=300)])
