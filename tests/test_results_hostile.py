"""Hostile values in every field of the results forms: a clear refusal, never a 5xx, nothing written."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from clinic.extensions import db
from clinic.records.outcomes.models import MeasureDefinition, OutcomeMeasure
from clinic.records.photos.models import Photo
from tests.results_helpers import jpeg_with_gps, measure, sign_photo_consent

HOSTILE = ["\x00", "Durand\x00--", "\u202eevil\u202c", "9" * 40, "-9223372036854775809", "1e308", "NaN",
           "-0.0", "0001-01-01", "99999-12-31", "2031-02-30", "", " ", "'; DROP TABLE patient; --",
           "<script>alert(1)</script>", "../../etc/passwd", "١٢", "x" * 5000]


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.mark.parametrize("value", HOSTILE)
def test_the_measures_form_refuses_hostile_values_cleanly(doctor_client, course, value) -> None:
    base = {"timepoint": "session", "measured_on": course.starts_on.isoformat(), "session_id": "",
            "value_satisfaction": "5", "value_wrinkle_grade": "3", "value_gais_clinician": "improved",
            "value_skin_notes": "ok", "site_wrinkle_grade": ""}
    for name in base:
        response = doctor_client.submit(f"/courses/{course.id}/measures/new", {**base, name: value})
        assert response.status_code < 500, (name, value)
    assert _count(OutcomeMeasure) == 0  # the timepoint "session" without a session refuses every sending
    assert doctor_client.get(f"/courses/{course.id}/measures/new?timepoint={value}&session={value}").status_code < 500


@pytest.mark.parametrize("value", HOSTILE)
def test_the_catalogue_and_correction_forms_refuse_hostile_values_cleanly(admin_client, doctor_client, course,
                                                                          staff, value) -> None:
    good = {"code": "neck_girth", "name": "Neck", "kind": "number", "unit": "cm", "min_value": "20",
            "max_value": "60", "decimals": "1", "indication_codes": ["neck_decolletage"], "sort_order": "5"}
    before = _count(MeasureDefinition)
    for name in good:
        response = admin_client.submit("/admin/outcome-measures", {**good, name: value})
        assert response.status_code < 500, (name, value)
        if response.status_code == 302:  # a hostile name is still text; digits make a code
            code = value.strip().lower() if name == "code" else "neck_girth"
            db.session.delete(db.session.get(MeasureDefinition, code))
            db.session.commit()
    assert _count(MeasureDefinition) == before
    wrong = measure(course, staff["doctor"], "wrinkle_grade", "4")
    for name in ("value", "site", "reason", "version"):
        data = {"value": "3", "site": "", "reason": "typo", "version": str(wrong.version), name: value}
        response = doctor_client.submit(f"/measures/{wrong.id}/correct", data)
        assert response.status_code < 500, (name, value)
        if response.status_code == 302:
            return  # a hostile reason or site is still text: stored as typed, escaped when shown


@pytest.mark.parametrize("value", HOSTILE[:12])
def test_the_photo_form_refuses_hostile_values_cleanly(doctor_client, course, staff, value) -> None:
    sign_photo_consent(course.patient, staff["nurse"])
    base = {"timepoint": "baseline", "taken_on": course.starts_on.isoformat(), "view": "front", "area_code": "",
            "session_id": "", "note": ""}
    for name in base:
        response = doctor_client.submit(f"/courses/{course.id}/photos/new", {
            **base, name: value, "file": (io.BytesIO(jpeg_with_gps((64, 48))), "p.jpg")},
            content_type="multipart/form-data")
        assert response.status_code < 500, (name, value)
    compare = doctor_client.get(f"/courses/{course.id}/photos?view={value}&a={value}&b={value}")
    assert compare.status_code < 500
    assert _count(Photo) <= 1  # only a note that is still text could be kept
