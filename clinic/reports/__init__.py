"""Clinic-wide reports: the daily figures they read, the lot safety signal, vigilance reports."""
