"""Fixtures for the browser tests: the real app under gunicorn, driven by Debian's chromium.

The app runs as it does for ``make run`` (CLINIC_ENV=development, gunicorn with
``gunicorn_config.py``, two threaded workers) against a database of its own, migrated and loaded with the demo
accounts through the flask CLI:

* SQLite (the default): a file in a temporary directory;
* PostgreSQL (``DATABASE_URL=postgresql+psycopg://...``): a separate database
  ``<name>_browser`` on the same server, dropped and created for the run, so the
  browser tests never touch the database the other tests empty between tests.

Playwright drives ``/usr/bin/chromium``; no browser is ever downloaded. Without
that binary the browser tests are skipped on a workstation, and fail under CI.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROJECT_DIR = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
HEALTH_TIMEOUT_SECONDS = 30
ACTION_TIMEOUT_MS = 10_000
SCREENSHOT_DIR = Path("/tmp/browser-shots")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium; skip without it on a workstation, fail without it under CI."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(
                f"CI is set but {CHROMIUM} is missing: install Debian's chromium "
                "(apt-get install chromium); the browser tests must run in CI.",
                pytrace=False,
            )
        pytest.skip(
            f"browser tests need Debian's chromium at {CHROMIUM} "
            "(apt-get install chromium); Playwright's own browsers are never downloaded"
        )
    return CHROMIUM


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_flask(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(  # noqa: S603 - fixed command from our own venv
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`flask {' '.join(args)}` failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}",
            pytrace=False,
        )


def _postgres_admin_connect(url):  # type: ignore[no-untyped-def]
    """An autocommit connection to the server's maintenance database."""
    import psycopg

    params = {
        "host": url.host, "port": url.port, "user": url.username,
        "password": url.password, "dbname": "postgres",
    }
    return psycopg.connect(autocommit=True, **{k: v for k, v in params.items() if v is not None})


def _recreate_postgres_database(url) -> None:  # type: ignore[no-untyped-def]
    from psycopg import sql

    with _postgres_admin_connect(url) as conn:
        name = sql.Identifier(url.database)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def _drop_postgres_database(url) -> None:  # type: ignore[no-untyped-def]
    from psycopg import sql

    with _postgres_admin_connect(url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(url.database))
        )


def _wait_for_health(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"gunicorn exited with {process.returncode} before answering:\n"
                f"{log_path.read_text()}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
                last_error = f"status {response.status}"
        except urllib.error.HTTPError as error:
            last_error = f"status {error.code}"
            error.close()
        except OSError as error:
            last_error = str(error)
        time.sleep(0.2)
    pytest.fail(
        f"{base_url}/health did not answer 200 within {HEALTH_TIMEOUT_SECONDS} s "
        f"({last_error}):\n{log_path.read_text()}",
        pytrace=False,
    )


# The live server's database and secrets, for tests that set up records behind its back (``live_app``).
_LIVE: dict[str, str] = {}
LIVE_SECRET_KEY = "browser-test-secret-key-not-for-production"  # noqa: S105
LIVE_AUDIT_KEY = "browser-test-audit-key-not-for-production"


@pytest.fixture(scope="session")
def live_server(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app under gunicorn on a free port, on a fresh database with the demo accounts."""
    tmp = tmp_path_factory.mktemp("live_server")
    database_url = os.environ.get("DATABASE_URL", "")
    pg_url = None
    if database_url.startswith("postgresql"):
        source = make_url(database_url)
        pg_url = source.set(database=f"{source.database or 'clinic'}_browser")
        _recreate_postgres_database(pg_url)
        app_database_url = pg_url.render_as_string(hide_password=False)
    else:
        app_database_url = f"sqlite:///{tmp / 'clinic.sqlite'}"

    env = {
        **os.environ,
        "CLINIC_ENV": "development",
        "CLINIC_INSTANCE_DIR": str(tmp),
        "DATABASE_URL": app_database_url,
        "SECRET_KEY": LIVE_SECRET_KEY,
        "AUDIT_HMAC_KEY": LIVE_AUDIT_KEY,
        # The tests compare times with this machine's clock (UTC); the clinic's zone has tests of its own.
        "CLINIC_TIMEZONE": "UTC",
        "PYTHONUNBUFFERED": "1",
    }
    # Coverage of the parent run must not follow into the subprocesses.
    env.pop("COV_CORE_SOURCE", None)
    env.pop("COVERAGE_PROCESS_START", None)

    _run_flask(["db", "upgrade"], env)  # as the tables' owner, granting the app role (DATABASE_APP_ROLE)
    app_role = os.environ.get("DATABASE_APP_ROLE")
    if pg_url is not None and app_role:
        # From here on the server signs in as the app's own role, as in production.
        app_database_url = pg_url.set(username=app_role, password=None).render_as_string(hide_password=False)
        env["DATABASE_URL"] = app_database_url
    _run_flask(["demo", "seed"], env)
    _LIVE["database_url"] = app_database_url

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed command from our own venv
            # --no-control-socket: gunicorn 27 otherwise claims ~/.gunicorn/gunicorn.ctl,
            # which a developer's own `make run` also uses.
            # gunicorn_config.py: the threaded workers and access log of `make run`.
            [str(VENV_BIN / "gunicorn"), "-c", str(PROJECT_DIR / "gunicorn_config.py"),
             "--bind", f"127.0.0.1:{port}", "--workers", "2", "--no-control-socket", "wsgi:app"],
            cwd=PROJECT_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_health(base_url, process, log_path)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        if pg_url is not None:
            _drop_postgres_database(pg_url)


@pytest.fixture(scope="session")
def live_app(live_server: str):  # type: ignore[no-untyped-def]
    """An app on the live server's database and audit key: what a test sets up through the services is
    committed, audited and hash-chained as if a user had done it, and the live server shows it."""
    from clinic import create_app
    from tests.settings import TestConfig

    class LiveConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = _LIVE["database_url"]
        SECRET_KEY = LIVE_SECRET_KEY
        AUDIT_HMAC_KEY = LIVE_AUDIT_KEY

    app = create_app(LiveConfig())
    yield app
    with app.app_context():
        from clinic.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, live_server: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A page in a fresh browser context: no cookies from any other test."""
    from playwright.sync_api import expect

    expect.set_options(timeout=ACTION_TIMEOUT_MS)
    context = browser.new_context(base_url=live_server)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where screenshots go for a person to look at; nothing asserts on them."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR
