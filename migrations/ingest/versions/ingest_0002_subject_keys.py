"""subject keys: one data key per pseudonymous subject, for crypto-shredding

Revision ID: ingest_0002
Revises: ingest_0001
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ingest_0002"
down_revision: str | None = "ingest_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subject_keys",
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("data_key", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_subject_keys")),
        schema="ingest",
    )


def downgrade() -> None:
    op.drop_table("subject_keys", schema="ingest")
