"""Fixtures: an app per test on a clean, migrated database; clients signed in per role.

SQLite: the schema is migrated once into a template file that each test copies.
PostgreSQL (``DATABASE_URL=postgresql+psycopg://...``): migrated once; after each
test every table is emptied with triggers bypassed (``session_replication_role``),
because the audit table itself refuses DELETE and TRUNCATE.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from clinic import create_app
from clinic.auth.models import User
from clinic.auth.services import create_user
from clinic.extensions import db
from tests.settings import TestConfig

DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = DATABASE_URL.startswith("postgresql")


def _database_per_worker(url_text: str, worker: str) -> str:
    """pytest-xdist: each worker empties its own database between tests, never another's."""
    url = sa.engine.make_url(url_text)
    url = url.set(database=f"{url.database}_{worker}")
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                              {"name": url.database}).scalar()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    return url.render_as_string(hide_password=False)


if ON_POSTGRES and os.environ.get("PYTEST_XDIST_WORKER"):
    DATABASE_URL = _database_per_worker(DATABASE_URL, os.environ["PYTEST_XDIST_WORKER"])
    os.environ["DATABASE_URL"] = DATABASE_URL  # the browser tests' server derives its database from it
ROLES = ("doctor", "nurse", "auditor", "admin")
PASSWORDS = {role: f"correct horse battery staple {role}" for role in ROLES}
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def make_config(database_uri: str, **overrides: object) -> TestConfig:
    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = database_uri
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated to head once per run; SQLite gives a template file."""
    if ON_POSTGRES:
        engine = sa.create_engine(DATABASE_URL)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
        uri = DATABASE_URL
    else:
        uri = f"sqlite:///{tmp_path_factory.mktemp('template') / 'template.sqlite'}"
    app = create_app(make_config(uri))
    with app.app_context():
        upgrade()
        if ON_POSTGRES:
            _capture_migration_rows(db.engine)
        db.engine.dispose()
    return uri


# Rows the migrations themselves insert (the audit chain head, default catalogues),
# captured once after migrating so that every test starts from exactly that state.
_MIGRATION_ROWS: dict[str, list[dict[str, object]]] = {}
# The migrated schema, reflected once: reflecting it again after every test costs minutes.
_SCHEMA = sa.MetaData()


def _capture_migration_rows(engine: sa.Engine) -> None:
    metadata = _SCHEMA
    metadata.reflect(engine)
    with engine.connect() as conn:
        for name, table in metadata.tables.items():
            if name == "alembic_version":
                continue
            rows = [dict(r) for r in conn.execute(sa.select(table)).mappings()]
            if rows:
                _MIGRATION_ROWS[name] = rows


def _empty_postgres(app: Flask) -> None:
    with app.app_context():
        metadata = _SCHEMA
        with db.engine.begin() as conn:
            tables = [t for t in metadata.tables if t != "alembic_version"]
            # Triggers off for this transaction only: the audit table refuses TRUNCATE.
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            conn.execute(sa.text(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
            ))
            for name, rows in _MIGRATION_ROWS.items():
                table = metadata.tables[name]
                conn.execute(sa.insert(table), rows)
                if "id" in table.c and table.c.id.autoincrement is not False:
                    conn.execute(sa.text(
                        f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                        f"(SELECT max(id) FROM \"{name}\"))"
                    ))
        db.engine.dispose()


@pytest.fixture
def database_uri(migrated_database: str, tmp_path: Path) -> str:
    if ON_POSTGRES:
        return migrated_database
    copy = tmp_path / "clinic.sqlite"
    shutil.copyfile(migrated_database.removeprefix("sqlite:///"), copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def config_overrides() -> dict[str, object]:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
def app(database_uri: str, config_overrides: dict[str, object]) -> Iterator[Flask]:
    app = create_app(make_config(database_uri, **config_overrides))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    if ON_POSTGRES:
        _empty_postgres(app)


class ClinicClient(FlaskClient):
    """A test client that fills in the CSRF token the way a browser's form would.

    Each request runs in a fresh app context, as in production: otherwise Flask
    reuses the test's own context, and ``g`` (signed-in user, CSRF token) would
    leak from one request into the next. The test's ``db.session`` is therefore
    separate from the request's: re-read rows (``db.session.expire_all()``) to see
    what a request wrote.
    """

    def open(self, *args, **kwargs):  # type: ignore[override]
        with self.application.app_context():
            return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        response = self.get("/login", follow_redirects=True)
        match = CSRF_RE.search(response.get_data(as_text=True))
        assert match, "no CSRF token on the page"
        return match.group(1) or match.group(2)

    def submit(self, url: str, data: dict[str, object] | None = None, **kwargs: object):
        payload = dict(data or {})
        payload.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=payload, **kwargs)

    def sign_in(self, email: str, password: str, **kwargs: object):
        return self.submit("/login", {"email": email, "password": password}, **kwargs)


@pytest.fixture
def client(app: Flask) -> ClinicClient:
    app.test_client_class = ClinicClient
    return app.test_client()  # type: ignore[return-value]


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def staff(app: Flask) -> dict[str, User]:
    """One account per role, committed."""
    users = {
        role: create_user(f"{role}@example.test", f"Test {role.title()}", role, PASSWORDS[role])
        for role in ROLES
    }
    db.session.commit()
    return users


def signed_in_client(app: Flask, user: User) -> ClinicClient:
    app.test_client_class = ClinicClient
    client: ClinicClient = app.test_client()  # type: ignore[assignment]
    response = client.sign_in(user.email, PASSWORDS[user.role])
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def clients(app: Flask, staff: dict[str, User]) -> dict[str, ClinicClient]:
    """A signed-in client per role."""
    return {role: signed_in_client(app, user) for role, user in staff.items()}


@pytest.fixture
def doctor_client(clients: dict[str, ClinicClient]) -> ClinicClient:
    return clients["doctor"]


@pytest.fixture
def nurse_client(clients: dict[str, ClinicClient]) -> ClinicClient:
    return clients["nurse"]


@pytest.fixture
def auditor_client(clients: dict[str, ClinicClient]) -> ClinicClient:
    return clients["auditor"]


@pytest.fixture
def admin_client(clients: dict[str, ClinicClient]) -> ClinicClient:
    return clients["admin"]


def audit_rows(action: str | None = None):
    """The audit trail as the tests read it."""
    from clinic.audit.models import AuditEvent

    query = sa.select(AuditEvent).order_by(AuditEvent.seq)
    if action:
        query = query.where(AuditEvent.action == action)
    db.session.expire_all()
    return list(db.session.scalars(query))


# Clinical-record fixtures shared by several test modules.
from tests.factories import course, patient, stock, vitamin_product  # noqa: E402, F401
