"""A lot's units on hand, counted again from its receipts, discards and uses after every flush that touches
them: the session form lists a chain's usable lots by it instead of summing every use of every lot. Filled
here from the rows as they stand.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 03:25:32.553174

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

COUNT_FROM_THE_ROWS = """
UPDATE lot SET units_on_hand =
    COALESCE((SELECT SUM(r.quantity) FROM lot_receipt r WHERE r.lot_id = lot.id AND r.voided_at IS NULL), 0)
  - COALESCE((SELECT SUM(d.quantity) FROM lot_discard d WHERE d.lot_id = lot.id AND d.voided_at IS NULL), 0)
  - COALESCE((SELECT SUM(c.units) FROM preparation_component c
              JOIN preparation p ON p.id = c.preparation_id
              JOIN treatment_session s ON s.id = p.session_id
              WHERE c.lot_id = lot.id AND s.voided_at IS NULL), 0)
"""


def upgrade():
    with op.batch_alter_table('lot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('units_on_hand', sa.Integer(), server_default='0', nullable=False))
    op.execute(COUNT_FROM_THE_ROWS)


def downgrade():
    with op.batch_alter_table('lot', schema=None) as batch_op:
        batch_op.drop_column('units_on_hand')
