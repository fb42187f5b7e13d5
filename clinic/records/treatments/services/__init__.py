"""Courses and sessions: the rules, one module per concern. Services flush; the request commits.

``courses`` plans and closes courses; ``checks`` holds every check a session passes before it is
saved; ``sessions`` saves drafts and voids; ``signing`` signs and verifies; ``amendments`` corrects a
signed session beside the original; ``aftercare`` gives the sheet's dates. This module names the
package's public operations so that a caller imports ``services`` once.
"""

from clinic.records.treatments.services.aftercare import AftercareItem, aftercare
from clinic.records.treatments.services.amendments import (
    AMENDABLE_COMPONENT_FIELDS,
    AMENDABLE_INJECTION_FIELDS,
    AMENDABLE_SESSION_FIELDS,
    amend_session,
    current_value,
)
from clinic.records.treatments.services.checks import (
    SessionCheck,
    check_session,
    course_readiness,
    protocol_ranges,
    session_readiness,
    usual_range,
)
from clinic.records.treatments.services.courses import (
    CourseInput,
    ProtocolRangeInput,
    add_protocol_range,
    complete_course,
    course_defaults,
    due_after,
    live_sessions,
    next_due,
    plan_course,
    reopen_course,
    save_protocol_range,
    stop_course,
)
from clinic.records.treatments.services.inputs import (
    ComponentInput,
    InjectionInput,
    NeedsAcknowledgement,
    PreparationInput,
    SessionInput,
    SessionRefused,
)
from clinic.records.treatments.services.sessions import SavedDraft, save_draft, save_session, void_session
from clinic.records.treatments.services.signing import (
    FOLLOW_UP_DAYS,
    apply_signature,
    canonical_content,
    content_digest,
    sign_session,
    signature_intact,
)

__all__ = [
    "AMENDABLE_COMPONENT_FIELDS", "AMENDABLE_INJECTION_FIELDS", "AMENDABLE_SESSION_FIELDS", "AftercareItem",
    "ComponentInput", "CourseInput", "FOLLOW_UP_DAYS", "InjectionInput", "NeedsAcknowledgement", "PreparationInput",
    "ProtocolRangeInput", "SessionCheck", "SessionInput", "SessionRefused", "add_protocol_range", "aftercare",
    "amend_session", "apply_signature",
    "canonical_content", "check_session", "complete_course", "content_digest", "course_defaults",
    "course_readiness", "current_value", "due_after", "live_sessions", "next_due", "plan_course", "protocol_ranges",
    "reopen_course", "save_protocol_range", "SavedDraft", "save_draft", "save_session", "session_readiness",
    "sign_session", "signature_intact",
    "stop_course", "usual_range", "void_session",
]
