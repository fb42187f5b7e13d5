"""Account rules: passwords, sign-in with throttling, second factor, resets, roles.

Services flush and audit; the caller (a view or a CLI command) commits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from zxcvbn import zxcvbn

from clinic.audit.models import AuditEvent
from clinic.audit.services import Actor, record_event
from clinic.auth.models import ROLE_LABELS, LoginFailure, PasswordReset, RecoveryCode, Role, User
from clinic.core.errors import ClinicError, FieldError
from clinic.core.models import utcnow
from clinic.core.services import stored
from clinic.extensions import db

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256
RECOVERY_CODE_COUNT = 10
ZXCVBN_MAX_LENGTH = 72
ROLES = tuple(Role)


class PasswordRejected(FieldError):
    """The new password breaks a rule; the message says which (beside the new password)."""

    def __init__(self, message: str) -> None:
        super().__init__("new_password", message)


class ReauthenticationFailed(ClinicError):
    """The password (or second-factor code) given to confirm an action was wrong."""

    keeps_record = True  # the failed attempt stays in the audit trail; nothing else was written

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field  # the form field it is shown beside, when the service knows it
        super().__init__(message)


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(
        time_cost=cfg["ARGON2_TIME_COST"],
        memory_cost=cfg["ARGON2_MEMORY_COST"],
        parallelism=cfg["ARGON2_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    """An Argon2id hash with the configured parameters."""
    return _hasher().hash(password)


def check_new_password(password: str, *, user_inputs: tuple[str, ...] = ()) -> None:
    """Length and common-password rules only: no composition rules (ASVS 6.2)."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise PasswordRejected(f"Use at least {PASSWORD_MIN_LENGTH} characters; a passphrase works well.")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise PasswordRejected(f"Use at most {PASSWORD_MAX_LENGTH} characters.")
    # zxcvbn's offline dictionaries hold the common and leaked passwords. It refuses
    # input over 72 characters (ValueError), so a long passphrase is judged on its start.
    # Score 4 (over 10^10 guesses): a season, a year and some "!" (Summer2024!!!) only reach 3.
    verdict = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=[u for u in user_inputs if u])
    if verdict["score"] < 4:
        warning = verdict["feedback"].get("warning") or "This password is too easy to guess."
        raise PasswordRejected(f"{warning} Try a longer passphrase of unrelated words.")


def verify_password(user: User, password: str) -> bool:
    """Check a password; upgrade the stored hash when the parameters have changed."""
    hasher = _hasher()
    try:
        hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


