"""outbox rows remember where Kafka put them

Revision ID: routing_0003
Revises: routing_0002
Create Date: 2026-11-25 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "routing_0003"
down_revision: str | None = "routing_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("published_partition", sa.Integer()), schema="routing")
    op.add_column("outbox", sa.Column("published_offset", sa.BigInteger()), schema="routing")
    op.create_index(
        "ix_outbox_published_position",
        "outbox",
        ["topic", "published_partition", "published_offset"],
        schema="routing",
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_published_position", table_name="outbox", schema="routing")
    op.drop_column("outbox", "published_offset", schema="routing")
    op.drop_column("outbox", "published_partition", schema="routing")
