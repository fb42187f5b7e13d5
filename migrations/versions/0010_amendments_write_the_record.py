"""Amendments write the record: the columns of a signed session hold the current values, so every figure
built on them (traces, stock, recalls, reports) follows a correction; the value as signed stays as the
amendment's old value and the signature is checked against it. An amendment may now correct a lot use
(preparation component): its lot, units and drawn volume.

Existing amendments are applied here: each amended field takes its latest amendment's new value.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 06:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

SESSION_FIELDS = ("notes", "skin_preparation", "technique", "needle_gauge", "needle_length_mm",
                  "anaesthetic_minutes")
INJECTION_FIELDS = ("depth_mm", "volume_ml", "points", "technique")
DECIMALS = ("needle_length_mm", "depth_mm", "volume_ml")
WHOLE = ("needle_gauge", "points", "anaesthetic_minutes")


def _assignment(field):
    """The SET clause for a value kept as text in the amendment ("" is none, except for notes)."""
    kind = "NUMERIC" if field in DECIMALS else "INTEGER" if field in WHOLE else None
    return f"{field} = CAST(:value AS {kind})" if kind else f"{field} = :value"


def _apply(conn, undo):
    """Each amended field takes its latest amendment's new value (or, undoing, its first one's old value)."""
    rows = conn.execute(sa.text(
        "SELECT session_id, injection_id, field, old_value, new_value FROM amendment ORDER BY id")).all()
    values = {}
    for session_id, injection_id, field, old, new in rows:
        key = ("injection_log", injection_id, field) if injection_id is not None else (
            "treatment_session", session_id, field)
        allowed = INJECTION_FIELDS if injection_id is not None else SESSION_FIELDS
        if field not in allowed:
            continue
        if undo:
            values.setdefault(key, old)
        else:
            values[key] = new
    for (table, row_id, field), text in values.items():
        value = None if text == "" and field != "notes" else text
        conn.execute(sa.text(f"UPDATE {table} SET {_assignment(field)} WHERE id = :id"),
                     {"value": value, "id": row_id})


def upgrade():
    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('component_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_amendment_component_id'), ['component_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_amendment_component_id_preparation_component'),
                                    'preparation_component', ['component_id'], ['id'])
    _apply(op.get_bind(), undo=False)


def downgrade():
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM amendment WHERE component_id IS NOT NULL "
                            "OR field IN ('area_code')")).scalar():
        raise RuntimeError("amendments of lots or areas exist: 0009 cannot hold them; restore a backup instead")
    _apply(conn, undo=True)
    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_amendment_component_id_preparation_component'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_amendment_component_id'))
        batch_op.drop_column('component_id')
