"""One form per account action."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from clinic.auth.models import ROLE_LABELS

ROLE_CHOICES = [SelectChoice(role, label) for role, label in ROLE_LABELS.items()]
PASSWORD_HELP = "At least 12 characters. A passphrase of several unrelated words works well."  # noqa: S105 - help text


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class SecondFactorForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app, or a recovery code",
        validators=[DataRequired(), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True},
    )


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=256)],
                                 description=PASSWORD_HELP, render_kw={"autocomplete": "new-password"})
    confirm_password = PasswordField(
        "New password again",
        validators=[DataRequired(), EqualTo("new_password", message="The two new passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(ResetPasswordForm):
    current_password = PasswordField("Current password", validators=[DataRequired()],
                                     render_kw={"autocomplete": "current-password"})


class EnableTotpForm(FlaskForm):
    code = StringField("6-digit code shown by your app", validators=[DataRequired(), Length(max=10)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class ConfirmPasswordForm(FlaskForm):
    """Password, and the two-step code when enrolled, to confirm an important action: signing or
    amending a record, exporting patient data, changing a role or one's own sign-in (SECURITY.md A5)."""

    password = PasswordField("Your password, to confirm", validators=[DataRequired("Enter your password.")],
                             render_kw={"autocomplete": "current-password"})
    code = StringField("Your authenticator code (if you use two-step sign-in)", validators=[Optional(), Length(max=20)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class NewUserForm(ConfirmPasswordForm):
    email = EmailField("Email", validators=[DataRequired(), Email(check_deliverability=False),
                                            Length(max=254)])
    full_name = StringField("Full name", validators=[DataRequired(), Length(max=200)])
    # No role is preselected: opening a doctor's account by mistake grants clinical signing rights.
    role = SelectField("Role", choices=[SelectChoice("", "Choose…"), *ROLE_CHOICES],
                       validators=[DataRequired("Choose the person's role.")],
                       description="The person chooses their own password through a one-time link, "
                       "shown on the next page.")


class ChangeRoleForm(ConfirmPasswordForm):
    role = SelectField("New role", choices=ROLE_CHOICES, validators=[DataRequired()])
    version = HiddenField()


class ActionForm(FlaskForm):
    """An empty form for POST-only buttons: it carries the CSRF token."""
