"""Patient chart: patients and their search, versioned medical history, patch tests,
contraindication rules and screenings, consent texts and signed consents.

Seeds the clinical catalogues (indications, areas, conditions), the default
contraindication rules and the first version of each consent text. Patient
search gets a pg_trgm GIN index on PostgreSQL and an FTS5 trigram table, kept
in step by triggers, on SQLite.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 04:33:27.426791

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE patient_search USING fts5(search_text, content='patient', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER patient_search_insert AFTER INSERT ON patient BEGIN "
    "INSERT INTO patient_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER patient_search_delete AFTER DELETE ON patient BEGIN "
    "INSERT INTO patient_search(patient_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER patient_search_update AFTER UPDATE OF search_text ON patient BEGIN "
    "INSERT INTO patient_search(patient_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO patient_search(rowid, search_text) VALUES (new.id, new.search_text); END",
)


# The rows this revision seeds, frozen as literals: a fresh database must get exactly the
# rows that every existing one got, whatever the application's defaults say today. Never
# edit them; a change to a catalogue, rule or consent text is a new migration.

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

# code, question, kind, trigger, trigger_value, waiting_days, indications, areas, source
# (sort_order 10, 20, 30... in this order)
RULES = (
    ("age_under_18", "Is the patient under 18 on the day of treatment? (worked out from the date of birth)",
     "absolute", "age_under", "18", None, "", "", "DESIGN.md: age under 18 is an absolute contraindication"),
    ("pregnancy", "Is the patient pregnant, or could she be?", "absolute", "pregnant", "", None, "", "",
     "Both source texts: not suitable in pregnancy"),
    ("breastfeeding", "Is the patient breastfeeding?", "absolute", "breastfeeding", "", None, "", "",
     "Both source texts: not suitable while breastfeeding"),
    ("active_infection_area", "Is there an active infection, inflammation or open wound in the treatment area?",
     "absolute", "condition", "active_infection_area", None, "", "", "Both source texts"),
    ("ingredient_allergy", "Is the patient allergic to any ingredient of the planned products?", "absolute",
     "question", "", None, "", "", "Known allergy to a cocktail ingredient (source text 2); "
     "the gate also checks each product's ingredients against recorded allergies"),
    ("active_cancer", "Does the patient have active cancer?", "absolute", "condition", "active_cancer", None,
     "", "", "Source text 1: not suitable with cancer"),
    ("diabetes", "Does the patient have diabetes?", "absolute", "condition", "diabetes", None, "", "",
     "Source text 1: not suitable for individuals with diabetes"),
    ("clotting_disorder", "Does the patient have a clotting disorder?", "relative", "condition",
     "clotting_disorder", None, "", "", "Source text 1: may pose a risk"),
    ("anticoagulant", "Does the patient take blood-thinning medication (anticoagulant or antiplatelet)?",
     "relative", "anticoagulant", "", None, "", "", "Source text 2: contraindication"),
    ("autoimmune_disease", "Does the patient have an autoimmune disease?", "relative", "condition",
     "autoimmune_disease", None, "", "", "Source text 1: not recommended"),
    ("active_eczema", "Does the patient have active eczema?", "relative", "condition", "active_eczema", None,
     "", "", "Source text 2: autoimmune skin conditions"),
    ("active_psoriasis", "Does the patient have active psoriasis?", "relative", "condition",
     "active_psoriasis", None, "", "", "Source text 2: autoimmune skin conditions"),
    ("weakened_immune_system", "Does the patient have a weakened immune system?", "relative", "condition",
     "weakened_immune_system", None, "", "", "Source text 1: not recommended"),
    ("allergic_reactions_history", "Is the patient prone to allergic reactions?", "relative", "condition",
     "allergic_reactions_history", None, "", "", "Source text 1: risk for those prone to allergic reactions"),
    ("isotretinoin", "Has the patient taken oral isotretinoin in the last 6 months?", "relative", "treatment",
     "isotretinoin", 180, "", "", "Clinical practice: wait 6 months after isotretinoin"),
    ("laser", "Has the patient had laser or IPL treatment in the area in the last 6 weeks?", "relative",
     "treatment", "laser", 42, "", "", "Clinical practice: wait 6 weeks after laser"),
    ("surgery_area", "Has the patient had surgery in the treatment area in the last 3 months?", "relative",
     "treatment", "surgery_area", 90, "", "", "Clinical practice: wait 3 months after surgery"),
    ("tattoo_area", "Is there a tattoo less than 3 months old in the treatment area?", "relative",
     "treatment", "tattoo_area", 90, "", "", "Clinical practice: wait for a tattoo to heal"),
    ("filler", "Has the patient had dermal filler in the area in the last 2 weeks?", "warning", "treatment",
     "filler", 14, "", "", "Clinical practice: let fillers settle"),
    ("skin_type_dark", "Is the patient's skin type Fitzpatrick IV–VI (risk of hyperpigmentation)?", "warning", "skin_type_dark", "", None, "", "",
     "DESIGN.md: darker skin types raise a hyperpigmentation warning"),
    ("keloid_tendency", "Does the patient tend to form keloid or hypertrophic scars?", "warning", "condition",
     "keloid_tendency", None, "", "", "Clinical practice"),
    ("herpes_labialis", "Does the patient get cold sores (treatment near the mouth)?", "warning", "condition",
     "herpes_labialis", None, "", "perioral chin", "Clinical practice: risk of an outbreak"),
)

# Version 1 of each consent text; {indication} is the indication's name.
TREATMENT_TEXT = """I, the undersigned, consent to a course of mesotherapy for: {indication}.

