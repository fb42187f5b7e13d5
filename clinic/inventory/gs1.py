"""Reading what a handheld scanner types from a GS1 DataMatrix or GS1-128 label.

Parsing is the ``biip`` library's; this module only normalises what scanners
and people actually paste, and turns biip's findings into clinic messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from biip import ParseConfig, parse
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin

from clinic.core.errors import ClinicError

GROUP_SEPARATOR = "\x1d"
# What scanners in keyboard mode, or people copying a label, type for the GS character.
_SEPARATOR_STAND_INS = re.compile(r"<GS>|\{GS\}|\[GS\]|\^\]|\u241d|\\x1d|\\u001d", re.IGNORECASE)
_CONFIG = ParseConfig(separator_chars=(GROUP_SEPARATOR,))


class LabelError(ClinicError):
    """The scanned text is not a usable GS1 label; the message says why."""


@dataclass(frozen=True)
class LabelData:
    gtin: str  # 14 digits
    lot_number: str | None = None
    expiry_date: date | None = None
    serial: str | None = None


def normalise_gtin(text: str) -> str:
    """A GTIN-8/12/13/14 as 14 digits, or LabelError if it is not a valid GTIN."""
    digits = (text or "").strip()
    if not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
        raise LabelError("A GTIN has 8, 12, 13 or 14 digits.")
    try:
        gtin = Gtin.parse(digits)
    except Exception as error:  # biip raises ParseError subclasses
        if "check digit" in str(error):
            raise LabelError("This GTIN's check digit is wrong: check the number on the box.") from None
        raise LabelError("This is not a valid GTIN.") from None
    return gtin.as_gtin_14()


def _friendly(message: str) -> str:
    if "check digit" in message:
        return ("The product code (GTIN) in the scan has a wrong check digit: the label was misread "
                "or damaged. Scan it again.")
    if "(17)" in message or "(11)" in message or "date" in message.lower():
        return "The scan holds a date that does not exist (for example month 13). Check the label."
    return "The scan could not be read as a GS1 label. Scan it again or type the details by hand."


def parse_label(text: str) -> LabelData:
    """GTIN, lot, expiry and serial from a scan: with or without ]d2/]C1, GS or parentheses."""
    value = _SEPARATOR_STAND_INS.sub(GROUP_SEPARATOR, (text or "").strip())
    if not value:
        raise LabelError("The scan is empty.")
    message: GS1Message | None
    if value.startswith("("):
        try:
            message = GS1Message.parse_hri(value, config=_CONFIG)
        except Exception as error:
            raise LabelError(_friendly(str(error))) from None
    else:
        result = parse(value, config=_CONFIG)
        if result.gtin is not None and value.isdigit() and len(value) in (8, 12, 13, 14):
            return LabelData(gtin=result.gtin.as_gtin_14())  # a plain product barcode (EAN/UPC)
        message = result.gs1_message
        if message is None:
            raise LabelError(_friendly(result.gs1_message_error or result.gtin_error or ""))
    fields: dict[str, object] = {}
    for element in message.element_strings:
        ai = element.ai.ai
        if ai in ("01", "02"):
            if element.gtin_error or element.gtin is None:
                raise LabelError(_friendly(element.gtin_error or "check digit"))
            fields["gtin"] = element.gtin.as_gtin_14()
        elif ai == "10":
            fields["lot_number"] = element.value
        elif ai == "17":
            if element.date is None:
                raise LabelError(_friendly("(17)"))
            fields["expiry_date"] = element.date
        elif ai == "21":
            fields["serial"] = element.value
    if "gtin" not in fields:
        raise LabelError("The scan holds no product code (GTIN). Scan the code on the product box.")
    return LabelData(**fields)  # type: ignore[arg-type]
