"""Demo results: measures from baseline to the first session of a demo course, and two generated photos of
the same view under a signed photo consent, so that the course report shows charts and a photo pair."""

from __future__ import annotations

import io

import sqlalchemy as sa
from flask import current_app
from PIL import Image, ImageDraw

from clinic.auth.models import User
from clinic.core.clock import clinic_day, clinic_today
from clinic.extensions import db
from clinic.records.consent.models import ConsentForm
from clinic.records.consent.services import record_consent
from clinic.records.outcomes import services
from clinic.records.photos.services import PhotoInput, upload_photo
from clinic.records.photos.storage import photo_store
from clinic.records.treatments.models import Course, TreatmentSession

# Per indication: baseline and session values of the measures the demo fills in.
DEMO_VALUES = {
    "hair_loss": {"hair_density": ("128", "141"), "hair_pull": ("11", "7")},
    "cellulite": {"waist": ("82.5", "80.0"), "thigh_left": ("58.0", "56.5"), "cellulite_grade": ("2", "1")},
    "localized_fat": {"waist": ("91.0", "88.5"), "weight": ("74.2", "73.1")},
}
FACIAL_VALUES = {"wrinkle_grade": ("4", "3"), "skin_quality": ("2", "3")}


def _demo_photo(shade: int) -> bytes:
    """A synthetic "photo": a face-like oval on a studio background, lighter at the later visit."""
    image = Image.new("RGB", (480, 640), (235, 235, 238))
    ImageDraw.Draw(image).ellipse((110, 120, 370, 480), fill=(shade, int(shade * 0.8), int(shade * 0.7)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def seed_demo_results(doctor: User, nurse: User) -> Course | None:
    """Measures and photos for the first demo course that has a live session."""
    session = db.session.scalars(sa.select(TreatmentSession).where(TreatmentSession.voided_at.is_(None))
                                 .order_by(TreatmentSession.id)).first()
    if session is None:
        return None
    course = session.course
    today = clinic_today()
    values = DEMO_VALUES.get(course.indication_code, FACIAL_VALUES)
    services.record_measures(course, doctor, services.MeasuresInput(
        "baseline", course.starts_on, values=[services.MeasureValueInput(code, pair[0]) for code, pair in
                                              values.items()] + [services.MeasureValueInput("satisfaction", "4")]),
        today=today)
    services.record_measures(course, doctor, services.MeasuresInput(
        "session", clinic_day(session.performed_at), session_id=session.id,
        values=[services.MeasureValueInput(code, pair[1]) for code, pair in values.items()]
        + [services.MeasureValueInput("gais_clinician", "improved"),
           services.MeasureValueInput("gais_patient", "much_improved"),
           services.MeasureValueInput("satisfaction", "7")]), today=today)
    form = db.session.scalar(sa.select(ConsentForm).where(ConsentForm.kind == "photo"))
    if form is None or form.current_version is None:
        return course
    patient = course.patient
    consent = record_consent(patient, form.current_version, patient.full_name, None, nurse)
    store, limit = photo_store(), current_app.config["PHOTO_MAX_BYTES"]
    for timepoint, session_id, shade in (("baseline", None, 170), ("session", session.id, 205)):
        upload_photo(course, doctor, PhotoInput(timepoint, today, "front", _demo_photo(shade), session_id=session_id,
                                                note="Demo photo (generated)"),
                     consents=[consent], today=today, store=store, max_bytes=limit)
    db.session.flush()
    return course
