"""Results across each course: the catalogue of outcome measures (seeded from DESIGN.md and the issue),
the values recorded against a course (voided, never changed), and before/after photos (the image files
live in the photo store; a row names its file).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 08:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

# The rows this revision seeds, frozen as literals (a change to the catalogue is a new migration).
FACIAL = ("skin_rejuvenation", "mesolift", "dark_circles", "acne", "blemishes", "neck_decolletage")
BODY = ("cellulite", "localized_fat")
LANDMARK = ("Tape measure level, snug on the skin without pressing, patient standing, feet together, "
            "after breathing out. ")
# code, name, kind, unit, min, max, decimals, higher is better, every indication, indications, how to measure
MEASURES = (
    ("gais_clinician", "GAIS (clinician)", "gais", "", None, None, 0, True, True, (),
     "The clinician compares the area now with the baseline photos: very much improved, much improved, "
     "improved, no change, worse. Not given at baseline."),
    ("gais_patient", "GAIS (patient)", "gais", "", None, None, 0, True, True, (),
     "The patient compares how the area looks now with before the course, on the same five grades."),
    ("satisfaction", "Patient satisfaction", "number", "/10", 0, 10, 0, True, True, (),
     "The patient's own score: 0 not at all satisfied, 10 completely satisfied."),
    ("hair_density", "Hair density", "number", "hairs/cm²", 0, 600, 0, True, False, ("hair_loss",),
     "Trichoscopy count in a 1 cm² field at the marked spot: on the midline 10 cm above the glabella "
     "(or the spot written beside the value), hair clipped to 1 mm, same magnification every visit."),
    ("hair_pull", "Hair-pull test", "number", "hairs", 0, 60, 0, False, False, ("hair_loss",),
     "Grasp about 60 hairs close to the scalp and pull gently from base to tip; count the hairs that "
     "come out. No washing for 24 hours before."),
    ("waist", "Circumference at the waist", "number", "cm", 30, 250, 1, False, False, BODY,
     LANDMARK + "Waist: midway between the lowest rib and the top of the hip bone."),
    ("hips", "Circumference at the hips", "number", "cm", 30, 250, 1, False, False, BODY,
     LANDMARK + "Hips: around the widest part of the buttocks."),
    ("thigh_left", "Circumference at mid-thigh, left", "number", "cm", 20, 150, 1, False, False, BODY,
     LANDMARK + "Mid-thigh: halfway between the groin crease and the top of the kneecap, left leg."),
    ("thigh_right", "Circumference at mid-thigh, right", "number", "cm", 20, 150, 1, False, False, BODY,
     LANDMARK + "Mid-thigh: halfway between the groin crease and the top of the kneecap, right leg."),
    ("weight", "Weight", "number", "kg", 25, 300, 1, False, False, BODY,
     "Same scale, morning, light clothing, no shoes."),
    ("cellulite_grade", "Cellulite grade", "number", "grade", 0, 3, 0, False, False, ("cellulite",),
     "0: smooth standing and lying; 1: smooth standing, dimpling on pinching; 2: dimpling visible "
     "standing; 3: dimpling and bulges standing and lying."),
    ("wrinkle_grade", "Wrinkle severity", "number", "grade", 1, 5, 0, False, False,
     ("mesolift", "skin_rejuvenation", "neck_decolletage", "hands"),
     "Wrinkle severity rating scale on the front and 45° photos: 1 none, 2 mild, 3 moderate, 4 severe, "
     "5 extreme."),
    ("skin_quality", "Skin quality", "number", "grade", 1, 5, 0, True, False,
     FACIAL + ("hands",),
     "Overall skin quality (radiance, texture, evenness): 1 very poor to 5 excellent, under the same light."),
    ("skin_notes", "Skin assessment notes", "text", "", None, None, 0, True, False, FACIAL + ("hands",),
     "What the clinician sees: texture, pores, pigmentation, hydration, in a few words."),
)


def _seed():
    measure = sa.table("measure_definition", *(sa.column(c) for c in (
        "code", "name", "kind", "unit", "decimals", "higher_is_better", "how_to_measure", "every_indication",
        "sort_order", "active")), sa.column("min_value", sa.Numeric(10, 3)), sa.column("max_value", sa.Numeric(10, 3)))
    link = sa.table("measure_indication", sa.column("measure_code"), sa.column("indication_code"))
    op.bulk_insert(measure, [
        {"code": code, "name": name, "kind": kind, "unit": unit, "min_value": low, "max_value": high,
         "decimals": places, "higher_is_better": better, "how_to_measure": how, "every_indication": every,
         "sort_order": (i + 1) * 10, "active": True}
        for i, (code, name, kind, unit, low, high, places, better, every, _, how) in enumerate(MEASURES)
    ])
    op.bulk_insert(link, [{"measure_code": code, "indication_code": indication}
                          for code, *_, indications, _how in MEASURES for indication in indications])


def upgrade():
    op.create_table('measure_definition',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('min_value', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('max_value', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('decimals', sa.SmallInteger(), nullable=False),
    sa.Column('higher_is_better', sa.Boolean(), nullable=False),
    sa.Column('how_to_measure', sa.Text(), nullable=False),
    sa.Column('every_indication', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint("kind IN ('number', 'gais', 'text')", name=op.f('ck_measure_definition_kind')),
    sa.CheckConstraint('decimals BETWEEN 0 AND 3', name=op.f('ck_measure_definition_decimals')),
    sa.CheckConstraint('min_value IS NULL OR max_value IS NULL OR max_value > min_value', name=op.f('ck_measure_definition_range')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_measure_definition'))
    )
    op.create_table('measure_indication',
    sa.Column('measure_code', sa.String(length=40), nullable=False),
    sa.Column('indication_code', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['indication_code'], ['indication.code'], name=op.f('fk_measure_indication_indication_code_indication')),
    sa.ForeignKeyConstraint(['measure_code'], ['measure_definition.code'], name=op.f('fk_measure_indication_measure_code_measure_definition')),
    sa.PrimaryKeyConstraint('measure_code', 'indication_code', name=op.f('pk_measure_indication'))
    )
    op.create_table('outcome_measure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('definition_code', sa.String(length=40), nullable=False),
    sa.Column('timepoint', sa.String(length=12), nullable=False),
    sa.Column('measured_on', sa.Date(), nullable=False),
    sa.Column('value_number', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('value_text', sa.Text(), nullable=True),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('scale', sa.String(length=40), nullable=False),
    sa.Column('site', sa.String(length=200), nullable=False),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('voided_by_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("timepoint IN ('baseline', 'session', 'end', 'maintenance')", name=op.f('ck_outcome_measure_timepoint')),
    sa.CheckConstraint('value_number IS NOT NULL OR value_text IS NOT NULL', name=op.f('ck_outcome_measure_has_value')),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_outcome_measure_course_id_course')),
    sa.ForeignKeyConstraint(['definition_code'], ['measure_definition.code'], name=op.f('fk_outcome_measure_definition_code_measure_definition')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_outcome_measure_patient_id_patient')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_outcome_measure_recorded_by_id_user')),
    sa.ForeignKeyConstraint(['replaces_id'], ['outcome_measure.id'], name=op.f('fk_outcome_measure_replaces_id_outcome_measure')),
    sa.ForeignKeyConstraint(['session_id'], ['treatment_session.id'], name=op.f('fk_outcome_measure_session_id_treatment_session')),
    sa.ForeignKeyConstraint(['voided_by_id'], ['user.id'], name=op.f('fk_outcome_measure_voided_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outcome_measure'))
    )
    with op.batch_alter_table('outcome_measure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outcome_measure_course_id'), ['course_id'], unique=False)
        batch_op.create_index('ix_outcome_measure_course_live', ['course_id', 'voided_at', 'measured_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_outcome_measure_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outcome_measure_session_id'), ['session_id'], unique=False)

    op.create_table('photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('timepoint', sa.String(length=12), nullable=False),
    sa.Column('taken_on', sa.Date(), nullable=False),
    sa.Column('view', sa.String(length=20), nullable=False),
    sa.Column('area_code', sa.String(length=40), nullable=True),
    sa.Column('consent_id', sa.Integer(), nullable=False),
    sa.Column('storage_key', sa.String(length=80), nullable=False),
    sa.Column('thumbnail_key', sa.String(length=80), nullable=False),
    sa.Column('content_type', sa.String(length=20), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('byte_size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('voided_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("content_type IN ('image/jpeg', 'image/png')", name=op.f('ck_photo_content_type')),
    sa.CheckConstraint("timepoint IN ('baseline', 'session', 'end', 'maintenance')", name=op.f('ck_photo_timepoint')),
    sa.CheckConstraint("view IN ('front', 'left_45', 'right_45', 'left_profile', 'right_profile', 'scalp_top', 'scalp_back', 'body_front', 'body_back', 'body_side')", name=op.f('ck_photo_view')),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], name=op.f('fk_photo_area_code_area')),
    sa.ForeignKeyConstraint(['consent_id'], ['consent.id'], name=op.f('fk_photo_consent_id_consent')),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_photo_course_id_course')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_photo_patient_id_patient')),
    sa.ForeignKeyConstraint(['session_id'], ['treatment_session.id'], name=op.f('fk_photo_session_id_treatment_session')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], name=op.f('fk_photo_uploaded_by_id_user')),
    sa.ForeignKeyConstraint(['voided_by_id'], ['user.id'], name=op.f('fk_photo_voided_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_photo')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_photo_storage_key')),
    sa.UniqueConstraint('thumbnail_key', name=op.f('uq_photo_thumbnail_key'))
    )
    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photo_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_session_id'), ['session_id'], unique=False)

    _seed()


def downgrade():
    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photo_session_id'))
        batch_op.drop_index(batch_op.f('ix_photo_patient_id'))
        batch_op.drop_index(batch_op.f('ix_photo_course_id'))

    op.drop_table('photo')
    with op.batch_alter_table('outcome_measure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outcome_measure_session_id'))
        batch_op.drop_index(batch_op.f('ix_outcome_measure_patient_id'))
        batch_op.drop_index('ix_outcome_measure_course_live')
        batch_op.drop_index(batch_op.f('ix_outcome_measure_course_id'))

    op.drop_table('outcome_measure')
    op.drop_table('measure_indication')
    op.drop_table('measure_definition')
