"""The database layer: engine, schema, idempotent batch upserts and readers, on tmp SQLite files."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from brokenlinks.items import CheckItem, LinkRecord, PageItem, ProspectItem
from brokenlinks.storage import db, store, writes
from brokenlinks.storage.models import Check, Link, Page, Target

from .test_migrations import revision

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T11:00:00+00:00"
T2 = "2024-05-02T09:30:00+00:00"


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'db' / 'brokenlinks.sqlite3'}"


@pytest.fixture
def engine(db_url):
    engine = db.create_engine_from_url(db_url)
    db.init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def run_id(engine):
    return store.start_run(engine, "backlinks", {"seeds": "seeds.txt"})


def link(target: str, anchor: str = "a link", **kwargs: Any) -> LinkRecord:
    values: dict[str, Any] = {
        "target_url": target,
        "target_domain": target.split("/")[2],
        "anchor_text": anchor,
        "rel": [],
        "follow": True,
        "position": "content",
        "context": f"some text around {anchor}",
        "checked": True,
    }
    values.update(kwargs)
    return LinkRecord(**values)


def page(url: str, links: list[LinkRecord], crawled_at: str = T0, **kwargs: Any) -> PageItem:
    values: dict[str, Any] = {
        "url": url,
        "requested_url": url,
        "domain": url.split("/")[2],
        "title": "A page",
        "status": 200,
        "error": None,
        "links_on_page": len(links),
        "crawled_at": crawled_at,
        "links": links,
    }
    values.update(kwargs)
    return PageItem(**values)


def check(target: str, kind: str = "dead", checked_at: str = T1, **kwargs: Any) -> CheckItem:
    values: dict[str, Any] = {
        "target_url": target,
        "target_domain": target.split("/")[2],
        "kind": kind,
        "reason": "http_status" if kind == "dead" else "ok",
        "status": 404 if kind == "dead" else 200,
        "final_url": None,
        "checked_at": checked_at,
    }
    values.update(kwargs)
    return CheckItem(**values)


def dump(engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the data tables, in a stable order."""
    tables = {"pages": Page, "targets": Target, "links": Link, "checks": Check}
    with Session(engine) as session:
        return {
            name: [
                tuple(row)
                for row in session.execute(
                    select(*model.__table__.columns).order_by(model.__table__.c.id)
                )
            ]
            for name, model in tables.items()
        }


def target_row(engine, url: str) -> Target:
    with Session(engine) as session:
        return session.execute(select(Target).where(Target.url == url)).scalar_one()


def sample_batch() -> list[Any]:
    return [
        page(
            "https://blog.example/post",
            [
                link("https://gone.test/a", "gone resource"),
                link("https://alive.test/", "alive", rel=["nofollow", "ugc"], follow=False),
                link("https://gone.test/a", "gone again", position="footer"),
                link("https://mail.test/someone@example.com", checked=False),
            ],
        ),
        page("https://other.example/", [link("https://gone.test/a", "gone resource")]),
        check("https://gone.test/a"),
        check("https://alive.test/", kind="alive"),
    ]


# --- engine and schema ------------------------------------------------------------------------


def test_tables_created(engine):
    names = set(inspect(engine).get_table_names())
    assert {"crawl_runs", "pages", "targets", "links", "checks"} <= names
    link_indexes = {ix["name"] for ix in inspect(engine).get_indexes("links")}
    assert "ix_links_target_id" in link_indexes
    uniques = {uq["name"] for uq in inspect(engine).get_unique_constraints("links")}
    assert "uq_links_page_id_target_id_anchor_key_position" in uniques


def test_init_db_twice(engine, run_id):
    store.write_batch(engine, run_id, sample_batch())
    before = dump(engine)
    db.init_db(engine)
    # a second migration is a no-op: same revision, same rows, foreign keys back on
    assert revision(engine) == "0006"
    assert dump(engine) == before
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_sqlite_pragmas(engine):
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


def test_directory_created(tmp_path):
    path = tmp_path / "a" / "b" / "c" / "x.sqlite3"
    engine = db.create_engine_from_url(f"sqlite:///{path}")
    try:
        assert path.parent.is_dir()
        db.init_db(engine)
        assert path.is_file()
    finally:
        engine.dispose()


