"""Follow-ups and side effects: attempts at a follow-up, side effects tied to the injection logs of
the areas they concern (and so to their lots) with every version kept, a doctor's review of what is
flagged, the patient's own report link; the side-effect catalogue seeded from DESIGN.md.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 05:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# code, name, in the patient's words, expected hours (low, high; none for the rare kinds), rare, sized.
# DESIGN.md "Expected side effects and how long they last" and the source texts.
SIDE_EFFECT_TYPES = [
    ("redness", "Redness", "Redness of the skin", 6, 24, False, True),
    ("swelling", "Swelling", "Swelling or puffiness", 12, 24, False, True),
    ("bruising", "Bruising", "A bruise", 48, 120, False, True),
    ("itching", "Itching or tingling", "Itching or tingling", 1, 2, False, False),
    ("tenderness", "Tenderness or pain", "Tenderness or pain", 24, 48, False, False),
    ("lump", "Lump sensation", "A small lump under the skin", 24, 48, False, True),
    ("nodule", "Nodule", "A hard lump that does not go away", None, None, True, True),
    ("infection", "Infection", "Warmth, pus, fever or spreading redness", None, None, True, False),
    ("allergic_reaction", "Allergic reaction", "Hives, itching all over, or swelling of the lips or face",
     None, None, True, False),
    ("hyperpigmentation", "Hyperpigmentation", "Darker patches of skin", None, None, True, True),
    ("necrosis", "Necrosis", "Skin turning pale, blue-grey or black", None, None, True, True),
    ("other", "Other", "Something else", None, None, True, False),
]


def upgrade():
    op.create_table('side_effect_type',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('plain_name', sa.String(length=160), nullable=False),
    sa.Column('expected_min_hours', sa.Integer(), nullable=True),
    sa.Column('expected_max_hours', sa.Integer(), nullable=True),
    sa.Column('always_flag', sa.Boolean(), nullable=False),
    sa.Column('sized', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint('expected_max_hours IS NULL OR expected_max_hours >= expected_min_hours', name=op.f('ck_side_effect_type_max_hours')),
    sa.CheckConstraint('expected_min_hours IS NULL OR expected_min_hours >= 0', name=op.f('ck_side_effect_type_min_hours')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_side_effect_type'))
    )
    op.create_table('patient_report_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reports', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['treatment_session.id'], name=op.f('fk_patient_report_link_session_id_treatment_session')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_report_link')),
    sa.UniqueConstraint('session_id', name=op.f('uq_patient_report_link_session_id')),
    sa.UniqueConstraint('token', name=op.f('uq_patient_report_link_token'))
    )
    op.create_table('follow_up_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('reached', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('rescheduled_to', sa.Date(), nullable=True),
    sa.CheckConstraint("channel IN ('phone', 'visit', 'message')", name=op.f('ck_follow_up_attempt_channel')),
    sa.ForeignKeyConstraint(['by_id'], ['user.id'], name=op.f('fk_follow_up_attempt_by_id_user')),
    sa.ForeignKeyConstraint(['task_id'], ['follow_up_task.id'], name=op.f('fk_follow_up_attempt_task_id_follow_up_task')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_attempt'))
    )
    with op.batch_alter_table('follow_up_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_attempt_task_id'), ['task_id'], unique=False)

    op.create_table('side_effect',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('follow_up_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('type_code', sa.String(length=40), nullable=False),
    sa.Column('other_text', sa.String(length=200), nullable=False),
    sa.Column('onset_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('size_cm', sa.Numeric(precision=5, scale=1), nullable=True),
    sa.Column('grade', sa.SmallInteger(), nullable=False),
    sa.Column('serious', sa.Boolean(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('action_other', sa.String(length=200), nullable=False),
    sa.Column('causality', sa.String(length=12), nullable=True),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('resolved_on', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('callback_phone', sa.String(length=40), nullable=False),
    sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('voided_by_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("action IN ('none', 'cold_compress', 'antihistamine', 'antibiotic', 'referral', 'hyaluronidase', 'other')", name=op.f('ck_side_effect_action')),
    sa.CheckConstraint("causality IS NULL OR causality IN ('unrelated', 'unlikely', 'possible', 'probable', 'certain')", name=op.f('ck_side_effect_causality')),
    sa.CheckConstraint("outcome IN ('ongoing', 'resolving', 'resolved', 'resolved_with_sequelae')", name=op.f('ck_side_effect_outcome')),
    sa.CheckConstraint("source IN ('follow_up', 'chart', 'next_session', 'patient')", name=op.f('ck_side_effect_source')),
    sa.CheckConstraint('grade BETWEEN 1 AND 4', name=op.f('ck_side_effect_grade')),
    sa.CheckConstraint('size_cm IS NULL OR size_cm > 0', name=op.f('ck_side_effect_size_positive')),
    sa.ForeignKeyConstraint(['follow_up_id'], ['follow_up_task.id'], name=op.f('fk_side_effect_follow_up_id_follow_up_task')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_side_effect_patient_id_patient')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_side_effect_recorded_by_id_user')),
    sa.ForeignKeyConstraint(['session_id'], ['treatment_session.id'], name=op.f('fk_side_effect_session_id_treatment_session')),
    sa.ForeignKeyConstraint(['type_code'], ['side_effect_type.code'], name=op.f('fk_side_effect_type_code_side_effect_type')),
    sa.ForeignKeyConstraint(['voided_by_id'], ['user.id'], name=op.f('fk_side_effect_voided_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_side_effect'))
    )
    with op.batch_alter_table('side_effect', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_side_effect_follow_up_id'), ['follow_up_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_side_effect_overdue_at'), ['overdue_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_side_effect_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_side_effect_session_id'), ['session_id'], unique=False)

    op.create_table('flag_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('side_effect_id', sa.Integer(), nullable=True),
    sa.Column('follow_up_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=False),
    sa.Column('assessment', sa.Text(), nullable=False),
    sa.Column('plan', sa.Text(), nullable=False),
    sa.Column('next_contact_on', sa.Date(), nullable=True),
    sa.Column('next_follow_up_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('(side_effect_id IS NULL) <> (follow_up_id IS NULL)', name=op.f('ck_flag_review_one_subject')),
    sa.ForeignKeyConstraint(['follow_up_id'], ['follow_up_task.id'], name=op.f('fk_flag_review_follow_up_id_follow_up_task')),
    sa.ForeignKeyConstraint(['next_follow_up_id'], ['follow_up_task.id'], name=op.f('fk_flag_review_next_follow_up_id_follow_up_task')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['user.id'], name=op.f('fk_flag_review_reviewed_by_id_user')),
    sa.ForeignKeyConstraint(['side_effect_id'], ['side_effect.id'], name=op.f('fk_flag_review_side_effect_id_side_effect')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flag_review'))
    )
    with op.batch_alter_table('flag_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flag_review_follow_up_id'), ['follow_up_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_flag_review_side_effect_id'), ['side_effect_id'], unique=False)

    op.create_table('side_effect_area',
    sa.Column('side_effect_id', sa.Integer(), nullable=False),
    sa.Column('injection_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['injection_id'], ['injection_log.id'], name=op.f('fk_side_effect_area_injection_id_injection_log')),
    sa.ForeignKeyConstraint(['side_effect_id'], ['side_effect.id'], name=op.f('fk_side_effect_area_side_effect_id_side_effect')),
    sa.PrimaryKeyConstraint('side_effect_id', 'injection_id', name=op.f('pk_side_effect_area'))
    )
    with op.batch_alter_table('side_effect_area', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_side_effect_area_injection_id'), ['injection_id'], unique=False)

    op.create_table('side_effect_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('side_effect_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('type_code', sa.String(length=40), nullable=False),
    sa.Column('other_text', sa.String(length=200), nullable=False),
    sa.Column('onset_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('size_cm', sa.Numeric(precision=5, scale=1), nullable=True),
    sa.Column('grade', sa.SmallInteger(), nullable=False),
    sa.Column('serious', sa.Boolean(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('action_other', sa.String(length=200), nullable=False),
    sa.Column('causality', sa.String(length=12), nullable=True),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('resolved_on', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_side_effect_version_recorded_by_id_user')),
    sa.ForeignKeyConstraint(['side_effect_id'], ['side_effect.id'], name=op.f('fk_side_effect_version_side_effect_id_side_effect')),
    sa.ForeignKeyConstraint(['type_code'], ['side_effect_type.code'], name=op.f('fk_side_effect_version_type_code_side_effect_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_side_effect_version')),
    sa.UniqueConstraint('side_effect_id', 'number', name='uq_side_effect_version_number')
    )
    with op.batch_alter_table('side_effect_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_side_effect_version_side_effect_id'), ['side_effect_id'], unique=False)

    with op.batch_alter_table('follow_up_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=20), server_default='scheduled', nullable=False))
        batch_op.add_column(sa.Column('urgent', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('created_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('patient_report', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('no_side_effects', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
        batch_op.create_index('ix_follow_up_task_open', ['status', 'due_on', 'id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_follow_up_task_closed_by_id_user'), 'user', ['closed_by_id'], ['id'])
        batch_op.create_check_constraint(
            batch_op.f('ck_follow_up_task_status'), "status IN ('due', 'done', 'not_reached', 'cancelled')")
        batch_op.create_check_constraint(
            batch_op.f('ck_follow_up_task_reason'), "reason IN ('scheduled', 'patient_report', 'doctor_review')")
    # Existing follow-ups start at version 1; new rows get theirs from the application.
    with op.batch_alter_table('follow_up_task', schema=None) as batch_op:
        batch_op.alter_column('version', existing_type=sa.Integer(), server_default=None)

    op.bulk_insert(sa.table(
        'side_effect_type', sa.column('code', sa.String), sa.column('name', sa.String),
        sa.column('plain_name', sa.String), sa.column('expected_min_hours', sa.Integer),
        sa.column('expected_max_hours', sa.Integer), sa.column('always_flag', sa.Boolean),
        sa.column('sized', sa.Boolean), sa.column('sort_order', sa.Integer), sa.column('active', sa.Boolean),
    ), [
        {"code": code, "name": name, "plain_name": plain, "expected_min_hours": low, "expected_max_hours": high,
         "always_flag": rare, "sized": sized, "sort_order": (i + 1) * 10, "active": True}
        for i, (code, name, plain, low, high, rare, sized) in enumerate(SIDE_EFFECT_TYPES)
    ])



def downgrade():
    with op.batch_alter_table('follow_up_task', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_follow_up_task_reason'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_follow_up_task_status'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_follow_up_task_closed_by_id_user'), type_='foreignkey')
        batch_op.drop_index('ix_follow_up_task_open')
        batch_op.drop_column('version')
        batch_op.drop_column('no_side_effects')
        batch_op.drop_column('patient_report')
        batch_op.drop_column('closed_by_id')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('created_at')
        batch_op.drop_column('urgent')
        batch_op.drop_column('reason')

    with op.batch_alter_table('side_effect_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_side_effect_version_side_effect_id'))

    op.drop_table('side_effect_version')
    with op.batch_alter_table('side_effect_area', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_side_effect_area_injection_id'))

    op.drop_table('side_effect_area')
    with op.batch_alter_table('flag_review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flag_review_side_effect_id'))
        batch_op.drop_index(batch_op.f('ix_flag_review_follow_up_id'))

    op.drop_table('flag_review')
    with op.batch_alter_table('side_effect', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_side_effect_session_id'))
        batch_op.drop_index(batch_op.f('ix_side_effect_patient_id'))
        batch_op.drop_index(batch_op.f('ix_side_effect_overdue_at'))
        batch_op.drop_index(batch_op.f('ix_side_effect_follow_up_id'))

    op.drop_table('side_effect')
    with op.batch_alter_table('follow_up_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_up_attempt_task_id'))

    op.drop_table('follow_up_attempt')
    op.drop_table('patient_report_link')
    op.drop_table('side_effect_type')
