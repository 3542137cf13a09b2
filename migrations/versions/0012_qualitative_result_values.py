"""A qualitative release test carries its defined results: a pick-list, never free text

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 02:00:00.000000

`qc_spec_items.allowed_values` lists every result a qualitative test can have (lower case,
the expected one among them), e.g. ["negative", "positive", "indeterminate"]; a result is one
of them, stored in that spelling. Numeric tests keep it NULL.

Specification versions written before this revision had only their expected word. Each of
their qualitative tests is given the expected word plus the standard outcomes of a culture or
PCR (negative, positive, indeterminate), so results can still be entered for lots made under
them; a site whose tests report other words drafts a new version listing them for QA to approve.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

STANDARD_OUTCOMES = ("negative", "positive", "indeterminate")


def upgrade():
    with op.batch_alter_table('qc_spec_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('allowed_values', sa.JSON(), nullable=True))

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # Rows of a regulated table change here: mark the transaction (0009's tripwire).
        op.execute("SELECT set_config('custody.actor', 'migration', true)")
    items = sa.table(
        'qc_spec_items',
        sa.column('id', sa.Integer),
        sa.column('kind', sa.String),
        sa.column('expected_text', sa.String),
        sa.column('allowed_values', sa.JSON),
    )
    rows = bind.execute(
        sa.select(items.c.id, items.c.expected_text).where(items.c.kind == 'qualitative')
    ).all()
    for item_id, expected in rows:
        bind.execute(
            items.update()
            .where(items.c.id == item_id)
            .values(allowed_values=_values_for(expected))
        )


def _values_for(expected):
    first = (expected or "").strip().lower()
    values = [first] if first else []
    return values + [v for v in STANDARD_OUTCOMES if v != first]


def downgrade():
    with op.batch_alter_table('qc_spec_items', schema=None) as batch_op:
        batch_op.drop_column('allowed_values')
