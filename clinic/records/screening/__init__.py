"""Contraindication rules, screening before a course, doctor overrides, and the treatment gate."""
