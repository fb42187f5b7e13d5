"""Browser sessions: fresh identity at sign-in, idle and absolute limits, revocation.

The Flask session is a signed cookie, so nothing lives in the process. The
user id travels with the user's rotating ``session_token``; rotating it ends
every cookie issued before (logout, deactivation, password change).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from clinic.audit.services import Actor, record_event
from clinic.auth.models import User
from clinic.core.models import utcnow
from clinic.extensions import db, login_manager


@login_manager.user_loader
def load_user(cookie_id: str) -> User | None:
    user_id, _, token = cookie_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.scalar(sa.select(User).where(User.id == int(user_id)))
    if user is None or not user.is_active or user.session_token != token:
        return None
    return user


def start_session(user: User) -> None:
    """Sign the user in on a brand-new session (SECURITY.md S2)."""
    session.clear()
    login_user(user, remember=False)
    now = utcnow().timestamp()
    session["signed_in_at"] = now
    session["last_seen_at"] = now
    session.permanent = True


def end_session() -> None:
    logout_user()
    session.clear()


def _expired_reason(now: datetime) -> str | None:
    cfg = current_app.config
    signed_in = session.get("signed_in_at")
    last_seen = session.get("last_seen_at")
    if signed_in is None or last_seen is None:
        return "session without timestamps"
    if now.timestamp() - signed_in > cfg["ABSOLUTE_SESSION_LIFETIME"].total_seconds():
        return "absolute session lifetime reached"
    if now.timestamp() - last_seen > cfg["IDLE_TIMEOUT"].total_seconds():
        return "idle timeout"
    return None


def enforce_session_limits() -> Response | None:
    """Before every request: sign out idle or too-old sessions, and say why."""
    if not current_user.is_authenticated:
        return None
    now = utcnow()
    reason = _expired_reason(now)
    if reason is None:
        if request.endpoint != "static":
            session["last_seen_at"] = now.timestamp()
        return None
    user = current_user._get_current_object()
    record_event("timeout", record_type="user", record_id=user.id, reason=reason,
                 actor=Actor(user.id, user.email, user.role))
    db.session.commit()
    end_session()
    minutes = int(current_app.config["IDLE_TIMEOUT"].total_seconds() // 60)
    if reason == "idle timeout":
        flash(f"You were signed out after {minutes} minutes without activity. Please sign in again.", "warning")
    else:
        flash("Your session has ended. Please sign in again.", "warning")
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
