"""Account administration: admins open, deactivate and reactivate accounts and change roles.

An admin never sets another person's password: they issue a one-time reset link.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.audit.services import record_event
from clinic.auth import services
from clinic.auth.forms import ActionForm, ChangeRoleForm, ConfirmPasswordForm, NewUserForm
from clinic.auth.models import User
from clinic.core.errors import ClinicError
from clinic.core.services import check_version
from clinic.core.transaction import attempt
from clinic.extensions import db

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/users")
def list_users() -> str:
    """Every account, active first, then by name."""
    users = db.session.scalars(
        sa.select(User).order_by(User.deactivated_at.is_not(None), User.full_name)
    ).all()
    return render_template("admin/users.html", users=users)


_LINK_KEY = "new_account_link"


@bp.route("/users/new", methods=["GET", "POST"])
def new_user() -> Response | str | tuple:
    """Open an account for a named person."""
    form = NewUserForm()
    if form.validate_on_submit():
        # An admin power: the password again, a wrong one on record (SECURITY.md A5).
        if not _confirmed(form, f"open an account for {form.email.data} ({form.role.data})"):
            return render_template("admin/new_user.html", form=form), 403
        opened = attempt(form.email, services.open_account, form.email.data, form.full_name.data,
                         form.role.data, current_user)
        if opened.ok:
            user, token = opened.value
            flash(f"Account opened for {user.full_name} ({user.role_label}). Give them the one-time link "
                  "below: they choose their own password with it.", "success")
            # Post/redirect/get: reloading the account page never opens a second account. The link goes
            # through the (sealed) session cookie and is shown once, on the next page only.
            session[_LINK_KEY] = (user.id, url_for("auth.reset_password", token=token, _external=True))
            return redirect(url_for("admin.show_user", user_id=user.id), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("admin/new_user.html", form=form), status


def _confirmed(form: ConfirmPasswordForm, power: str) -> bool:
    """The admin's password (and code) again before an admin power; the use is audited at high severity."""
    if not attempt(form.password, services.reauthenticate, current_user, form.password.data, form.code.data,
                   purpose=power).ok:
        return False
    record_event("admin_power", record_type="user", record_id=current_user.id, reason=f"high severity: {power}")
    return True


def _render_user(user: User, *, role_form: ChangeRoleForm | None = None, access_form: ConfirmPasswordForm | None = None,
                 reset_link: str | None = None, status: int = 200) -> tuple[str, int]:
    if role_form is None:
        role_form = ChangeRoleForm(formdata=None, role=user.role, version=user.version)
    return render_template("admin/user.html", user=user, role_form=role_form,
                           access_form=access_form or ConfirmPasswordForm(formdata=None),
                           action_form=ActionForm(), reset_link=reset_link), status


@bp.get("/users/<int:user_id>")
def show_user(user_id: int) -> tuple[str, int]:
    """One account: role, status, and the actions on it; once, the link of an account just opened."""
    user = db.get_or_404(User, user_id)
    held = session.pop(_LINK_KEY, None)
    link = held[1] if held and held[0] == user.id else None
    return _render_user(user, reset_link=link)


@bp.post("/users/<int:user_id>/role")
def change_role(user_id: int) -> Response | tuple[str, int]:
    """Change a role; needs the admin's password (SECURITY.md A5)."""
    user = db.get_or_404(User, user_id)
    form = ChangeRoleForm()
    if not form.validate_on_submit():
        return _render_user(user, role_form=form, status=400)

    def account_now(conflict: ClinicError) -> None:
        # Keep what the admin chose, say what changed, and let a deliberate resubmit through.
        form.role.errors.append(
            f"{conflict} The account is now: role {user.role_label.lower()}, "
            f"{'active' if user.is_active else 'deactivated'}."
        )

    if not attempt(account_now, check_version, user, form.version.data).ok:
        form.version.data = user.version
        return _render_user(user, role_form=form, status=409)
    # A wrong password stays in the audit trail.
    if not attempt(form.password, services.reauthenticate, current_user, form.password.data, form.code.data,
                   purpose=f"change role of user {user.id}").ok:
        return _render_user(user, role_form=form, status=403)
    if not attempt(form.role, services.change_role, user, form.role.data, current_user).ok:
        return _render_user(user, role_form=form, status=400)
    flash(f"{user.full_name} is now {user.role_label.lower()}; their sessions were ended.", "success")
    return redirect(url_for("admin.show_user", user_id=user.id))


def _account_action(user_id: int, action: Callable[[User], Any], done: str) -> Response | tuple[str, int]:
    """A button on an account's page: run ``action`` on the account, say ``done`` (with the name) on success."""
    user = db.get_or_404(User, user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if not attempt(None, action, user).ok:
        return _render_user(user, status=400)
    flash(done.format(name=user.full_name), "success")
    return redirect(url_for("admin.show_user", user_id=user.id))


@bp.post("/users/<int:user_id>/deactivate")
def deactivate_user(user_id: int) -> Response | tuple[str, int]:
    """Close an account; it stays on record and its sessions end at once."""
    return _account_action(user_id, lambda user: services.deactivate_user(user, current_user),
                           "{name}'s account is deactivated.")


def _confirmed_on_page(user: User, power: str) -> tuple[str, int] | None:
    """None when the admin confirmed with their password; else the account's page with the refusal."""
    form = ConfirmPasswordForm()
    if not form.validate_on_submit():
        return _render_user(user, access_form=form, status=400)
    if not _confirmed(form, power):
        return _render_user(user, access_form=form, status=403)
    return None


@bp.post("/users/<int:user_id>/reactivate")
def reactivate_user(user_id: int) -> Response | tuple[str, int]:
    """Open a deactivated account again: an admin power, so the password again."""
    user = db.get_or_404(User, user_id)
    if (refused := _confirmed_on_page(user, f"reactivate the account of user {user.id}")) is not None:
        return refused
    if not attempt(None, services.reactivate_user, user).ok:
        return _render_user(user, status=400)
    flash(f"{user.full_name}'s account is active again.", "success")
    return redirect(url_for("admin.show_user", user_id=user.id))


@bp.post("/users/<int:user_id>/reset")
def issue_password_reset(user_id: int) -> Response | tuple[str, int]:
    """A one-time link for the person to choose a new password; shown once. The password again first."""
    user = db.get_or_404(User, user_id)
    if (refused := _confirmed_on_page(user, f"issue a password-reset link for user {user.id}")) is not None:
        return refused
    issued = attempt(None, services.issue_password_reset, user, current_user)
    if not issued.ok:
        return _render_user(user, status=400)
    link = url_for("auth.reset_password", token=issued.value, _external=True)
    return _render_user(user, reset_link=link)
