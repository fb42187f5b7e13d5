"""Taking a photo into the record: the photo consent gate, the content check, EXIF and GPS removed,
orientation applied, a thumbnail made once; and when a photo may be shown."""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from clinic.auth.models import User
from clinic.core.errors import ClinicError, FieldError
from clinic.core.services import stored
from clinic.records.consent.models import Consent
from clinic.records.outcomes.services import check_occasion
from clinic.records.photos.models import VIEWS, Photo
from clinic.records.photos.storage import PhotoStore
from clinic.records.treatments.models import Course, TreatmentSession

pillow_heif.register_heif_opener()

# Pillow's format name -> what the clinic keeps (HEIC from a phone is kept as JPEG, which every browser
# and the PDF can show).
KEPT_AS = {"JPEG": ("image/jpeg", "jpg", "JPEG"), "PNG": ("image/png", "png", "PNG"),
           "HEIF": ("image/jpeg", "jpg", "JPEG")}
# A photo from any camera is far below this; a "decompression bomb" (a small file that unpacks into a
# huge bitmap) is far above.
MAX_PIXELS = 60_000_000
THUMBNAIL_SIZE = (360, 360)
NOTE_MAX = 300


class PhotoRefused(FieldError):
    """A file that cannot be taken as a photo; ``status`` is the HTTP answer (413 too large, 415 not an image)."""

    status = 415

    def __init__(self, message: str) -> None:
        super().__init__("file", message)


class PhotoTooLarge(PhotoRefused):
    status = 413


@dataclass
class CleanImage:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    thumbnail: bytes


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def clean_image(data: bytes, *, max_bytes: int) -> CleanImage:
    """The uploaded bytes as the clinic keeps them, judged by their content (never the file's name): upright,
    with no EXIF (so no GPS position, camera serial or time), re-encoded, and a thumbnail."""
    if len(data) > max_bytes:
        limit = f"{max_bytes / 2**20:.0f} MB" if max_bytes >= 2**20 else f"{max_bytes // 1024} KB"
        raise PhotoTooLarge(f"This file is larger than {limit}: export a smaller photo.")
    if not data:
        raise PhotoRefused("This file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                fmt = opened.format or ""
                if fmt not in KEPT_AS:
                    raise PhotoRefused("This file is not a JPEG, PNG or HEIC photo.")
                if opened.width * opened.height > MAX_PIXELS:
                    raise PhotoRefused("This image has far more pixels than a photo: it was not taken.")
                opened.load()
                upright = ImageOps.exif_transpose(opened)
    except PhotoRefused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError,
            SyntaxError, ValueError, EOFError):
        raise PhotoRefused("This file is not a photo the clinic can read (JPEG, PNG or HEIC).") from None
    content_type, extension, encoder = KEPT_AS[fmt]
    # A fresh image of the pixels alone: nothing of the original's metadata travels with it.
    clean = Image.new(upright.mode, upright.size)
    clean.paste(upright)
    if encoder == "JPEG" and clean.mode not in ("RGB", "L"):
        clean = clean.convert("RGB")
    kept = _encoded(clean, encoder, quality=92) if encoder == "JPEG" else _encoded(clean, encoder)
    thumb = clean.convert("RGB")
    thumb.thumbnail(THUMBNAIL_SIZE)
    return CleanImage(kept, content_type, extension, clean.width, clean.height, _encoded(thumb, "JPEG", quality=82))


def current_photo_consent(consents: Sequence[Consent], on: date) -> Consent | None:
    """The patient's latest photo consent in force on ``on`` (signed, not voided, not withdrawn)."""
    live = [c for c in consents if c.text_version.form.kind == "photo" and c.in_force_on(on)]
    return max(live, key=lambda c: c.signed_at) if live else None


@dataclass
class PhotoInput:
    timepoint: str
    taken_on: date | None
    view: str
    data: bytes
    session_id: int | None = None
    area_code: str | None = None
    note: str = ""


def upload_photo(course: Course, by: User, entry: PhotoInput, *, consents: Sequence[Consent], today: date,
                 store: PhotoStore, max_bytes: int) -> Photo:
    """A photo of this course, only under a signed photo consent that is not withdrawn. Everything is
    checked before the file is written; should the transaction still fail, the file stays unnamed in the
    store (never a row without its file)."""
    consent = current_photo_consent(consents, today)
    if consent is None:
        raise ClinicError("The patient has no signed photo consent in force: record it first. No photo was taken.")
    session = check_occasion(course, entry.timepoint, entry.session_id, entry.taken_on, today=today,
                             day_field="taken_on")
    if entry.view not in VIEWS:
        raise FieldError("view", "Choose the standard view.")
    if entry.area_code and entry.area_code not in course.area_codes:
        raise FieldError("area_code", "Choose one of the course's areas.")
    if len(entry.note or "") > NOTE_MAX:
        raise FieldError("note", f"Keep the note under {NOTE_MAX} characters.")
    image = clean_image(entry.data, max_bytes=max_bytes)
    photo = Photo(
        course_id=course.id, patient_id=course.patient_id, session_id=session.id if session else None,
        timepoint=entry.timepoint, taken_on=entry.taken_on, view=entry.view, area_code=entry.area_code or None,
        consent_id=consent.id, content_type=image.content_type, width=image.width, height=image.height,
        byte_size=len(image.data), sha256=hashlib.sha256(image.data).hexdigest(), note=(entry.note or "").strip(),
        uploaded_by_id=by.id,
        storage_key=store.save(image.data, image.extension), thumbnail_key=store.save(image.thumbnail, "jpg"))
    return stored(photo)


@dataclass(frozen=True)
class Occasion:
    """When a set of photos was taken: baseline, a session, the end, a maintenance visit."""

    key: str
    label: str
    sort_key: tuple[int, int]


def occasion_of(photo: Photo, sessions: dict[int, TreatmentSession]) -> Occasion:
    day = photo.taken_on
    if photo.timepoint == "session" and photo.session_id in sessions:
        session = sessions[photo.session_id]
        return Occasion(f"session-{session.id}", f"Session {session.number} ({day:%d %b %Y})",
                        (1, day.toordinal()))
    if photo.timepoint == "baseline":
        return Occasion("baseline", f"Baseline ({day:%d %b %Y})", (0, day.toordinal()))
    if photo.timepoint == "end":
        return Occasion("end", f"End of course ({day:%d %b %Y})", (2, day.toordinal()))
    return Occasion(f"{photo.timepoint}-{day.isoformat()}", f"Maintenance ({day:%d %b %Y})", (3, day.toordinal()))
