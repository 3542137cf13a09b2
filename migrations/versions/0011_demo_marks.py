"""A database loaded by `custody demo` says so

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 01:00:00.000000

The guided walk of the demo (accounts, scan strings to paste) is served only where this row
exists, which `custody demo` writes when it loads into an empty database.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'demo_marks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scale', sa.Integer(), nullable=False),
        sa.Column('seed', sa.Integer(), nullable=False),
        sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_marks')),
    )
    # A regulated table: on PostgreSQL a write that bypasses the application is recorded (0009).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            'CREATE TRIGGER "demo_marks_direct_change" AFTER INSERT OR UPDATE OR DELETE'
            ' ON "demo_marks" FOR EACH ROW EXECUTE FUNCTION custody_direct_change(\'id\')'
        )
        op.execute(
            'CREATE TRIGGER "demo_marks_direct_truncate" AFTER TRUNCATE ON "demo_marks"'
            " FOR EACH STATEMENT EXECUTE FUNCTION custody_direct_change()"
        )


def downgrade():
    op.drop_table('demo_marks')