def test_memory_database_shared_across_threads():
    engine = db.create_engine_from_url("sqlite://")
    try:
        db.init_db(engine)
        worker = threading.Thread(target=store.start_run, args=(engine, "site", {}))
        worker.start()
        worker.join()
        assert store.count_rows(engine)["crawl_runs"] == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "nosuchdialect://host/db",
        "postgresql+nosuchdriver://user@host/db",
        "",
    ],
)
def test_bad_url(url):
    with pytest.raises(ValueError, match="BROKENLINKS_DATABASE_URL") as info:
        db.create_engine_from_url(url)
    message = str(info.value)
    assert "\n" not in message
    assert url in message


def test_bad_url_hides_password():
    with pytest.raises(ValueError, match="BROKENLINKS_DATABASE_URL") as info:
        db.create_engine_from_url("postgresql+nosuchdriver://user:s3cret@host/db")
    assert "s3cret" not in str(info.value)


def test_foreign_keys_enforced(engine):
    row = page("https://p.example/", [])
    with pytest.raises(Exception, match="FOREIGN KEY"):
        store.write_batch(engine, 12345, [row])
    assert store.count_rows(engine)["pages"] == 0


# --- writing ----------------------------------------------------------------------------------


def test_rows(engine, run_id):
    store.write_batch(engine, run_id, sample_batch())
    assert store.count_rows(engine) == {
        "crawl_runs": 1,
        "pages": 2,
        "targets": 3,
        "links": 5,
        "checks": 2,
    }
    gone = target_row(engine, "https://gone.test/a")
    assert (gone.kind, gone.reason, gone.status, gone.domain) == (
        "dead",
        "http_status",
        404,
        "gone.test",
    )
    assert gone.checked_at == datetime(2024, 5, 1, 11, tzinfo=UTC)
    assert gone.first_seen_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert gone.last_run_id == run_id
    unchecked = target_row(engine, "https://mail.test/someone@example.com")
    assert unchecked.kind is None
    assert unchecked.checked_at is None

    with Session(engine) as session:
        post = session.execute(
            select(Page).where(Page.url == "https://blog.example/post")
        ).scalar_one()
        assert (post.domain, post.title, post.status, post.links_on_page) == (
            "blog.example",
            "A page",
            200,
            4,
        )
        assert post.last_crawled_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
        nofollow = session.execute(select(Link).where(Link.anchor_text == "alive")).scalar_one()
        assert (nofollow.rel, nofollow.follow, nofollow.position, nofollow.checked) == (
            "nofollow ugc",
            False,
            "content",
            True,
        )
        assert nofollow.page_id == post.id
        assert nofollow.last_seen_at == nofollow.first_seen_at == post.last_crawled_at


def test_dead_links(engine, run_id):
    store.write_batch(engine, run_id, sample_batch())
    rows = store.dead_links(engine)
    assert [(r["source_url"], r["anchor_text"], r["position"]) for r in rows] == [
        ("https://blog.example/post", "gone resource", "content"),
        ("https://blog.example/post", "gone again", "footer"),
        ("https://other.example/", "gone resource", "content"),
    ]
    assert rows[0] == {
        "source_url": "https://blog.example/post",
        "source_title": "A page",
        "source_domain": "blog.example",
        "target_url": "https://gone.test/a",
        "target_domain": "gone.test",
        "status": 404,
        "reason": "http_status",
        "final_url": None,
        "anchor_text": "gone resource",
        "rel": [],
        "follow": True,
        "position": "content",
        "context": "some text around gone resource",
        "links_on_page": 4,
        "checked_at": "2024-05-01T11:00:00+00:00",
        "link_kind": "link",
    }
    assert set(rows[0]) == set(ProspectItem.__dataclass_fields__)
    assert store.dead_links(engine, run_id=run_id + 1) == []


def test_idempotent(engine, run_id):
    store.write_batch(engine, run_id, sample_batch())
    counts, rows = store.count_rows(engine), dump(engine)
    store.write_batch(engine, run_id, sample_batch())
    assert store.count_rows(engine) == counts
    assert dump(engine) == rows


def test_duplicates_within_a_batch(engine, run_id):
    store.write_batch(engine, run_id, sample_batch() + sample_batch())
    assert store.count_rows(engine)["links"] == 5
    assert store.count_rows(engine)["checks"] == 2


