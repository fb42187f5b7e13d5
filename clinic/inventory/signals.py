"""What the inventory asks of the packages above it, without importing them."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

units_used = _signals.signal("units-used", doc="""
Asked whenever stock is counted. A receiver answers a subquery with one row per use of a lot for a
patient and the columns ``lot_id`` and ``units``; the package that records sessions answers it
(a session voided as entered in error used none).
""")
