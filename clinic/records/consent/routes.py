"""Recording and printing patients' consents; the consent texts (admins)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from clinic.audit.services import record_chart_read, record_event
from clinic.core.http import return_to
from clinic.core.pdf import pdf_response
from clinic.core.transaction import attempt
from clinic.extensions import db
from clinic.records.consent import services
from clinic.records.consent.forms import (
    ChooseConsentForm,
    ConsentTextForm,
    SignConsentForm,
    WithdrawConsentForm,
    WithdrawTextForm,
)
from clinic.records.consent.models import Consent, ConsentForm, ConsentTextVersion
from clinic.records.patients.loading import patient_to_change
from clinic.records.patients.models import Patient

bp = Blueprint("consent", __name__)


def _forms() -> list[ConsentForm]:
    return list(db.session.scalars(sa.select(ConsentForm).order_by(ConsentForm.kind.desc(), ConsentForm.id)))


@bp.route("/patients/<int:patient_id>/consents/new", methods=["GET", "POST"])
def new_consent(patient_id: int) -> Response | tuple[str, int]:
    """The patient reads the exact text, types their name and signs; the signed-in staff member witnesses."""
    patient = patient_to_change(patient_id, "This patient was registered in error (voided).")
    chooser = ChooseConsentForm(request.args)
    chooser.form.choices = [SelectChoice("", "Choose…")] + [
        SelectChoice(str(f.id), f.title) for f in _forms() if f.current_version is not None]
    if request.method == "GET" and not request.args.get("form"):
        return render_template("consent/choose.html", chooser=chooser, patient=patient), 200
    form = SignConsentForm()
    if request.method == "GET":
        if not chooser.validate():
            return render_template("consent/choose.html", chooser=chooser, patient=patient), 400
        consent_form = db.session.get_one(ConsentForm, int(chooser.form.data))
        version = consent_form.current_version
        assert version is not None  # the chooser offers only forms with a current text
        form.text_version_id.data, form.content_hash.data = version.id, version.content_hash
        return render_template("consent/sign.html", form=form, patient=patient, version=version), 200
    version = db.session.get(ConsentTextVersion, int(form.text_version_id.data or 0)) \
        if (form.text_version_id.data or "").isdigit() else None
    if version is None:
        abort(400)
    if form.validate_on_submit():
        recorded = attempt(form, services.record_consent, patient, version, form.signed_name.data,
                           form.signature_image.data or None, current_user, shown_hash=form.content_hash.data or "",
                           pad_shown=form.pad_shown.data == "1")
        if recorded.ok:
            flash(f"Consent recorded: {version.form.title}.", "success")
            return redirect(return_to() or url_for("consent.show_consent", consent_id=recorded.value.id))
    return render_template("consent/sign.html", form=form, patient=patient, version=version), 400


@bp.get("/consents/<int:consent_id>")
def show_consent(consent_id: int) -> str:
    """The signed consent as the patient saw it, printable."""
    consent = db.get_or_404(Consent, consent_id)
    patient = db.get_or_404(Patient, consent.patient_id)
    record_chart_read(patient)
    return render_template("consent/show.html", consent=consent, patient=patient,
                           withdraw_form=WithdrawConsentForm(formdata=None))


@bp.get("/consents/<int:consent_id>/pdf")
def consent_pdf(consent_id: int) -> Response:
    """The signed consent as a PDF: wording, signature, witness and times."""
    consent = db.get_or_404(Consent, consent_id)
    patient = db.get_or_404(Patient, consent.patient_id)
    record_event("export", record_type="consent", record_id=consent.id, reason="PDF")
    html = render_template("consent/pdf.html", consent=consent, patient=patient)
    return pdf_response(html, f"consent-{patient.record_number}-{consent.id}.pdf")


@bp.post("/consents/<int:consent_id>/withdraw")
def withdraw(consent_id: int) -> Response | tuple[str, int]:
    """The patient withdraws consent (date and reason)."""
    consent = db.get_or_404(Consent, consent_id)
    patient = db.get_or_404(Patient, consent.patient_id)
    form = WithdrawConsentForm()
    if form.validate_on_submit() and attempt(form, services.withdraw_consent, consent, form.withdrawn_on.data,
                                             form.reason.data, current_user).ok:
        flash("Consent withdrawn. Treatment under it is no longer possible." if consent.text_version.form.kind
              == "treatment" else "Consent withdrawn. Photographs may no longer be taken or used.", "warning")
        return redirect(url_for("consent.show_consent", consent_id=consent.id))
    return render_template("consent/show.html", consent=consent, patient=patient, withdraw_form=form), 400


# --- consent texts (admins) -------------------------------------------------------------


@bp.get("/admin/consent-texts")
def list_forms() -> str:
    """Every consent text with its current version."""
    return render_template("consent/forms.html", forms=_forms())


@bp.route("/admin/consent-texts/<int:form_id>", methods=["GET", "POST"])
def edit_text(form_id: int) -> Response | tuple[str, int]:
    """Publish a new version of a text; signed consents keep the version they signed."""
    consent_form = db.session.get(ConsentForm, form_id)
    if consent_form is None:
        abort(404)
    form = ConsentTextForm()
    if request.method == "GET":
        current = consent_form.current_version
        form.body.data = current.body if current else ""
        return render_template("consent/text_form.html", consent_form=consent_form, form=form,
                               withdraw_form=WithdrawTextForm(formdata=None)), 200
    if form.validate_on_submit():
        published = attempt(form, services.publish_text_version, consent_form, form.body.data, current_user)
        if published.ok:
            flash(f"Version {published.value.number} published.", "success")
            return redirect(url_for("consent.edit_text", form_id=consent_form.id))
    return render_template("consent/text_form.html", consent_form=consent_form, form=form,
                           withdraw_form=WithdrawTextForm(formdata=None)), 400


@bp.post("/admin/consent-texts/versions/<int:version_id>/withdraw")
def withdraw_text(version_id: int) -> Response:
    """Stop a text version from being signed again."""
    version = db.session.get(ConsentTextVersion, version_id)
    if version is None:
        abort(404)
    form = WithdrawTextForm()
    if form.validate_on_submit() and attempt(None, services.withdraw_text_version, version, form.reason.data).ok:
        flash(f"Version {version.number} withdrawn.", "success")
    return redirect(url_for("consent.edit_text", form_id=version.form_id))
