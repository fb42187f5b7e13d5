"""Product catalogue, storage locations and the lot register; the default ingredient catalogue.

The ingredient families of DESIGN.md are seeded here so that every clinic,
production included, starts with them; admins extend the list in the app.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 04:18:39.636302

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


DEFAULT_INGREDIENTS = (
    ("Non-cross-linked hyaluronic acid", "hyaluronic acid"),
    ("Vitamin C", "vitamin"),
    ("Vitamin B5 (panthenol)", "vitamin"),
    ("Vitamin B6", "vitamin"),
    ("Vitamin B12", "vitamin"),
    ("Vitamin A", "vitamin"),
    ("Vitamin E", "vitamin"),
    ("Vitamin K", "vitamin"),
    ("Biotin", "vitamin"),
    ("Zinc", "mineral"),
    ("Selenium", "mineral"),
    ("Magnesium", "mineral"),
    ("Copper", "mineral"),
    ("Amino acids", "amino acid"),
    ("Coenzymes", "coenzyme"),
    ("Antioxidants", "antioxidant"),
    ("Glutathione", "antioxidant"),
    ("DMAE", "other"),
    ("Organic silicon", "mineral"),
    ("Peptides", "peptide"),
    ("Growth factors", "growth factor"),
    ("Polynucleotides (PDRN)", "polynucleotide"),
    ("Exosomes", "other"),
    ("Minoxidil", "hair"),
    ("Phosphatidylcholine", "lipolytic"),
    ("Deoxycholate", "lipolytic"),
    ("Lidocaine", "anaesthetic"),
    ("Prilocaine", "anaesthetic"),
)


def upgrade():

    op.create_table('ingredient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('family', sa.String(length=60), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingredient')),
    sa.UniqueConstraint('name', name=op.f('uq_ingredient_name'))
    )
    op.create_table('product',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('manufacturer', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('gtin', sa.String(length=14), nullable=True),
    sa.Column('unit', sa.String(length=30), nullable=False),
    sa.Column('volume_ml', sa.Numeric(precision=7, scale=2), nullable=False),
    sa.Column('storage_conditions', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('hyaluronic_acid', 'vitamin_cocktail', 'peptide', 'polynucleotide', 'lipolytic', 'anaesthetic_cream', 'other')", name=op.f('ck_product_kind')),
    sa.CheckConstraint("unit IN ('vial', 'ampoule', 'prefilled_syringe', 'tube')", name=op.f('ck_product_unit')),
    sa.CheckConstraint('volume_ml > 0', name=op.f('ck_product_volume_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product')),
    sa.UniqueConstraint('gtin', name=op.f('uq_product_gtin'))
    )
    op.create_table('storage_location',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('fridge', 'cabinet', 'freezer', 'other')", name=op.f('ck_storage_location_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_storage_location')),
    sa.UniqueConstraint('name', name=op.f('uq_storage_location_name'))
    )
    op.create_table('lot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('lot_number', sa.String(length=20), nullable=False),
    sa.Column('expiry_date', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recalled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_lot_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lot')),
    sa.UniqueConstraint('product_id', 'lot_number', name='uq_lot_product_lot_number')
    )
    with op.batch_alter_table('lot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lot_expiry_date'), ['expiry_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_lot_lot_number'), ['lot_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_lot_product_id'), ['product_id'], unique=False)

    op.create_table('product_ingredient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('ingredient_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['ingredient_id'], ['ingredient.id'], name=op.f('fk_product_ingredient_ingredient_id_ingredient')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_product_ingredient_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_ingredient')),
    sa.UniqueConstraint('product_id', 'ingredient_id', name='uq_product_ingredient_pair')
    )
    with op.batch_alter_table('product_ingredient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_ingredient_ingredient_id'), ['ingredient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_product_ingredient_product_id'), ['product_id'], unique=False)

    op.create_table('lot_discard',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=30), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('discarded_on', sa.Date(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('voided_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("reason IN ('expired', 'broken', 'contaminated', 'temperature_excursion', 'other')", name=op.f('ck_lot_discard_reason')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_lot_discard_quantity_positive')),
    sa.ForeignKeyConstraint(['lot_id'], ['lot.id'], name=op.f('fk_lot_discard_lot_id_lot')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_lot_discard_recorded_by_id_user')),
    sa.ForeignKeyConstraint(['voided_by_id'], ['user.id'], name=op.f('fk_lot_discard_voided_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lot_discard'))
    )
    with op.batch_alter_table('lot_discard', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lot_discard_lot_id'), ['lot_id'], unique=False)

    op.create_table('lot_hold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('placed_by_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.Column('release_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['lot_id'], ['lot.id'], name=op.f('fk_lot_hold_lot_id_lot')),
    sa.ForeignKeyConstraint(['placed_by_id'], ['user.id'], name=op.f('fk_lot_hold_placed_by_id_user')),
    sa.ForeignKeyConstraint(['released_by_id'], ['user.id'], name=op.f('fk_lot_hold_released_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lot_hold'))
    )
    with op.batch_alter_table('lot_hold', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lot_hold_lot_id'), ['lot_id'], unique=False)

    op.create_table('lot_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('supplier', sa.String(length=200), nullable=False),
    sa.Column('storage_location_id', sa.Integer(), nullable=False),
    sa.Column('received_by_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=20), nullable=True),
    sa.Column('scanned_text', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('voided_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_lot_receipt_quantity_positive')),
    sa.ForeignKeyConstraint(['lot_id'], ['lot.id'], name=op.f('fk_lot_receipt_lot_id_lot')),
    sa.ForeignKeyConstraint(['received_by_id'], ['user.id'], name=op.f('fk_lot_receipt_received_by_id_user')),
    sa.ForeignKeyConstraint(['storage_location_id'], ['storage_location.id'], name=op.f('fk_lot_receipt_storage_location_id_storage_location')),
    sa.ForeignKeyConstraint(['voided_by_id'], ['user.id'], name=op.f('fk_lot_receipt_voided_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lot_receipt'))
    )
    with op.batch_alter_table('lot_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lot_receipt_lot_id'), ['lot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lot_receipt_received_on'), ['received_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_lot_receipt_storage_location_id'), ['storage_location_id'], unique=False)


    ingredient = sa.table("ingredient", sa.column("name", sa.String), sa.column("family", sa.String))
    op.bulk_insert(ingredient, [{"name": n, "family": f} for n, f in DEFAULT_INGREDIENTS])


def downgrade():

    with op.batch_alter_table('lot_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lot_receipt_storage_location_id'))
        batch_op.drop_index(batch_op.f('ix_lot_receipt_received_on'))
        batch_op.drop_index(batch_op.f('ix_lot_receipt_lot_id'))

    op.drop_table('lot_receipt')
    with op.batch_alter_table('lot_hold', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lot_hold_lot_id'))

    op.drop_table('lot_hold')
    with op.batch_alter_table('lot_discard', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lot_discard_lot_id'))

    op.drop_table('lot_discard')
    with op.batch_alter_table('product_ingredient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_ingredient_product_id'))
        batch_op.drop_index(batch_op.f('ix_product_ingredient_ingredient_id'))

    op.drop_table('product_ingredient')
    with op.batch_alter_table('lot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lot_product_id'))
        batch_op.drop_index(batch_op.f('ix_lot_lot_number'))
        batch_op.drop_index(batch_op.f('ix_lot_expiry_date'))

    op.drop_table('lot')
    op.drop_table('storage_location')
    op.drop_table('product')
    op.drop_table('ingredient')

