"""Treatment courses and sessions: preparations from component lots, injection logs, signatures, amendments, follow-up tasks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 08:41:58.015178

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('course',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('indication_code', sa.String(length=40), nullable=False),
    sa.Column('areas', sa.String(length=400), nullable=False),
    sa.Column('planned_sessions', sa.Integer(), nullable=False),
    sa.Column('interval_days', sa.Integer(), nullable=False),
    sa.Column('goals', sa.Text(), nullable=False),
    sa.Column('baseline_notes', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('stop_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('planned', 'active', 'completed', 'stopped')", name=op.f('ck_course_status')),
    sa.CheckConstraint('interval_days BETWEEN 1 AND 365', name=op.f('ck_course_interval_days')),
    sa.CheckConstraint('planned_sessions BETWEEN 1 AND 50', name=op.f('ck_course_planned_sessions')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_course_created_by_id_user')),
    sa.ForeignKeyConstraint(['indication_code'], ['indication.code'], name=op.f('fk_course_indication_code_indication')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_course_patient_id_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course'))
    )
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_patient_id'), ['patient_id'], unique=False)

    op.create_table('course_product',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_course_product_course_id_course')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_course_product_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_product')),
    sa.UniqueConstraint('course_id', 'product_id', name='uq_course_product')
    )
    with op.batch_alter_table('course_product', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_product_course_id'), ['course_id'], unique=False)

    op.create_table('treatment_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('performed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('doctor_id', sa.Integer(), nullable=False),
    sa.Column('nurse_id', sa.Integer(), nullable=True),
    sa.Column('skin_preparation', sa.String(length=40), nullable=False),
    sa.Column('anaesthetic_lot_id', sa.Integer(), nullable=True),
    sa.Column('anaesthetic_minutes', sa.Integer(), nullable=True),
    sa.Column('technique', sa.String(length=20), nullable=False),
    sa.Column('needle_gauge', sa.SmallInteger(), nullable=False),
    sa.Column('needle_length_mm', sa.Numeric(precision=4, scale=1), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('acknowledged_warnings', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('voided_by_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('needle_gauge BETWEEN 27 AND 32', name=op.f('ck_treatment_session_needle_gauge')),
    sa.CheckConstraint('needle_length_mm > 0 AND needle_length_mm <= 13', name=op.f('ck_treatment_session_needle_length')),
    sa.ForeignKeyConstraint(['anaesthetic_lot_id'], ['lot.id'], name=op.f('fk_treatment_session_anaesthetic_lot_id_lot')),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_treatment_session_course_id_course')),
    sa.ForeignKeyConstraint(['doctor_id'], ['user.id'], name=op.f('fk_treatment_session_doctor_id_user')),
    sa.ForeignKeyConstraint(['nurse_id'], ['user.id'], name=op.f('fk_treatment_session_nurse_id_user')),
    sa.ForeignKeyConstraint(['voided_by_id'], ['user.id'], name=op.f('fk_treatment_session_voided_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_treatment_session')),
    sa.UniqueConstraint('course_id', 'number', name='uq_treatment_session_number')
    )
    with op.batch_alter_table('treatment_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_treatment_session_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_treatment_session_doctor_id'), ['doctor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_treatment_session_performed_at'), ['performed_at'], unique=False)

    op.create_table('amendment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('target', sa.String(length=60), nullable=False),
    sa.Column('field', sa.String(length=60), nullable=False),
    sa.Column('old_value', sa.Text(), nullable=False),
    sa.Column('new_value', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('amended_by_id', sa.Integer(), nullable=False),
    sa.Column('amended_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['amended_by_id'], ['user.id'], name=op.f('fk_amendment_amended_by_id_user')),
    sa.ForeignKeyConstraint(['session_id'], ['treatment_session.id'], name=op.f('fk_amendment_session_id_treatment_session')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_amendment'))
    )
    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_amendment_session_id'), ['session_id'], unique=False)

    op.create_table('follow_up_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_follow_up_task_patient_id_patient')),
    sa.ForeignKeyConstraint(['session_id'], ['treatment_session.id'], name=op.f('fk_follow_up_task_session_id_treatment_session')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_task'))
    )
    with op.batch_alter_table('follow_up_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_task_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_up_task_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_up_task_session_id'), ['session_id'], unique=False)

    op.create_table('preparation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['treatment_session.id'], name=op.f('fk_preparation_session_id_treatment_session')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_preparation'))
    )
    with op.batch_alter_table('preparation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_preparation_session_id'), ['session_id'], unique=False)

    op.create_table('session_signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('signer_id', sa.Integer(), nullable=False),
    sa.Column('printed_name', sa.String(length=200), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('meaning', sa.String(length=40), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['treatment_session.id'], name=op.f('fk_session_signature_session_id_treatment_session')),
    sa.ForeignKeyConstraint(['signer_id'], ['user.id'], name=op.f('fk_session_signature_signer_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_signature')),
    sa.UniqueConstraint('session_id', name=op.f('uq_session_signature_session_id'))
    )
    op.create_table('injection_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('area_code', sa.String(length=40), nullable=False),
    sa.Column('preparation_id', sa.Integer(), nullable=True),
    sa.Column('technique', sa.String(length=20), nullable=False),
    sa.Column('depth_mm', sa.Numeric(precision=4, scale=1), nullable=True),
    sa.Column('volume_ml', sa.Numeric(precision=6, scale=2), nullable=True),
    sa.Column('points', sa.Integer(), nullable=True),
    sa.Column('needle_gauge', sa.SmallInteger(), nullable=True),
    sa.Column('administered', sa.Boolean(), nullable=False),
    sa.Column('not_administered_reason', sa.Text(), nullable=True),
    sa.CheckConstraint('(administered AND preparation_id IS NOT NULL AND volume_ml > 0 AND points > 0 AND depth_mm BETWEEN 0.5 AND 13) OR (NOT administered AND not_administered_reason IS NOT NULL)', name=op.f('ck_injection_log_administered_or_reason')),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], name=op.f('fk_injection_log_area_code_area')),
    sa.ForeignKeyConstraint(['preparation_id'], ['preparation.id'], name=op.f('fk_injection_log_preparation_id_preparation')),
    sa.ForeignKeyConstraint(['session_id'], ['treatment_session.id'], name=op.f('fk_injection_log_session_id_treatment_session')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_injection_log'))
    )
    with op.batch_alter_table('injection_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_injection_log_preparation_id'), ['preparation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_injection_log_session_id'), ['session_id'], unique=False)

    op.create_table('preparation_component',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('preparation_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('volume_ml', sa.Numeric(precision=7, scale=2), nullable=False),
    sa.CheckConstraint('units > 0', name=op.f('ck_preparation_component_units_positive')),
    sa.CheckConstraint('volume_ml > 0', name=op.f('ck_preparation_component_volume_positive')),
    sa.ForeignKeyConstraint(['lot_id'], ['lot.id'], name=op.f('fk_preparation_component_lot_id_lot')),
    sa.ForeignKeyConstraint(['preparation_id'], ['preparation.id'], name=op.f('fk_preparation_component_preparation_id_preparation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_preparation_component'))
    )
    with op.batch_alter_table('preparation_component', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_preparation_component_lot_id'), ['lot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_preparation_component_preparation_id'), ['preparation_id'], unique=False)



def downgrade():
    with op.batch_alter_table('preparation_component', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_preparation_component_preparation_id'))
        batch_op.drop_index(batch_op.f('ix_preparation_component_lot_id'))

    op.drop_table('preparation_component')
    with op.batch_alter_table('injection_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_injection_log_session_id'))
        batch_op.drop_index(batch_op.f('ix_injection_log_preparation_id'))

    op.drop_table('injection_log')
    op.drop_table('session_signature')
    with op.batch_alter_table('preparation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_preparation_session_id'))

    op.drop_table('preparation')
    with op.batch_alter_table('follow_up_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_up_task_session_id'))
        batch_op.drop_index(batch_op.f('ix_follow_up_task_patient_id'))
        batch_op.drop_index(batch_op.f('ix_follow_up_task_due_on'))

    op.drop_table('follow_up_task')
    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_amendment_session_id'))

    op.drop_table('amendment')
    with op.batch_alter_table('treatment_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_treatment_session_performed_at'))
        batch_op.drop_index(batch_op.f('ix_treatment_session_doctor_id'))
        batch_op.drop_index(batch_op.f('ix_treatment_session_course_id'))

    op.drop_table('treatment_session')
    with op.batch_alter_table('course_product', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_course_product_course_id'))

    op.drop_table('course_product')
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_course_patient_id'))

    op.drop_table('course')
