"""The audit trail: same transaction, append-only, tamper-evident (SECURITY.md T1-T3)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from clinic.audit import services as audit_services
from clinic.audit.models import AuditEvent
from clinic.audit.services import chain_head, record_event, verify_chain
from clinic.auth.models import User
from clinic.auth.services import create_user
from clinic.extensions import db
from tests.conftest import APP_ROLE, ON_POSTGRES, as_database_owner, audit_rows, own_transaction


def _raw(sql: str, **params: object) -> None:
    with own_transaction() as conn:
        conn.execute(sa.text(sql), params)


def _tamper(sql: str, **params: object) -> None:
    """What someone with database superuser rights could do behind the app's back."""
    with own_transaction() as conn, as_database_owner(conn):
        if ON_POSTGRES:
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        else:
            conn.execute(sa.text("DROP TRIGGER IF EXISTS audit_event_no_update"))
            conn.execute(sa.text("DROP TRIGGER IF EXISTS audit_event_no_delete"))
        conn.execute(sa.text(sql), params)
        if ON_POSTGRES:  # a SAVEPOINT's release would keep it until the test's transaction ends
            conn.execute(sa.text("SET LOCAL session_replication_role = origin"))


def _make_events(n: int) -> None:
    for i in range(n):
        record_event("read_chart", record_type="patient", record_id=i + 1)
    db.session.commit()


# --- T1: every write leaves exactly its rows, in the same transaction ------------


def test_creating_an_account_writes_one_create_row_with_the_new_values(app: Flask) -> None:
    user = create_user("lena@example.test", "Lena Park", "nurse", "a quiet meadow at dawn")
    db.session.commit()
    rows = audit_rows()
    assert [r.action for r in rows] == ["create"]
    row = rows[0]
    assert (row.record_type, row.record_id) == ("user", str(user.id))
    changes = json.loads(row.changes)
    assert changes["email"] == [None, "lena@example.test"]
    assert changes["role"] == [None, "nurse"]
    # Secrets are recorded as changed, never stored in the trail.
    assert changes["password_hash"] == [None, "[redacted]"]
    assert "$argon2" not in row.changes


def test_a_change_records_old_and_new_values_and_the_actor(app: Flask, staff) -> None:
    nurse = staff["nurse"]
    nurse.full_name = "Sam Okafor-Reyes"
    db.session.commit()
    row = audit_rows("update")[-1]
    assert json.loads(row.changes) == {"full_name": ["Test Nurse", "Sam Okafor-Reyes"]}
    assert row.record_id == str(nurse.id)


def test_if_the_audit_write_fails_the_change_is_not_committed(app: Flask, monkeypatch) -> None:
    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(audit_services, "compute_hash", broken)
    with pytest.raises(RuntimeError):
        create_user("ghost@example.test", "Ghost Writer", "doctor", "nobody sees this change")
        db.session.commit()
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
    assert audit_rows() == []


def test_entries_are_chained_at_the_commit_and_a_savepoint_rolled_back_takes_its_own(app: Flask) -> None:
    record_event("read_chart", record_type="patient", record_id=1)
    with db.session.begin_nested():  # released: its entry stays with the transaction
        record_event("read_chart", record_type="patient", record_id=2)
    savepoint = db.session.begin_nested()
    record_event("read_chart", record_type="patient", record_id=3)
    create_user("rolled.back@example.test", "Rolled Back", "nurse", "a savepoint that never was")
    db.session.flush()
    savepoint.rollback()
    assert audit_rows() == []  # nothing is chained before the commit
    db.session.commit()
    rows = audit_rows()
    assert [(r.action, r.record_id) for r in rows] == [("read_chart", "1"), ("read_chart", "2")]
    assert [r.seq for r in rows] == [1, 2]
    assert verify_chain().ok


@pytest.mark.commits
def test_a_transaction_does_not_hold_the_chain_head_before_its_commit(app: Flask) -> None:
    """A request that read a chart (and, on PostgreSQL, saved a change) does not hold the head while it
    renders its page: another writer appends meanwhile instead of waiting for that request to end."""
    record_event("read_chart", record_type="patient", record_id=1)
    if ON_POSTGRES:  # on SQLite any write takes the database's one write lock, the head or not
        create_user("still.open@example.test", "Still Open", "nurse", "a transaction not yet committed")
        db.session.flush()
    other_writer = audit_services.PendingEvent("read_chart", "patient", "2", None, None, audit_services.SYSTEM,
                                               None, None)
    with db.engine.connect() as other:
        if ON_POSTGRES:
            other.execute(sa.text("SET lock_timeout = '2s'"))
        else:
            other.execute(sa.text("PRAGMA busy_timeout = 2000"))
        assert audit_services.chain_entries(other, [other_writer]) == 1
        other.commit()
    db.session.commit()
    assert [(r.record_id, r.seq) for r in audit_rows("read_chart")] == [("2", 1), ("1", 2)]
    assert verify_chain().ok


