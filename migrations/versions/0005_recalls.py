"""Recalls: lots, the worklist of affected patients and their contact attempts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 09:41:07.860219

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('recall',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('reference', sa.String(length=80), nullable=False),
    sa.Column('notice_date', sa.Date(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('window_start', sa.Date(), nullable=True),
    sa.Column('window_end', sa.Date(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user.id'], name=op.f('fk_recall_closed_by_id_user')),
    sa.ForeignKeyConstraint(['location_id'], ['storage_location.id'], name=op.f('fk_recall_location_id_storage_location')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['user.id'], name=op.f('fk_recall_opened_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recall'))
    )
    op.create_table('recall_lot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recall_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['lot_id'], ['lot.id'], name=op.f('fk_recall_lot_lot_id_lot')),
    sa.ForeignKeyConstraint(['recall_id'], ['recall.id'], name=op.f('fk_recall_lot_recall_id_recall')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recall_lot')),
    sa.UniqueConstraint('lot_id', name=op.f('uq_recall_lot_lot_id'))
    )
    with op.batch_alter_table('recall_lot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recall_lot_recall_id'), ['recall_id'], unique=False)

    op.create_table('recall_patient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recall_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('outcome_note', sa.Text(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('to_contact', 'contacted', 'follow_up_booked', 'no_action_needed', 'unreachable')", name=op.f('ck_recall_patient_status')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user.id'], name=op.f('fk_recall_patient_closed_by_id_user')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_recall_patient_patient_id_patient')),
    sa.ForeignKeyConstraint(['recall_id'], ['recall.id'], name=op.f('fk_recall_patient_recall_id_recall')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recall_patient')),
    sa.UniqueConstraint('recall_id', 'patient_id', name='uq_recall_patient')
    )
    with op.batch_alter_table('recall_patient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recall_patient_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recall_patient_recall_id'), ['recall_id'], unique=False)

    op.create_table('recall_contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('row_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('reached', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('contacted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('contacted_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['contacted_by_id'], ['user.id'], name=op.f('fk_recall_contact_contacted_by_id_user')),
    sa.ForeignKeyConstraint(['row_id'], ['recall_patient.id'], name=op.f('fk_recall_contact_row_id_recall_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recall_contact'))
    )
    with op.batch_alter_table('recall_contact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recall_contact_row_id'), ['row_id'], unique=False)



def downgrade():
    with op.batch_alter_table('recall_contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recall_contact_row_id'))

    op.drop_table('recall_contact')
    with op.batch_alter_table('recall_patient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recall_patient_recall_id'))
        batch_op.drop_index(batch_op.f('ix_recall_patient_patient_id'))

    op.drop_table('recall_patient')
    with op.batch_alter_table('recall_lot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recall_lot_recall_id'))

    op.drop_table('recall_lot')
    op.drop_table('recall')
