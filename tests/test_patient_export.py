"""The patient's copy (SECURITY.md D8): every table linked to the patient appears, with their rows only;
JSON and PDF; the password again; audited; not for admins."""

from __future__ import annotations

import json

import sqlalchemy as sa

from clinic.extensions import db
from clinic.records.patients.export import linked_tables
from clinic.tracing import recalls
from tests.conftest import PASSWORDS, audit_rows
from tests.factories import ready_course, save


def _tables_linked_to_patient() -> set[str]:
    """Independently of the export: a table is linked when one of its foreign keys reaches the patient."""
    def reaches(table: sa.Table, seen: frozenset[str]) -> bool:
        return any(fk.column.table.name == "patient" or (
            fk.column.table.name not in seen and reaches(fk.column.table, seen | {fk.column.table.name}))
            for fk in table.foreign_keys if fk.column.table.name not in ("user", "lot", "product", "area"))
    return {t.name for t in db.metadata.sorted_tables if reaches(t, frozenset({t.name}))} | {"patient"}


def test_every_linked_table_is_exported_with_this_patients_rows_only(nurse_client, course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    from clinic.records.treatments import services as treatments

    treatments.apply_signature(session, staff["doctor"])
    db.session.commit()
    other = ready_course(staff, "Other", "Person")
    other_session = save(other, stock, staff["doctor"], acknowledged=["first_time_no_patch_test"])
    recall = recalls.open_recall(recalls.RecallInput(reason="notice", source="manufacturer",
                                                     lot_ids=[stock["ha"].id]), staff["auditor"])
    recalls.record_contact(recall.rows[0], "phone", False, "voicemail", staff["nurse"])
    db.session.commit()

    assert {t.name for t in linked_tables()} == _tables_linked_to_patient()
    asked = nurse_client.get(f"/patients/{course.patient_id}/export.json")
    assert asked.status_code == 200 and "Confirm the export" in asked.get_data(as_text=True)
    exported = nurse_client.submit(f"/patients/{course.patient_id}/export.json", {"password": PASSWORDS["nurse"]})
    body = json.loads(exported.get_data(as_text=True))
    assert set(body["tables"]) == _tables_linked_to_patient()
    for name in ("patient", "history_version", "consent", "screening", "screening_answer", "patch_test", "course",
                 "treatment_session", "preparation", "preparation_component", "injection_log", "session_signature",
                 "follow_up_task", "recall_patient", "recall_contact"):
        assert body["tables"][name], f"{name} is empty"
    assert [row["id"] for row in body["tables"]["patient"]] == [course.patient_id]
    # Staff are named beside their ids; the system's own search keys are not the patient's data.
    [signature] = [row for row in body["tables"]["session_signature"] if row["session_id"] == session.id]
    assert signature["signer_name"] == f"{staff['doctor'].full_name} (doctor)"
    assert body["tables"]["patient"][0]["registered_by_name"] == f"{staff['nurse'].full_name} (nurse)"
    assert "search_text" not in body["tables"]["patient"][0] and "sort_name" not in body["tables"]["patient"][0]
    assert {row["course_id"] for row in body["tables"]["treatment_session"]} == {course.id}
    assert sorted(r["lot"] for r in body["lots_received"]) == ["L-HA", "L-VITAMINS"]
    assert "Other" not in exported.get_data(as_text=True)
    assert audit_rows("export")[-1].reason == "patient's copy as json"
    about = {(e["action"], e["record"].split()[0]) for e in body["audit_trail"]}
    assert {("create", "treatment_session"), ("create", "session_signature"), ("create", "consent"),
            ("create", "recall_contact")} <= about
    assert not any(e["record"] == f"treatment_session {other_session.id}" for e in body["audit_trail"])

    pdf = nurse_client.submit(f"/patients/{course.patient_id}/export.pdf", {"password": PASSWORDS["nurse"]})
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"].startswith("attachment;")


def test_admins_cannot_export_a_patient(admin_client, patient) -> None:
    assert admin_client.get(f"/patients/{patient.id}/export.json").status_code == 403
    assert admin_client.submit(f"/patients/{patient.id}/export.pdf", {"password": PASSWORDS["admin"]}).status_code == 403
