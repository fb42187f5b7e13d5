"""Lot trace and recall: who received a lot, and proof that each of them was contacted."""
