"""Each sending of a patient-identifying label's bytes to be printed, as a record

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 23:00:00.000000

A tie-tag carries the recipient's name, birth date and record number for the bedside check,
and technicians may print it without being shown it: every time its bytes leave the server is
a row (and so an audit entry) naming who printed it and when.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'label_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('label_id', sa.Integer(), nullable=False),
        sa.Column('format', sa.String(length=8), nullable=False),
        sa.Column('delivered_by_id', sa.Integer(), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['delivered_by_id'], ['users.id'], name=op.f('fk_label_deliveries_delivered_by_id_users')),
        sa.ForeignKeyConstraint(['label_id'], ['label_prints.id'], name=op.f('fk_label_deliveries_label_id_label_prints')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_label_deliveries')),
    )
    with op.batch_alter_table('label_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_label_deliveries_label_id'), ['label_id'], unique=False)

    # A regulated table: on PostgreSQL a write that bypasses the application is recorded (0009).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            'CREATE TRIGGER "label_deliveries_direct_change" AFTER INSERT OR UPDATE OR DELETE'
            ' ON "label_deliveries" FOR EACH ROW EXECUTE FUNCTION custody_direct_change(\'id\')'
        )
        op.execute(
            'CREATE TRIGGER "label_deliveries_direct_truncate" AFTER TRUNCATE ON "label_deliveries"'
            " FOR EACH STATEMENT EXECUTE FUNCTION custody_direct_change()"
        )


def downgrade():
    with op.batch_alter_table('label_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_label_deliveries_label_id'))

    op.drop_table('label_deliveries')
