"""Consent texts kept as immutable versions, and patients' signed consents."""
