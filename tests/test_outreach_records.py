"""The outreach tables: idempotent upserts and their readers, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from brokenlinks.outreach import records
from brokenlinks.outreach.items import (
    CaptureItem,
    ContactsItem,
    DomainStatusItem,
    ExportMetricsItem,
    MyPageItem,
)
from brokenlinks.storage import db

from .outreach_data import NOW, dead, link, make_db, page

T1 = "2024-05-01T10:00:00+00:00"
T2 = "2024-05-02T10:00:00+00:00"


def items(at: str, title: str) -> list:
    return [
        ExportMetricsItem(
            page_url="http://blog.test/a",
            export_format="semrush",
            export_file="s.csv",
            export_target_url="http://gone.test/x",
            metrics={"page_ascore": 41.0, "first_seen": "2023-01-01"},
        ),
        ExportMetricsItem(
            page_url="http://blog.test/a",
            export_format="moz",
            export_file="m.csv",
            export_target_url=None,
            metrics={"page_authority": 30.0},
        ),
        CaptureItem(
            target_url="http://gone.test/x",
            outcome="found",
            archived_url="https://web.archive.org/web/2020/http://gone.test/x",
            archived_at="2020-01-01T00:00:00+00:00",
            archived_title=title,
            looked_up_at=at,
        ),
        ContactsItem(
            site="blog.test",
            page_url="http://blog.test/a",
            contact_emails=["a@blog.test", "b@blog.test"],
            social=["https://x.com/blog"],
            checked_at=at,
        ),
        DomainStatusItem(
            domain="gone.test", domain_status="unregistered", rdap_server=None, checked_at=at
        ),
        MyPageItem(
            url="http://mine.test/",
            site="mine.test",
            title=title,
            headings=["H1", "H2"],
            fetched_at=at,
        ),
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.e2e)])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    else:
        url = request.getfixturevalue("pg").create_database(
            f"outreach_{request.node.name[-20:]}".lower().replace("[", "_").rstrip("]")
        )
    engine = db.create_engine_from_url(url)
    db.migrate(engine)
    yield engine
    engine.dispose()


def test_write_twice_adds_nothing_and_newer_wins(engine):
    records.write_items(engine, items(T1, "Old"))
    records.write_items(engine, items(T1, "Old"))
    records.write_items(engine, items(T2, "New"))
    metrics = records.export_metrics(engine)["http://blog.test/a"]
    assert [(m["export_format"], m["export_file"]) for m in metrics] == [
        ("moz", "m.csv"),
        ("semrush", "s.csv"),
    ]
    assert metrics[1]["page_ascore"] == 41.0
    assert metrics[1]["first_seen"] == "2023-01-01"
    captures = records.captures(engine)
    assert list(captures) == ["http://gone.test/x"]
    assert captures["http://gone.test/x"]["archived_title"] == "New"
    contacts = records.contacts(engine)["blog.test"]
    assert contacts["contact_emails"] == "a@blog.test b@blog.test"
    assert contacts["social"] == "https://x.com/blog"
    assert records.domain_statuses(engine)["gone.test"]["domain_status"] == "unregistered"
    pages = records.my_pages(engine)
    assert [(p["title"], p["headings"]) for p in pages] == [("New", "H1\nH2")]


def test_what_is_left_to_look_up(tmp_path):
    links = [link("http://gone.test/x", "x", "x"), link("http://lapsed.com/", "y", "y")]
    url = make_db(
        tmp_path / "db.sqlite3",
        [page("http://blog.test/a", "A", links)],
        [dead("http://gone.test/x"), dead("http://lapsed.com/", "dns", None)],
    )
    engine = db.create_engine_from_url(url)
    try:
        assert records.targets_to_archive(engine) == ["http://gone.test/x", "http://lapsed.com/"]
        assert records.domains_to_look_up(engine) == ["lapsed.com"]
        assert records.sites_to_contact(engine) == {"blog.test": ["http://blog.test/a"]}
        done = [
            CaptureItem(target_url="http://gone.test/x", outcome="none", looked_up_at=NOW),
            DomainStatusItem(domain="lapsed.com", domain_status="unknown", rdap_server=None, checked_at=NOW),
            ContactsItem(site="blog.test", page_url="http://blog.test/a", checked_at=NOW),
        ]  # fmt: skip
        records.write_items(engine, done)
        assert records.targets_to_archive(engine) == ["http://lapsed.com/"]
        # an unknown RDAP answer is asked again; again=True asks everything again
        assert records.domains_to_look_up(engine) == ["lapsed.com"]
        assert records.sites_to_contact(engine) == {}
        assert records.sites_to_contact(engine, again=True) == {
            "blog.test": ["http://blog.test/a"]
        }
        assert len(records.targets_to_archive(engine, again=True)) == 2
    finally:
        engine.dispose()
