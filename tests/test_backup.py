"""Backup and restore (SECURITY.md D6): restore into a fresh database, then row counts, the audit
chain and the append-only triggers survive; a tampered restore is caught."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from clinic.audit.services import chain_head
from clinic.extensions import db
from clinic.shell.backup import check_restored
from tests.conftest import ON_POSTGRES
from tests.factories import save

# A backup reads the committed database from outside the test's connection.
pytestmark = pytest.mark.commits


@pytest.fixture
def fresh_database(tmp_path: Path):
    """Where a restore goes: a path for a new SQLite file, or a new empty PostgreSQL database."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    source = make_url(os.environ["DATABASE_URL"])
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    target = source.set(database=f"{source.database}_restored_{worker}")
    admin = sa.create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    yield target.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {name: conn.scalar(sa.select(sa.func.count()).select_from(sa.table(name)))
                for name in sorted(sa.inspect(engine).get_table_names())}


def test_a_restore_keeps_every_row_the_audit_chain_and_the_triggers(
    app, runner, course, stock, staff, tmp_path, fresh_database
) -> None:
    save(course, stock, staff["doctor"])
    before, head = _counts(db.engine), chain_head()
    db.session.remove()
    backup = tmp_path / "clinic.backup"
    made = runner.invoke(args=["backup", "create", str(backup)])
    assert made.exit_code == 0, made.output
    assert head in made.output and backup.stat().st_size > 0
    again = runner.invoke(args=["backup", "create", str(backup)])
    assert again.exit_code != 0 and "never overwrites" in again.output

    restored = runner.invoke(args=["backup", "restore", str(backup), "--into", fresh_database, "--head", head])
    assert restored.exit_code == 0, restored.output
    assert "Audit trail intact" in restored.output and "still refuses changes" in restored.output
    check = check_restored(fresh_database, app.config["AUDIT_HMAC_KEY"], head)
    assert check.ok and check.row_counts == before
    if not ON_POSTGRES:
        assert Path(make_url(fresh_database).database).stat().st_mode & 0o777 == 0o600
    assert before["injection_log"] == 2 and before["patient"] == 1

    into_used = runner.invoke(args=["backup", "restore", str(backup), "--into", fresh_database])
    assert into_used.exit_code != 0 and ("already holds tables" in into_used.output
                                         or "does not exist yet" in into_used.output)


def test_a_restored_database_with_an_edited_audit_row_is_reported_broken(
    app, runner, staff, tmp_path, fresh_database
) -> None:
    db.session.remove()
    backup = tmp_path / "clinic.backup"
    assert runner.invoke(args=["backup", "create", str(backup)]).exit_code == 0
    assert runner.invoke(args=["backup", "restore", str(backup), "--into", fresh_database]).exit_code == 0
    engine = sa.create_engine(fresh_database)
    with engine.begin() as conn:
        if ON_POSTGRES:
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        else:
            conn.execute(sa.text("DROP TRIGGER IF EXISTS audit_event_no_update"))
        conn.execute(sa.text("UPDATE audit_event SET reason = 'edited' "
                             "WHERE seq = (SELECT max(seq) FROM audit_event)"))
    engine.dispose()
    check = check_restored(fresh_database, app.config["AUDIT_HMAC_KEY"])
    assert not check.chain.ok


def test_a_backup_is_private_and_a_restore_compares_its_counts(app, runner, staff, tmp_path, fresh_database) -> None:
    db.session.remove()
    backup = tmp_path / "clinic.backup"
    assert runner.invoke(args=["backup", "create", str(backup)]).exit_code == 0
    assert backup.stat().st_mode & 0o777 == 0o600
    manifest = backup.with_name(backup.name + ".counts.json")
    counts = json.loads(manifest.read_text())
    assert counts["user"] == 4
    manifest.write_text(json.dumps({**counts, "user": 5}))  # as if a row had gone missing
    restored = runner.invoke(args=["backup", "restore", str(backup), "--into", fresh_database])
    assert restored.exit_code != 0 and "row counts differ" in restored.output and "user 5 -> 4" in restored.output


def test_a_file_that_is_not_a_backup_is_refused_cleanly(runner, app, tmp_path) -> None:
    if ON_POSTGRES:
        pytest.skip("pg_restore's own message covers PostgreSQL")
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database")
    target = tmp_path / "restored.sqlite"
    result = runner.invoke(args=["backup", "restore", str(junk), "--into", f"sqlite:///{target}"])
    assert result.exit_code != 0 and "is not an SQLite backup" in result.output
    assert not target.exists()
