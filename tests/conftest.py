"""Fixtures: one app per test process on a migrated database, each test inside a transaction
that is rolled back; clients signed in per role.

Most tests (rolled back): the app and its schema are built once per pytest-xdist worker. Each
test gets one database connection with an outer transaction open; every session of the test
(the test's own ``db.session``, each request's, the CLI's) runs on that connection and turns
its ``commit()``/``rollback()`` into RELEASE/ROLLBACK TO SAVEPOINT. The outer transaction is
rolled back after the test, so nothing it wrote is ever committed.

Tests marked ``@pytest.mark.commits`` need real commits (threads or a second connection,
backups, a database of their own) and get an app of their own on a clean database, as before:

* SQLite: the schema is migrated once into a template file that each such test copies;
* PostgreSQL (``DATABASE_URL=postgresql+psycopg://...``): after each such test every table is
  emptied with triggers bypassed (``session_replication_role``), because the audit table
  itself refuses DELETE and TRUNCATE.
"""

from __future__ import annotations

import os
import re
import shutil
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession

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
# PostgreSQL: the role the app runs as, as in production (README "two database roles"). The tables
# are migrated by the connecting (owner) role, which grants this one its privileges; every engine of
# the app under test then switches to it (SET ROLE), so each test runs with the app's privileges only.
APP_ROLE = os.environ.get("DATABASE_APP_ROLE") if ON_POSTGRES else None
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
            with db.engine.connect() as conn:
                _RESET_SEQUENCES.extend(_sequence_reset(conn))
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


# PostgreSQL sequences are not transactional: a rolled-back test still moves them on, so each
# rolled-back test first sets them back to where the migrations left them (ids start at 1).
_RESET_SEQUENCES: list[sa.TextClause] = []


def _sequence_reset(conn: sa.Connection) -> list[sa.TextClause]:
    """A statement that puts every PostgreSQL sequence back where it is now."""
    rows = conn.execute(sa.text(
        "SELECT schemaname, sequencename, start_value, last_value FROM pg_sequences "
        "WHERE schemaname = current_schema()"
    )).all()
    calls = [
        f"setval('\"{schema}\".\"{name}\"', {start if last is None else last}, {last is not None})"
        for schema, name, start, last in rows
    ]
    if not calls:
        return []
    if APP_ROLE:  # the app's role may use sequences, not set them: the owner does it, then hands back
        return [sa.text("RESET ROLE"), sa.text("SELECT " + ", ".join(calls)), sa.text(f'SET ROLE "{APP_ROLE}"')]
    return [sa.text("SELECT " + ", ".join(calls))]


def _as_app_role(engine: sa.Engine) -> None:
    """Every new connection of ``engine`` runs with the app role's privileges."""
    if not APP_ROLE or sa.event.contains(engine, "connect", _set_app_role):
        return
    sa.event.listen(engine, "connect", _set_app_role)


def _set_app_role(dbapi_connection, connection_record) -> None:  # type: ignore[no-untyped-def]
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{APP_ROLE}"')
    dbapi_connection.commit()


@contextmanager
def as_database_owner(conn: sa.Connection) -> Iterator[sa.Connection]:
    """Inside ``conn``'s transaction: the owner's (superuser's) powers, as an intruder with them would
    have, then the app's role again."""
    if APP_ROLE:
        conn.execute(sa.text("SET LOCAL ROLE NONE"))
    yield conn
    if APP_ROLE:
        conn.execute(sa.text(f'SET LOCAL ROLE "{APP_ROLE}"'))


