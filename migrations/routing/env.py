"""Alembic environment of the routing service's schema."""

from leadpipe.routing.adapters.orm import Base
from leadpipe.shared.migrate import run_env

run_env(Base.metadata)
