"""Alembic environment of the ingest service's schema (its source registry)."""

from leadpipe.ingest.adapters.orm import Base
from leadpipe.shared.migrate import run_env

run_env(Base.metadata)
