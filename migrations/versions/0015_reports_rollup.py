"""The clinic reports: daily and monthly figures rolled up from signed sessions and their side effects, and the
vigilance reports sent for serious side effects.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 07:54:28.857339

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_daily',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('scope', sa.String(length=24), nullable=False),
    sa.Column('dimension', sa.String(length=12), nullable=False),
    sa.Column('item', sa.String(length=40), nullable=False),
    sa.Column('indication_code', sa.String(length=40), nullable=False),
    sa.Column('doctor_id', sa.Integer(), nullable=False),
    sa.Column('sessions', sa.Integer(), nullable=False),
    sa.Column('with_side_effect', sa.Integer(), nullable=False),
    sa.Column('grade_1', sa.Integer(), nullable=False),
    sa.Column('grade_2', sa.Integer(), nullable=False),
    sa.Column('grade_3', sa.Integer(), nullable=False),
    sa.Column('grade_4', sa.Integer(), nullable=False),
    sa.Column('serious', sa.Integer(), nullable=False),
    sa.Column('signal', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'scope', 'dimension', 'item', 'indication_code', 'doctor_id', name=op.f('pk_report_daily'))
    )
    with op.batch_alter_table('report_daily', schema=None) as batch_op:
        batch_op.create_index('ix_report_daily_read', ['scope', 'doctor_id', 'indication_code', 'dimension', 'day'], unique=False)
        batch_op.create_index('ix_report_daily_day', ['day'], unique=False)
        batch_op.create_index('ix_report_daily_slice', ['doctor_id', 'indication_code', 'day'], unique=False)

    op.create_table('report_monthly',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('scope', sa.String(length=24), nullable=False),
    sa.Column('dimension', sa.String(length=12), nullable=False),
    sa.Column('item', sa.String(length=40), nullable=False),
    sa.Column('indication_code', sa.String(length=40), nullable=False),
    sa.Column('doctor_id', sa.Integer(), nullable=False),
    sa.Column('sessions', sa.Integer(), nullable=False),
    sa.Column('with_side_effect', sa.Integer(), nullable=False),
    sa.Column('grade_1', sa.Integer(), nullable=False),
    sa.Column('grade_2', sa.Integer(), nullable=False),
    sa.Column('grade_3', sa.Integer(), nullable=False),
    sa.Column('grade_4', sa.Integer(), nullable=False),
    sa.Column('serious', sa.Integer(), nullable=False),
    sa.Column('signal', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'scope', 'dimension', 'item', 'indication_code', 'doctor_id', name=op.f('pk_report_monthly'))
    )
    with op.batch_alter_table('report_monthly', schema=None) as batch_op:
        batch_op.create_index('ix_report_monthly_read', ['scope', 'doctor_id', 'indication_code', 'dimension', 'month'], unique=False)
        batch_op.create_index('ix_report_monthly_slice', ['doctor_id', 'indication_code', 'month'], unique=False)

    op.create_table('vigilance_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('side_effect_id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=20), nullable=False),
    sa.Column('recipient_name', sa.String(length=200), nullable=False),
    sa.Column('reporter_contact', sa.String(length=200), nullable=False),
    sa.Column('narrative', sa.Text(), nullable=False),
    sa.Column('further_information', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_to', sa.String(length=200), nullable=True),
    sa.Column('sent_reference', sa.String(length=120), nullable=True),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("recipient IN ('manufacturer', 'authority')", name=op.f('ck_vigilance_report_recipient')),
    sa.ForeignKeyConstraint(['sent_by_id'], ['user.id'], name=op.f('fk_vigilance_report_sent_by_id_user')),
    sa.ForeignKeyConstraint(['side_effect_id'], ['side_effect.id'], name=op.f('fk_vigilance_report_side_effect_id_side_effect')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_vigilance_report_updated_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vigilance_report')),
    sa.UniqueConstraint('side_effect_id', name=op.f('uq_vigilance_report_side_effect_id'))
    )


def downgrade():
    op.drop_table('vigilance_report')
    with op.batch_alter_table('report_monthly', schema=None) as batch_op:
        batch_op.drop_index('ix_report_monthly_slice')
        batch_op.drop_index('ix_report_monthly_read')

    op.drop_table('report_monthly')
    with op.batch_alter_table('report_daily', schema=None) as batch_op:
        batch_op.drop_index('ix_report_daily_slice')
        batch_op.drop_index('ix_report_daily_day')
        batch_op.drop_index('ix_report_daily_read')

    op.drop_table('report_daily')
