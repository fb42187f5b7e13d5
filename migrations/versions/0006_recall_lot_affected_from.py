"""A recalled lot's affected_from: a storage-window recall affects sessions from the window's start only.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 19:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('recall_lot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('affected_from', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('recall_lot', schema=None) as batch_op:
        batch_op.drop_column('affected_from')
