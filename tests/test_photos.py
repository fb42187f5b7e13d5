"""Before/after photos: only under a signed photo consent, judged by their content, stripped of EXIF and GPS,
turned upright, kept outside static/, served never cached and every view audited, hidden once the patient
withdraws photo consent (and kept)."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app
from PIL import Image

from clinic.extensions import db
from clinic.records.consent import services as consent_services
from clinic.records.photos.models import Photo
from clinic.records.photos.storage import DirectoryStore, PhotoStoreError, photo_store
from tests.conftest import audit_rows
from tests.results_helpers import jpeg_with_gps, png_bytes, sign_photo_consent


@pytest.fixture
def photo_dir(tmp_path) -> Path:
    return tmp_path / "photos"


@pytest.fixture
def config_overrides(photo_dir):
    # The app's usual request limit kept small, a photo allowed to be larger: the upload's own limit holds.
    return {"PHOTO_STORAGE_DIR": str(photo_dir), "MAX_CONTENT_LENGTH": 60_000, "PHOTO_MAX_BYTES": 150_000}


@pytest.fixture
def consented(course, staff):
    return sign_photo_consent(course.patient, staff["nurse"])


def _upload(client, course, data: bytes, name="IMG_0001.jpg", **fields):
    form = {"timepoint": "baseline", "taken_on": course.starts_on.isoformat(), "view": "front",
            "file": (io.BytesIO(data), name), **fields}
    return client.submit(f"/courses/{course.id}/photos/new", form, content_type="multipart/form-data")


def _photos(course) -> list[Photo]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Photo).where(Photo.course_id == course.id).order_by(Photo.id)))


def _files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []


def _noise_jpeg(side: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "JPEG", quality=95)
    return out.getvalue()


def test_no_photo_without_a_signed_photo_consent(doctor_client, course, photo_dir) -> None:
    page = doctor_client.get(f"/courses/{course.id}/photos/new").get_data(as_text=True)
    assert "no signed photo consent in force" in page
    response = _upload(doctor_client, course, jpeg_with_gps())
    assert response.status_code == 400
    assert "no signed photo consent in force" in response.get_data(as_text=True)
    assert _photos(course) == [] and _files(photo_dir) == []


def test_a_phone_photo_is_kept_upright_without_exif_or_gps(doctor_client, course, consented, photo_dir) -> None:
    sent = jpeg_with_gps((640, 480), orientation=6)  # taken holding the phone sideways
    assert Image.open(io.BytesIO(sent)).getexif().get_ifd(0x8825)  # the test photo does carry a position
    response = _upload(doctor_client, course, sent, note="Standard light")
    assert response.status_code == 302
    (photo,) = _photos(course)
    assert (photo.width, photo.height) == (480, 640) and photo.content_type == "image/jpeg"
    assert photo.consent_id == consented.id
    with current_app.app_context():
        kept = photo_store().read(photo.storage_key)
    assert hashlib.sha256(kept).hexdigest() == photo.sha256
    image = Image.open(io.BytesIO(kept))
    assert image.size == (480, 640)
    assert not image.getexif() and "exif" not in image.info
    assert b"PhoneMaker" not in kept and b"GPS" not in kept
    assert image.getpixel((474, 50))[0] < 60  # the dark line along the top now runs down the right edge
    assert image.getpixel((5, 50))[0] > 150
    thumbnail = Image.open(io.BytesIO(photo_store().read(photo.thumbnail_key)))
    assert max(thumbnail.size) == 360
    files = _files(photo_dir)
    assert len(files) == 2 and all(p.stat().st_mode & 0o077 == 0 for p in files)
    static = Path(current_app.static_folder).resolve()
    assert all(static not in p.resolve().parents for p in files)


def test_a_png_is_kept_as_a_png(doctor_client, course, consented) -> None:
    assert _upload(doctor_client, course, png_bytes(), name="scan.png", view="left_45").status_code == 302
    assert [p.content_type for p in _photos(course)] == ["image/png"]


def test_two_different_photos_with_the_same_fields_are_two_photos(doctor_client, course, consented) -> None:
    assert _upload(doctor_client, course, jpeg_with_gps((400, 300))).status_code == 302
    assert _upload(doctor_client, course, jpeg_with_gps((300, 400))).status_code == 302
    assert len(_photos(course)) == 2


@pytest.mark.parametrize(("data", "name"), [
    (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF", "photo.jpg"),  # a PDF renamed .jpg
    (b"", "empty.jpg"),
    (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "anim.gif"),
])
def test_a_file_that_is_not_a_photo_is_refused_with_415(doctor_client, course, consented, photo_dir, data,
                                                        name) -> None:
    response = _upload(doctor_client, course, data, name=name, note="kept in the form")
    assert response.status_code == 415
    page = response.get_data(as_text=True)
    assert "photo" in page and 'value="kept in the form"' in page
    assert _photos(course) == [] and _files(photo_dir) == []


def test_a_decompression_bomb_is_refused(doctor_client, course, consented) -> None:
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, "PNG")  # a few kilobytes that unpack into 144 megapixels
    assert len(out.getvalue()) < 100_000
    response = _upload(doctor_client, course, out.getvalue(), name="bomb.png")
    assert response.status_code == 415
    assert _photos(course) == []


def test_a_photo_over_the_limit_answers_413_and_a_larger_one_than_a_form_may_be_is_taken(
        doctor_client, course, consented) -> None:
    within = _noise_jpeg(300)
    assert 60_000 < len(within) < 150_000  # over the app's usual request limit, under the photo limit
    assert _upload(doctor_client, course, within).status_code == 302
    over = _noise_jpeg(370)
    assert 150_000 < len(over) < 150_000 + 64 * 1024
    response = _upload(doctor_client, course, over)
    assert response.status_code == 413
    assert "larger than" in response.get_data(as_text=True)
    far_over = _noise_jpeg(500)  # refused before it is read (kept under the test client's spooling size)
    assert _upload(doctor_client, course, far_over).status_code == 413
    assert len(_photos(course)) == 1


def test_a_photo_is_served_never_cached_and_every_view_is_audited(clients, course, consented) -> None:
    _upload(clients["doctor"], course, jpeg_with_gps())
    (photo,) = _photos(course)
    before = len(audit_rows("read_photo"))
    for role in ("doctor", "nurse", "auditor"):
        response = clients[role].get(f"/photos/{photo.id}")
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert response.headers["Cache-Control"] == "no-store"
        assert clients[role].get(f"/photos/{photo.id}/thumbnail").status_code == 200
    rows = audit_rows("read_photo")[before:]
    assert [(r.role, r.record_id) for r in rows] == [(role, str(photo.id)) for role in
                                                     ("doctor", "doctor", "nurse", "nurse", "auditor", "auditor")]
    assert clients["admin"].get(f"/photos/{photo.id}").status_code == 403
    assert clients["auditor"].get(f"/courses/{course.id}/photos/new").status_code == 403


def test_withdrawing_photo_consent_hides_the_photos_from_everyone_and_keeps_them(
        clients, course, consented, staff) -> None:
    _upload(clients["doctor"], course, jpeg_with_gps())
    (photo,) = _photos(course)
    consent_services.withdraw_consent(consented, date.today(), "Does not want photos any more", staff["nurse"])
    db.session.commit()
    for role in ("doctor", "nurse", "auditor"):
        assert clients[role].get(f"/photos/{photo.id}").status_code == 404
    assert "no photo consent in force" in clients["doctor"].get(f"/courses/{course.id}/photos").get_data(as_text=True)
    assert "withdrew photo consent" in clients["doctor"].get(f"/courses/{course.id}/report").get_data(as_text=True)
    assert _upload(clients["doctor"], course, png_bytes()).status_code == 400
    assert [p.id for p in _photos(course)] == [photo.id] and not _photos(course)[0].is_voided
    assert photo_store().read(photo.storage_key)


def test_the_same_view_side_by_side_first_and_last_visit(doctor_client, course, consented, stock, staff) -> None:
    from tests.factories import save

    session = save(course, stock, staff["doctor"], acknowledged=["first_time_no_patch_test"])
    _upload(doctor_client, course, jpeg_with_gps((400, 300)), view="right_45")
    _upload(doctor_client, course, jpeg_with_gps((300, 400)), view="right_45", timepoint="session",
            session_id=str(session.id), taken_on=date.today().isoformat())
    first, last = _photos(course)
    page = doctor_client.get(f"/courses/{course.id}/photos").get_data(as_text=True)
    compare = page.split('id="comparison"')[1].split("</section>")[0]
    assert compare.index(f"/photos/{first.id}\"") < compare.index(f"/photos/{last.id}\"")
    assert "Session 1" in compare and "Baseline" in compare
    report = doctor_client.get(f"/courses/{course.id}/report").get_data(as_text=True)
    pair = report.split('class="photo-pair"')[1].split("</figure>")[0]
    assert f"/photos/{first.id}/thumbnail" in pair and f"/photos/{last.id}/thumbnail" in pair


def test_the_store_refuses_a_directory_under_static_and_a_key_that_is_a_path(app, tmp_path) -> None:
    app.config["PHOTO_STORAGE_DIR"] = os.path.join(app.static_folder, "photos")
    with pytest.raises(PhotoStoreError, match="static"):
        photo_store()
    with pytest.raises(PhotoStoreError):
        DirectoryStore(tmp_path).read("../../etc/passwd")


def test_a_heic_photo_from_a_phone_is_kept_as_a_jpeg(doctor_client, course, consented) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 140, 200)).save(out, "HEIF", quality=80)
    assert out.getvalue()[4:12] == b"ftypheic"
    assert _upload(doctor_client, course, out.getvalue(), name="IMG_0002.HEIC").status_code == 302
    (photo,) = _photos(course)
    assert photo.content_type == "image/jpeg" and (photo.width, photo.height) == (320, 240)
    assert Image.open(io.BytesIO(photo_store().read(photo.storage_key))).format == "JPEG"


def test_the_report_pdf_carries_the_photo_pair_and_audits_each_photo_in_it(doctor_client, course, consented,
                                                                           stock, staff) -> None:
    from pypdf import PdfReader

    from tests.factories import save

    session = save(course, stock, staff["doctor"], acknowledged=["first_time_no_patch_test"])
    _upload(doctor_client, course, jpeg_with_gps((400, 300)))
    _upload(doctor_client, course, jpeg_with_gps((300, 400)), timepoint="session", session_id=str(session.id),
            taken_on=date.today().isoformat())
    first, last = _photos(course)
    response = doctor_client.get(f"/courses/{course.id}/report.pdf")
    assert response.status_code == 200
    pages = PdfReader(io.BytesIO(response.data)).pages
    images = {image.name for page in pages for image in page.images}  # pages may share one resource list
    assert len(images) == 2, images
    reads = [(r.record_id, r.reason) for r in audit_rows("read_photo")]
    assert reads == [(str(first.id), "course report PDF"), (str(last.id), "course report PDF")]
