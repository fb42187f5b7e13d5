"""Loading a patient for a page that adds to or changes their record."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for

from clinic.extensions import db
from clinic.records.patients.models import Patient


def patient_to_change(patient_id: int, refusal: str) -> Patient:
    """The patient, or 404; a patient registered in error (voided) sends the user back to the chart with
    ``refusal``, because nothing may be added to a voided record."""
    patient = db.get_or_404(Patient, patient_id)
    if patient.is_voided:
        flash(refusal, "error")
        abort(redirect(url_for("patients.show_chart", patient_id=patient.id)))
    return patient
