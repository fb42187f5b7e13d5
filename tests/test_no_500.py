"""Input no record can hold gets a clear 4xx, never a 500 (issue 12, item 7; SECURITY.md I3, I5)."""

from __future__ import annotations

from datetime import date

import pytest

from clinic.core.errors import FieldError
from clinic.core.http import content_disposition
from clinic.extensions import db
from clinic.records.patients import services as patients
from tests.factories import register


def test_a_nul_character_anywhere_is_a_400_even_signing_in(client, nurse_client) -> None:
    assert client.submit("/login", {"email": "nurse@example.test\x00", "password": "x"}).status_code == 400
    assert nurse_client.get("/patients?q=Dur%00and").status_code == 400


@pytest.mark.parametrize("number", [2**31, 2**63, 10**30])
def test_an_id_no_row_can_have_is_not_found(nurse_client, number) -> None:
    assert nurse_client.get(f"/patients/{number}").status_code == 404
    assert nurse_client.get(f"/sessions/{number}").status_code == 404


def test_a_record_number_in_another_script_is_refused_and_export_names_are_safe(staff) -> None:
    with pytest.raises(FieldError, match="letters, digits"):
        patients.register_patient(patients.PatientDetails(
            first_name="Ivan", last_name="Petrov", date_of_birth=date(1980, 1, 1), sex="male",
            record_number="ЖК-12"), staff["nurse"])
    header = content_disposition("copy-ЖК-12.pdf")
    header.encode("latin-1")  # a header werkzeug can send
    assert 'filename="copy-__-12.pdf"' in header and "filename*=UTF-8''copy-%D0%96%D0%9A-12.pdf" in header


def test_invisible_formatting_characters_are_taken_out_of_names(staff) -> None:
    made = register(staff["nurse"], first="A\u202edam", last="Sm\u200bith")
    db.session.commit()
    assert (made.first_name, made.last_name) == ("Adam", "Smith")