def _empty_postgres(app: Flask) -> None:
    with app.app_context():
        metadata = _SCHEMA
        with db.engine.begin() as conn:
            if APP_ROLE:
                conn.execute(sa.text("RESET ROLE"))
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
    """A committing test's database: a copy of the SQLite template, or the worker's PostgreSQL."""
    if ON_POSTGRES:
        return migrated_database
    copy = tmp_path / "clinic.sqlite"
    shutil.copyfile(migrated_database.removeprefix("sqlite:///"), copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def config_overrides() -> dict[str, object]:
    """Override in a test module to change settings for its app."""
    return {}


def _sqlite_savepoints(engine: sa.Engine) -> None:
    """pysqlite's own transaction handling breaks SAVEPOINTs (releasing the first one commits):
    let SQLAlchemy emit BEGIN itself (the SQLAlchemy documentation's recipe). The app's own
    PRAGMA listener runs first and still sets every PRAGMA."""

    @sa.event.listens_for(engine, "connect")
    def _no_pysqlite_transactions(dbapi_connection, connection_record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")


@pytest.fixture(scope="session")
def shared_app(migrated_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app of every rolled-back test in this process, on a migrated database of its own."""
    if ON_POSTGRES:
        uri = migrated_database
    else:
        copy = tmp_path_factory.mktemp("shared") / "clinic.sqlite"
        shutil.copyfile(migrated_database.removeprefix("sqlite:///"), copy)
        uri = f"sqlite:///{copy}"
    app = create_app(make_config(uri))
    app.test_client_class = ClinicClient
    # The code's own commits and rollbacks become SAVEPOINTs on the test's connection.
    # (Sessions bound to an engine, as in committing tests, are not affected.)
    db.session.session_factory.configure(join_transaction_mode="create_savepoint")
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _sqlite_savepoints(db.engine)
        _as_app_role(db.engine)
    yield app
    with app.app_context():
        db.engine.dispose()


@dataclass
class _SharedRows:
    connection: sa.Connection
    fixture: str
    reset_sequences: list[sa.TextClause]


# Rows that a class-scoped fixture built once for its tests (``shared_rows``), while it lives.
_SHARED_ROWS: dict[Flask, _SharedRows] = {}
T = TypeVar("T")


@contextmanager
def shared_rows(app: Flask, fixture: str, build: Callable[[], T]) -> Iterator[T]:
    """For a class-scoped fixture named ``fixture`` on ``shared_app``: ``build()`` the rows once,
    in an outer transaction of their own, for every test of the class. Each of those tests runs
    in a SAVEPOINT inside it, rolled back after the test; the rows are rolled back after the last.
    A test that does not ask for ``fixture`` is refused while the rows exist."""
    engines = db._app_engines[app]
    engine = engines[None]
    connection = engine.connect()
    outer = connection.begin()
    try:
        for statement in _RESET_SEQUENCES:
            connection.execute(statement)
        engines[None] = connection  # type: ignore[assignment]
        with app.app_context():
            built = build()
            db.session.commit()
            db.session.remove()
        engines[None] = engine
        reset = _sequence_reset(connection) if ON_POSTGRES else []
        _SHARED_ROWS[app] = _SharedRows(connection, fixture, reset)
        yield built
    finally:
        _SHARED_ROWS.pop(app, None)
        engines[None] = engine
        if outer.is_active:
            outer.rollback()
        connection.close()


@contextmanager
def _rolled_back(app: Flask, overrides: dict[str, object], fixtures: list[str]) -> Iterator[Flask]:
    """``app`` with ``overrides`` for one test, every session on one connection whose outer
    transaction is rolled back at the end. Flask-SQLAlchemy's sessions take their bind from
    ``db.engines`` (not ``Session.bind``), so the connection stands in for the engine there."""
    engines = db._app_engines[app]
    engine = engines[None]
    rows = _SHARED_ROWS.get(app)
    if rows is not None and rows.fixture not in fixtures:
        raise RuntimeError(
            f"the rows of {rows.fixture!r} are still there: this test did not ask for them"
        )
    saved_config = dict(app.config)
    app.config.update(overrides)  # every overridden setting is read per request
    if rows is None:
        connection = engine.connect()
        outer = connection.begin()
        reset = _RESET_SEQUENCES
    else:
        connection = rows.connection
        outer = connection.begin_nested()
        reset = rows.reset_sequences
    try:
        for statement in reset:
            connection.execute(statement)
        engines[None] = connection  # type: ignore[assignment]
        with app.app_context():
            yield app
            db.session.remove()
    finally:
        engines[None] = engine
        if outer.is_active:
            outer.rollback()
        if rows is None:
            connection.close()
        app.config.clear()
        app.config.update(saved_config)


@contextmanager
def _committing(database_uri: str, overrides: dict[str, object]) -> Iterator[Flask]:
    """An app of its own on a clean database, committing for real."""
    app = create_app(make_config(database_uri, **overrides))
    app.test_client_class = ClinicClient
    with app.app_context():
        _as_app_role(db.engine)
        yield app
        db.session.remove()
        db.engine.dispose()
    if ON_POSTGRES:
        _empty_postgres(app)


@pytest.fixture
def app(request: pytest.FixtureRequest, config_overrides: dict[str, object]) -> Iterator[Flask]:
    if request.node.get_closest_marker("commits"):
        with _committing(request.getfixturevalue("database_uri"), config_overrides) as made:
            yield made
    else:
        with _rolled_back(request.getfixturevalue("shared_app"), config_overrides,
                          request.fixturenames) as shared:
            yield shared


@contextmanager
def own_transaction() -> Iterator[sa.Connection]:
    """Raw SQL in a transaction of its own, as another client would send it: a SAVEPOINT on a
    rolled-back test's connection (a refused statement undoes only itself), a real transaction
    for a committing test."""
    bind = db.engine
    if isinstance(bind, sa.Connection):
        _end_the_test_sessions_transaction()
        with bind.begin_nested():
            yield bind
    else:
        with bind.begin() as conn:
            yield conn


_SAVEPOINT_STATEMENTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@contextmanager
def _counting_queries() -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        # A rolled-back test's savepoints stand in for transactions: not the code's queries.
        if not statement.lstrip().upper().startswith(_SAVEPOINT_STATEMENTS):
            statements.append(statement)

    bind = db.engine
    sa.event.listen(bind, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(bind, "before_cursor_execute", record)


@pytest.fixture
def count_queries(app: Flask):  # type: ignore[no-untyped-def]
    """``with count_queries() as statements:`` lists the SQL statements sent inside the block
    (``len(statements)`` is the query count), from the test and from its requests alike."""
    return _counting_queries


# Issue 17: a page that shows records costs at most this many statements, however many rows it shows.
QUERY_BUDGET = 12


@pytest.fixture
def page_queries(app: Flask) -> Callable[..., int]:
    """``page_queries(client, url)``: the statements one GET of the page sends (sign-in check included),
    after asserting it answered 200. Budget tests compare it for 2 and for 50 rows of each kind shown and
    hold it to ``QUERY_BUDGET``; the test's own loaded objects are expired first, so nothing the test
    session already holds spares the page a query."""

    def measure(client: FlaskClient, url: str) -> int:
        db.session.expire_all()
        with _counting_queries() as statements:
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return len(statements)

    return measure


# A rolled-back test and its requests share one connection, so a request's SAVEPOINT (or
# ``own_transaction``'s) would nest inside one that the test's own db.session holds open (as soon
# as it has read anything), and a later db.session.rollback() would undo what the request
# committed: with real commits it could not. So before each request (and each
# ``own_transaction``) the test session's transaction is ended when that changes nothing
# (no pending changes, nothing written): RELEASE SAVEPOINT, loaded objects kept as they are (not
# expired), as if its transaction had simply gone on on a connection of its own. When the test
# session has written, its transaction is left open and remembered, and rolling it back fails the
# test instead of letting it pass on data that production would have kept.
_WROTE: weakref.WeakSet[sa.orm.SessionTransaction] = weakref.WeakSet()
_OPEN_DURING_A_REQUEST: weakref.WeakSet[sa.orm.SessionTransaction] = weakref.WeakSet()


@sa.event.listens_for(FlaskSession, "after_flush")
def _note_a_flush(session: sa.orm.Session, flush_context: object) -> None:
    transaction = session.get_transaction()
    if transaction is not None:
        _WROTE.add(transaction)


@sa.event.listens_for(FlaskSession, "do_orm_execute")
def _note_a_bulk_write(state: sa.orm.ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        transaction = state.session.get_transaction()
        if transaction is not None:
            _WROTE.add(transaction)


def _end_the_test_sessions_transaction() -> None:
    if not has_app_context() or not db.session.registry.has():
        return
    if not isinstance(db.engine, sa.Connection):
        return  # a committing test: its session has a connection of its own
    session = db.session()
    root = session.get_transaction()
    if root is None or not root._connections:
        return  # nothing begun on the connection: the request's SAVEPOINT cannot nest in it
    clean = (session._transaction is root and root not in _WROTE
             and not (session.new or session.dirty or session.deleted))
    if clean:
        expire, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        finally:
            session.expire_on_commit = expire
        return
    current = session._transaction
    while current is not None:
        _OPEN_DURING_A_REQUEST.add(current)
        current = current._parent


@sa.event.listens_for(FlaskSession, "after_rollback")
def _refuse_undoing_a_requests_commit(session: sa.orm.Session) -> None:
    rolled_back = session._transaction
    while rolled_back is not None and not (rolled_back._parent is None or rolled_back.nested):
        rolled_back = rolled_back._parent
    if rolled_back is not None and rolled_back in _OPEN_DURING_A_REQUEST:
        raise AssertionError(
            "the test's db.session rolled back a transaction that held uncommitted writes during a "
            "request (or own_transaction): on the shared connection that also undoes what it "
            "committed. "
            "Commit or roll back before the request, or mark the test @pytest.mark.commits."
        )


class ClinicClient(FlaskClient):
    """A test client that fills in the CSRF token the way a browser's form would.

    Each request runs in a fresh app context, as in production: otherwise Flask
    reuses the test's own context, and ``g`` (signed-in user, CSRF token) would
    leak from one request into the next. The test's ``db.session`` is therefore
    separate from the request's: re-read rows (``db.session.expire_all()``) to see
    what a request wrote.
    """

    def open(self, *args, **kwargs):  # type: ignore[override]
        _end_the_test_sessions_transaction()
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
    return app.test_client()  # type: ignore[return-value]


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


def create_staff() -> dict[str, User]:
    """One account per role, committed."""
    users = {
        role: create_user(f"{role}@example.test", f"Test {role.title()}", role, PASSWORDS[role])
        for role in ROLES
    }
    db.session.commit()
    return users


@pytest.fixture
def staff(app: Flask) -> dict[str, User]:
    """One account per role, committed."""
    return create_staff()


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
