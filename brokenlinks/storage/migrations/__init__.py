"""Alembic migrations of the store's schema, shipped inside the package.

``env.py`` and ``versions/`` form a standard Alembic script directory. Users never run
Alembic themselves: :func:`brokenlinks.storage.db.migrate` upgrades a database to the newest
revision whenever a crawl or a report opens it. A schema change is a change of
``brokenlinks/storage/models.py`` plus a new revision here (``tests/test_migrations.py`` fails when
the two disagree).
"""