def _burn_hash_time(password: str) -> None:
    # Unknown accounts take as long as known ones, so timing does not reveal them.
    try:
        _hasher().verify(_dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        pass


_DUMMY_HASHES: dict[tuple[int, int, int], str] = {}


def _dummy_hash() -> str:
    cfg = current_app.config
    key = (cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = _hasher().hash(secrets.token_hex(16))
    return _DUMMY_HASHES[key]


def new_session_token() -> str:
    return secrets.token_hex(32)


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def create_user(email: str, full_name: str, role: str, password: str) -> User:
    """Open a named account (SECURITY.md A1)."""
    email = normalize_email(email)
    full_name = (full_name or "").strip()
    if role not in ROLES:
        raise ClinicError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    if not email or "@" not in email:
        raise ClinicError("Enter the person's own email address.")
    if not full_name:
        raise ClinicError("Enter the person's full name.")
    if find_user_by_email(email) is not None:
        raise ClinicError("An account with this email already exists.")
    check_new_password(password, user_inputs=(email, full_name))
    user = User(
        email=email,
        full_name=full_name,
        role=role,
        password_hash=hash_password(password),
        session_token=new_session_token(),
    )
    return stored(user)


# --- sign-in and throttling ---------------------------------------------------


def account_key(email: str) -> str:
    """A digest of the address typed: throttles unknown addresses too, without storing them."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, normalize_email(email).encode(), hashlib.sha256).hexdigest()


@dataclass
class SignInResult:
    user: User | None = None
    retry_after: int | None = None  # seconds, when throttled
    needs_second_factor: bool = False

    @property
    def ok(self) -> bool:
        return self.user is not None and self.retry_after is None


# A browser an account signed in from is remembered by a signed cookie (OWASP's "device cookie"): failures
# from anywhere else then cannot lock the owner out of their account.
DEVICE_COOKIE = "clinic_device"
DEVICE_DAYS = 180


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="device-cookie")


def device_cookie_value(email: str, device: str | None) -> str:
    """The cookie a browser gets when it signs in: this account, this browser (a new id the first time)."""
    return _device_serializer().dumps({"k": account_key(email), "d": device or secrets.token_hex(16)})


def trusted_device(cookie: str | None, email: str) -> str | None:
    """The browser's id if its cookie was issued, signed, within DEVICE_DAYS, for this very account."""
    if not cookie:
        return None
    try:
        payload = _device_serializer().loads(cookie, max_age=DEVICE_DAYS * 86400)
    except BadData:
        return None
    if not isinstance(payload, dict) or payload.get("k") != account_key(email):
        return None
    device = payload.get("d")
    return device if isinstance(device, str) and len(device) == 32 else None


def throttle_delay(key: str, client_addr: str | None, now: datetime | None = None,
                   device: str | None = None) -> int | None:
    """Seconds to wait before another attempt, or None.

    A few free failures per account, then an exponential back-off; a hard stop
    per account and per address within the window. A browser the account signed in from before
    (``device``) counts only its own failures, and no address limit: nobody elsewhere can lock it out.
    """
    cfg = current_app.config
    now = now or utcnow()
    since = now - cfg["LOGIN_WINDOW"]
    which = [LoginFailure.account_key == key, LoginFailure.at > since]
    if device is not None:
        which.append(LoginFailure.device == device)
    count, last = db.session.execute(
        sa.select(sa.func.count(), sa.func.max(LoginFailure.at)).where(*which)
    ).one()
    delays: list[int] = []
    if count >= cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]:
        delays.append(int((last + cfg["LOGIN_WINDOW"] - now).total_seconds()) + 1)
    elif count >= cfg["LOGIN_FREE_FAILURES_PER_ACCOUNT"]:
        backoff = timedelta(seconds=2 ** (count - cfg["LOGIN_FREE_FAILURES_PER_ACCOUNT"] + 1))
        backoff = min(backoff, cfg["LOGIN_BACKOFF_CAP"])
        wait = (last + backoff - now).total_seconds()
        if wait > 0:
            delays.append(int(wait) + 1)
    if client_addr and device is None:
        by_address, first = db.session.execute(
            sa.select(sa.func.count(), sa.func.min(LoginFailure.at)).where(
                LoginFailure.client_addr == client_addr, LoginFailure.at > since
            )
        ).one()
        if by_address >= cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]:
            delays.append(int((first + cfg["LOGIN_WINDOW"] - now).total_seconds()) + 1)
    return max(delays) if delays else None


def _note_failure(key: str, client_addr: str | None, user: User | None, why: str, device: str | None = None) -> None:
    db.session.add(LoginFailure(account_key=key, client_addr=client_addr, device=device))
    actor = Actor(user.id, user.email, user.role) if user else Actor(None, None, None)
    record_event("login_failed", record_type="user", record_id=user.id if user else None,
                 reason=why, actor=actor)


def check_password_step(email: str, password: str, client_addr: str | None,
                        device: str | None = None) -> SignInResult:
    """First step of sign-in. Unknown account, wrong password and deactivated account look alike.
    ``device``: the browser's id from a device cookie issued for this account (``trusted_device``)."""
    key = account_key(email)
    delay = throttle_delay(key, client_addr, device=device)
    if delay is not None:
        record_event("login_throttled", reason=f"retry after {delay}s", actor=Actor(None, None, None))
        return SignInResult(retry_after=delay)
    user = find_user_by_email(email)
    if user is None:
        _burn_hash_time(password)
        _note_failure(key, client_addr, None, "unknown account", device)
        return SignInResult()
    if not verify_password(user, password):
        _note_failure(key, client_addr, user, "wrong password", device)
        return SignInResult()
    if not user.is_active:
        _note_failure(key, client_addr, user, "account deactivated", device)
        return SignInResult()
    return SignInResult(user=user, needs_second_factor=user.totp_enabled)


