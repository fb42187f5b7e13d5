"""Void, optimistic locking and the lock guard that every clinical record reuses (T4, T5, D1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Optional

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from clinic.auth.models import User
from clinic.core.errors import (
    ClinicError,
    DeletionRefusedError,
    RecordLockedError,
    VersionConflictError,
)
from clinic.core.models import LockableMixin, VersionedMixin, VoidableMixin, utcnow
from clinic.core.services import check_version, void_record
from clinic.extensions import db
from tests.conftest import APP_ROLE, as_database_owner, audit_rows, own_transaction


class SpecimenBase(DeclarativeBase):
    """A throwaway model that uses the mixins the way clinical models will."""

    metadata = sa.MetaData()


sa.Table("user", SpecimenBase.metadata, sa.Column("id", sa.Integer, primary_key=True))


class Specimen(VoidableMixin, VersionedMixin, LockableMixin, SpecimenBase):
    __tablename__ = "test_specimen"

    id: Mapped[int] = mapped_column(primary_key=True)
    note: Mapped[str] = mapped_column(sa.String(200))
    dose_ml: Mapped[Optional[str]] = mapped_column(sa.String(20))


@pytest.fixture
def specimen(app, staff) -> Specimen:
    with own_transaction() as conn, as_database_owner(conn):  # the app's own role makes no tables
        Specimen.__table__.create(conn, checkfirst=True)
        if APP_ROLE:
            conn.execute(sa.text(f'GRANT ALL ON test_specimen TO "{APP_ROLE}"'))
            conn.execute(sa.text(f'GRANT ALL ON SEQUENCE test_specimen_id_seq TO "{APP_ROLE}"'))
    record = Specimen(note="2 ml hyaluronic acid, forehead")
    db.session.add(record)
    db.session.commit()
    return record


def test_voiding_needs_a_reason(specimen, staff) -> None:
    with pytest.raises(ClinicError, match="reason"):
        void_record(specimen, staff["doctor"], "   ")
    assert not specimen.is_voided


def test_a_voided_record_keeps_who_when_and_why_and_leaves_normal_lists(specimen, staff) -> None:
    void_record(specimen, staff["doctor"], "entered on the wrong patient")
    db.session.commit()
    assert specimen.voided_by_id == staff["doctor"].id
    assert specimen.voided_at is not None
    visible = db.session.scalars(sa.select(Specimen).where(Specimen.not_voided())).all()
    assert visible == []
    assert db.session.get(Specimen, specimen.id) is specimen  # still there for traces
    row = audit_rows("void")[-1]
    assert row.reason == "entered on the wrong patient"
    assert row.record_type == "test_specimen"


def test_voiding_twice_is_refused(specimen, staff) -> None:
    void_record(specimen, staff["doctor"], "duplicate")
    with pytest.raises(ClinicError, match="already voided"):
        void_record(specimen, staff["doctor"], "again")


def test_a_clinical_record_cannot_be_deleted(specimen) -> None:
    db.session.delete(specimen)
    with pytest.raises(DeletionRefusedError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(Specimen, specimen.id) is not None


def test_a_form_opened_on_an_older_version_is_a_conflict(specimen) -> None:
    check_version(specimen, "1")
    specimen.note = "changed by a colleague"
    db.session.commit()
    assert specimen.version == 2
    with pytest.raises(VersionConflictError):
        check_version(specimen, "1")
    for bad in (None, "", "two"):
        with pytest.raises(VersionConflictError):
            check_version(specimen, bad)


@pytest.mark.commits  # the second session needs a connection of its own
def test_two_sessions_saving_the_same_row_the_second_is_refused(app, specimen) -> None:
    first = db.session
    second = sa.orm.Session(db.engine)
    theirs = second.get(Specimen, specimen.id)
    specimen.note = "first save"
    first.commit()
    theirs.note = "second save, from a stale copy"
    with pytest.raises(sa.orm.exc.StaleDataError):
        second.commit()
    second.close()


def test_a_locked_record_refuses_changes(specimen) -> None:
    specimen.locked_at = utcnow()
    db.session.commit()
    specimen.dose_ml = "3"
    with pytest.raises(RecordLockedError, match="dose_ml"):
        db.session.flush()
    db.session.rollback()
    specimen.locked_at = None
    with pytest.raises(RecordLockedError, match="locked_at"):
        db.session.flush()
    db.session.rollback()


def test_a_locked_record_can_still_be_voided_with_a_reason(specimen, staff) -> None:
    specimen.locked_at = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    db.session.commit()
    void_record(specimen, staff["doctor"], "patient record merged")
    db.session.commit()
    assert specimen.is_voided and specimen.is_locked


def test_locking_itself_is_audited_as_a_lock(specimen) -> None:
    specimen.locked_at = utcnow()
    db.session.commit()
    assert audit_rows("lock")[-1].record_id == str(specimen.id)


def test_an_admin_role_change_from_a_stale_page_is_a_409_that_keeps_the_choice(
    admin_client, staff
) -> None:
    nurse: User = staff["nurse"]
    stale_version = nurse.version
    nurse.full_name = "Sam Okafor-Reyes"  # someone else saves first
    db.session.commit()
    response = admin_client.submit(
        f"/admin/users/{nurse.id}/role",
        {"role": "doctor", "password": "correct horse battery staple admin", "version": stale_version},
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Someone else saved this record" in page
    assert '<option selected value="doctor">' in page or 'value="doctor" selected' in page
    db.session.expire_all()
    assert db.session.get(User, nurse.id).role == "nurse"


# --- the request boundary ----------------------------------------------------------------


@pytest.mark.parametrize(("failure", "status"), [
    (sa.orm.exc.StaleDataError("the row changed meanwhile"), 409),
    (sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error")), 500),
])
def test_a_commit_that_fails_at_the_request_boundary_is_answered_by_the_error_pages(
        app, monkeypatch, failure, status) -> None:
    from flask import Response

    from clinic.core.transaction import commit_request

    def failing_commit() -> None:
        raise failure

    with app.test_request_context("/patients/1/edit", method="POST"):
        monkeypatch.setattr(db.session, "commit", failing_commit)
        answer = commit_request(Response("Patient details saved.", status=302, headers={"Location": "/"}))
    assert answer.status_code == status
    assert "Patient details saved." not in answer.get_data(as_text=True)
