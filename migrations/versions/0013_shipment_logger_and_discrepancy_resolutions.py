"""A shipment names its temperature logger; how each discrepancy was resolved is a record

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 00:00:00.000000

The logger's ID is kept with the shipment so the imported file can be matched to the device
that travelled. A discrepancy's resolution (outcome, who, when, why) is a row of its own, one
per discrepancy, never a state inferred from the bag.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

OUTCOMES = ('found_and_received', 'confirmed_lost', 'returned_to_sender', 'destroyed')


def upgrade():
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('logger_id', sa.String(length=40), nullable=False, server_default='')
        )

    op.create_table(
        'discrepancy_resolutions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('discrepancy_id', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.Enum(*OUTCOMES, name='resolution_outcome', native_enum=False, create_constraint=True), nullable=False),
        sa.Column('reason', sa.String(), nullable=False),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('resolved_by_id', sa.Integer(), nullable=False),
        sa.CheckConstraint('length(reason) > 0', name=op.f('ck_discrepancy_resolutions_reason_required')),
        sa.ForeignKeyConstraint(['discrepancy_id'], ['shipment_discrepancies.id'], name=op.f('fk_discrepancy_resolutions_discrepancy_id_shipment_discrepancies')),
        sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_discrepancy_resolutions_resolved_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_discrepancy_resolutions')),
        sa.UniqueConstraint('discrepancy_id', name=op.f('uq_discrepancy_resolutions_discrepancy_id')),
    )

    # A regulated table: on PostgreSQL a write that bypasses the application is recorded (0009).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            'CREATE TRIGGER "discrepancy_resolutions_direct_change" AFTER INSERT OR UPDATE OR DELETE'
            ' ON "discrepancy_resolutions" FOR EACH ROW EXECUTE FUNCTION custody_direct_change(\'id\')'
        )
        op.execute(
            'CREATE TRIGGER "discrepancy_resolutions_direct_truncate" AFTER TRUNCATE'
            ' ON "discrepancy_resolutions" FOR EACH STATEMENT EXECUTE FUNCTION custody_direct_change()'
        )


def downgrade():
    op.drop_table('discrepancy_resolutions')
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_column('logger_id')
