"""gunicorn as ``make run`` starts it (gunicorn_config.py): an idle connection must not hold up anyone else.

Chromium opens speculative connections and leaves them idle. A sync worker reads one connection at a time,
so such a connection held it until the 30 s worker timeout, and every request behind it waited. Served by
one worker, the way it is easiest to block, a request on a second connection must still answer at once.
``GUNICORN_CMD_ARGS="--worker-class sync --threads 1" pytest tests/test_serving.py`` shows the test failing
as the sync workers did (with more than one thread gunicorn quietly serves a sync worker as gthread).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
START_TIMEOUT_SECONDS = 30
# A request answers in milliseconds here; a worker blocked by the idle connection would take 30 s.
PROMPT_SECONDS = 2.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_health(port: int, timeout: float) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status
    finally:
        connection.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """The master and its workers share a process group of their own: end them all, whatever happened."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture
def one_worker_server(tmp_path: Path) -> Iterator[int]:
    """`make run`'s gunicorn with a single worker on a free port, against an empty SQLite file (``/health``
    only asks the database for ``SELECT 1``); the port once ``/health`` answers."""
    env = {
        **os.environ,
        "CLINIC_ENV": "development",
        "CLINIC_INSTANCE_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.sqlite'}",
        "SECRET_KEY": "serving-test-secret-key-not-for-production",
        "AUDIT_HMAC_KEY": "serving-test-audit-key-not-for-production",
    }
    env.pop("COV_CORE_SOURCE", None)
    env.pop("COVERAGE_PROCESS_START", None)
    port = _free_port()
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed command from our own venv
            [str(VENV_BIN / "gunicorn"), "-c", str(PROJECT_DIR / "gunicorn_config.py"),
             "--bind", f"127.0.0.1:{port}", "--workers", "1", "--no-control-socket", "wsgi:app"],
            cwd=PROJECT_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                if _get_health(port, timeout=2) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer /health in {START_TIMEOUT_SECONDS} s:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield port
    finally:
        _stop(process)


def test_an_idle_connection_does_not_delay_another_request(one_worker_server: int) -> None:
    port = one_worker_server
    # What Chromium does: connect, send nothing, keep the socket open.
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        time.sleep(0.3)  # the worker has accepted it by now
        started = time.monotonic()
        try:
            status = _get_health(port, timeout=PROMPT_SECONDS + 3)
        except TimeoutError:
            status = None
        elapsed = time.monotonic() - started
    assert status == 200 and elapsed < PROMPT_SECONDS, (
        f"/health answered {status} after {elapsed:.1f} s while another connection sat idle"
    )
