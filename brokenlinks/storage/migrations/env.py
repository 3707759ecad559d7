"""Alembic environment: runs the revisions on the connection :func:`brokenlinks.storage.db.migrate` passes.

There is no ``alembic.ini`` and no URL here: the caller owns the engine, the transaction
and the lock that keeps two processes from migrating the same database at once.
"""

from __future__ import annotations

from alembic import context

from brokenlinks.storage.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things: Alembic's batch mode copies the table instead
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