def test_a_sign_in_request_is_audited_with_request_id_and_address(client, staff) -> None:
    client.sign_in(staff["doctor"].email, "correct horse battery staple doctor")
    login = audit_rows("login")[-1]
    assert login.user_id == staff["doctor"].id
    assert login.role == "doctor"
    assert login.request_id and len(login.request_id) == 16
    assert login.client_addr == "127.0.0.1"


def test_a_chart_read_can_be_recorded_explicitly(app: Flask, staff) -> None:
    class Chart:
        id = 42

    audit_services.record_chart_read(Chart())
    db.session.commit()
    row = audit_rows("read_chart")[-1]
    assert (row.record_type, row.record_id) == ("patient", "42")


# --- T2: append-only at the database level ----------------------------------------


# With the app's own role (PostgreSQL in production and CI) the privileges refuse first; the
# triggers refuse even the tables' owner.
REFUSAL = "permission denied" if APP_ROLE else "append-only"


def test_the_database_refuses_to_update_an_audit_row(app: Flask) -> None:
    _make_events(1)
    with pytest.raises(sa.exc.DatabaseError, match=REFUSAL):
        _raw("UPDATE audit_event SET action = 'nothing' WHERE seq = 1")


def test_the_database_refuses_to_delete_an_audit_row(app: Flask) -> None:
    _make_events(1)
    with pytest.raises(sa.exc.DatabaseError, match=REFUSAL):
        _raw("DELETE FROM audit_event WHERE seq = 1")


@pytest.mark.skipif(not ON_POSTGRES, reason="TRUNCATE exists on PostgreSQL only")
def test_postgres_refuses_to_truncate_the_audit_table(app: Flask) -> None:
    _make_events(1)
    with pytest.raises(sa.exc.DatabaseError, match=REFUSAL):
        _raw("TRUNCATE audit_event")


@pytest.mark.skipif(not APP_ROLE, reason="needs the app's own database role (DATABASE_APP_ROLE), as CI runs")
class TestTheAppsDatabaseRole:
    """The app's credentials cannot rewrite the trail (issue: the owner could disable the triggers,
    delete the newest rows and rewind the head row, and the chain still verified)."""

    def test_it_may_only_read_and_append_audit_rows(self, app: Flask) -> None:
        granted = {
            (table, privilege): db.session.scalar(sa.text("SELECT has_table_privilege(:t, :p)"),
                                                  {"t": table, "p": privilege})
            for table in ("audit_event", "audit_chain")
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER")
        }
        assert {key for key, yes in granted.items() if yes} == {
            ("audit_event", "SELECT"), ("audit_event", "INSERT"), ("audit_chain", "SELECT"),
            ("audit_chain", "UPDATE")}

    def test_it_cannot_switch_the_triggers_off(self, app: Flask) -> None:
        _make_events(3)
        with pytest.raises(sa.exc.DatabaseError, match="must be owner"):
            _raw("ALTER TABLE audit_event DISABLE TRIGGER USER")
        with pytest.raises(sa.exc.DatabaseError, match="permission denied"):
            _raw("SET LOCAL session_replication_role = replica")
        with pytest.raises(sa.exc.DatabaseError, match="permission denied"):
            _raw("DELETE FROM audit_event WHERE seq > 1")
        assert verify_chain().count == db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))

    def test_the_migrations_table_is_read_only_to_it(self, app: Flask) -> None:
        with pytest.raises(sa.exc.DatabaseError, match="permission denied"):
            _raw("UPDATE alembic_version SET version_num = version_num")


@pytest.mark.skipif(not APP_ROLE, reason="needs the app's own database role (DATABASE_APP_ROLE)")
def test_the_triggers_still_refuse_the_tables_owner(app: Flask) -> None:
    _make_events(1)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with own_transaction() as conn, as_database_owner(conn):
            conn.execute(sa.text("DELETE FROM audit_event WHERE seq = 1"))


# --- T3: tamper evidence ------------------------------------------------------------


def test_an_intact_chain_verifies(app: Flask) -> None:
    _make_events(5)
    result = verify_chain()
    assert result.ok and result.count == 5


