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


def _seed():
    from clinic.records.catalogue.defaults import AREAS, CONDITIONS, INDICATIONS
    from clinic.records.consent.defaults import PHOTO_TEXT, TREATMENT_TEXT
    from clinic.records.consent.services import canonical_body, content_hash
    from clinic.records.screening.defaults import DEFAULT_RULES

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
        for i, (code, q, kind, trig, value, wait, ind, areas, src) in enumerate(DEFAULT_RULES)
    ])
    op.execute("INSERT INTO record_number_counter (id, last_number) VALUES (1, 0)")
    form = sa.table("consent_form", *(sa.column(c) for c in ("id", "title", "kind", "indication_code")))
    version = sa.table("consent_text_version", *(sa.column(c) for c in (
        "form_id", "number", "body", "content_hash", "created_at")))
    forms, versions = [], []
    now = sa.func.current_timestamp()
    for form_id, (code, name, *_rest) in enumerate(INDICATIONS, start=1):
        body = canonical_body(TREATMENT_TEXT.format(indication=name))
        forms.append({"id": form_id, "title": f"Consent to mesotherapy: {name}", "kind": "treatment",
                      "indication_code": code})
        versions.append({"form_id": form_id, "number": 1, "body": body, "content_hash": content_hash(body)})
    photo_id = len(INDICATIONS) + 1
    forms.append({"id": photo_id, "title": "Consent to clinical photography", "kind": "photo",
                  "indication_code": None})
    body = canonical_body(PHOTO_TEXT)
    versions.append({"form_id": photo_id, "number": 1, "body": body, "content_hash": content_hash(body)})
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
