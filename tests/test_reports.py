"""Pure functions of the reports, the re-check and the freshness cache, as tables."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import pytest_twisted
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from sqlalchemy.exc import OperationalError
from twisted.internet.defer import Deferred

from brokenlinks.checker import verdicts
from brokenlinks.checker.checks import LinkChecker
from brokenlinks.checker.freshness import FreshVerdicts, stored_verdict
from brokenlinks.commands.report import parse_since
from brokenlinks.config import BrokenlinksConfig
from brokenlinks.items import CheckItem
from brokenlinks.parsing.extract import Link, Position
from brokenlinks.reporting.reports import (
    broken_pages,
    came_back,
    dead_streak,
    output_format,
    prospect_score,
    prospects,
    render_table,
    revived,
    top_anchors,
    write_rows,
)
from brokenlinks.seeds.recheck import RecheckScope, lost, vanished
from brokenlinks.storage import db, store

T = [datetime(2024, 5, day, tzinfo=UTC) for day in range(1, 8)]


@pytest.mark.parametrize(
    ("referring_domains", "follow", "position", "links_on_page", "age", "score"),
    [
        (0, False, "footer", 100, 100.0, 0),
        (1, False, "footer", 100, 100.0, 8),
        (5, False, "footer", 100, 100.0, 40),
        (50, False, "footer", 100, 100.0, 40),  # capped
        (0, True, "footer", 100, 100.0, 20),
        (0, False, "content", 100, 100.0, 15),
        (0, False, "nav", 100, 100.0, 0),
        (0, False, "aside", 0, 100.0, 15),
        (0, False, "aside", 50, 100.0, 8),  # 7.5 rounds to even
        (0, False, "aside", 500, 100.0, 0),
        (0, False, "aside", 100, 7.0, 10),
        (0, False, "aside", 100, 7.01, 5),
        (0, False, "aside", 100, 30.0, 5),
        (0, False, "aside", 100, 30.5, 0),
        (5, True, "content", 0, 0.0, 100),  # the best there is
        (2, True, "content", 10, 2.0, 16 + 20 + 15 + 14 + 10),
    ],
)
def test_prospect_score(referring_domains, follow, position, links_on_page, age, score):
    assert (
        prospect_score(
            referring_domains=referring_domains,
            follow=follow,
            position=position,
            links_on_page=links_on_page,
            check_age_days=age,
        )
        == score
    )


@pytest.mark.parametrize(
    ("kinds", "since", "first", "back"),
    [
        ([], None, None, None),
        (["dead"], 0, 0, None),
        (["alive"], None, None, None),
        (["dead", "dead", "dead"], 0, 0, None),
        (["alive", "dead", "dead"], 1, 1, None),
        (["dead", "alive", "dead"], 2, 0, None),
        (["dead", "alive"], None, 0, 1),
        (["dead", "alive", "alive"], None, 0, 1),
        (["dead", "blocked", "alive"], None, 0, None),  # blocked: unknown, not "came back"
        (["dead", "alive", "dead", "alive"], None, 0, 3),
        (["blocked", "dead"], 1, 1, None),
    ],
)
def test_dead_streak_and_came_back(kinds, since, first, back):
    history = list(zip(T, kinds, strict=False))
    assert dead_streak(history) == (
        None if since is None else T[since],
        None if first is None else T[first],
    )
    assert came_back(history) == (None if back is None else T[back])


@pytest.mark.parametrize(
    ("anchors", "expected"),
    [
        ([], ""),
        (["", ""], ""),
        (["a"], "a"),
        (["a", "b", "a"], "a (2); b"),
        (["a", "b", "c", "d"], "a; b; c"),
        (["x", "y", "y", "z", "z", "z"], "z (3); y (2); x"),
    ],
)
def test_top_anchors(anchors, expected):
    assert top_anchors(anchors) == expected


def occurrence(page_id, target_id, **values):
    base = {
        "target_id": target_id,
        "target_url": f"http://t{target_id}.test/",
        "target_domain": f"t{target_id}.test",
        "reason": "http_status",
        "status": 404,
        "final_url": None,
        "checked_at": T[5],
        "page_id": page_id,
        "source_url": f"http://p{page_id}.test/",
        "source_title": None,
        "source_domain": f"p{page_id}.test",
        "links_on_page": 10,
        "anchor_text": "a",
        "rel": "",
        "follow": True,
        "position": "content",
        "context": "ctx",
        "first_seen_at": T[0],
    }
    return {**base, **values}


OCCURRENCES = [
    # target 1: two pages on two sites, one page twice (nav + content)
    occurrence(1, 1, anchor_text="guide", position="nav", follow=False),
    occurrence(1, 1, anchor_text="the guide", context="read the guide"),
    occurrence(2, 1, anchor_text="guide"),
    # target 2: one page, nofollow footer, dns
    occurrence(2, 2, reason="dns", status=None, follow=False, position="footer"),
    # target 3: two pages of one site
    occurrence(3, 3, source_domain="same.test"),
    occurrence(4, 3, source_domain="same.test"),
]
HISTORY = {1: [(T[0], "alive"), (T[2], "dead"), (T[5], "dead")], 2: [(T[5], "dead")]}


def test_broken_pages_counts_pages_sites_and_filters():
    rows = broken_pages(OCCURRENCES, HISTORY)
    assert [(r["target_url"], r["referring_pages"], r["referring_domains"]) for r in rows] == [
        ("http://t1.test/", 2, 2),
        ("http://t3.test/", 2, 1),
        ("http://t2.test/", 1, 1),
    ]
    first = rows[0]
    assert (first["followed"], first["in_content"]) == (2, 2)
    assert first["top_anchors"] == "guide (2); the guide"
    assert first["dead_since"] == "2024-05-03T00:00:00+00:00"
    assert first["first_seen_dead"] == "2024-05-03T00:00:00+00:00"
    # no history stored (first release): the latest check is all there is
    assert rows[1]["dead_since"] == "2024-05-06T00:00:00+00:00"
    assert [
        r["target_url"] for r in broken_pages(OCCURRENCES, HISTORY, reasons=frozenset({"dns"}))
    ] == ["http://t2.test/"]
    assert [
        r["target_url"] for r in broken_pages(OCCURRENCES, HISTORY, domains=frozenset({"t3.test"}))
    ] == ["http://t3.test/"]
    assert [r["target_url"] for r in broken_pages(OCCURRENCES, HISTORY, since=T[4])] == [
        "http://t3.test/",
        "http://t2.test/",
    ]


def test_prospects_one_row_per_page_and_target_ranked():
    outreach = {(2, 2): {"status": "contacted", "note": "sent", "updated_at": T[6]}}
    rows = prospects(OCCURRENCES, HISTORY, outreach, now=T[6])
    assert [(r["source_url"], r["target_url"]) for r in rows][:2] == [
        ("http://p1.test/", "http://t1.test/"),
        ("http://p2.test/", "http://t1.test/"),
    ]
    assert len(rows) == 5
    page1 = rows[0]
    # the followed in-content occurrence is the one to pitch about
    assert (page1["anchor_text"], page1["context"], page1["follow"]) == (
        "the guide",
        "read the guide",
        True,
    )
    assert page1["score"] == 16 + 20 + 15 + 14 + 10
    assert rows[-1]["target_url"] == "http://t2.test/"
    assert (rows[-1]["outreach"], rows[-1]["note"]) == ("contacted", "sent")
    assert {r["outreach"] for r in rows[:-1]} == {"new"}
    only = prospects(OCCURRENCES, HISTORY, outreach, now=T[6], statuses=frozenset({"contacted"}))
    assert [(r["source_url"], r["target_url"]) for r in only] == [
        ("http://p2.test/", "http://t2.test/")
    ]
    # an old check scores less
    later = prospects(OCCURRENCES, HISTORY, outreach, now=T[5] + timedelta(days=40))
    assert later[0]["score"] == page1["score"] - 10


def test_revived_targets():
    targets = [
        {
            "target_id": 1,
            "target_url": "http://a.test/",
            "target_domain": "a.test",
            "status": 200,
            "final_url": "http://a.test/",
            "checked_at": T[4],
        },
        {
            "target_id": 2,
            "target_url": "http://b.test/",
            "target_domain": "b.test",
            "status": 200,
            "final_url": "http://b.test/",
            "checked_at": T[4],
        },
    ]
    history = {
        1: [(T[0], "dead"), (T[1], "dead"), (T[3], "alive"), (T[4], "alive")],
        2: [(T[0], "dead"), (T[1], "blocked"), (T[4], "alive")],
    }
    [row] = revived(targets, history)
    assert (
        row["target_url"],
        row["first_seen_dead"],
        row["last_seen_dead"],
        row["came_back"],
    ) == (
        "http://a.test/",
        "2024-05-01T00:00:00+00:00",
        "2024-05-02T00:00:00+00:00",
        "2024-05-04T00:00:00+00:00",
    )
    assert revived(targets, history, domains=frozenset({"b.test"})) == []


@pytest.mark.parametrize(
    ("stored", "found", "domains", "gone", "lost_ones"),
    [
        ([], [], frozenset(), [], []),
        (["http://a.test/"], ["http://a.test/"], frozenset({"a.test"}), [], []),
        (["http://a.test/"], [], frozenset(), ["http://a.test/"], []),
        (["http://a.test/"], [], frozenset({"a.test"}), ["http://a.test/"], ["http://a.test/"]),
        (
            ["http://x.a.test/p"],
            [],
            frozenset({"a.test"}),
            ["http://x.a.test/p"],
            ["http://x.a.test/p"],
        ),
        (
            ["http://b.test/", "http://a.test/"],
            ["http://c.test/"],
            frozenset({"a.test"}),
            ["http://b.test/", "http://a.test/"],
            ["http://a.test/"],
        ),
        (
            ["http://a.test/", "http://a.test/"],
            [],
            frozenset({"a.test"}),
            ["http://a.test/"],
            ["http://a.test/"],
        ),
    ],
)
def test_vanished_and_lost(stored, found, domains, gone, lost_ones):
    assert vanished(stored, found) == gone
    assert lost(gone, domains) == lost_ones


def link(url):
    return Link(
        href=url,
        url=url,
        anchor_text="x",
        rel=(),
        follow=True,
        position=Position.CONTENT,
        context="x",
        tag="a",
    )


@pytest.mark.parametrize(
    ("domains", "dead", "url", "wanted"),
    [
        (frozenset(), frozenset(), "http://other.test/", True),
        (frozenset(), frozenset(), "http://page.test/internal", False),
        (frozenset({"mine.test"}), frozenset(), "http://other.test/", False),
        (frozenset({"mine.test"}), frozenset(), "http://mine.test/a", True),
        (frozenset({"mine.test"}), frozenset({"http://other.test/"}), "http://other.test/", True),
        (frozenset(), frozenset({"http://page.test/internal"}), "http://page.test/internal", True),
    ],
)
def test_recheck_scope(domains, dead, url, wanted):
    assert RecheckScope(domains=domains, dead=dead).wants(link(url), "http://page.test/") is wanted


@pytest.mark.parametrize(
    ("row", "reused"),
    [
        ({"kind": "dead", "reason": "http_status", "status": 404}, True),
        ({"kind": "alive", "reason": "ok", "status": 200}, True),
        ({"kind": "skipped", "reason": "unsupported_scheme", "status": None}, True),
        ({"kind": "blocked", "reason": "error", "status": None}, False),
        ({"kind": "dead", "reason": "a_future_reason", "status": None}, False),
        ({"kind": "zombie", "reason": "ok", "status": 200}, False),
    ],
)
def test_stored_verdict(row, reused):
    verdict = stored_verdict({**row, "final_url": None, "detail": None})
    assert (verdict is not None) is reused
    if verdict is not None:
        assert (verdict.kind, verdict.reason, verdict.status, verdict.detail) == (
            row["kind"],
            row["reason"],
            row["status"],
            "",
        )


@pytest.mark.parametrize(
    ("message", "contention"),
    [
        ("database is locked", True),
        ("Database is locked", True),
        ("database table is locked", True),
        ("deadlock detected", True),
        ("could not serialize access due to concurrent update", True),
        ("no such table: pages", False),
        ("disk I/O error", False),
    ],
)
def test_is_contention(message, contention):
    assert store.is_contention(OperationalError("INSERT", {}, Exception(message))) is contention


def test_retry_on_contention_tries_again_then_gives_up():
    calls = []

    def flaky(fail_times):
        calls.append(1)
        if len(calls) <= fail_times:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return "done"

    assert store.retry_on_contention(flaky, 2, pause=0) == "done"
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(OperationalError):
        store.retry_on_contention(flaky, 10, attempts=3, pause=0)
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("0", None),
        ("2.5", None),
        ("-1", "BROKENLINKS_RECHECK_AFTER: -1 is not a number of days, at least 0"),
        ("soon", "BROKENLINKS_RECHECK_AFTER: 'soon' is not a number"),
    ],
)
def test_recheck_after_setting(value, error):
    from scrapy.settings import Settings

    settings = Settings({"BROKENLINKS_RECHECK_AFTER": value})
    if error is None:
        assert BrokenlinksConfig.from_settings(settings).recheck_after == float(value)
    else:
        with pytest.raises(ValueError, match=error.replace("(", r"\(")):
            BrokenlinksConfig.from_settings(settings)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T10:00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00+02:00", datetime(2024, 5, 1, 8, tzinfo=UTC)),
    ],
)
def test_parse_since(value, expected):
    assert parse_since(value) == expected


@pytest.mark.parametrize(
    ("path", "fmt"), [("a.csv", "csv"), ("a.JSON", "json"), ("dir/a.b.csv", "csv")]
)
def test_output_format(path, fmt):
    assert output_format(path) == fmt


@pytest.mark.parametrize("path", ["a.jsonl", "a", "a.xlsx", "csv"])
def test_output_format_refused(path):
    with pytest.raises(ValueError, match=r"use a \.csv or \.json file name"):
        output_format(path)


def test_render_table_cuts_long_cells_and_shows_missing_values():
    table = render_table([{"a": "x" * 100, "b": None, "c": True}], ["a", "b", "c"])
    header, rule, row = table.splitlines()
    assert row.split() == ["x" * 39 + "…", "-", "yes"]
    assert header.split() == ["a", "b", "c"]
    assert set(rule.replace(" ", "")) == {"-"}


@pytest.fixture
def crawler_stats():
    crawler = get_crawler(settings_dict={"BROKENLINKS_RECHECK_AFTER": 3})
    crawler._apply_settings()
    return crawler


@pytest_twisted.ensureDeferred
async def test_fresh_verdicts_seed_the_checker_with_recent_verdicts_only(tmp_path, crawler_stats):
    # run_in_thread uses asyncio.to_thread: the body must run in an asyncio task
    await Deferred.fromFuture(asyncio.ensure_future(fresh_verdicts_body(tmp_path, crawler_stats)))


async def fresh_verdicts_body(tmp_path, crawler_stats):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    engine = db.create_engine_from_url(url)
    db.migrate(engine)
    run_id = store.start_run(engine, "backlinks", {})
    now = datetime.now(UTC).replace(microsecond=0)
    store.write_batch(
        engine,
        run_id,
        [
            CheckItem(
                target_url="http://recent.test/",
                target_domain="recent.test",
                kind="dead",
                reason="http_status",
                status=404,
                final_url="http://recent.test/",
                checked_at=(now - timedelta(days=1)).isoformat(),
            ),
            CheckItem(
                target_url="http://old.test/",
                target_domain="old.test",
                kind="alive",
                reason="ok",
                status=200,
                final_url="http://old.test/",
                checked_at=(now - timedelta(days=4)).isoformat(),
            ),
        ],
    )
    engine.dispose()
    checker = build_from_crawler(LinkChecker, crawler_stats)
    fresh = FreshVerdicts(url, timedelta(days=3))
    urls = ["http://recent.test/", "http://old.test/", "http://unknown.test/"]
    assert await fresh.seed(checker, urls) == 1
    assert [checker.knows(u) for u in urls] == [True, False, False]
    result = await checker.check("http://recent.test/")
    assert (result.verdict.kind, result.verdict.status) == ("dead", 404)
    assert result.checked_at == (now - timedelta(days=1)).isoformat()
    assert checker.take_unreported() == []  # the database has it already
    assert crawler_stats.stats.get_value("brokenlinks/targets/cached") == 1
    assert await fresh.seed(checker, urls[:1]) == 0  # known now: not looked up again
    # an unparseable href is stored under its raw text, and reused like any verdict
    engine = db.create_engine_from_url(url)
    store.write_batch(
        engine,
        run_id,
        [
            CheckItem(
                target_url="http://[oops",
                target_domain="",
                kind="dead",
                reason="invalid_url",
                status=None,
                final_url=None,
                checked_at=(now - timedelta(hours=1)).isoformat(),
            ),
        ],
    )
    engine.dispose()
    assert await fresh.seed(checker, ["http://[oops"]) == 1
    again = await checker.check("http://[oops", verdicts.invalid_url("http://[oops"))
    assert again.checked_at == (now - timedelta(hours=1)).isoformat()
    assert checker.take_unreported() == []
    await fresh.spider_closed()


def test_csv_output_is_the_feeds_csv(tmp_path):
    # one writer: the commands' -o file.csv and the crawl's feed write the same cells
    path = tmp_path / "report.csv"
    rows = [{"a": "=SUM(A1)", "b": None, "c": ["nofollow", "ugc"], "d": 3, "e": True}]
    write_rows(rows, ["a", "b", "c", "d", "e"], str(path))
    assert path.read_bytes() == b'a,b,c,d,e\r\n\'=SUM(A1),,"nofollow,ugc",3,True\r\n'