def test_recheck_updates_latest_and_history(engine, run_id):
    store.write_batch(engine, run_id, sample_batch())
    run2 = store.start_run(engine, "backlinks", {})
    store.write_batch(
        engine,
        run2,
        [check("https://gone.test/a", kind="alive", checked_at=T2, final_url="https://x.test/")],
    )
    gone = target_row(engine, "https://gone.test/a")
    assert (gone.kind, gone.status, gone.final_url, gone.last_run_id) == (
        "alive",
        200,
        "https://x.test/",
        run2,
    )
    assert gone.checked_at == datetime(2024, 5, 2, 9, 30, tzinfo=UTC)
    assert gone.first_seen_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    with Session(engine) as session:
        history = session.execute(
            select(Check.kind, Check.run_id, Check.checked_at)
            .where(Check.target_id == gone.id)
            .order_by(Check.checked_at)
        ).all()
    assert history == [
        ("dead", run_id, datetime(2024, 5, 1, 11, tzinfo=UTC)),
        ("alive", run2, datetime(2024, 5, 2, 9, 30, tzinfo=UTC)),
    ]
    assert store.dead_links(engine) == []


def test_older_check_does_not_replace_latest(engine, run_id):
    store.write_batch(engine, run_id, [check("https://t.test/", kind="alive", checked_at=T2)])
    store.write_batch(engine, run_id, [check("https://t.test/", kind="dead", checked_at=T1)])
    assert target_row(engine, "https://t.test/").kind == "alive"
    assert store.count_rows(engine)["checks"] == 2


def test_latest_check_wins_within_a_batch(engine, run_id):
    items = [
        check("https://t.test/", kind="alive", checked_at=T2),
        check("https://t.test/", kind="dead", checked_at=T1),
    ]
    store.write_batch(engine, run_id, items)
    assert target_row(engine, "https://t.test/").kind == "alive"
    assert store.count_rows(engine)["checks"] == 2


@pytest.mark.parametrize("same_batch", [True, False])
def test_check_before_page(engine, run_id, same_batch):
    verdict = check("https://gone.test/a", checked_at=T0)
    referrer = page("https://blog.example/", [link("https://gone.test/a")], crawled_at=T1)
    if same_batch:
        store.write_batch(engine, run_id, [verdict, referrer])
    else:
        store.write_batch(engine, run_id, [verdict])
        store.write_batch(engine, run_id, [referrer])
    assert store.count_rows(engine)["targets"] == 1
    assert [r["target_url"] for r in store.dead_links(engine)] == ["https://gone.test/a"]


def test_page_earlier_than_check_lowers_first_seen(engine, run_id):
    store.write_batch(engine, run_id, [check("https://gone.test/a", checked_at=T1)])
    store.write_batch(engine, run_id, [page("https://b.example/", [link("https://gone.test/a")])])
    assert target_row(engine, "https://gone.test/a").first_seen_at == datetime(
        2024, 5, 1, 10, tzinfo=UTC
    )


def test_null_never_overwrites_verdict(engine, run_id):
    store.write_batch(engine, run_id, [check("https://gone.test/a")])
    before = target_row(engine, "https://gone.test/a")
    later = page("https://late.example/", [link("https://gone.test/a")], crawled_at=T2)
    store.write_batch(engine, run_id, [later])
    after = target_row(engine, "https://gone.test/a")
    assert (after.kind, after.reason, after.status, after.checked_at) == (
        before.kind,
        before.reason,
        before.status,
        before.checked_at,
    )


def test_recrawl_updates_page_and_last_seen(engine, run_id):
    store.write_batch(engine, run_id, sample_batch())
    run2 = store.start_run(engine, "backlinks", {})
    again = page(
        "https://other.example/",
        [link("https://gone.test/a", "gone resource")],
        crawled_at=T2,
        title="Renamed",
    )
    store.write_batch(engine, run2, [again])
    with Session(engine) as session:
        other = session.execute(
            select(Page).where(Page.url == "https://other.example/")
        ).scalar_one()
        assert (other.title, other.last_run_id) == ("Renamed", run2)
        assert other.first_seen_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
        assert other.last_crawled_at == datetime(2024, 5, 2, 9, 30, tzinfo=UTC)
        occurrence = session.execute(select(Link).where(Link.page_id == other.id)).scalar_one()
        assert occurrence.first_seen_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
        assert occurrence.last_seen_at == datetime(2024, 5, 2, 9, 30, tzinfo=UTC)
        assert occurrence.last_run_id == run2
    assert store.count_rows(engine)["links"] == 5
    assert len(store.dead_links(engine, run_id=run2)) == 1


def test_page_with_error(engine, run_id):
    failed = page("https://down.example/", [], status=None, error="dns", title=None)
    store.write_batch(engine, run_id, [failed])
    with Session(engine) as session:
        row = session.execute(select(Page)).scalar_one()
    assert (row.status, row.error, row.title, row.links_on_page) == (None, "dns", None, 0)


