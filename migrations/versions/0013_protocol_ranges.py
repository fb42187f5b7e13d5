"""Protocol ranges at the chair: the usual depth, needle and volume a point, per indication and area where the
source texts say, shown as hints and warned about (acknowledged) when a session falls outside them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# DESIGN.md "Protocol ranges at the chair" and the source texts (shared/domain): depth 1–2 mm for skin
# rejuvenation (mesoglow), 2–4 mm for mesolift, 1–4 mm otherwise; needles 30–32G; 0.01–0.05 ml a point.
SEEDS = (
    ("depth_mm", None, None, "1", "4", "Source texts: a depth of 1–4 mm, depending on the area and concern."),
    ("depth_mm", "skin_rejuvenation", None, "1", "2", "DESIGN.md: superficial, 1–2 mm for skin rejuvenation."),
    ("depth_mm", "mesolift", None, "2", "4", "DESIGN.md: 2–4 mm for mesolift."),
    ("needle_gauge", None, None, "30", "32", "Source texts: very fine needles, 30–32G."),
    ("bolus_ml", None, None, "0.01", "0.05", "Source texts: a tiny bolus of 0.01–0.05 ml a point."),
)


def upgrade():
    protocol_range = op.create_table('protocol_range',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('measure', sa.String(length=20), nullable=False),
    sa.Column('indication_code', sa.String(length=40), nullable=True),
    sa.Column('area_code', sa.String(length=40), nullable=True),
    sa.Column('low', sa.Numeric(precision=8, scale=3), nullable=False),
    sa.Column('high', sa.Numeric(precision=8, scale=3), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint("measure IN ('depth_mm', 'needle_gauge', 'bolus_ml')", name=op.f('ck_protocol_range_measure')),
    sa.CheckConstraint('low <= high', name=op.f('ck_protocol_range_low_high')),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], name=op.f('fk_protocol_range_area_code_area')),
    sa.ForeignKeyConstraint(['indication_code'], ['indication.code'], name=op.f('fk_protocol_range_indication_code_indication')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protocol_range')),
    sa.UniqueConstraint('measure', 'indication_code', 'area_code', name='uq_protocol_range_scope')
    )
    indications = {row[0] for row in op.get_bind().execute(sa.text("SELECT code FROM indication"))}
    op.bulk_insert(protocol_range, [
        {"measure": measure, "indication_code": indication, "area_code": area, "low": low, "high": high,
         "source": source, "active": True}
        for measure, indication, area, low, high, source in SEEDS
        if indication is None or indication in indications
    ])


def downgrade():
    op.drop_table('protocol_range')