The doctor has explained to me:
- what mesotherapy is: micro-injections of a product or a mixture of products into the skin, the scalp or fat deposits, over several sessions;
- the expected effects, which develop over the course and are not guaranteed;
- the usual side effects: redness (6–24 hours), swelling (12–24 hours), small bruises (2–5 days), tenderness (24–48 hours), itching or tingling (1–2 hours), a lump sensation (1–2 days);
- the rare complications: infection, allergic reaction, nodules, and temporary hyperpigmentation, more likely in darker skin;
- the aftercare I must follow, which I will receive in writing after each session.

I have answered the screening questions truthfully and will tell the clinic about any change in my health, medication, pregnancy or breastfeeding before each session.

I know that I can withdraw this consent at any time without giving a reason, and that withdrawal does not affect the care already given."""

PHOTO_TEXT = """I consent to standardised photographs of the treated areas being taken before, during and after my course of mesotherapy.

The photographs are part of my clinical record. They are used to follow my results and are not shown to anyone outside the clinic's care team, nor published, without my separate written agreement.

I can withdraw this consent at any time; photographs already taken stay in my record as required by law."""

# id, title, kind, indication code, SHA-256 of version 1's text (the hash patients signed against).
CONSENT_FORMS = (
    (1, "Consent to mesotherapy: Skin rejuvenation (mesoglow, skin booster)", "treatment", "skin_rejuvenation",
     "cecb3242a60f6da44662275c97964e944d95a869c7d06d9693426bc4598800e9"),
    (2, "Consent to mesotherapy: Anti-ageing (mesolift)", "treatment", "mesolift",
     "2e7663b623505472ee4aa11d0413d6fe6ea06d85e752c4c73ba684ed4519685d"),
    (3, "Consent to mesotherapy: Hair loss (scalp)", "treatment", "hair_loss",
     "7bf30d5a51ea1568fda23efc6cf6c67d004d7e83b2dcc5bad0f69812dd8bd493"),
    (4, "Consent to mesotherapy: Cellulite", "treatment", "cellulite",
     "20f4fcd4b484830163431788d17eb1b94da52ae98844567733a065a2278ec995"),
    (5, "Consent to mesotherapy: Localized fat reduction", "treatment", "localized_fat",
     "67c76c96ba3511ebbb035ca5870919666d26eb31a8092254929dbdfb768df428"),
    (6, "Consent to mesotherapy: Dark circles under the eyes", "treatment", "dark_circles",
     "0457b89038233a616ad253eef7479d3bfaea19be1cf361def91b1e61b3c0f203"),
    (7, "Consent to mesotherapy: Acne", "treatment", "acne",
     "0b42777b696734a4ab9e6ff842f400c139e122e43a75ca6b080e994bc643066a"),
    (8, "Consent to mesotherapy: Blemishes and pigmentation", "treatment", "blemishes",
     "a3d0b7e1bf45297891bb559bf41609d16ffe3a47aa1a8b8929399b505010f22f"),
    (9, "Consent to mesotherapy: Hand rejuvenation", "treatment", "hands",
     "3e2b754870339698dba4083bcb5f8dfc1c10cf693e75162d66cd0eee73f82454"),
    (10, "Consent to mesotherapy: Neck and décolletage", "treatment", "neck_decolletage",
     "1226b450ec136d14d272726dd904d475207a053db0da3ec26285cebfb69dbd66"),
    (11, "Consent to clinical photography", "photo", None,
     "5a9b1a688c7a38f1c63f6b87e3c384fc118d56bca09effce1523b66d11718efd"),
)


def _seed():
    indication = sa.table("indication", *(sa.column(c) for c in (
        "code", "name", "sessions_min", "sessions_max", "interval_min_days", "interval_max_days",
        "depth_note", "sort_order", "active")))
    op.bulk_insert(indication, [
        {"code": c, "name": n, "sessions_min": smin, "sessions_max": smax, "interval_min_days": imin,
         "interval_max_days": imax, "depth_note": depth, "sort_order": i, "active": True}
        for i, (c, n, smin, smax, imin, imax, depth) in enumerate(INDICATIONS)
    ])
    area = sa.table("area", *(sa.column(c) for c in ("code", "name", "region", "sort_order", "active")))
    op.bulk_insert(area, [{"code": c, "name": n, "region": r, "sort_order": i, "active": True}
                          for i, (c, n, r) in enumerate(AREAS)])
    condition = sa.table("condition", *(sa.column(c) for c in ("code", "name", "sort_order", "active")))
    op.bulk_insert(condition, [{"code": c, "name": n, "sort_order": i, "active": True}
                               for i, (c, n) in enumerate(CONDITIONS)])
    rule = sa.table("contraindication_rule", *(sa.column(c) for c in (
        "code", "question", "kind", "trigger", "trigger_value", "waiting_days", "indications", "areas",
        "sort_order", "active", "source", "version")))
    op.bulk_insert(rule, [
        {"code": code, "question": q, "kind": kind, "trigger": trig, "trigger_value": value,
         "waiting_days": wait, "indications": ind, "areas": areas, "sort_order": (i + 1) * 10,
         "active": True, "source": src, "version": 1}
        for i, (code, q, kind, trig, value, wait, ind, areas, src) in enumerate(RULES)
    ])
    op.execute("INSERT INTO record_number_counter (id, last_number) VALUES (1, 0)")
    form = sa.table("consent_form", *(sa.column(c) for c in ("id", "title", "kind", "indication_code")))
    version = sa.table("consent_text_version", *(sa.column(c) for c in (
        "form_id", "number", "body", "content_hash", "created_at")))
    names = {code: name for code, name, *_rest in INDICATIONS}
    forms, versions = [], []
    now = sa.func.current_timestamp()
    for form_id, title, kind, code, digest in CONSENT_FORMS:
        body = PHOTO_TEXT if kind == "photo" else TREATMENT_TEXT.format(indication=names[code])
        forms.append({"id": form_id, "title": title, "kind": kind, "indication_code": code})
        versions.append({"form_id": form_id, "number": 1, "body": body, "content_hash": digest})
    op.bulk_insert(form, forms)
    for row in versions:
        op.execute(version.insert().values(**row, created_at=now))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT setval(pg_get_serial_sequence('consent_form', 'id'), "
                   "(SELECT max(id) FROM consent_form))")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        # Trusted since PostgreSQL 13: the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table('area',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('region', sa.String(length=20), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_area'))
    )
    op.create_table('condition',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_condition'))
    )
    op.create_table('contraindication_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('question', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('trigger_value', sa.String(length=40), nullable=False),
    sa.Column('waiting_days', sa.Integer(), nullable=True),
    sa.Column('indications', sa.String(length=500), nullable=False),
    sa.Column('areas', sa.String(length=500), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('absolute', 'relative', 'warning')", name=op.f('ck_contraindication_rule_kind')),
    sa.CheckConstraint('waiting_days IS NULL OR waiting_days > 0', name=op.f('ck_contraindication_rule_waiting_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contraindication_rule')),
    sa.UniqueConstraint('code', name=op.f('uq_contraindication_rule_code'))
    )
    op.create_table('indication',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('sessions_min', sa.Integer(), nullable=False),
    sa.Column('sessions_max', sa.Integer(), nullable=False),
    sa.Column('interval_min_days', sa.Integer(), nullable=False),
    sa.Column('interval_max_days', sa.Integer(), nullable=False),
    sa.Column('depth_note', sa.String(length=120), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_indication'))
    )
    op.create_table('record_number_counter',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_number_counter'))
    )
    op.create_table('consent_form',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('indication_code', sa.String(length=40), nullable=True),
    sa.CheckConstraint("(kind = 'photo') = (indication_code IS NULL)", name=op.f('ck_consent_form_indication_for_treatment')),
    sa.CheckConstraint("kind IN ('treatment', 'photo')", name=op.f('ck_consent_form_kind')),
    sa.ForeignKeyConstraint(['indication_code'], ['indication.code'], name=op.f('fk_consent_form_indication_code_indication')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_form')),
    sa.UniqueConstraint('indication_code', name=op.f('uq_consent_form_indication_code'))
    )
    op.create_table('patient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_number', sa.String(length=20), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('date_of_birth', sa.Date(), nullable=False),
    sa.Column('sex', sa.String(length=10), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('fitzpatrick', sa.SmallInteger(), nullable=True),
    sa.Column('emergency_contact', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('sort_name', sa.String(length=210), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('registered_by_id', sa.Integer(), nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('voided_by_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("sex IN ('female', 'male', 'other', 'unknown')", name=op.f('ck_patient_sex')),
    sa.CheckConstraint('fitzpatrick BETWEEN 1 AND 6', name=op.f('ck_patient_fitzpatrick')),
    sa.ForeignKeyConstraint(['registered_by_id'], ['user.id'], name=op.f('fk_patient_registered_by_id_user')),
    sa.ForeignKeyConstraint(['voided_by_id'], ['user.id'], name=op.f('fk_patient_voided_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient')),
    sa.UniqueConstraint('record_number', name=op.f('uq_patient_record_number'))
    )
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_date_of_birth'), ['date_of_birth'], unique=False)
        batch_op.create_index('ix_patient_search_text_trgm', ['search_text'], unique=False, postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
        batch_op.create_index('ix_patient_sort_name_id', ['sort_name', 'id'], unique=False)

    op.create_table('consent_text_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_consent_text_version_created_by_id_user')),
    sa.ForeignKeyConstraint(['form_id'], ['consent_form.id'], name=op.f('fk_consent_text_version_form_id_consent_form')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_text_version')),
    sa.UniqueConstraint('form_id', 'number', name='uq_consent_text_version_form_number')
    )
    with op.batch_alter_table('consent_text_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_text_version_form_id'), ['form_id'], unique=False)

    op.create_table('history_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('pregnancy', sa.String(length=20), nullable=False),
    sa.Column('breastfeeding', sa.String(length=20), nullable=False),
    sa.Column('pregnancy_recorded_on', sa.Date(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('change_note', sa.Text(), nullable=False),
    sa.CheckConstraint("breastfeeding IN ('no', 'yes', 'unknown', 'not_applicable')", name=op.f('ck_history_version_breastfeeding')),
    sa.CheckConstraint("pregnancy IN ('no', 'yes', 'unknown', 'not_applicable')", name=op.f('ck_history_version_pregnancy')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_history_version_patient_id_patient')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_history_version_recorded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_history_version')),
    sa.UniqueConstraint('patient_id', 'number', name='uq_history_version_patient_number')
    )
    with op.batch_alter_table('history_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_history_version_patient_id'), ['patient_id'], unique=False)

    op.create_table('patch_test',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('ingredient_id', sa.Integer(), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_by_id', sa.Integer(), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('read_by_id', sa.Integer(), nullable=True),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('voided_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("result IN ('pending', 'negative', 'positive')", name=op.f('ck_patch_test_result')),
    sa.CheckConstraint('(product_id IS NULL) <> (ingredient_id IS NULL)', name=op.f('ck_patch_test_one_substance')),
    sa.ForeignKeyConstraint(['applied_by_id'], ['user.id'], name=op.f('fk_patch_test_applied_by_id_user')),
    sa.ForeignKeyConstraint(['ingredient_id'], ['ingredient.id'], name=op.f('fk_patch_test_ingredient_id_ingredient')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_patch_test_patient_id_patient')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_patch_test_product_id_product')),
    sa.ForeignKeyConstraint(['read_by_id'], ['user.id'], name=op.f('fk_patch_test_read_by_id_user')),
    sa.ForeignKeyConstraint(['voided_by_id'], ['user.id'], name=op.f('fk_patch_test_voided_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patch_test'))
    )
    with op.batch_alter_table('patch_test', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patch_test_patient_id'), ['patient_id'], unique=False)

    op.create_table('consent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('text_version_id', sa.Integer(), nullable=False),
    sa.Column('signed_name', sa.String(length=200), nullable=False),
    sa.Column('signature_method', sa.String(length=10), nullable=False),
    sa.Column('signature_image', sa.Text(), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('witness_id', sa.Integer(), nullable=False),
    sa.Column('withdrawn_on', sa.Date(), nullable=True),
    sa.Column('withdrawal_reason', sa.Text(), nullable=True),
    sa.Column('withdrawal_recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('voided_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("signature_method IN ('drawn', 'typed')", name=op.f('ck_consent_signature_method')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_consent_patient_id_patient')),
    sa.ForeignKeyConstraint(['text_version_id'], ['consent_text_version.id'], name=op.f('fk_consent_text_version_id_consent_text_version')),
    sa.ForeignKeyConstraint(['voided_by_id'], ['user.id'], name=op.f('fk_consent_voided_by_id_user')),
    sa.ForeignKeyConstraint(['withdrawal_recorded_by_id'], ['user.id'], name=op.f('fk_consent_withdrawal_recorded_by_id_user')),
    sa.ForeignKeyConstraint(['witness_id'], ['user.id'], name=op.f('fk_consent_witness_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent'))
    )
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_patient_id'), ['patient_id'], unique=False)

    op.create_table('history_allergy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('ingredient_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['ingredient_id'], ['ingredient.id'], name=op.f('fk_history_allergy_ingredient_id_ingredient')),
    sa.ForeignKeyConstraint(['version_id'], ['history_version.id'], name=op.f('fk_history_allergy_version_id_history_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_history_allergy'))
    )
    with op.batch_alter_table('history_allergy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_history_allergy_version_id'), ['version_id'], unique=False)

    op.create_table('history_condition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('condition_code', sa.String(length=40), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['condition_code'], ['condition.code'], name=op.f('fk_history_condition_condition_code_condition')),
    sa.ForeignKeyConstraint(['version_id'], ['history_version.id'], name=op.f('fk_history_condition_version_id_history_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_history_condition'))
    )
    with op.batch_alter_table('history_condition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_history_condition_version_id'), ['version_id'], unique=False)

    op.create_table('history_medication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('anticoagulant', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['history_version.id'], name=op.f('fk_history_medication_version_id_history_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_history_medication'))
    )
    with op.batch_alter_table('history_medication', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_history_medication_version_id'), ['version_id'], unique=False)

    op.create_table('history_treatment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('treated_on', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['history_version.id'], name=op.f('fk_history_treatment_version_id_history_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_history_treatment'))
    )
    with op.batch_alter_table('history_treatment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_history_treatment_version_id'), ['version_id'], unique=False)

    op.create_table('screening',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('indication_code', sa.String(length=40), nullable=False),
    sa.Column('areas', sa.String(length=500), nullable=False),
    sa.Column('screened_on', sa.Date(), nullable=False),
    sa.Column('screened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('screened_by_id', sa.Integer(), nullable=False),
    sa.Column('history_version_id', sa.Integer(), nullable=True),
    sa.Column('result', sa.String(length=20), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('voided_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("result IN ('eligible', 'needs_review', 'not_eligible')", name=op.f('ck_screening_result')),
    sa.ForeignKeyConstraint(['history_version_id'], ['history_version.id'], name=op.f('fk_screening_history_version_id_history_version')),
    sa.ForeignKeyConstraint(['indication_code'], ['indication.code'], name=op.f('fk_screening_indication_code_indication')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_screening_patient_id_patient')),
    sa.ForeignKeyConstraint(['screened_by_id'], ['user.id'], name=op.f('fk_screening_screened_by_id_user')),
    sa.ForeignKeyConstraint(['voided_by_id'], ['user.id'], name=op.f('fk_screening_voided_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screening'))
    )
    with op.batch_alter_table('screening', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_screening_patient_id'), ['patient_id'], unique=False)

    op.create_table('screening_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('screening_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('answer', sa.Boolean(), nullable=False),
    sa.Column('from_history', sa.Boolean(), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=True),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['contraindication_rule.id'], name=op.f('fk_screening_answer_rule_id_contraindication_rule')),
    sa.ForeignKeyConstraint(['screening_id'], ['screening.id'], name=op.f('fk_screening_answer_screening_id_screening')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_answer'))
    )
    with op.batch_alter_table('screening_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_screening_answer_screening_id'), ['screening_id'], unique=False)

    op.create_table('screening_override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('screening_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('doctor_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['doctor_id'], ['user.id'], name=op.f('fk_screening_override_doctor_id_user')),
    sa.ForeignKeyConstraint(['rule_id'], ['contraindication_rule.id'], name=op.f('fk_screening_override_rule_id_contraindication_rule')),
    sa.ForeignKeyConstraint(['screening_id'], ['screening.id'], name=op.f('fk_screening_override_screening_id_screening')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_override')),
    sa.UniqueConstraint('screening_id', 'rule_id', name='uq_screening_override_rule')
    )
    with op.batch_alter_table('screening_override', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_screening_override_screening_id'), ['screening_id'], unique=False)

    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_SEARCH:
            op.execute(statement)
    _seed()


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for name in ("patient_search_update", "patient_search_delete", "patient_search_insert"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE patient_search")
    with op.batch_alter_table('screening_override', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_screening_override_screening_id'))

    op.drop_table('screening_override')
    with op.batch_alter_table('screening_answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_screening_answer_screening_id'))

    op.drop_table('screening_answer')
    with op.batch_alter_table('screening', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_screening_patient_id'))

    op.drop_table('screening')
    with op.batch_alter_table('history_treatment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_history_treatment_version_id'))

    op.drop_table('history_treatment')
    with op.batch_alter_table('history_medication', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_history_medication_version_id'))

    op.drop_table('history_medication')
    with op.batch_alter_table('history_condition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_history_condition_version_id'))

    op.drop_table('history_condition')
    with op.batch_alter_table('history_allergy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_history_allergy_version_id'))

    op.drop_table('history_allergy')
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_patient_id'))

    op.drop_table('consent')
    with op.batch_alter_table('patch_test', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patch_test_patient_id'))

    op.drop_table('patch_test')
    with op.batch_alter_table('history_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_history_version_patient_id'))

    op.drop_table('history_version')
    with op.batch_alter_table('consent_text_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_text_version_form_id'))

    op.drop_table('consent_text_version')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_sort_name_id')
        batch_op.drop_index('ix_patient_search_text_trgm', postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
        batch_op.drop_index(batch_op.f('ix_patient_date_of_birth'))

    op.drop_table('patient')
    op.drop_table('consent_form')
    op.drop_table('record_number_counter')
    op.drop_table('indication')
    op.drop_table('contraindication_rule')
    op.drop_table('condition')
    op.drop_table('area')
