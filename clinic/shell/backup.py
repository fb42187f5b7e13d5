"""Backups, and restores that prove themselves (SECURITY.md D6).

A backup is SQLite's online backup (a consistent copy while the app runs) or
PostgreSQL's ``pg_dump --format=custom``. A restore goes into a new, empty
database and is then checked: the audit trail's hash chain verifies (against
an exported head when given), the append-only triggers refuse an UPDATE, and
every table's row count is reported so it can be compared with the source.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from clinic.audit.services import VerifyResult, verify_chain
from clinic.core.errors import ClinicError


def _kind(database_url: str) -> str:
    backend = make_url(database_url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ClinicError(f"Backups of {backend} databases are not supported.")
    return backend


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """What pg_dump and pg_restore understand: postgresql://... without the password, which goes in
    PGPASSWORD instead (a command line is visible to every user of the host)."""
    url = make_url(database_url).set(drivername="postgresql")
    env = {**os.environ, "PGPASSWORD": url.password} if url.password else dict(os.environ)
    return url.set(password=None).render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    if shutil.which(command[0]) is None:
        raise ClinicError(f"{command[0]} is not installed: install the PostgreSQL client tools.")
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)  # noqa: S603
    if done.returncode != 0:
        raise ClinicError(f"{command[0]} failed: {done.stderr.strip() or done.stdout.strip()}")


def _count_rows(conn: sa.Connection, name: str) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()


def row_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {name: _count_rows(conn, name) for name in sorted(sa.inspect(engine).get_table_names())}


def manifest_path(backup: Path) -> Path:
    """Beside every backup: the row counts it was taken with, for the restore to compare."""
    return backup.with_name(backup.name + ".counts.json")


def backup_database(engine: sa.Engine, target: Path) -> dict[str, int]:
    """Write a backup of the database behind ``engine`` to ``target`` (which must not exist), readable by
    its owner only, with the row counts beside it. Returns those counts."""
    if target.exists() or manifest_path(target).exists():
        raise ClinicError(f"{target} exists already; a backup never overwrites a file.")
    target.touch(mode=0o600)  # health data: never world-readable, not even while it is written
    try:
        if _kind(str(engine.url)) == "sqlite":
            with engine.connect() as conn:  # counts and copy from one snapshot
                conn.exec_driver_sql("BEGIN")
                counts = {name: _count_rows(conn, name) for name in sorted(sa.inspect(conn).get_table_names())}
                source = conn.connection.driver_connection
                assert source is not None  # an open connection has its DBAPI connection
                with sqlite3.connect(target) as copy:
                    source.backup(copy)
                copy.close()
                conn.exec_driver_sql("COMMIT")
        else:
            counts = row_counts(engine)  # pg_dump takes its own snapshot: counts may trail a busy clinic's
            url, env = _libpq(engine.url.render_as_string(hide_password=False))
            _run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}", url], env)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    manifest = manifest_path(target)
    manifest.touch(mode=0o600)
    manifest.write_text(json.dumps(counts, indent=1))
    return counts


def restore_database(source: Path, database_url: str) -> None:
    """Load a backup into a new database: an SQLite file that does not exist yet, or an empty PostgreSQL one."""
    if not source.is_file():
        raise ClinicError(f"No backup file at {source}.")
    if _kind(database_url) == "sqlite":
        path = Path(make_url(database_url).database or "")
        if not path.name or path.exists():
            raise ClinicError("Restore into a new SQLite file: give a path that does not exist yet.")
        path.touch(mode=0o600)  # as private as the backup it comes from
        try:
            with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as backup, sqlite3.connect(path) as restored:
                backup.backup(restored)
            backup.close()
            restored.close()
        except sqlite3.DatabaseError as error:
            path.unlink(missing_ok=True)
            raise ClinicError(f"{source} is not an SQLite backup ({error}).") from None
        return
    engine = sa.create_engine(database_url)
    try:
        if sa.inspect(engine).get_table_names():
            raise ClinicError("Restore into a new, empty database: this one already holds tables.")
    finally:
        engine.dispose()
    url, env = _libpq(database_url)
    _run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={url}", str(source)], env)


@dataclass
class RestoreCheck:
    chain: VerifyResult
    triggers_refuse_update: bool
    row_counts: dict[str, int] = field(default_factory=dict)
    expected_counts: dict[str, int] | None = None  # from the backup's manifest, when there is one

    @property
    def count_differences(self) -> dict[str, tuple[int | None, int | None]]:
        if self.expected_counts is None:
            return {}
        names = set(self.expected_counts) | set(self.row_counts)
        return {n: (self.expected_counts.get(n), self.row_counts.get(n)) for n in sorted(names)
                if self.expected_counts.get(n) != self.row_counts.get(n)}

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.triggers_refuse_update and not self.count_differences


def check_restored(database_url: str, audit_key: str, expected_head: str | None = None,
                   expected_counts: dict[str, int] | None = None) -> RestoreCheck:
    """Is the restored database whole? Chain, append-only triggers, and every table's row count."""
    engine = sa.create_engine(database_url)
    try:
        with Session(engine) as session:
            chain = verify_chain(session, key=audit_key, expected_head=expected_head)
        counts = row_counts(engine)
        refused = False
        with engine.connect() as conn:
            try:
                conn.execute(sa.text("UPDATE audit_event SET reason = reason"))
            except sa.exc.DBAPIError:
                refused = True
            conn.rollback()
        return RestoreCheck(chain, refused, counts, expected_counts)
    finally:
        engine.dispose()