def test_an_edited_row_is_named(app: Flask) -> None:
    _make_events(5)
    _tamper("UPDATE audit_event SET reason = 'nothing to see' WHERE seq = 3")
    result = verify_chain()
    assert not result.ok
    assert result.first_bad_seq == 3


def test_a_deleted_middle_row_is_named(app: Flask) -> None:
    _make_events(5)
    _tamper("DELETE FROM audit_event WHERE seq = 2")
    result = verify_chain()
    assert not result.ok
    assert result.first_bad_seq == 2


def test_an_inserted_row_is_named(app: Flask) -> None:
    _make_events(3)
    row = db.session.execute(sa.select(AuditEvent.__table__).where(AuditEvent.seq == 3)).mappings().one()
    forged = dict(row, seq=4, prev_hash=row["hash"], action="login", hash="f" * 64)
    _tamper(
        "INSERT INTO audit_event (seq, at, user_id, user_email, role, action, record_type, record_id, "
        "changes, reason, request_id, client_addr, prev_hash, hash) VALUES (:seq, :at, :user_id, "
        ":user_email, :role, :action, :record_type, :record_id, :changes, :reason, :request_id, "
        ":client_addr, :prev_hash, :hash)",
        **forged,
    )
    result = verify_chain()
    assert not result.ok and result.first_bad_seq == 4


def test_deleting_the_last_rows_is_caught_against_an_exported_head(app: Flask) -> None:
    _make_events(5)
    head = chain_head()
    _tamper("DELETE FROM audit_event WHERE seq >= 4")
    _tamper("UPDATE audit_chain SET last_seq = 3")  # a careful intruder rewinds the head row too
    assert verify_chain().ok  # the rows left are a valid chain on their own...
    result = verify_chain(expected_head=head)  # ...but not the one that was exported
    assert not result.ok
    assert result.first_bad_seq == 4


def test_deleting_the_last_row_is_caught_by_the_chain_head_row(app: Flask) -> None:
    _make_events(4)
    _tamper("DELETE FROM audit_event WHERE seq = 4")
    result = verify_chain()
    assert not result.ok and result.first_bad_seq == 4


def test_a_row_signed_with_another_key_fails(app: Flask) -> None:
    _make_events(2)
    result = verify_chain(key="some other key")
    assert not result.ok and result.first_bad_seq == 1


