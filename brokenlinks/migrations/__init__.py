"""Alembic migrations of the store's schema, shipped inside the package.

``env.py`` and ``versions/`` form a standard Alembic script directory. Users never run
Alembic themselves: :func:`brokenlinks.db.migrate` upgrades a database to the newest
revision whenever a crawl or a report opens it. A schema change is a change of
``brokenlinks/models.py`` plus a new revision here (``tests/test_migrations.py`` fails when
the two disagree).
"""