def second_factor_step(user: User, code: str, client_addr: str | None, device: str | None = None) -> SignInResult:
    """Second step when the account has a second factor: a TOTP or a recovery code."""
    key = account_key(user.email)
    delay = throttle_delay(key, client_addr, device=device)
    if delay is not None:
        record_event("login_throttled", record_type="user", record_id=user.id,
                     reason=f"retry after {delay}s", actor=Actor(user.id, user.email, user.role))
        return SignInResult(retry_after=delay)
    if not user.is_active or not verify_second_factor(user, code):
        _note_failure(key, client_addr, user, "wrong second-factor code", device)
        return SignInResult()
    return SignInResult(user=user)


def complete_sign_in(user: User) -> None:
    """Audit the sign-in and forget the account's failed attempts."""
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.account_key == account_key(user.email)))
    record_event("login", record_type="user", record_id=user.id,
                 actor=Actor(user.id, user.email, user.role))


@dataclass
class SignInActivity:
    previous_sign_in: datetime | None
    failures_since: int


@dataclass(frozen=True)
class AccountCounts:
    """The admin's home cards."""
    active: int
    without_two_step: int  # active accounts that sign in with a password alone
    deactivated: int


def account_counts() -> AccountCounts:
    """Staff accounts counted in one statement."""
    active = User.deactivated_at.is_(None)
    row = db.session.execute(sa.select(
        sa.func.count().filter(active), sa.func.count().filter(active, User.totp_enabled_at.is_(None)),
        sa.func.count().filter(User.deactivated_at.is_not(None))).select_from(User)).one()
    return AccountCounts(*(int(n) for n in row))


def recent_sign_in_activity(user: User) -> SignInActivity:
    """The sign-in before this one and failed attempts since, so people notice misuse (one statement)."""
    previous_login = (sa.select(AuditEvent.at).where(AuditEvent.action == "login", AuditEvent.user_id == user.id)
                      .order_by(AuditEvent.seq.desc()).limit(1).offset(1).scalar_subquery())
    failures_since = (sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "login_failed", AuditEvent.user_id == user.id,
        AuditEvent.at > sa.func.coalesce(previous_login, datetime.min.replace(tzinfo=UTC))).scalar_subquery())
    row = db.session.execute(sa.select(previous_login.label("previous"), failures_since.label("failures"))).one()
    previous, failures = row.previous, row.failures
    return SignInActivity(previous, failures or 0)


def end_all_sessions(user: User) -> None:
    """Every cookie issued to this user stops working (SECURITY.md S4)."""
    user.session_token = new_session_token()


def reauthenticate(user: User, password: str, code: str | None = None, *, purpose: str) -> None:
    """Confirm an important action with the password (and second factor when enrolled)."""
    ok = verify_password(user, password or "")
    if ok and user.totp_enabled:
        ok = verify_second_factor(user, code or "")
    if not ok:
        record_event("reauth_failed", record_type="user", record_id=user.id, reason=purpose)
        # Counted within the window and since this user's latest sign-in: signing in again starts afresh.
        window_start = utcnow() - current_app.config["LOGIN_WINDOW"]
        last_login = db.session.scalar(sa.select(sa.func.max(AuditEvent.at)).where(
            AuditEvent.action == "login", AuditEvent.user_id == user.id, AuditEvent.at > window_start))
        earlier = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "reauth_failed", AuditEvent.user_id == user.id,
            AuditEvent.at > max(window_start, last_login or window_start)))
        failures = (earlier or 0) + 1  # this one is in the trail once the request commits
        if failures >= current_app.config["REAUTH_MAX_FAILURES"]:
            # Someone at an unlocked screen guessing the password: the session ends, sign-in throttling takes over.
            end_all_sessions(user)
            record_event("logout", record_type="user", record_id=user.id, reason="too many wrong passwords")
            raise ReauthenticationFailed("Too many wrong passwords: you have been signed out. Sign in again.")
        raise ReauthenticationFailed("The password or code did not match. Nothing was changed.")


def change_password(user: User, current: str, new: str) -> None:
    """Needs the current password; ends every other session of this user."""
    if not verify_password(user, current):
        record_event("reauth_failed", record_type="user", record_id=user.id, reason="password change")
        raise ReauthenticationFailed("Your current password is not correct.", field="current_password")
    check_new_password(new, user_inputs=(user.email, user.full_name))
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    end_all_sessions(user)


# --- account administration ----------------------------------------------------


