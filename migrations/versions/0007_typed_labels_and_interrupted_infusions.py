"""Bedside: why a bag label was typed, why an infusion was interrupted; a station's day log

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 21:00:00.000000

A hand-typed bag label at the bedside is accepted only with its reason, kept on the attempt; an
infusion stopped before the bag was empty keeps the reason it was stopped. A scan station reads
its own custody events of the day by an index on station and time.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bedside_verifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('typed_reason', sa.Text(), nullable=True))

    with op.batch_alter_table('infusions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('interruption_reason', sa.Text(), nullable=True))

    with op.batch_alter_table('custody_events', schema=None) as batch_op:
        batch_op.create_index('ix_custody_events_station_time', ['station', 'occurred_at'], unique=False)


def downgrade():
    with op.batch_alter_table('custody_events', schema=None) as batch_op:
        batch_op.drop_index('ix_custody_events_station_time')

    with op.batch_alter_table('infusions', schema=None) as batch_op:
        batch_op.drop_column('interruption_reason')

    with op.batch_alter_table('bedside_verifications', schema=None) as batch_op:
        batch_op.drop_column('typed_reason')
