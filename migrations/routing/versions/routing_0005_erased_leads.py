"""leads whose person was erased

Revision ID: routing_0005
Revises: routing_0004
Create Date: 2026-11-25 02:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "routing_0005"
down_revision: str | None = "routing_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erased_leads",
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column(
            "erased_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_erased_leads")),
        schema="routing",
    )


def downgrade() -> None:
    op.drop_table("erased_leads", schema="routing")
