"""Settings for development (the local demo), tests and production.

``DATABASE_URL`` picks the database: SQLite under ``instance/`` by default,
``postgresql+psycopg://...`` for production. Production reads every secret
from the environment and refuses to start without them.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("CLINIC_INSTANCE_DIR", BASE_DIR / "instance"))

ROLES = ("doctor", "nurse", "auditor", "admin")


class ConfigurationError(RuntimeError):
    """A setting the app cannot run without is missing."""


def _local_secrets() -> dict[str, str]:
    """Secrets for the local demo: generated once, kept under instance/ (never committed)."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {"SECRET_KEY": secrets.token_hex(32), "AUDIT_HMAC_KEY": secrets.token_hex(32)}
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


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
    IDLE_TIMEOUT = timedelta(minutes=_env_int("IDLE_TIMEOUT_MINUTES", 15))
    ABSOLUTE_SESSION_LIFETIME = timedelta(hours=_env_int("ABSOLUTE_SESSION_HOURS", 12))
    PERMANENT_SESSION_LIFETIME = ABSOLUTE_SESSION_LIFETIME

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
    # Wrong passwords when signing, amending or exporting (within LOGIN_WINDOW) before the session is ended.
    REAUTH_MAX_FAILURES = 5

    # argon2-cffi's RFC 9106 "low memory" profile; tests use a cheap one.
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4

    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = None  # the session's own lifetime bounds the token

    CLINIC_NAME = os.environ.get("CLINIC_NAME", "Mesotherapy clinic")
    DEMO_DATA_ALLOWED = False
    # Phone numbers typed without a country code are read as this country's.
    PHONE_REGION = os.environ.get("PHONE_REGION", "GB")
    RECORD_NUMBER_PREFIX = os.environ.get("RECORD_NUMBER_PREFIX", "P")
    SCREENING_VALID_DAYS = _env_int("SCREENING_VALID_DAYS", 30)
    # Failed attempts after which a recalled patient is marked unreachable.
    RECALL_MAX_ATTEMPTS = _env_int("RECALL_MAX_ATTEMPTS", 3)
    # Printed on every aftercare sheet: whom the patient calls about a side effect.
    CLINIC_SIDE_EFFECTS_CONTACT = os.environ.get(
        "CLINIC_SIDE_EFFECTS_CONTACT", "Call the clinic on +44 20 7946 0000 (8:00–20:00); out of hours, call 111."
    )
    AUDIT_PAGE_SIZE = 50


class DevelopmentConfig(Config):
    """The local demo that `make run` serves: SQLite and self-generated secrets."""

    SESSION_COOKIE_SECURE = False  # plain http on 127.0.0.1
    DEMO_DATA_ALLOWED = True

    def __init__(self) -> None:
        local = _local_secrets()
        self.SECRET_KEY = os.environ.get("SECRET_KEY", local["SECRET_KEY"])
        self.AUDIT_HMAC_KEY = os.environ.get("AUDIT_HMAC_KEY", local["AUDIT_HMAC_KEY"])
        self.SQLALCHEMY_DATABASE_URI = (
            os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'clinic.sqlite'}"
        )


class TestConfig(Config):
    """Fast hashing, throwaway secrets, CSRF on (tests send tokens like a browser)."""

    TESTING = True
    DEMO_DATA_ALLOWED = True
    SESSION_COOKIE_SECURE = False
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
    AUDIT_HMAC_KEY = "test-audit-key-not-for-production"
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or "sqlite://"


class ProductionConfig(Config):
    """gunicorn + PostgreSQL; every secret comes from the environment."""

    TOTP_REQUIRED_ROLES: tuple[str, ...] = ROLES

    def __init__(self) -> None:
        missing = [n for n in ("SECRET_KEY", "AUDIT_HMAC_KEY", "DATABASE_URL") if not os.environ.get(n)]
        if missing:
            raise ConfigurationError(
                "Production needs these environment variables: " + ", ".join(missing)
            )
        self.SECRET_KEY = os.environ["SECRET_KEY"]
        self.AUDIT_HMAC_KEY = os.environ["AUDIT_HMAC_KEY"]
        self.SQLALCHEMY_DATABASE_URI = os.environ["DATABASE_URL"]
        roles = os.environ.get("TOTP_REQUIRED_ROLES")
        if roles is not None:
            self.TOTP_REQUIRED_ROLES = tuple(r for r in roles.split(",") if r)


CONFIGS = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None) -> Config:
    """The settings object for CLINIC_ENV (development unless told otherwise)."""
    name = name or os.environ.get("CLINIC_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise ConfigurationError(f"Unknown CLINIC_ENV {name!r}; use one of {sorted(CONFIGS)}") from None
