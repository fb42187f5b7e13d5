"""One-time keys of create forms (SECURITY.md D1): a form sent twice answers with the first result.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 06:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('form_submission',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('endpoint', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('result_url', sa.String(length=500), nullable=True),
    sa.Column('digest', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_form_submission_user_id_user')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_form_submission'))
    )
    with op.batch_alter_table('form_submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_submission_digest'), ['digest'], unique=False)


def downgrade():
    with op.batch_alter_table('form_submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_submission_digest'))
    op.drop_table('form_submission')
