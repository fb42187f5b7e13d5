"""Taking photos into a course, the course's photos with a side-by-side comparison, and serving a photo to
those who may read the chart: never cached, every view audited, hidden once photo consent is withdrawn."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, make_response, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from clinic.audit.services import record_chart_read, record_event
from clinic.core.clock import clinic_today, in_clinic_zone
from clinic.core.forms import VoidForm
from clinic.core.submissions import claim, done
from clinic.core.transaction import attempt
from clinic.core.views import void_from_form
from clinic.extensions import db
from clinic.records.catalogue.models import area_labels
from clinic.records.consent.models import Consent, ConsentTextVersion
from clinic.records.photos import services
from clinic.records.photos.forms import PhotoForm
from clinic.records.photos.models import VIEWS, Photo
from clinic.records.photos.storage import PhotoStoreError, photo_store
from clinic.records.treatments.models import Course, TreatmentSession

bp = Blueprint("photos", __name__)
# Room for the form's other fields around the photo itself.
FORM_OVERHEAD = 64 * 1024


@bp.url_value_preprocessor
def _allow_a_photo_upload(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """The upload form may carry a photo larger than the app's usual request limit. Set here because this
    runs before any before_request hook, and the CSRF check reads (so limits) the body there."""
    if endpoint == "photos.upload" and request.method == "POST":
        request.max_content_length = current_app.config["PHOTO_MAX_BYTES"] + FORM_OVERHEAD


def _consents(patient_id: int) -> list[Consent]:
    return list(db.session.scalars(
        sa.select(Consent).where(Consent.patient_id == patient_id, Consent.not_voided())
        .options(sa.orm.joinedload(Consent.text_version).joinedload(ConsentTextVersion.form))))


def _photo_choices(form: PhotoForm, course: Course) -> None:
    form.session_id.choices = [SelectChoice("", "None")] + [
        SelectChoice(s.id, f"Session {s.number} — {in_clinic_zone(s.performed_at):%d %b %Y}")
        for s in course.sessions if not s.is_voided]
    form.area_code.choices = [SelectChoice("", "—")] + [
        SelectChoice(code, area_labels([code])) for code in course.area_codes]


@bp.route("/courses/<int:course_id>/photos/new", methods=["GET", "POST"])
def upload(course_id: int) -> Response | tuple[str, int]:
    """Take a photo into the course: only under a signed photo consent that is not withdrawn."""
    course = db.get_or_404(Course, course_id)
    form = PhotoForm()
    _photo_choices(form, course)
    consents = _consents(course.patient_id)
    consent = services.current_photo_consent(consents, clinic_today())
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            if (first := claim(form.submission)) is not None:
                return first
            upload = form.file.data
            entry = services.PhotoInput(
                timepoint=form.timepoint.data, taken_on=form.taken_on.data, view=form.view.data,
                data=upload.read() if upload else b"", session_id=form.session_id.data,
                area_code=form.area_code.data or None, note=form.note.data or "")
            taken = attempt(form, services.upload_photo, course, current_user, entry, consents=consents,
                            today=clinic_today(), store=photo_store(), max_bytes=current_app.config["PHOTO_MAX_BYTES"])
            if taken.ok:
                flash(f"Photo kept: {taken.value.view_label}, {taken.value.taken_on:%d %b %Y}.", "success")
                return done(form.submission, url_for("photos.course_photos", course_id=course.id))
            if isinstance(taken.error, services.PhotoRefused):
                status = taken.error.status
    else:
        record_chart_read(course.patient)
        form.timepoint.data = request.args.get("timepoint", "baseline")
        form.taken_on.data = clinic_today()
    return render_template("photos/upload.html", form=form, course=course, patient=course.patient,
                           consent=consent), status


def _live_photos(course: Course) -> tuple[list[Photo], dict[int, TreatmentSession]]:
    sessions = {s.id: s for s in course.sessions}
    photos = db.session.scalars(sa.select(Photo).where(Photo.course_id == course.id, Photo.not_voided())
                                .order_by(Photo.taken_on, Photo.id)).all()
    return [p for p in photos if p.session_id is None or not sessions[p.session_id].is_voided], sessions


@bp.get("/courses/<int:course_id>/photos")
def course_photos(course_id: int) -> str:
    """The course's photos by visit, and two visits of one view side by side (first and last by default)."""
    course = db.get_or_404(Course, course_id)
    record_chart_read(course.patient)
    consent = services.current_photo_consent(_consents(course.patient_id), clinic_today())
    photos, sessions = _live_photos(course) if consent else ([], {})
    occasions: dict[str, services.Occasion] = {}
    by_occasion: dict[str, list[Photo]] = {}
    for photo in photos:
        occasion = services.occasion_of(photo, sessions)
        occasions[occasion.key] = occasion
        by_occasion.setdefault(occasion.key, []).append(photo)
    ordered = sorted(occasions.values(), key=lambda o: o.sort_key)
    views = [v for v in VIEWS if any(p.view == v for p in photos)]
    view = request.args.get("view") if request.args.get("view") in views else (views[0] if views else None)
    keys = [o.key for o in ordered if any(p.view == view for p in by_occasion[o.key])]
    a = request.args.get("a") if request.args.get("a") in keys else (keys[0] if keys else None)
    b = request.args.get("b") if request.args.get("b") in keys else (keys[-1] if keys else None)

    def pick(key: str | None) -> Photo | None:
        return next((p for p in reversed(by_occasion.get(key or "", [])) if p.view == view), None)

    return render_template("photos/course.html", course=course, patient=course.patient, consent=consent,
                           occasions=ordered, by_occasion=by_occasion, views=views, view=view, keys=keys,
                           a=a, b=b, left=pick(a), right=pick(b), void_form=VoidForm(formdata=None), view_labels=VIEWS,
                           occasion_labels={o.key: o.label for o in ordered})


def _served(photo: Photo, key: str, content_type: str, what: str) -> Response:
    if photo.is_voided:
        abort(404)
    if services.current_photo_consent(_consents(photo.patient_id), clinic_today()) is None:
        abort(404)  # photo consent withdrawn: the photo is kept, and shown to nobody
    try:
        data = photo_store().read(key)
    except PhotoStoreError:
        current_app.logger.error("photo %s: file missing from the store", photo.id)
        abort(404)
    record_event("read_photo", record_type="photo", record_id=photo.id, reason=what)
    response = make_response(data)
    response.headers["Content-Type"] = content_type
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.get("/photos/<int:photo_id>")
def image(photo_id: int) -> Response:
    """One photo at full size."""
    photo = db.get_or_404(Photo, photo_id)
    return _served(photo, photo.storage_key, photo.content_type, "photo")


@bp.get("/photos/<int:photo_id>/thumbnail")
def thumbnail(photo_id: int) -> Response:
    """One photo's thumbnail."""
    photo = db.get_or_404(Photo, photo_id)
    return _served(photo, photo.thumbnail_key, "image/jpeg", "thumbnail")


@bp.post("/photos/<int:photo_id>/void")
def void_photo(photo_id: int) -> Response:
    """Void a photo taken in error (wrong patient, wrong view): kept, marked, no longer shown."""
    photo = db.get_or_404(Photo, photo_id)
    return void_from_form(photo, done="Photo voided (kept on record, no longer shown).",
                          missing_reason="Give the reason for voiding this photo.",
                          back=url_for("photos.course_photos", course_id=photo.course_id))
