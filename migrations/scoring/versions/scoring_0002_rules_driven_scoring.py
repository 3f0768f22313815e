"""rules-driven scoring: rules versions, stored inbound events, accounts, score state on leads

Revision ID: scoring_0002
Revises: scoring_0001
Create Date: 2026-11-25 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "scoring_0002"
down_revision: str | None = "scoring_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "scoring"
JSONB = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.drop_column("leads", "budget", schema=S)
    op.drop_column("leads", "authority", schema=S)
    op.add_column("leads", sa.Column("grade", sa.Text(), nullable=True), schema=S)
    op.add_column(
        "leads",
        sa.Column("temperature", sa.Text(), nullable=False, server_default="cold"),
        schema=S,
    )
    for name in ("profile", "engagement_state", "answers"):
        op.add_column(
            "leads",
            sa.Column(name, JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
            schema=S,
        )
    op.add_column(
        "leads", sa.Column("contacted_at", sa.DateTime(timezone=True), nullable=True), schema=S
    )
    op.add_column(
        "leads", sa.Column("recycle_at", sa.DateTime(timezone=True), nullable=True), schema=S
    )
    op.add_column("leads", sa.Column("merged_into", sa.Text(), nullable=True), schema=S)
    op.create_index("ix_leads_updated_at", "leads", ["updated_at", "id"], schema=S)
    op.create_index("ix_leads_stage", "leads", ["stage"], schema=S)
    op.create_index("ix_leads_anonymous_id", "leads", ["anonymous_id"], schema=S)
    op.create_index(
        "ix_leads_recycle_at",
        "leads",
        ["recycle_at"],
        schema=S,
        postgresql_where=sa.text("recycle_at IS NOT NULL"),
    )
    op.add_column(
        "score_changes",
        sa.Column("code", sa.Text(), nullable=False, server_default=""),
        schema=S,
    )
    op.create_table(
        "rules_versions",
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("source_text", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_rules_versions")),
        schema=S,
    )
    op.create_index(
        "uq_rules_versions_active",
        "rules_versions",
        ["active"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "inbound_events",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_inbound_events")),
        schema=S,
    )
    op.create_index(
        "ix_inbound_events_lead_id",
        "inbound_events",
        ["lead_id", "occurred_at", "seq"],
        schema=S,
    )
    op.create_table(
        "accounts",
        sa.Column("domain", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("traits", JSONB, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_accounts")),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("accounts", schema=S)
    op.drop_index("ix_inbound_events_lead_id", table_name="inbound_events", schema=S)
    op.drop_table("inbound_events", schema=S)
    op.drop_index(
        "uq_rules_versions_active",
        table_name="rules_versions",
        schema=S,
        postgresql_where=sa.text("active"),
    )
    op.drop_table("rules_versions", schema=S)
    op.drop_column("score_changes", "code", schema=S)
    op.drop_index(
        "ix_leads_recycle_at",
        table_name="leads",
        schema=S,
        postgresql_where=sa.text("recycle_at IS NOT NULL"),
    )
    op.drop_index("ix_leads_anonymous_id", table_name="leads", schema=S)
    op.drop_index("ix_leads_stage", table_name="leads", schema=S)
    op.drop_index("ix_leads_updated_at", table_name="leads", schema=S)
    for name in ("merged_into", "recycle_at", "contacted_at", "answers", "engagement_state"):
        op.drop_column("leads", name, schema=S)
    op.drop_column("leads", "profile", schema=S)
    op.drop_column("leads", "temperature", schema=S)
    op.drop_column("leads", "grade", schema=S)
    op.add_column(
        "leads",
        sa.Column("authority", sa.Text(), nullable=False, server_default="unknown"),
        schema=S,
    )
    op.add_column(
        "leads",
        sa.Column("budget", sa.Text(), nullable=False, server_default="unknown"),
        schema=S,
    )
