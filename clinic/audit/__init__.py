"""The append-only, hash-chained audit trail (SECURITY.md T1-T3)."""
