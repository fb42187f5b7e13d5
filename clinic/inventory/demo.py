"""A realistic demo stock room: fictitious products, GS1-valid demo GTINs, lots in every state."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from clinic.auth.models import User
from clinic.core.clock import clinic_today
from clinic.extensions import db
from clinic.inventory import services
from clinic.inventory.models import Ingredient

# Fictitious brands. GTINs use the GS1 prefix 950 (reserved for GS1's own examples).
DEMO_PRODUCTS = (
    ("HydraVeil HA 1.5%", "Lumea Dermaceutics", "hyaluronic_acid", "vial", "3", "0950600010001",
     "2–25 °C, protect from light", ("Non-cross-linked hyaluronic acid",)),
    ("Vitalis Revive 55", "Lumea Dermaceutics", "vitamin_cocktail", "vial", "3", "0950600010002",
     "2–8 °C", ("Non-cross-linked hyaluronic acid", "Vitamin C", "Vitamin B5 (panthenol)", "Vitamin B6",
                "Vitamin B12", "Vitamin A", "Vitamin E", "Amino acids", "Coenzymes", "Antioxidants",
                "Zinc", "Copper")),
    ("Peptilux Hair Complex", "Corvina Labs", "peptide", "vial", "5", "0950600010003", "2–8 °C",
     ("Peptides", "Biotin", "Growth factors", "Zinc")),
    ("PDRN Regen 2%", "Corvina Labs", "polynucleotide", "prefilled_syringe", "2", "0950600010004",
     "2–8 °C", ("Polynucleotides (PDRN)",)),
    ("Lipocell PC/DC", "Adipra Pharma", "lipolytic", "ampoule", "5", "0950600010005",
     "Room temperature", ("Phosphatidylcholine", "Deoxycholate")),
    ("Numbacaine 5% cream", "Adipra Pharma", "anaesthetic_cream", "tube", "30", "0950600010006",
     "Below 25 °C", ("Lidocaine", "Prilocaine")),
    ("Glutathione Bright", "Lumea Dermaceutics", "other", "vial", "5", "0950600010007", "2–8 °C",
     ("Glutathione", "Vitamin C")),
)


def _with_check_digit(first12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


def seed_demo_stock(receiver: User, holder: User, today: date | None = None) -> None:
    """Products, two locations and lots: fresh, expiring soon, quarantined, partly discarded."""
    today = today or clinic_today()
    ingredients = {i.name: i.id for i in db.session.scalars(sa.select(Ingredient))}
    fridge = services.create_location("Fridge 1 — treatment room", "fridge")
    cabinet = services.create_location("Medicine cabinet — store room", "cabinet")
    products = []
    for name, maker, kind, unit, volume, gtin12, storage, contents in DEMO_PRODUCTS:
        products.append(services.create_product(services.ProductDetails(
            name=name, manufacturer=maker, kind=kind, unit=unit, volume_ml=Decimal(volume),
            gtin=_with_check_digit(gtin12[1:]) if len(gtin12) == 13 else gtin12,
            storage_conditions=storage, ingredient_ids=[ingredients[c] for c in contents],
        )))
    lots = [
        # product index, lot number, expires in days, units, days ago received, location
        (0, "HV24A117", 400, 20, 30, cabinet),
        (1, "VR55-2409", 25, 12, 60, fridge),
        (1, "VR55-2502", 300, 30, 10, fridge),
        (2, "PX0931", 75, 15, 20, fridge),
        (3, "PDRN-7781", 200, 10, 15, fridge),
        (4, "LPC2404B", 500, 25, 40, cabinet),
        (5, "NC-55120", 600, 8, 5, cabinet),
        (6, "GB-1187", 150, 10, 12, fridge),
    ]
    received = []
    for index, lot_number, expires_in, units, days_ago, location in lots:
        lot, _ = services.receive_lot(services.Receipt(
            product=products[index], lot_number=lot_number,
            expiry_date=today + timedelta(days=expires_in), quantity=units,
            supplier="MedAesthetic Supplies Ltd", received_on=today - timedelta(days=days_ago),
            location=location,
        ), receiver, today=today)
        received.append(lot)
    services.record_discard(received[0], 1, "broken", "Vial dropped while unpacking.",
                            today - timedelta(days=29), receiver, today=today)
    services.quarantine_lot(received[6], holder,
                            "Discoloured cream reported by a nurse; awaiting the manufacturer's reply.")
