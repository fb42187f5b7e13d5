"""Sign-in, sign-out and one's own account."""

from __future__ import annotations

import segno
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.audit.services import record_event
from clinic.auth import services
from clinic.auth.forms import (
    ActionForm,
    ChangePasswordForm,
    ConfirmPasswordForm,
    EnableTotpForm,
    LoginForm,
    ResetPasswordForm,
    SecondFactorForm,
)
from clinic.auth.models import User
from clinic.auth.sessions import end_session, start_session
from clinic.core.http import safe_next
from clinic.core.models import utcnow
from clinic.core.transaction import attempt
from clinic.extensions import db

bp = Blueprint("auth", __name__)

SIGN_IN_FAILED = "The email or password is not correct."
PENDING_SECONDS = 300


def _throttled(retry_after: int, template: str, form: object) -> tuple[str, int, dict[str, str]]:
    minutes = max(1, (retry_after + 59) // 60)
    message = (
        "Too many failed sign-in attempts. For your account's safety, sign-in is paused: "
        f"try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )
    return (
        render_template(template, form=form, error=message),
        429,
        {"Retry-After": str(retry_after)},
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple:
    """Step one of sign-in: email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("shell.home"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("auth/login.html", form=form), status
    # Throttling and failures are audited; the request's boundary commits those rows with any answer.
    device = services.trusted_device(request.cookies.get(services.DEVICE_COOKIE), form.email.data)
    result = services.check_password_step(form.email.data, form.password.data, request.remote_addr, device)
    if result.retry_after is not None:
        return _throttled(result.retry_after, "auth/login.html", form)
    if result.user is None:
        return render_template("auth/login.html", form=form, error=SIGN_IN_FAILED), 401
    user = result.user
    if result.needs_second_factor:
        session.clear()
        session["pending_user_id"] = user.id
        session["pending_token"] = user.session_token
        session["pending_at"] = _now_ts()
        session["pending_next"] = form.next.data or ""
        return redirect(url_for("auth.second_factor"))
    services.complete_sign_in(user)
    start_session(user)
    return _remember_device(redirect(safe_next(form.next.data)), user, device)


def _now_ts() -> float:
    return utcnow().timestamp()


def _pending_user() -> User | None:
    user_id = session.get("pending_user_id")
    if not user_id or _now_ts() - session.get("pending_at", 0) > PENDING_SECONDS:
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_token != session.get("pending_token"):
        return None
    return user


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor() -> Response | str | tuple:
    """Step two of sign-in for accounts with two-step sign-in."""
    user = _pending_user()
    if user is None:
        session.clear()
        flash("Please sign in again.", "info")
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    if not form.validate_on_submit():
        return render_template("auth/second_factor.html", form=form), (400 if request.method == "POST" else 200)
    device = services.trusted_device(request.cookies.get(services.DEVICE_COOKIE), user.email)
    result = services.second_factor_step(user, form.code.data, request.remote_addr, device)
    if result.retry_after is not None:
        return _throttled(result.retry_after, "auth/second_factor.html", form)
    if result.user is None:
        return render_template("auth/second_factor.html", form=form,
                               error="That code is not valid. Codes can be used only once."), 401
    next_url = session.get("pending_next")
    services.complete_sign_in(user)
    start_session(user)
    return _remember_device(redirect(safe_next(next_url)), user, device)


def _remember_device(response: Response, user: User, device: str | None) -> Response:
    """This browser signed in to this account: failures from elsewhere will not lock it out."""
    response.set_cookie(services.DEVICE_COOKIE, services.device_cookie_value(user.email, device),
                        max_age=services.DEVICE_DAYS * 86400, httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")), path="/login")
    return response


@bp.post("/logout")
def logout() -> Response:
    """Sign out here and end every other session of this account."""
    user = current_user._get_current_object()
    services.end_all_sessions(user)
    record_event("logout", record_type="user", record_id=user.id)
    end_session()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/account")
def account() -> str:
    """One's own account: password and two-step sign-in."""
    unused = sum(1 for code in current_user.recovery_codes if code.used_at is None)
    return render_template("auth/account.html", action_form=ActionForm(),
                           confirm_form=ConfirmPasswordForm(), unused_codes=unused)


@bp.route("/account/password", methods=["GET", "POST"])
def change_password() -> Response | str | tuple:
    """Change one's own password; every other session ends."""
    form = ChangePasswordForm()
    # A wrong current password is shown beside it and stays audited; a rejected new one beside that.
    if form.validate_on_submit() and attempt(form, services.change_password, current_user,
                                             form.current_password.data, form.new_password.data).ok:
        start_session(current_user._get_current_object())
        flash("Your password was changed. Other devices have been signed out.", "success")
        return redirect(url_for("auth.account"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/change_password.html", form=form), status


@bp.route("/account/two-step", methods=["GET", "POST"])
def setup_totp() -> Response | str | tuple:
    """Enrol an authenticator app; recovery codes are shown once."""
    if current_user.totp_enabled:
        flash("Two-step sign-in is already on.", "info")
        return redirect(url_for("auth.account"))
    form = EnableTotpForm()
    secret = session.get("totp_secret_pending")
    if not secret or request.method == "GET":
        secret = services.new_totp_secret()
        session["totp_secret_pending"] = secret
    status = 200
    if form.validate_on_submit():
        enabled = attempt(form.code, services.enable_totp, current_user, secret, form.code.data)
        if enabled.ok:
            session.pop("totp_secret_pending", None)
            return render_template("auth/recovery_codes.html", codes=enabled.value)
        status = 400
    elif request.method == "POST":
        status = 400
    uri = services.totp_uri(current_user, secret)
    return render_template("auth/setup_totp.html", form=form, secret=secret, uri=uri,
                           qr_svg=_qr_data_uri(uri)), status


def _qr_data_uri(uri: str) -> str:
    return segno.make(uri, error="m").svg_data_uri(scale=5)


@bp.post("/account/two-step/off")
def disable_totp() -> Response:
    """Turn off two-step sign-in (password and code needed)."""
    form = ConfirmPasswordForm()
    if services.totp_required(current_user):
        flash("Your role requires two-step sign-in; it cannot be turned off.", "error")
        return redirect(url_for("auth.account"))
    if form.validate_on_submit():
        # A wrong password is flashed and stays audited.
        if not attempt(None, services.reauthenticate, current_user, form.password.data, form.code.data,
                       purpose="turn off two-step sign-in").ok:
            return redirect(url_for("auth.account"))
        services.disable_totp(current_user)
        flash("Two-step sign-in is off.", "success")
    else:
        flash("Enter your password to turn off two-step sign-in.", "error")
    return redirect(url_for("auth.account"))


@bp.post("/account/recovery-codes")
def renew_recovery_codes() -> Response | str:
    """Replace the recovery codes (password and code needed)."""
    form = ConfirmPasswordForm()
    if not current_user.totp_enabled or not form.validate_on_submit():
        flash("Enter your password and a code to renew recovery codes.", "error")
        return redirect(url_for("auth.account"))
    if not attempt(None, services.reauthenticate, current_user, form.password.data, form.code.data,
                   purpose="renew recovery codes").ok:
        return redirect(url_for("auth.account"))
    codes = services.replace_recovery_codes(current_user)
    return render_template("auth/recovery_codes.html", codes=codes)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response | str | tuple:
    """Choose a new password from a one-time link an administrator issued."""
    reset = services.find_password_reset(token)
    if reset is None:
        return render_template("auth/reset_invalid.html"), 404
    form = ResetPasswordForm()
    if form.validate_on_submit() and attempt(form, services.redeem_password_reset, reset,
                                             form.new_password.data).ok:
        end_session()
        flash("Your new password is set. Please sign in.", "success")
        return redirect(url_for("auth.login"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/reset_password.html", form=form, user=reset.user), status

