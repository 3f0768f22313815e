"""pools bound SLA re-assignment: max_reassignments and an escalation target

Revision ID: routing_0006
Revises: routing_0005
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "routing_0006"
down_revision: str | None = "routing_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "routing"


def upgrade() -> None:
    op.add_column(
        "pools", sa.Column("max_reassignments", sa.Integer(), nullable=True), schema=SCHEMA
    )
    op.add_column("pools", sa.Column("escalate_to", sa.Text(), nullable=True), schema=SCHEMA)
    # Erasure used to leave a lead's queued assignment waiting; close those it left behind.
    op.execute(
        "UPDATE routing.assignments AS a"
        " SET status = 'closed', closed_at = e.erased_at,"
        " closed_reason = 'the person''s data was erased on request'"
        " FROM routing.erased_leads AS e"
        " WHERE a.lead_id = e.lead_id AND a.status = 'queued'"
    )


def downgrade() -> None:
    op.drop_column("pools", "escalate_to", schema=SCHEMA)
    op.drop_column("pools", "max_reassignments", schema=SCHEMA)