def test_prospects_skipped_and_unknown_rejected(engine, run_id):
    prospect = ProspectItem(
        source_url="https://p.example/",
        source_title=None,
        source_domain="p.example",
        target_url="https://gone.test/",
        target_domain="gone.test",
        status=404,
        reason="http_status",
        final_url=None,
        anchor_text="x",
        follow=True,
        position="content",
        context="x",
        links_on_page=1,
        checked_at=T0,
    )
    store.write_batch(engine, run_id, [prospect])
    store.write_batch(engine, run_id, [])
    assert store.count_rows(engine)["targets"] == 0
    with pytest.raises(TypeError, match="dict"):
        store.write_batch(engine, run_id, [{"url": "https://p.example/"}])


def test_bad_timestamp(engine, run_id):
    with pytest.raises(ValueError, match="checked_at='yesterday'"):
        store.write_batch(engine, run_id, [check("https://t.test/", checked_at="yesterday")])


def test_failed_batch_leaves_previous_state(engine, run_id, monkeypatch):
    store.write_batch(engine, run_id, sample_batch())
    counts, rows = store.count_rows(engine), dump(engine)

    def fail(*args, **kwargs):
        raise RuntimeError("disk on fire")

    # links are written last: pages, targets and checks of the batch are already in the transaction
    monkeypatch.setattr(writes, "_upsert_links", fail)
    newer = [
        page("https://new.example/", [link("https://new.test/")], crawled_at=T2),
        check("https://gone.test/a", kind="alive", checked_at=T2),
    ]
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.write_batch(engine, run_id, newer)
    assert store.count_rows(engine) == counts
    assert dump(engine) == rows


def test_two_engines_on_one_file(db_url, engine, run_id):
    second = db.create_engine_from_url(db_url)
    try:
        for i in range(10):
            writer = engine if i % 2 else second
            url = f"https://p{i}.example/"
            store.write_batch(
                writer,
                run_id,
                [
                    page(url, [link("https://shared.test/", f"a{i}")]),
                    check("https://shared.test/"),
                ],
            )
            # a reader on the other engine sees the committed write at once
            reader = second if i % 2 else engine
            assert store.count_rows(reader)["pages"] == i + 1
    finally:
        second.dispose()
    assert store.count_rows(engine) == {
        "crawl_runs": 1,
        "pages": 10,
        "targets": 1,
        "links": 10,
        "checks": 1,
    }


# --- runs and readers -------------------------------------------------------------------------


def test_runs(engine):
    run = store.start_run(engine, "site", {"start": "https://a.example/", "depth": 2})
    started = store.get_run(engine, run)
    assert started is not None
    assert started["spider"] == "site"
    assert started["arguments"] == {"start": "https://a.example/", "depth": 2}
    assert started["finished_at"] is None
    assert started["stats"] is None
    stats = {"start_time": datetime(2024, 5, 1, tzinfo=UTC), "item_scraped_count": 3}
    store.finish_run(engine, run, "finished", stats)
    finished = store.get_run(engine, run)
    assert finished is not None
    assert finished["finish_reason"] == "finished"
    assert finished["stats"] == {
        "start_time": "2024-05-01T00:00:00+00:00",
        "item_scraped_count": 3,
    }
    assert datetime.fromisoformat(finished["finished_at"]).tzinfo is not None
    # None keeps a known reason
    store.finish_run(engine, run, None, {})
    assert store.get_run(engine, run)["finish_reason"] == "finished"
    assert store.get_run(engine, run + 1) is None


def test_fresh_verdicts(engine, run_id):
    store.write_batch(engine, run_id, sample_batch())
    urls = ["https://gone.test/a", "https://alive.test/", "https://mail.test/someone@example.com"]
    fresh = store.fresh_verdicts(engine, urls, since=datetime(2024, 5, 1, 10, 30, tzinfo=UTC))
    assert sorted(fresh) == ["https://alive.test/", "https://gone.test/a"]
    assert fresh["https://gone.test/a"]["kind"] == "dead"
    assert fresh["https://gone.test/a"]["checked_at"] == "2024-05-01T11:00:00+00:00"
    assert store.fresh_verdicts(engine, urls, since=datetime(2024, 5, 2, tzinfo=UTC)) == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ],
)
def test_parse_time(value, expected):
    parsed = store.parse_time(value)
    assert parsed == expected
    assert parsed.utcoffset().total_seconds() == 0
