"""What the records package tells the packages above it (recalls listen), without importing them.

Receivers connect when the app is built; a sender never knows who listens.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

session_saved = _signals.signal("session-saved", doc="""
A draft session was created or its content replaced (flushed). Sender: the ``TreatmentSession``.
Keyword ``by``: the doctor; ``corrected``: True when an existing draft's content was replaced.
""")

session_voided = _signals.signal("session-voided", doc="""
A session was voided as entered in error (flushed). Sender: the ``TreatmentSession``.
Keywords ``by`` and ``reason``.
""")

session_corrected = _signals.signal("session-corrected", doc="""
A signed session's lot was corrected by an amendment (flushed). Sender: the ``TreatmentSession``.
Keyword ``by``: the doctor. Recall worklists follow: a patient who now received a recalled lot joins its
worklist; one who no longer did is released.
""")

lot_recalled_after = _signals.signal("lot-recalled-after", doc="""
Asked while a session is checked, for a lot recalled after the session's time. Sender: the ``Lot``.
Keyword ``performed_at``. A receiver answers None when no open recall holds the lot, else the findings
to acknowledge: a ``recalled_after:<lot id>`` warning when the session is affected, none when it is not.
""")

patient_alerts = _signals.signal("patient-alerts", doc="""
Asked while a chart or a schedule loads. Sender: a list of patient ids. A receiver answers
``{patient_id: [Badge, ...]}`` for the patients it has something to say about.
""")

session_signed = _signals.signal("session-signed", doc="""
A session was signed and locked (flushed). Sender: the ``TreatmentSession``. Keyword ``by``: the doctor.
The clinic's reports count it from now on.
""")

session_amended = _signals.signal("session-amended", doc="""
A signed session was corrected by an amendment (flushed), whatever the field. Sender: the
``TreatmentSession``. Keywords ``by`` and ``field``. The reports follow the corrected values.
""")

side_effect_changed = _signals.signal("side-effect-changed", doc="""
A side effect was recorded, changed (a new version) or voided (flushed). Sender: the ``SideEffect``.
Keyword ``change``: "recorded", "updated" or "voided". The reports' rates follow it.
""")
