"""Backups, and restores that prove themselves (SECURITY.md D6).

A backup is SQLite's online backup (a consistent copy while the app runs) or
PostgreSQL's ``pg_dump --format=custom``. A restore goes into a new, empty
database and is then checked: the audit trail's hash chain verifies (against
an exported head when given), the append-only triggers refuse an UPDATE, and
every table's row count is reported so it can be compared with the source.
"""

from __future__ import annotations

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


def _libpq_url(database_url: str) -> str:
    """What pg_dump and pg_restore understand: postgresql://..., without SQLAlchemy's driver name."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise ClinicError(f"{command[0]} is not installed: install the PostgreSQL client tools.")
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - fixed tools
    if done.returncode != 0:
        raise ClinicError(f"{command[0]} failed: {done.stderr.strip() or done.stdout.strip()}")


def backup_database(engine: sa.Engine, target: Path) -> None:
    """Write a backup of the database behind ``engine`` to ``target`` (which must not exist)."""
    if target.exists():
        raise ClinicError(f"{target} exists already; a backup never overwrites a file.")
    if _kind(str(engine.url)) == "sqlite":
        raw = engine.raw_connection()
        try:
            with sqlite3.connect(target) as copy:
                raw.driver_connection.backup(copy)
            copy.close()
        finally:
            raw.close()
        return
    _run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}",
          _libpq_url(engine.url.render_as_string(hide_password=False))])


def restore_database(source: Path, database_url: str) -> None:
    """Load a backup into a new database: an SQLite file that does not exist yet, or an empty PostgreSQL one."""
    if not source.is_file():
        raise ClinicError(f"No backup file at {source}.")
    if _kind(database_url) == "sqlite":
        path = Path(make_url(database_url).database or "")
        if not path.name or path.exists():
            raise ClinicError("Restore into a new SQLite file: give a path that does not exist yet.")
        with sqlite3.connect(source) as backup, sqlite3.connect(path) as restored:
            backup.backup(restored)
        backup.close()
        restored.close()
        return
    engine = sa.create_engine(database_url)
    try:
        if sa.inspect(engine).get_table_names():
            raise ClinicError("Restore into a new, empty database: this one already holds tables.")
    finally:
        engine.dispose()
    _run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq_url(database_url)}", str(source)])


@dataclass
class RestoreCheck:
    chain: VerifyResult
    triggers_refuse_update: bool
    row_counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.triggers_refuse_update


def check_restored(database_url: str, audit_key: str, expected_head: str | None = None) -> RestoreCheck:
    """Is the restored database whole? Chain, append-only triggers, and the row count of every table."""
    engine = sa.create_engine(database_url)
    try:
        with Session(engine) as session:
            chain = verify_chain(session, key=audit_key, expected_head=expected_head)
        counts = {}
        with engine.connect() as conn:
            for name in sorted(sa.inspect(engine).get_table_names()):
                counts[name] = conn.scalar(sa.select(sa.func.count()).select_from(sa.table(name)))
        refused = False
        with engine.connect() as conn:
            try:
                conn.execute(sa.text("UPDATE audit_event SET reason = reason"))
            except sa.exc.DBAPIError:
                refused = True
            conn.rollback()
        return RestoreCheck(chain, refused, counts)
    finally:
        engine.dispose()
