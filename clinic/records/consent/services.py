"""Consent texts as immutable versions; recording, withdrawing and finding patients' consents."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import date

from clinic.auth.models import User
from clinic.core.clock import clinic_today
from clinic.core.errors import ClinicError, FieldError
from clinic.core.models import utcnow
from clinic.core.services import required_text, stored
from clinic.records.consent.models import Consent, ConsentForm, ConsentTextVersion
from clinic.records.patients.models import Patient
from clinic.records.patients.search import normalise

MAX_SIGNATURE_BYTES = 150_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def canonical_body(body: str) -> str:
    return "\n".join(line.rstrip() for line in (body or "").replace("\r\n", "\n").split("\n")).strip()


def content_hash(body: str) -> str:
    """SHA-256 of the exact wording: proves later which text the patient signed."""
    return hashlib.sha256(canonical_body(body).encode("utf-8")).hexdigest()


def publish_text_version(form: ConsentForm, body: str, by: User | None) -> ConsentTextVersion:
    """A new wording becomes a new version; earlier versions stay byte-identical."""
    text = canonical_body(body)
    if len(text) < 40:
        raise FieldError("body", "Write the full consent text (at least a few sentences).")
    current = form.current_version
    if current is not None and current.content_hash == content_hash(text):
        raise FieldError("body", "The text is the same as the current version; nothing to publish.")
    number = (form.versions[-1].number if form.versions else 0) + 1
    version = ConsentTextVersion(form=form, number=number, body=text, content_hash=content_hash(text),
                                 created_by_id=by.id if by else None)
    return stored(version)


def withdraw_text_version(version: ConsentTextVersion, reason: str) -> None:
    """Stop a wrong text from being signed again; consents already signed keep it."""
    reason = required_text(reason, "reason", "Say why this version must not be used.")
    if version.withdrawn_at is not None:
        raise ClinicError("This version is already withdrawn.")
    if version.form.current_version is version and len([v for v in version.form.versions
                                                        if v.withdrawn_at is None]) == 1:
        raise ClinicError("This is the only version of the text: publish a corrected version first, "
                          "otherwise nobody can record this consent.")
    version.withdrawn_at = utcnow()
    version.withdrawn_reason = reason


def _check_signature(image: str | None) -> str | None:
    if not image:
        return None
    prefix = "data:image/png;base64,"
    if not image.startswith(prefix):
        raise FieldError("signature_image", "The signature could not be read; sign again.")
    try:
        raw = base64.b64decode(image[len(prefix):], validate=True)
    except (binascii.Error, ValueError):
        raise FieldError("signature_image", "The signature could not be read; sign again.") from None
    if not raw.startswith(PNG_MAGIC):
        raise FieldError("signature_image", "The signature could not be read; sign again.")
    if len(raw) > MAX_SIGNATURE_BYTES:
        raise FieldError("signature_image", "The signature image is too large; clear it and sign again.")
    return image


def record_consent(patient: Patient, version: ConsentTextVersion, signed_name: str,
                   signature_image: str | None, witness: User, *, shown_hash: str | None = None,
                   pad_shown: bool = False) -> Consent:
    """The patient signs the exact current text; a member of staff witnesses.

    ``shown_hash`` is the digest of the text the patient was shown (it must still be this version's);
    ``pad_shown`` says the signing page offered a pad to draw on, which then needs a signature.
    """
    if shown_hash is not None and shown_hash != version.content_hash:
        raise ClinicError("The text changed while the patient was reading it; reload and sign again.")
    if pad_shown and not signature_image:
        raise FieldError("signature_image", "Ask the patient to sign in the box above the button.")
    if patient.is_voided:
        raise ClinicError("This patient was registered in error (voided).")
    if version.withdrawn_at is not None:
        raise FieldError("text_version_id", "This version of the text has been withdrawn; use the current one.")
    if version.form.current_version is not version:
        raise FieldError("text_version_id", "A newer version of this text exists; reload to sign the current one.")
    typed = " ".join((signed_name or "").split())
    if not typed:
        raise FieldError("signed_name", "The patient types their full name.")
    if normalise(typed) != normalise(patient.full_name):
        raise FieldError("signed_name", f"The typed name must be the patient's full name as registered: "
                                        f"{patient.full_name}.")
    image = _check_signature(signature_image)
    witness_id = witness.id
    consent = Consent(
        patient_id=patient.id, text_version=version, signed_name=typed,
        signature_method="drawn" if image else "typed", signature_image=image, witness_id=witness_id,
    )
    return stored(consent)


def withdraw_consent(consent: Consent, on: date, reason: str, by: User, *, today: date | None = None) -> None:
    today = today or clinic_today()
    if consent.is_withdrawn:
        raise ClinicError("This consent has already been withdrawn.")
    reason = required_text(reason, "reason", "Record the reason the patient gave (or \"no reason given\").")
    if on is None or on > today:
        raise FieldError("withdrawn_on", "The withdrawal date cannot be in the future.")
    if on < consent.signed_at.date():
        raise FieldError("withdrawn_on", "A consent cannot be withdrawn before it was signed.")
    by_id = by.id
    consent.withdrawn_on = on
    consent.withdrawal_reason = reason
    consent.withdrawal_recorded_by_id = by_id


def consent_in_force(consents: list[Consent], indication_code: str, on: date) -> Consent | None:
    """The latest consent to this indication's text that is in force on a date."""
    matching = [c for c in consents
                if c.text_version.form.indication_code == indication_code and c.in_force_on(on)]
    return max(matching, key=lambda c: c.signed_at) if matching else None
