"""Builders for the results tests: courses with sessions spread over weeks, measures, photos."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from PIL import Image

from clinic.extensions import db
from clinic.inventory import services as inventory
from clinic.inventory.models import Lot
from clinic.records.consent import services as consent_services
from clinic.records.consent.models import ConsentForm
from clinic.records.outcomes import services as outcomes
from clinic.records.treatments import services as treatments
from tests.factories import NOW, ready_course


def big_lots(stock, nurse) -> dict[str, Lot]:
    """Another lot of each stock product, 60 vials each: enough for a 12-session course."""
    lots = {}
    shelf = inventory.create_location("Fridge 2", "fridge")
    for name, lot in stock.items():
        made, _ = inventory.receive_lot(inventory.Receipt(
            product=lot.product, lot_number=f"BIG-{name.upper()}", expiry_date=date.today() + timedelta(days=300),
            quantity=60, supplier="MedAesthetic Supplies", received_on=date.today() - timedelta(days=5),
            location=shelf), nurse)
        lots[name] = made
    db.session.commit()
    return lots


def session_entry(lots, *, vitamins_ml="3", ha_ml="2") -> treatments.SessionInput:
    return treatments.SessionInput(
        performed_at=NOW, skin_preparation="chlorhexidine", technique="nappage", needle_gauge=32,
        needle_length_mm=Decimal("4"),
        preparations=[treatments.PreparationInput("Glow cocktail", [
            treatments.ComponentInput(lots["vitamins"].id, Decimal(vitamins_ml)),
            treatments.ComponentInput(lots["ha"].id, Decimal(ha_ml))])],
        injections=[treatments.InjectionInput("cheeks", 0, depth_mm=Decimal("1.5"), volume_ml=Decimal("2.5"),
                                              points=50),
                    treatments.InjectionInput("forehead", 0, depth_mm=Decimal("1"), volume_ml=Decimal("1.5"),
                                              points=30)],
        acknowledged=["first_time_no_patch_test", "interval"])


def course_with_sessions(staff, lots, day_offsets: list[int], *, first="Lina", last="Moreau", starts_ago=200):
    """A skin-rejuvenation course started ``starts_ago`` days ago, a session on each day offset from the start.

    Sessions are saved as drafts (the gate checks them today), then moved to their day: a draft is not locked."""
    course = ready_course(staff, first, last, starts_on=date.today() - timedelta(days=starts_ago))
    for offset in day_offsets:
        session = treatments.save_session(course, session_entry(lots), staff["doctor"])
        day = course.starts_on + timedelta(days=offset)
        session.performed_at = datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)
        db.session.commit()
    return course


def measure(course, by, code, value, *, timepoint="baseline", on=None, session=None):
    made = outcomes.record_measures(course, by, outcomes.MeasuresInput(
        timepoint=timepoint, measured_on=on or course.starts_on, session_id=session.id if session else None,
        values=[outcomes.MeasureValueInput(code, value)]), today=date.today())
    db.session.commit()
    return made[0]


def sign_photo_consent(patient, witness):
    form = db.session.scalar(sa.select(ConsentForm).where(ConsentForm.kind == "photo"))
    consent = consent_services.record_consent(patient, form.current_version, patient.full_name, None, witness)
    db.session.commit()
    return consent


def jpeg_with_gps(size=(640, 480), orientation: int | None = None) -> bytes:
    """A synthetic camera photo: EXIF with the camera, the time and a GPS position (and an orientation)."""
    image = Image.new("RGB", size, (200, 120, 90))
    for x in range(0, size[0] // 4):
        image.putpixel((x, 5), (10, 10, 10))  # a dark mark at the top left, to see a rotation
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x0132] = "2026:11:30 09:00:00"  # DateTime
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 24.0)
    gps[3], gps[4] = "E", (2.0, 21.0, 3.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png_bytes(size=(300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (20, 160, 90, 255)).save(out, "PNG")
    return out.getvalue()
