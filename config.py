"""Settings for development (the local demo) and production; the tests keep theirs in tests/settings.py.

``DATABASE_URL`` picks the database: SQLite under the instance directory by
default, ``postgresql+psycopg://...`` for production. Production reads every
secret from the environment and refuses to start without them.

The environment is read when a settings object is built (``load_config()``,
i.e. when the app is created), never at import; building one never writes a
file. The local demo's secrets are made by an explicit step that ``make run``
takes first: ``python -m config demo-secrets``.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

BASE_DIR = Path(__file__).resolve().parent

ROLES = ("doctor", "nurse", "auditor", "admin")


class ConfigurationError(RuntimeError):
    """A setting the app cannot run without is missing."""


def instance_dir() -> Path:
    """Where the local demo keeps its database and secrets: ``CLINIC_INSTANCE_DIR``, else instance/."""
    return Path(os.environ.get("CLINIC_INSTANCE_DIR") or BASE_DIR / "instance")


def write_local_secrets() -> Path:
    """Generate the local demo's secrets once under the instance directory (never committed);
    existing ones are kept. The explicit step `make run` takes before anything else."""
    directory = instance_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "secrets.json"
    values = {"SECRET_KEY": secrets.token_hex(32), "AUDIT_HMAC_KEY": secrets.token_hex(32)}
    try:
        # Created owner-only (never readable by others, not even for a moment), and only if absent.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(descriptor, "w") as file:
        json.dump(values, file)
    return path


def _read_local_secrets() -> dict[str, str]:
    path = instance_dir() / "secrets.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {value!r}") from None


class Config:
    """Settings shared by every environment."""

    TESTING = False
    # hide_parameters: SQL errors in logs never carry patient data (SECURITY.md D9).
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    # Sessions (SECURITY.md S1-S4): server-enforced idle and absolute limits.
    SESSION_COOKIE_NAME = "clinic_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_DURATION = timedelta(seconds=0)
    # IDLE_TIMEOUT, ABSOLUTE_SESSION_LIFETIME and PERMANENT_SESSION_LIFETIME: see __init__.

    # Login throttling (SECURITY.md A4), counted from the audit trail so every
    # worker and host sees the same counts.
    LOGIN_WINDOW = timedelta(minutes=15)
    LOGIN_FREE_FAILURES_PER_ACCOUNT = 5
    LOGIN_MAX_FAILURES_PER_ACCOUNT = 20
    LOGIN_MAX_FAILURES_PER_ADDRESS = 50
    LOGIN_BACKOFF_CAP = timedelta(minutes=15)

    # Roles that must enrol a second factor before they can use the app.
    TOTP_REQUIRED_ROLES: tuple[str, ...] = ()
    TOTP_ISSUER = "Clinic records"

    PASSWORD_RESET_LIFETIME = timedelta(hours=24)
    # The patient's report pages need no sign-in: uses per client address within the window, counted
    # from the audit trail (a patient sending one report uses three).
    PATIENT_REPORT_WINDOW = timedelta(minutes=15)
    PATIENT_REPORT_MAX_PER_ADDRESS = 30
    # Wrong passwords when signing, amending or exporting (within LOGIN_WINDOW) before the session is ended.
    REAUTH_MAX_FAILURES = 5

    # argon2-cffi's RFC 9106 "low memory" profile; tests use a cheap one.
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4

    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = None  # the session's own lifetime bounds the token

    DEMO_DATA_ALLOWED = False
    AUDIT_PAGE_SIZE = 50

    def __init__(self) -> None:
        """Read the settings the environment may change, now rather than at import."""
        self.IDLE_TIMEOUT = timedelta(minutes=_env_int("IDLE_TIMEOUT_MINUTES", 15))
        self.ABSOLUTE_SESSION_LIFETIME = timedelta(hours=_env_int("ABSOLUTE_SESSION_HOURS", 12))
        self.PERMANENT_SESSION_LIFETIME = self.ABSOLUTE_SESSION_LIFETIME
        # Behind a reverse proxy: how many proxies to trust for the client address and scheme (0: none).
        self.TRUSTED_PROXIES = _env_int("TRUSTED_PROXIES", 0)
        # The host names the clinic is reached by (comma-separated): any other Host header is refused
        # (400), so a link the app builds (a password reset) can never point elsewhere. Empty: any host.
        hosts = [h.strip() for h in os.environ.get("TRUSTED_HOSTS", "").split(",") if h.strip()]
        self.TRUSTED_HOSTS = hosts or None
        # Where the audit trail's head is appended after each commit, outside the database (see
        # clinic/audit/anchors.py); `flask audit verify` then notices rows deleted from the end.
        self.AUDIT_ANCHOR_FILE = os.environ.get("AUDIT_ANCHOR_FILE") or None
        # PostgreSQL: the role the app signs in as, granted exactly what it needs after each `flask db
        # upgrade` run by the tables' owner (migrations/env.py): never to change or delete audit rows.
        self.DATABASE_APP_ROLE = os.environ.get("DATABASE_APP_ROLE") or None
        self.CLINIC_NAME = os.environ.get("CLINIC_NAME", "Mesotherapy clinic")
        # Where the clinic is (an IANA name): every time is shown, typed and dated in this zone, whatever
        # the server's own; the database keeps UTC.
        self.CLINIC_TIMEZONE = os.environ.get("CLINIC_TIMEZONE", "Europe/London")
        try:
            ZoneInfo(self.CLINIC_TIMEZONE)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(f"CLINIC_TIMEZONE must be an IANA time zone name such as Europe/London, "
                                     f"not {self.CLINIC_TIMEZONE!r}") from None
        # Phone numbers typed without a country code are read as this country's.
        self.PHONE_REGION = os.environ.get("PHONE_REGION", "GB")
        self.RECORD_NUMBER_PREFIX = os.environ.get("RECORD_NUMBER_PREFIX", "P")
        self.SCREENING_VALID_DAYS = _env_int("SCREENING_VALID_DAYS", 30)
        # Failed attempts after which a recalled patient is marked unreachable.
        self.RECALL_MAX_ATTEMPTS = _env_int("RECALL_MAX_ATTEMPTS", 3)
        # Failed attempts count only this many hours apart: three tries in a minute are one.
        self.RECALL_MIN_HOURS_BETWEEN_ATTEMPTS = _env_int("RECALL_MIN_HOURS_BETWEEN_ATTEMPTS", 4)
        # Before/after photos: a directory outside static/ (back it up with the database), and the largest
        # upload taken (a photo larger answers 413).
        self.PHOTO_STORAGE_DIR = os.environ.get("PHOTO_STORAGE_DIR") or str(instance_dir() / "photos")
        self.PHOTO_MAX_BYTES = _env_int("PHOTO_MAX_MB", 12) * 1024 * 1024
        # Printed on every aftercare sheet: whom the patient calls about a side effect.
        # Reports: the longest date range one may ask for (the presets, "all" included, are always allowed).
        self.REPORTS_MAX_RANGE_DAYS = _env_int("REPORTS_MAX_RANGE_DAYS", 5 * 366)
        # The lot safety signal: lots with at least this many sessions in the window are tested, at this level
        # (after the Benjamini–Hochberg correction), over the last LOT_SIGNAL_DAYS days on the home page.
        self.LOT_SIGNAL_MIN_SESSIONS = _env_int("LOT_SIGNAL_MIN_SESSIONS", 30)
        self.LOT_SIGNAL_LEVEL = float(os.environ.get("LOT_SIGNAL_LEVEL") or 0.05)
        self.LOT_SIGNAL_DAYS = _env_int("LOT_SIGNAL_DAYS", 365)
        self.CLINIC_SIDE_EFFECTS_CONTACT = os.environ.get(
            "CLINIC_SIDE_EFFECTS_CONTACT",
            "Call the clinic on +44 20 7946 0000 (8:00–20:00); out of hours, call 111.",
        )


class DevelopmentConfig(Config):
    """The local demo that `make run` serves: SQLite and secrets generated once by `make run`."""

    SESSION_COOKIE_SECURE = False  # plain http on 127.0.0.1
    DEMO_DATA_ALLOWED = True

    def __init__(self) -> None:
        super().__init__()
        local = _read_local_secrets()
        for name in ("SECRET_KEY", "AUDIT_HMAC_KEY"):
            value = os.environ.get(name) or local.get(name)
            if not value:
                raise ConfigurationError(
                    f"The local demo has no {name}: run `make run` (or `python -m config demo-secrets`, "
                    f"which writes {instance_dir() / 'secrets.json'}), or set {name}."
                )
            setattr(self, name, value)
        self.SQLALCHEMY_DATABASE_URI = (
            os.environ.get("DATABASE_URL") or f"sqlite:///{instance_dir() / 'clinic.sqlite'}"
        )
        self.AUDIT_ANCHOR_FILE = self.AUDIT_ANCHOR_FILE or str(instance_dir() / "audit-anchors.log")


class ProductionConfig(Config):
    """gunicorn + PostgreSQL; every secret comes from the environment."""

    TOTP_REQUIRED_ROLES: tuple[str, ...] = ROLES

    def __init__(self) -> None:
        super().__init__()
        missing = [n for n in ("SECRET_KEY", "AUDIT_HMAC_KEY", "DATABASE_URL", "TRUSTED_HOSTS", "AUDIT_ANCHOR_FILE")
                   if not os.environ.get(n)]
        if missing:
            raise ConfigurationError(
                "Production needs these environment variables: " + ", ".join(missing)
            )
        for name in ("SECRET_KEY", "AUDIT_HMAC_KEY"):
            if len(os.environ[name].encode()) < 32:
                raise ConfigurationError(f"{name} must be at least 32 bytes of random data "
                                         "(python -c 'import secrets; print(secrets.token_hex(32))').")
        self.PREFERRED_URL_SCHEME = "https"
        self.SECRET_KEY = os.environ["SECRET_KEY"]
        self.AUDIT_HMAC_KEY = os.environ["AUDIT_HMAC_KEY"]
        self.SQLALCHEMY_DATABASE_URI = os.environ["DATABASE_URL"]
        roles = os.environ.get("TOTP_REQUIRED_ROLES")
        if roles is not None:
            self.TOTP_REQUIRED_ROLES = tuple(r for r in roles.split(",") if r)


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None) -> Config:
    """The settings object for CLINIC_ENV (development unless told otherwise)."""
    name = name or os.environ.get("CLINIC_ENV", "development")
    if name not in CONFIGS:
        raise ConfigurationError(f"Unknown CLINIC_ENV {name!r}; use one of {sorted(CONFIGS)}")
    return CONFIGS[name]()


def main(argv: list[str] | None = None) -> int:
    """``python -m config demo-secrets``: the local demo's secrets, made once (`make run` runs it)."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["demo-secrets"]:
        print("usage: python -m config demo-secrets", file=sys.stderr)
        return 2
    print(write_local_secrets())
    return 0


if __name__ == "__main__":
    sys.exit(main())