@pytest.mark.commits  # six threads, each with a connection of its own
def test_parallel_writers_leave_one_gapless_unbroken_chain(app: Flask, tmp_path) -> None:
    writers, per_writer = 6, 15
    errors: list[BaseException] = []
    anchors = tmp_path / "audit-anchors.log"
    app.config["AUDIT_ANCHOR_FILE"] = str(anchors)

    def write() -> None:
        try:
            with app.app_context():
                for _ in range(per_writer):
                    record_event("read_chart", record_type="patient", record_id=1)
                    db.session.commit()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = verify_chain()
    assert result.ok, result.problem
    assert result.count == writers * per_writer
    seqs = db.session.scalars(sa.select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
    assert seqs == list(range(1, writers * per_writer + 1))
    # One whole anchor line per commit, however the six processes' appends interleaved.
    assert sorted(int(line.split()[0]) for line in anchors.read_text().splitlines()) == seqs
    assert verify_chain(anchor_file=str(anchors)).anchored_seq == writers * per_writer


# --- the head anchored outside the database, automatically ---------------------------------


@pytest.fixture
def anchor_file(app: Flask, tmp_path) -> Path:
    path = tmp_path / "audit-anchors.log"
    app.config["AUDIT_ANCHOR_FILE"] = str(path)
    return path


def test_each_commit_anchors_the_newest_row_outside_the_database(app: Flask, anchor_file: Path) -> None:
    _make_events(3)
    _make_events(2)
    lines = anchor_file.read_text().splitlines()
    assert [int(line.split()[0]) for line in lines] == [3, 5]
    assert lines[-1].split()[1] == chain_head().partition(":")[2]
    assert anchor_file.stat().st_mode & 0o777 == 0o600
    result = verify_chain(anchor_file=str(anchor_file))
    assert result.ok and result.anchored_seq == 5


def test_rows_deleted_from_the_end_are_caught_without_a_head_kept_by_hand(app: Flask, anchor_file: Path) -> None:
    _make_events(5)
    _tamper("DELETE FROM audit_event WHERE seq >= 4")
    _tamper("UPDATE audit_chain SET last_seq = 3, last_hash = (SELECT hash FROM audit_event WHERE seq = 3)")
    assert verify_chain().ok  # what the chain alone can tell
    result = verify_chain(anchor_file=str(anchor_file))
    assert not result.ok and result.first_bad_seq == 4
    assert "rows 4 to 5 are missing: the anchor written at" in result.problem


def test_a_row_rewritten_at_the_anchored_head_is_caught(app: Flask, anchor_file: Path) -> None:
    _make_events(2)
    _tamper("DELETE FROM audit_event WHERE seq = 2")
    _tamper("UPDATE audit_chain SET last_seq = 1, last_hash = (SELECT hash FROM audit_event WHERE seq = 1)")
    record_event("read_chart", record_type="patient", record_id=99)  # a new row 2, not the anchored one
    app.config["AUDIT_ANCHOR_FILE"] = None  # the intruder's row is not anchored
    db.session.commit()
    result = verify_chain(anchor_file=str(anchor_file))
    assert not result.ok and result.problem == "row 2 does not match the anchor written at " + (
        anchor_file.read_text().split()[2])


def test_a_rolled_back_change_is_not_anchored(app: Flask, anchor_file: Path) -> None:
    _make_events(1)
    record_event("read_chart", record_type="patient", record_id=7)
    db.session.rollback()
    _make_events(1)
    assert [int(line.split()[0]) for line in anchor_file.read_text().splitlines()] == [1, 2]
    assert verify_chain(anchor_file=str(anchor_file)).ok


def test_an_anchor_line_written_by_hand_is_reported(app: Flask, anchor_file: Path) -> None:
    _make_events(2)
    with anchor_file.open("a") as handle:
        handle.write("9 " + "0" * 64 + " 2031-01-01T00:00:00.000000Z " + "f" * 64 + "\n")
    result = verify_chain(anchor_file=str(anchor_file))
    assert not result.ok and "line 2" in result.problem and "not signed with the audit key" in result.problem


def test_the_cli_and_the_page_check_the_anchor(runner, app: Flask, anchor_file: Path, auditor_client) -> None:
    _make_events(3)
    head = int(chain_head().partition(":")[0])
    assert f"reaches the anchor of row {head}" in runner.invoke(args=["audit", "verify"]).output
    assert "the newest one anchored outside the database" in auditor_client.submit(
        "/audit/verify").get_data(as_text=True)
    _tamper("DELETE FROM audit_event WHERE seq >= :seq", seq=head)
    _tamper("UPDATE audit_chain SET last_seq = :seq", seq=head - 1)
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1 and f"rows {head} to" in broken.output


# --- CLI -------------------------------------------------------------------------


def test_audit_verify_exits_zero_with_the_row_count(runner, app: Flask) -> None:
    _make_events(3)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0
    assert "intact: 3 rows" in result.output


def test_audit_verify_exits_non_zero_naming_the_first_bad_row(runner, app: Flask) -> None:
    _make_events(3)
    _tamper("UPDATE audit_event SET user_email = 'someone@else' WHERE seq = 2")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "row 2" in result.output


def test_audit_head_then_verify_against_it(runner, app: Flask) -> None:
    _make_events(3)
    head = runner.invoke(args=["audit", "head"]).output.strip()
    assert head.startswith("3:")
    assert runner.invoke(args=["audit", "verify", "--head", head]).exit_code == 0
    _tamper("DELETE FROM audit_event WHERE seq = 3")
    _tamper("UPDATE audit_chain SET last_seq = 2")
    result = runner.invoke(args=["audit", "verify", "--head", head])
    assert result.exit_code == 1
    assert "row 3" in result.output


# --- the audit page -------------------------------------------------------------------


def _table_body(page: str) -> str:
    return page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def test_the_audit_page_filters_by_action_and_user(auditor_client, staff) -> None:
    page = auditor_client.get(f"/audit?action=login&user={staff['doctor'].id}").get_data(as_text=True)
    body = _table_body(page)
    assert "doctor@example.test" in body
    assert "nurse@example.test" not in body


def test_the_audit_page_filters_by_record_and_date(auditor_client, staff) -> None:
    nurse_id = staff["nurse"].id
    page = auditor_client.get(f"/audit?record_type=user&record_id={nurse_id}&action=create"
                              "&date_from=2000-01-01&date_to=2999-12-31").get_data(as_text=True)
    assert _table_body(page).count("<tr>") == 1  # the nurse's account creation


def test_the_audit_page_paginates_by_sequence(auditor_client, app: Flask) -> None:
    app.config["AUDIT_PAGE_SIZE"] = 5
    _make_events(12)
    first = auditor_client.get("/audit?action=read_chart").get_data(as_text=True)
    assert "Older entries" in first
    rows = audit_rows("read_chart")
    newest_five = [r.seq for r in rows][-5:]
    second = auditor_client.get(f"/audit?action=read_chart&before={newest_five[0]}").get_data(as_text=True)
    assert f'<td data-label="#">{newest_five[0]}</td>' not in second
    assert f'<td data-label="#">{newest_five[0] - 1}</td>' in second


def test_bad_audit_filters_answer_400_never_500(auditor_client) -> None:
    for query in ("date_from=yesterday", "user=abc", "before=-3", "action=drop table",
                  "date_from=2026-02-01&date_to=2026-01-01"):
        assert auditor_client.get(f"/audit?{query}").status_code == 400, query


def test_verifying_from_the_page_reports_and_is_itself_audited(auditor_client) -> None:
    response = auditor_client.submit("/audit/verify")
    assert response.status_code == 200
    assert "The chain is intact" in response.get_data(as_text=True)
    assert audit_rows("audit_verify")[-1].reason == "intact"


def test_the_audit_page_reads_changes_as_field_old_and_new_in_words(auditor_client, staff) -> None:
    nurse = staff["nurse"]
    nurse.full_name = "Samira Okafor"
    db.session.commit()
    page = auditor_client.get(f"/audit?record_type=user&record_id={nurse.id}&action=update")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<strong>Full name</strong>: " in body and "→ Samira Okafor" in body
    assert '{"full_name"' not in body  # not the raw JSON


# --- values in words (from the click-through) ------------------------------------------------------


def test_the_audit_page_names_people_records_and_codes_and_keeps_the_stored_value(
        course, stock, staff, auditor_client, admin_client) -> None:
    from datetime import UTC, datetime

    from clinic.records.followups import services as followups
    from clinic.records.followups.models import FollowUpTask
    from clinic.records.treatments import services as treatments
    from tests.conftest import PASSWORDS
    from tests.factories import save

    session = save(course, stock, staff["doctor"], acknowledged=["first_time_no_patch_test"])
    treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    task = db.session.scalars(sa.select(FollowUpTask).where(FollowUpTask.session_id == session.id)).first()
    followups.record_attempt(task, staff["nurse"], followups.AttemptInput(
        datetime.now(UTC), "phone", reached=True, patient_report="All well", no_side_effects=True),
        now=datetime.now(UTC))
    db.session.commit()
    nurse = staff["nurse"]
    url = f"/audit?record_type=follow_up_task&record_id={task.id}&action=update"
    body = auditor_client.get(url).get_data(as_text=True)
    assert (f'<strong>Closed by</strong>: — → <span title="Stored value: id {nurse.id}">{nurse.full_name}</span> '
            f'<small class="raw-value">(id {nurse.id})</small>') in body
    assert ('<strong>Status</strong>: <span title="Stored value: due">Open</span> <small class="raw-value">(due)'
            '</small> → <span title="Stored value: done">Done</span>') in body
    assert "Closed by (id)" not in body
    created = auditor_client.get(f"/audit?record_type=follow_up_task&record_id={task.id}&action=create")
    patient = course.patient
    assert f"{patient.first_name} {patient.last_name} ({patient.record_number})" in created.get_data(as_text=True)
    assert f"session {session.number}, Skin rejuvenation" in created.get_data(as_text=True)
    lot = stock["ha"]
    lots = auditor_client.get(f"/audit?record_type=lot&record_id={lot.id}&action=create").get_data(as_text=True)
    assert f'<span title="Stored value: id {lot.product_id}">{lot.product.name}</span>' in lots
    # Admins see a user's role in words, and never a patient's name.
    users = admin_client.get(f"/audit?record_type=user&record_id={nurse.id}&action=create").get_data(as_text=True)
    assert '<strong>Role</strong>: <span title="Stored value: nurse">Nurse</span>' in users


def test_every_code_the_audit_page_words_is_a_column_of_the_models(app) -> None:
    from clinic.extensions import Model
    from clinic.shell.audit_labels import _CODE_LABELS

    columns = {(t.name, c.name) for t in Model.metadata.tables.values() for c in t.columns}
    names = {column for _, column in columns}
    missing = [(table, column) for table, column in _CODE_LABELS
               if (table is None and column not in names) or (table is not None and (table, column) not in columns)]
    assert missing == []
