"""An amendment names the injection log it corrects by foreign key (was the text "injection:<id>").

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 03:15:45

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

PREFIX = "injection:"


def upgrade():
    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('injection_id', sa.Integer(), nullable=True))
    # Existing corrections keep what they corrected: "injection:<id>" becomes the id.
    op.execute(
        f"UPDATE amendment SET injection_id = CAST(substr(target, {len(PREFIX) + 1}) AS INTEGER) "
        f"WHERE target LIKE '{PREFIX}%'"
    )
    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_amendment_injection_id'), ['injection_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_amendment_injection_id_injection_log'), 'injection_log',
                                    ['injection_id'], ['id'])
        batch_op.drop_column('target')


def downgrade():
    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target', sa.VARCHAR(length=60), nullable=True))
    op.execute(
        f"UPDATE amendment SET target = CASE WHEN injection_id IS NULL THEN 'session' "
        f"ELSE '{PREFIX}' || CAST(injection_id AS VARCHAR(20)) END"
    )
    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.alter_column('target', existing_type=sa.VARCHAR(length=60), nullable=False)
        batch_op.drop_constraint(batch_op.f('fk_amendment_injection_id_injection_log'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_amendment_injection_id'))
        batch_op.drop_column('injection_id')
