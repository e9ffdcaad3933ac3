"""assessment

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 09:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

IMMUTABLE = ("assessments", "assessment_answers")


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.String(length=40), nullable=False),
        sa.Column("instrument_version", sa.String(length=20), nullable=False),
        sa.Column("instrument_digest", sa.String(length=64), nullable=False),
        sa.Column("assessor_user_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("stage", sa.String(length=24), nullable=False),
        sa.Column("concluded_level", sa.String(length=12), nullable=False),
        sa.Column("conclusion_reason", sa.String(length=2000), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assessor_user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assessments_case_created", ["case_id", "created_at"], unique=False
        )

    op.create_table(
        "assessment_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=80), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("evidence_kind", sa.String(length=20), nullable=False),
        sa.Column("evidence_report_id", sa.Integer(), nullable=True),
        sa.Column("evidence_note_id", sa.Integer(), nullable=True),
        sa.Column("evidence_field", sa.String(length=60), nullable=False),
        sa.Column("evidence_detail", sa.String(length=500), nullable=False),
        sa.Column("prefilled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessments.id"]),
        sa.ForeignKeyConstraint(["evidence_note_id"], ["case_notes.id"]),
        sa.ForeignKeyConstraint(["evidence_report_id"], ["reports.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("assessment_answers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assessment_answers_item", ["assessment_id", "item_id"], unique=True
        )
    _make_immutable()


# An assessment is never edited or deleted: a reassessment is a new row. The database
# itself refuses, on both engines, like the audit log.
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION assessments_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is immutable: % refused', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def _make_immutable() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for table in IMMUTABLE:
            op.execute(
                f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION assessments_immutable()"
            )
        return
    for table in IMMUTABLE:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is immutable: {verb} refused'); END"
            )


def _drop_immutable() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in IMMUTABLE:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
        op.execute("DROP FUNCTION IF EXISTS assessments_immutable()")
        return
    for table in IMMUTABLE:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")


def downgrade() -> None:
    _drop_immutable()
    with op.batch_alter_table("assessment_answers", schema=None) as batch_op:
        batch_op.drop_index("ix_assessment_answers_item")
    op.drop_table("assessment_answers")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index("ix_assessments_case_created")
    op.drop_table("assessments")
