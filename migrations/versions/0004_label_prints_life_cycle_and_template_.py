"""Label prints with their life cycle, and QA's approvals of label template versions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 01:42:53.720122

label_prints was created in 0001 and never written to (no code printed labels before this
revision), so it is dropped and made again in its new shape rather than altered column by column.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

LIVE = sa.text("status <> 'voided'")


def upgrade():
    op.create_table(
        "label_template_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("approved_by_id", sa.Integer(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["approved_by_id"],
            ["users.id"],
            name=op.f("fk_label_template_approvals_approved_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["signature_id"],
            ["signatures.id"],
            name=op.f("fk_label_template_approvals_signature_id_signatures"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_template_approvals")),
        sa.UniqueConstraint("purpose", "version", name="uq_label_template_version"),
    )
    with op.batch_alter_table("label_prints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_label_prints_bag_id"))
    op.drop_table("label_prints")
    _create_label_prints()


def _create_label_prints():
    op.create_table(
        "label_prints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("template_sha256", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column("bag_id", sa.Integer(), nullable=True),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "issued",
                "applied",
                "voided",
                name="label_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("zpl", sa.LargeBinary(), nullable=False),
        sa.Column("zpl_sha256", sa.String(length=64), nullable=False),
        sa.Column("printed_by_id", sa.Integer(), nullable=False),
        sa.Column("printed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_by_id", sa.Integer(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_by_id", sa.Integer(), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("action IN ('print', 'reprint')", name=op.f("ck_label_prints_action")),
        sa.ForeignKeyConstraint(["bag_id"], ["bags.id"], name=op.f("fk_label_prints_bag_id_bags")),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_label_prints_lot_id_lots")),
        sa.ForeignKeyConstraint(
            ["replaces_id"], ["label_prints.id"], name=op.f("fk_label_prints_replaces_id_label_prints")
        ),
        sa.ForeignKeyConstraint(
            ["printed_by_id"], ["users.id"], name=op.f("fk_label_prints_printed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["applied_by_id"], ["users.id"], name=op.f("fk_label_prints_applied_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["voided_by_id"], ["users.id"], name=op.f("fk_label_prints_voided_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_prints")),
    )
    with op.batch_alter_table("label_prints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_prints_bag_id"), ["bag_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_label_prints_lot_id"), ["lot_id"], unique=False)
        batch_op.create_index("ix_label_prints_subject", ["subject_type", "subject_key"])
        batch_op.create_index(
            "uq_label_prints_live",
            ["subject_type", "subject_key", "purpose"],
            unique=True,
            sqlite_where=LIVE,
            postgresql_where=LIVE,
        )


def downgrade():
    with op.batch_alter_table("label_prints", schema=None) as batch_op:
        batch_op.drop_index("uq_label_prints_live")
        batch_op.drop_index("ix_label_prints_subject")
        batch_op.drop_index(batch_op.f("ix_label_prints_lot_id"))
        batch_op.drop_index(batch_op.f("ix_label_prints_bag_id"))
    op.drop_table("label_prints")
    op.drop_table("label_template_approvals")
    op.create_table(
        "label_prints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bag_id", sa.Integer(), nullable=True),
        sa.Column("template_name", sa.String(length=64), nullable=False),
        sa.Column("template_version", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("printed_by_id", sa.Integer(), nullable=False),
        sa.Column("printed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "action IN ('print', 'reprint', 'void')", name=op.f("ck_label_prints_action")
        ),
        sa.ForeignKeyConstraint(["bag_id"], ["bags.id"], name=op.f("fk_label_prints_bag_id_bags")),
        sa.ForeignKeyConstraint(
            ["printed_by_id"], ["users.id"], name=op.f("fk_label_prints_printed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_prints")),
    )
    with op.batch_alter_table("label_prints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_prints_bag_id"), ["bag_id"], unique=False)
