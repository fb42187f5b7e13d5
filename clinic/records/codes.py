"""Codes of the warnings a doctor acknowledges when saving a session; the session keeps the codes."""

from __future__ import annotations

from enum import StrEnum


class WarningCode(StrEnum):
    INTERVAL = "interval"
    FIRST_TIME_NO_PATCH_TEST = "first_time_no_patch_test"
    HYPERPIGMENTATION = "hyperpigmentation"
    RULE = "rule"  # "rule:<contraindication rule code>": a warning rule of the screening catalogue
    RECALLED_AFTER = "recalled_after"  # "recalled_after:<lot id>": a lot recalled after the session
    # "protocol:<measure>" or "protocol:<measure>:<area code>": outside the usual range at the chair
    PROTOCOL = "protocol"

    def of(self, detail: object) -> str:
        """The code of one warning of this kind about ``detail`` (a rule code, a lot id)."""
        return f"{self.value}:{detail}"


WARNING_WORDS: dict[str, str] = {
    WarningCode.INTERVAL: "sooner than the course's interval",
    WarningCode.FIRST_TIME_NO_PATCH_TEST: "first treatment without a negative patch test",
    WarningCode.HYPERPIGMENTATION: "hyperpigmentation risk for the skin type",
}
