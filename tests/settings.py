"""The tests' settings: fast hashing, throwaway secrets, CSRF on (tests send tokens like a browser).

Kept with the tests, not in config.py: the installed distribution carries no test settings.
"""

from __future__ import annotations

import tempfile

from config import Config


class TestConfig(Config):
    """Each test's database is set by tests/conftest.py (``make_config``)."""

    __test__ = False  # a settings class, not a test class for pytest to collect

    TESTING = True
    DEMO_DATA_ALLOWED = True
    SESSION_COOKIE_SECURE = False
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
    AUDIT_HMAC_KEY = "test-audit-key-not-for-production"
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1
    SQLALCHEMY_DATABASE_URI = "sqlite://"

    def __init__(self) -> None:
        super().__init__()
        # The tests write times as this machine's clock gives them (CI runs in UTC); the clinic's own
        # zone is tested where it matters, with one whose offset crosses midnight (test_templating).
        self.CLINIC_TIMEZONE = "UTC"
        # Photos uploaded by tests land in a throwaway directory, never in instance/.
        self.PHOTO_STORAGE_DIR = tempfile.mkdtemp(prefix="clinic-photos-")
