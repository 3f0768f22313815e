"""suppression list and erasure receipts

Revision ID: scoring_0005
Revises: scoring_0004
Create Date: 2026-11-25 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "scoring_0005"
down_revision: str | None = "scoring_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONB = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("subject_hash", sa.Text(), nullable=False),
        sa.Column(
            "erased_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("subject_hash", name=op.f("pk_suppressions")),
        schema="scoring",
    )
    op.create_table(
        "erasure_receipts",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("subject_hash", sa.Text(), nullable=False),
        sa.Column("lead_ids", JSONB, nullable=False),
        sa.Column("removed", JSONB, nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_receipts")),
        schema="scoring",
    )
    op.create_index(
        "ix_inbound_events_occurred_at", "inbound_events", ["occurred_at"], schema="scoring"
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_events_occurred_at", table_name="inbound_events", schema="scoring")
    op.drop_table("erasure_receipts", schema="scoring")
    op.drop_table("suppressions", schema="scoring")
