"""Patients: registration, search, structured medical history and patch tests."""
