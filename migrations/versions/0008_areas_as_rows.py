"""Areas and indications as rows keyed to the catalogue (were space-separated codes): a course's
target areas, a screening's planned areas, and the indications and areas a rule is limited to.

Existing codes are carried over row by row and back again on downgrade. A code the catalogue does
not hold stops the upgrade (it would otherwise be dropped without a word).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 05:07:19

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# (owner table, its text column, link table, owner key, code column, catalogue table, old column width)
CARRIED = (
    ("course", "areas", "course_area", "course_id", "area_code", "area", 400),
    ("screening", "areas", "screening_area", "screening_id", "area_code", "area", 500),
    ("contraindication_rule", "indications", "contraindication_rule_indication", "rule_id", "indication_code",
     "indication", 500),
    ("contraindication_rule", "areas", "contraindication_rule_area", "rule_id", "area_code", "area", 500),
)


def _link_table(owner, link, key, code_column, catalogue):
    return op.create_table(
        link,
        sa.Column(key, sa.Integer(), nullable=False),
        sa.Column(code_column, sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint([code_column], [f'{catalogue}.code'],
                                name=op.f(f'fk_{link}_{code_column}_{catalogue}')),
        sa.ForeignKeyConstraint([key], [f'{owner}.id'], name=op.f(f'fk_{link}_{key}_{owner}')),
        sa.PrimaryKeyConstraint(key, code_column, name=op.f(f'pk_{link}')),
    )


def upgrade():
    conn = op.get_bind()
    for owner, column, link, key, code_column, catalogue, _ in CARRIED:
        table = _link_table(owner, link, key, code_column, catalogue)
        known = set(conn.execute(sa.text(f"SELECT code FROM {catalogue}")).scalars())
        rows = []
        for owner_id, text in conn.execute(sa.text(f"SELECT id, {column} FROM {owner} ORDER BY id")):
            codes = sorted(set((text or "").split()))
            unknown = [code for code in codes if code not in known]
            if unknown:
                raise RuntimeError(f"{owner} {owner_id}: {column} {', '.join(unknown)} not in the {catalogue} "
                                   f"catalogue; add them to it, then upgrade again")
            rows.extend({key: owner_id, code_column: code} for code in codes)
        if rows:
            op.bulk_insert(table, rows)
    for owner, column, *_ in CARRIED:
        with op.batch_alter_table(owner, schema=None) as batch_op:
            batch_op.drop_column(column)


def downgrade():
    conn = op.get_bind()
    for owner, column, link, key, code_column, _, width in reversed(CARRIED):
        with op.batch_alter_table(owner, schema=None) as batch_op:
            batch_op.add_column(sa.Column(column, sa.VARCHAR(length=width), nullable=True))
        codes = {}
        for owner_id, code in conn.execute(sa.text(f"SELECT {key}, {code_column} FROM {link} ORDER BY {key}, {code_column}")):
            codes.setdefault(owner_id, []).append(code)
        conn.execute(sa.text(f"UPDATE {owner} SET {column} = ''"))
        for owner_id, owned in codes.items():
            conn.execute(sa.text(f"UPDATE {owner} SET {column} = :text WHERE id = :id"),
                         {"text": " ".join(owned), "id": owner_id})
        with op.batch_alter_table(owner, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.VARCHAR(length=width), nullable=False)
        op.drop_table(link)
