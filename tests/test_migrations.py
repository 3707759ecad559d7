"""Migrations: a new database, a database of the first release upgraded in place, a zipped egg.

``fixtures/db/issue2.sql`` is the dump of a database written by a real crawl of the first
release (created by its ``init_db``, before migrations existed).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from brokenlinks.storage import db, store
from brokenlinks.storage.models import Base

from .conftest import PROJECT


def revision(engine) -> str | None:
    """The database's Alembic revision (None: not migrated, or empty)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


FIXTURE = Path(__file__).parent / "fixtures" / "db" / "issue2.sql"


def first_release_db(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript(FIXTURE.read_text(encoding="utf-8"))
    con.close()
    return path


def schema_diff(engine):
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def test_new_database_matches_the_models(tmp_path):
    engine = db.create_engine_from_url(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    db.migrate(engine)
    assert revision(engine) == "0006"
    assert schema_diff(engine) == []
    db.migrate(engine)  # again: nothing to do
    assert revision(engine) == "0006"
    engine.dispose()


def test_first_release_database_upgrades_in_place(tmp_path):
    path = first_release_db(tmp_path / "old.sqlite3")
    engine = db.create_engine_from_url(f"sqlite:///{path}")
    before = store.count_rows(engine)
    assert before["links"] == 54
    assert revision(engine) is None
    db.init_db(engine)
    assert revision(engine) == "0006"
    assert store.count_rows(engine) == before
    assert schema_diff(engine) == []
    # the old rows serve the new readers: every dead occurrence is a prospect, none gone
    dead = store.dead_links(engine)
    assert len(dead) == 16
    assert {row["source_url"] for row in dead} == {
        "http://blog.test/resources.html",
        "http://news.test/article.html",
    }
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert con.execute("SELECT count(*) FROM links WHERE gone_at IS NOT NULL").fetchone() == (0,)
    con.close()
    engine.dispose()


def test_failed_migration_leaves_the_database_as_it_was(tmp_path):
    path = first_release_db(tmp_path / "old.sqlite3")
    con = sqlite3.connect(path)
    # a table in the way of revision 0002: the upgrade fails half-way
    con.execute("CREATE TABLE outreach (x INTEGER)")
    con.commit()
    con.close()
    engine = db.create_engine_from_url(f"sqlite:///{path}")
    with pytest.raises(Exception, match="outreach"):
        db.migrate(engine)
    assert revision(engine) is None
    con = sqlite3.connect(path)
    columns = [row[1] for row in con.execute("PRAGMA table_info(links)")]
    con.close()
    assert "gone_at" not in columns
    engine.dispose()


@pytest.mark.e2e
def test_migrations_run_from_a_zipped_package(tmp_path):
    """Scrapyd runs the project as a zipped egg: the revisions are read from the zip."""
    egg = tmp_path / "project.egg"
    with zipfile.ZipFile(egg, "w") as zf:
        for path in (PROJECT / "brokenlinks").rglob("*.py"):
            zf.write(path, path.relative_to(PROJECT).as_posix())
        zf.write(PROJECT / "brokenlinks" / "py.typed", "brokenlinks/py.typed")
    database = tmp_path / "zipped.sqlite3"
    code = (
        "import brokenlinks, sys; from brokenlinks import db;"
        "assert brokenlinks.__file__.startswith(sys.argv[1]), brokenlinks.__file__;"
        "e = db.create_engine_from_url('sqlite:///' + sys.argv[2]); db.migrate(e);"
        "from sqlalchemy import text;"
        "print(e.connect().execute(text('SELECT version_num FROM alembic_version')).scalar())"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(egg), str(database)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(egg), "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""},
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "0006"
