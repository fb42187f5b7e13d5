"""One form per stock action."""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from clinic.core.forms import ChoiceField, whole_number
from clinic.core.submissions import SubmissionKeyField
from clinic.inventory.models import DISCARD_REASONS, LOCATION_KINDS, PRODUCT_KINDS, PRODUCT_UNITS


def _choices(labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


class ProductForm(FlaskForm):
    name = StringField("Product name", validators=[DataRequired(), Length(max=200)])
    manufacturer = StringField("Manufacturer", validators=[DataRequired(), Length(max=200)])
    kind = SelectField("Kind", choices=_choices(PRODUCT_KINDS), validators=[DataRequired()])
    gtin = StringField("GTIN", validators=[Optional(), Length(max=14)],
                       description="The 8–14 digit code under the barcode; its check digit is verified.",
                       render_kw={"inputmode": "numeric"})
    unit = SelectField("Unit", choices=_choices(PRODUCT_UNITS), validators=[DataRequired()])
    volume_ml = DecimalField("Volume per unit (ml)", places=2,
                             validators=[InputRequired("Give the volume of one unit in ml.")],
                             render_kw={"inputmode": "decimal", "step": "0.01"})
    storage_conditions = StringField("Storage conditions", validators=[Optional(), Length(max=200)],
                                     description="For example: 2–8 °C, protect from light.")
    ingredient_ids = SelectMultipleField("Ingredients", coerce=whole_number, validators=[Optional()],
                                         description="Every ingredient it contains: the allergy check reads this.")
    version = HiddenField()


class IngredientForm(FlaskForm):
    name = StringField("Ingredient", validators=[DataRequired(), Length(max=120)])
    family = StringField("Family", validators=[Optional(), Length(max=60)],
                         description="For example: vitamin, mineral, peptide.")


class LocationForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)],
                       description="As labelled in the clinic, e.g. \"Fridge 1, treatment room\".")
    kind = SelectField("Kind", choices=_choices(LOCATION_KINDS), validators=[DataRequired()])


class ReceiveForm(FlaskForm):
    submission = SubmissionKeyField()
    scan = StringField(
        "Scan the label",
        validators=[Optional(), Length(max=200)],
        description="Scan the GS1 code on the box, or paste what the scanner reads. "
        "It fills product, lot and expiry.",
        render_kw={"autocomplete": "off", "autofocus": True, "spellcheck": "false"},
    )
    product_id = ChoiceField("Product", message="Choose the product.")
    lot_number = StringField("Lot number", validators=[Optional(), Length(max=40)],
                             render_kw={"autocomplete": "off", "spellcheck": "false"})
    lot_number_again = StringField(
        "Lot number again", validators=[Optional(), Length(max=40)],
        description="Typed by hand, a lot number is entered twice to catch slips.",
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    expiry_date = DateField("Expiry date", validators=[InputRequired("Enter the expiry date.")])
    serial = HiddenField()
    quantity = IntegerField("Units received", validators=[InputRequired("Enter how many units arrived.")],
                            render_kw={"inputmode": "numeric", "min": 1})
    supplier = StringField("Supplier", validators=[DataRequired("Enter the supplier."), Length(max=200)])
    received_on = DateField("Received on", default=date.today,
                            validators=[InputRequired("Enter the day the units arrived.")])
    storage_location_id = ChoiceField("Stored in", message="Choose where the units are kept.")


class DiscardForm(FlaskForm):
    quantity = IntegerField("Units discarded", validators=[InputRequired("Enter how many units.")],
                            render_kw={"inputmode": "numeric", "min": 1})
    # No reason is preselected: a discard recorded as "expired" by default would mislead an audit.
    reason = SelectField("Reason", choices=[SelectChoice("", "Choose a reason…"), *_choices(DISCARD_REASONS)],
                         validators=[DataRequired("Choose why the units were discarded.")])
    note = TextAreaField("Note", validators=[Optional(), Length(max=2000)])
    discarded_on = DateField("Date", default=date.today, validators=[InputRequired("Enter the date.")])


class HoldForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[DataRequired("Give the reason."), Length(max=2000)])


class StockFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Lot or product", validators=[Optional(), Length(max=100)])
    days = IntegerField(validators=[Optional(), NumberRange(min=1, max=366)])