def deactivate_user(user: User, by: User) -> None:
    if user.id == by.id:
        raise ClinicError("You cannot deactivate your own account.")
    if not user.is_active:
        raise ClinicError("This account is already deactivated.")
    user.deactivated_at = utcnow()
    end_all_sessions(user)


def reactivate_user(user: User) -> None:
    if user.is_active:
        raise ClinicError("This account is already active.")
    user.deactivated_at = None
    end_all_sessions(user)


def change_role(user: User, role: str, by: User) -> None:
    if role not in ROLES:
        raise ClinicError(f"Unknown role {role!r}.")
    if user.id == by.id:
        raise ClinicError("You cannot change your own role; ask another administrator.")
    if user.role == role:
        raise ClinicError(f"{user.full_name} is already {ROLE_LABELS[role].lower()}.")
    user.role = role
    end_all_sessions(user)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_password_reset(user: User, by: User) -> str:
    """A one-time reset token for the user; only its digest is stored."""
    if not user.is_active:
        raise ClinicError("Reactivate the account before issuing a reset link.")
    now = utcnow()
    for pending in db.session.scalars(
        sa.select(PasswordReset).where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
    ):
        pending.used_at = now  # only the newest link works
    token = secrets.token_urlsafe(32)
    db.session.add(PasswordReset(
        user_id=user.id, token_hash=_token_digest(token), issued_by_id=by.id,
        expires_at=now + current_app.config["PASSWORD_RESET_LIFETIME"],
    ))
    db.session.flush()
    return token


def open_account(email: str, full_name: str, role: str, by: User) -> tuple[User, str]:
    """An account for a named person, and the one-time link token with which they choose their password.

    An administrator never sets another person's password: the account's first one is random and unknown.
    """
    user = create_user(email, full_name, role, secrets.token_urlsafe(32))
    return user, issue_password_reset(user, by)


def find_password_reset(token: str) -> PasswordReset | None:
    """The reset a token belongs to, if it is unused and not expired."""
    reset = db.session.scalar(
        sa.select(PasswordReset).where(PasswordReset.token_hash == _token_digest(token or ""))
    )
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    if not reset.user.is_active:
        return None
    return reset


def redeem_password_reset(reset: PasswordReset, new_password: str) -> User:
    user = reset.user
    check_new_password(new_password, user_inputs=(user.email, user.full_name))
    reset.used_at = utcnow()
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    end_all_sessions(user)
    return user


# --- second factor --------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=user.email, issuer_name=current_app.config["TOTP_ISSUER"]
    )


def _accept_totp(user: User, secret: str, code: str) -> bool:
    """Accept a code from this 30 s step or the one either side, once only."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6:
        return False
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(utcnow())
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False  # replayed
            user.totp_last_step = step
            return True
    return False


def _recovery_digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


def verify_second_factor(user: User, code: str) -> bool:
    """A TOTP code or one unused recovery code."""
    if not user.totp_enabled or not user.totp_secret:
        return False
    if _accept_totp(user, user.totp_secret, code):
        return True
    digest = _recovery_digest(code or "")
    for recovery in user.recovery_codes:
        if recovery.used_at is None and hmac.compare_digest(recovery.code_hash, digest):
            recovery.used_at = utcnow()
            return True
    return False


def enable_totp(user: User, secret: str, code: str) -> list[str]:
    """Turn on the second factor once the user proves their app shows the right code."""
    if user.totp_enabled:
        raise ClinicError("Two-step sign-in is already on for this account.")
    if not _accept_totp(user, secret, code):
        raise ClinicError("That code did not match. Check the time on your phone and try the next code.")
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    return replace_recovery_codes(user)


def replace_recovery_codes(user: User) -> list[str]:
    """New single-use recovery codes; the old ones stop working. Shown once."""
    now = utcnow()
    for old in user.recovery_codes:
        if old.used_at is None:
            old.used_at = now
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = secrets.token_hex(5)
        code = f"{raw[:5]}-{raw[5:]}"
        codes.append(code)
        db.session.add(RecoveryCode(user=user, code_hash=_recovery_digest(code)))
    db.session.flush()
    return codes


def disable_totp(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    now = utcnow()
    for old in user.recovery_codes:
        if old.used_at is None:
            old.used_at = now


def totp_required(user: User) -> bool:
    return user.role in current_app.config["TOTP_REQUIRED_ROLES"]

