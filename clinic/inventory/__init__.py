"""Products, ingredients, storage locations and lots: what reaches a patient, and from where."""
