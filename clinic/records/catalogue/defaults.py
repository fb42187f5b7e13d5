"""The catalogue defaults of DESIGN.md and the source texts, used by the migration that seeds them."""
# Frozen: migration 0003 seeds from these values. Later changes to the defaults go in a new migration.

# code, name, sessions min-max, interval days min-max, depth
INDICATIONS = (
    ("skin_rejuvenation", "Skin rejuvenation (mesoglow, skin booster)", 3, 4, 14, 21, "superficial, 1–2 mm"),
    ("mesolift", "Anti-ageing (mesolift)", 4, 6, 14, 28, "2–4 mm"),
    ("hair_loss", "Hair loss (scalp)", 8, 12, 7, 14, "scalp, follicle level"),
    ("cellulite", "Cellulite", 4, 10, 7, 14, "subcutaneous"),
    ("localized_fat", "Localized fat reduction", 4, 8, 14, 28, "subcutaneous fat"),
    ("dark_circles", "Dark circles under the eyes", 3, 5, 14, 21, "superficial"),
    ("acne", "Acne", 4, 6, 14, 21, "superficial"),
    ("blemishes", "Blemishes and pigmentation", 4, 6, 14, 21, "superficial"),
    ("hands", "Hand rejuvenation", 3, 4, 14, 21, "superficial"),
    ("neck_decolletage", "Neck and décolletage", 3, 5, 14, 28, "superficial to 2 mm"),
)

# code, name, region
AREAS = (
    ("scalp", "Scalp", "scalp"),
    ("forehead", "Forehead", "face"),
    ("temples", "Temples", "face"),
    ("cheeks", "Cheeks", "face"),
    ("perioral", "Perioral area", "face"),
    ("chin", "Chin", "face"),
    ("under_eye", "Under-eye area", "face"),
    ("neck", "Neck", "neck"),
    ("decolletage", "Décolletage", "neck"),
    ("back_of_hands", "Back of the hands", "hands"),
    ("abdomen", "Abdomen", "body"),
    ("flanks", "Flanks", "body"),
    ("hips", "Hips", "body"),
    ("thighs", "Thighs", "body"),
    ("buttocks", "Buttocks", "body"),
)

# code, name
CONDITIONS = (
    ("diabetes", "Diabetes"),
    ("active_cancer", "Active cancer"),
    ("active_infection_area", "Active infection, inflammation or open wound in the treatment area"),
    ("clotting_disorder", "Clotting disorder"),
    ("autoimmune_disease", "Autoimmune disease"),
    ("active_eczema", "Active eczema"),
    ("active_psoriasis", "Active psoriasis"),
    ("weakened_immune_system", "Weakened immune system"),
    ("allergic_reactions_history", "History of allergic reactions"),
    ("keloid_tendency", "Tendency to keloid or hypertrophic scars"),
    ("herpes_labialis", "Recurrent cold sores (herpes labialis)"),
)
