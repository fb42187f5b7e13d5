"""The trace search form (a GET form: nothing is written)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import Length, Optional


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
