"""What the inventory asks of the packages above it, without importing them."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

units_used = _signals.signal("units-used", doc="""
Asked whenever stock is counted. A receiver answers a subquery with one row per use of a lot for a
patient and the columns ``lot_id`` and ``units``; the package that records sessions answers it
(a session voided as entered in error used none).
""")

lot_notes = _signals.signal("lot-notes", doc="""
Asked while a lot's page loads, for a reader who may see the clinic's reports. Sender: the ``Lot``. A
receiver answers a list of sentences to show at the top of the page (the reports' lot safety signal), or
an empty list.
""")

lots_touched = _signals.signal("lots-touched", doc="""
Asked after each flush, for the lots whose stock it may have changed (their units on hand are then counted
again). Sender: the ``Session``. A receiver answers a set of lot ids from the objects of its own package in
``session.new``, ``session.dirty`` and ``session.deleted`` (the uses in sessions, a voided session's lots).
""")
