"""The migrations create exactly what the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from praxis.migrations.runner import pending_heads
from praxis.platform.db import Base


def test_models_match_migrations(db):
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    # Index/constraint objects that only one dialect has (e.g. PostgreSQL exclusion constraints)
    # are created in migrations by op.execute and never declared on models, so they do not show here.
    assert diff == [], "\n".join(str(d) for d in diff)


def test_database_is_at_every_head(db):
    assert pending_heads() == []
