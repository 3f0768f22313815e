"""Alembic environment of the scoring service's schema."""

from leadpipe.scoring.adapters.orm import Base
from leadpipe.shared.migrate import run_env

run_env(Base.metadata)
