"""rep attributes, pools, routing rules, account owners, SLA timers and the fallback queue

Revision ID: routing_0002
Revises: routing_0001
Create Date: 2026-11-25 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "routing_0002"
down_revision: str | None = "routing_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "routing"
EMPTY_LIST = sa.text("'[]'::jsonb")


def _jsonb() -> postgresql.JSONB:
    return postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    for name in ("territories", "segments", "languages", "out_of_office"):
        op.add_column(
            "reps",
            sa.Column(name, _jsonb(), server_default=EMPTY_LIST, nullable=False),
            schema=SCHEMA,
        )
    op.add_column("reps", sa.Column("capacity", sa.Integer(), nullable=True), schema=SCHEMA)
    op.add_column(
        "reps",
        sa.Column("weight", sa.Integer(), server_default=sa.text("1"), nullable=False),
        schema=SCHEMA,
    )
    op.add_column(
        "reps",
        sa.Column("time_zone", sa.Text(), server_default=sa.text("'UTC'"), nullable=False),
        schema=SCHEMA,
    )
    op.add_column("reps", sa.Column("working_hours", sa.Text(), nullable=True), schema=SCHEMA)
    op.add_column("reps", sa.Column("holiday_calendar", sa.Text(), nullable=True), schema=SCHEMA)
    op.add_column(
        "reps",
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        schema=SCHEMA,
    )

    op.create_table(
        "pools",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("members", _jsonb(), server_default=EMPTY_LIST, nullable=False),
        sa.Column("match_coverage", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pools")),
        schema=SCHEMA,
    )
    op.create_table(
        "routing_rules",
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("pool", sa.Text(), nullable=False),
        sa.Column("conditions", _jsonb(), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_routing_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_routing_rules_name")),
        schema=SCHEMA,
    )
    op.create_table(
        "account_owners",
        sa.Column("account_domain", sa.Text(), nullable=False),
        sa.Column("rep_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account_domain", name=op.f("pk_account_owners")),
        schema=SCHEMA,
    )
    op.add_column(
        "rotation_cursors",
        sa.Column("credits", _jsonb(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        schema=SCHEMA,
    )

    op.add_column(
        "assignments",
        sa.Column("status", sa.Text(), server_default=sa.text("'open'"), nullable=False),
        schema=SCHEMA,
    )
    op.add_column(
        "assignments",
        sa.Column("role", sa.Text(), server_default=sa.text("'ae'"), nullable=False),
        schema=SCHEMA,
    )
    op.add_column(
        "assignments",
        sa.Column("lead", _jsonb(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        schema=SCHEMA,
    )
    op.add_column(
        "assignments",
        sa.Column("previous_assignment_id", sa.Text(), nullable=True),
        schema=SCHEMA,
    )
    for name in ("sla_due_at", "contacted_at", "closed_at"):
        op.add_column(
            "assignments", sa.Column(name, sa.DateTime(timezone=True), nullable=True), schema=SCHEMA
        )
    for name in ("sla_state", "closed_reason"):
        op.add_column("assignments", sa.Column(name, sa.Text(), nullable=True), schema=SCHEMA)
    # Assignments made before this revision are queued (no rep) or open.
    op.execute("UPDATE routing.assignments SET status = 'queued' WHERE rep_id IS NULL")
    op.create_index(
        "ix_assignments_sla_due",
        "assignments",
        ["sla_due_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("sla_state = 'running'"),
    )
    op.create_index(
        "ix_assignments_queued",
        "assignments",
        ["created_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_assignments_open_by_rep",
        "assignments",
        ["rep_id"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_assignments_active_by_lead_key",
        "assignments",
        ["lead_key"],
        schema=SCHEMA,
        postgresql_where=sa.text("status <> 'closed'"),
    )


def downgrade() -> None:
    for index in (
        "ix_assignments_active_by_lead_key",
        "ix_assignments_open_by_rep",
        "ix_assignments_queued",
        "ix_assignments_sla_due",
    ):
        op.drop_index(index, table_name="assignments", schema=SCHEMA)
    for name in (
        "closed_reason",
        "sla_state",
        "closed_at",
        "contacted_at",
        "sla_due_at",
        "previous_assignment_id",
        "lead",
        "role",
        "status",
    ):
        op.drop_column("assignments", name, schema=SCHEMA)
    op.drop_column("rotation_cursors", "credits", schema=SCHEMA)
    op.drop_table("account_owners", schema=SCHEMA)
    op.drop_table("routing_rules", schema=SCHEMA)
    op.drop_table("pools", schema=SCHEMA)
    for name in (
        "updated_at",
        "holiday_calendar",
        "working_hours",
        "time_zone",
        "weight",
        "capacity",
        "out_of_office",
        "languages",
        "segments",
        "territories",
    ):
        op.drop_column("reps", name, schema=SCHEMA)
