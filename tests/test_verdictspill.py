"""The bounded verdict memory (``brokenlinks.checker.spill``): eviction, lookup, round-trip, cleanup."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from brokenlinks.checker import verdicts
from brokenlinks.checker.checks import LinkChecker
from brokenlinks.checker.spill import VerdictMemory, pack, unpack
from brokenlinks.checker.verdicts import CheckResult, Kind, Reason, Verdict

from .conftest import PROJECT

URL = "http://a.test/page"


def result(url: str, status: int = 200) -> CheckResult:
    return CheckResult(url, verdicts.classify_status(status, url), "2026-11-28T23:00:00+00:00")


def urls(n: int) -> list[str]:
    return [f"http://h{i}.test/p{i}" for i in range(n)]


def spill_dirs(parent) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("brokenlinks-verdicts-"))


# -- round-trip -------------------------------------------------------------------------


VERDICT_SHAPES = list(
    itertools.product(
        Kind,
        Reason,
        [None, 200, 404, 999],
        [None, URL, "http://b.test/other", ""],
        ["", "ConnectionRefusedError: [Errno 111] é ☃", "x\x00y"],
        ["2026-11-28T23:00:00+00:00", "2026-01-02 03:04:05.123456"],
    )
)


def test_every_verdict_shape_round_trips_through_a_real_spill(tmp_path):
    """Every kind × reason × status × final URL × detail, through pack, SQLite and unpack."""
    memory = VerdictMemory(1, directory=str(tmp_path))
    originals = [
        CheckResult(f"{URL}?{i}", Verdict(kind, reason, status, final, detail), at)
        for i, (kind, reason, status, final, detail, at) in enumerate(VERDICT_SHAPES)
    ]
    originals.append(
        CheckResult(URL, Verdict(Kind.DEAD, Reason.SOFT_404, 200, URL, "same URL"), "t")
    )
    for original in originals:
        assert unpack(pack(original)) == original
        memory.put(original)
    memory.put(result("http://last.test/"))  # every original is on disk now
    assert memory.in_memory() == ["http://last.test/"]
    for original in originals:
        back = memory.get(original.url)
        assert back == original
        assert type(back.verdict.kind) is Kind
        assert type(back.verdict.reason) is Reason
    memory.close()


def test_a_final_url_equal_to_the_url_is_not_stored_twice():
    same = CheckResult(URL, Verdict(Kind.ALIVE, Reason.OK, 200, URL), "t")
    other = CheckResult(URL, Verdict(Kind.ALIVE, Reason.OK, 200, URL + "/"), "t")
    assert pack(same)[3] is None
    assert pack(other)[3] == (URL + "/").encode()


TEXT = st.text()  # lone surrogates and NULs included


@settings(deadline=None)
@given(
    url=TEXT,
    kind=st.sampled_from(Kind),
    reason=st.sampled_from(Reason),
    status=st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
    final_url=st.none() | TEXT,
    detail=TEXT,
    checked_at=TEXT,
    final_is_url=st.booleans(),
)
def test_pack_unpack_round_trip_is_exact(
    url, kind, reason, status, final_url, detail, checked_at, final_is_url
):
    final = url if final_is_url else final_url
    original = CheckResult(url, Verdict(kind, reason, status, final, detail), checked_at)
    assert unpack(pack(original)) == original


@settings(deadline=None, max_examples=30)
@given(st.lists(TEXT, min_size=1, max_size=8, unique=True))
def test_any_urls_come_back_from_the_spill(tmp_path_factory, keys):
    memory = VerdictMemory(1, directory=str(tmp_path_factory.mktemp("spill")))
    try:
        for key in keys:
            memory.put(CheckResult(key, Verdict(Kind.DEAD, Reason.DNS, None, key, key), key))
        for key in keys:
            assert memory.get(key) == CheckResult(
                key, Verdict(Kind.DEAD, Reason.DNS, None, key, key), key
            )
    finally:
        memory.close()


# -- eviction and lookup ----------------------------------------------------------------


def test_least_recently_used_are_spilled_first_and_come_back(tmp_path):
    crawler = get_crawler()
    stats = crawler.stats
    a, b, c, d = urls(4)
    memory = VerdictMemory(3, stats=stats, directory=str(tmp_path))
    for url in (a, b, c):
        memory.put(result(url))
    assert memory.spill_path is None  # nothing spilled, no file made
    assert spill_dirs(tmp_path) == []
    assert memory.get(a) == result(a)  # a is now the most recently used
    memory.put(result(d))
    assert memory.in_memory() == [c, a, d]  # b, the least recently used, went to disk
    assert stats.get_value("brokenlinks/verdicts/spilled") == 1
    assert memory.spill_path is not None
    assert memory.spill_path.exists()
    assert b in memory
    assert len(memory) == 4
    # a miss in memory is answered by the spill, and b is the most recently used again
    assert memory.get(b) == result(b)
    assert stats.get_value("brokenlinks/verdicts/spill_hits") == 1
    assert memory.in_memory() == [a, d, b]
    assert stats.get_value("brokenlinks/verdicts/spilled") == 2  # c made room for it
    assert memory.get("http://never.test/") is None
    assert "http://never.test/" not in memory
    assert stats.get_value("brokenlinks/verdicts/spill_hits") == 1
    memory.close()


def test_a_share_of_the_bound_is_spilled_at_once_and_clean_results_are_not_rewritten(tmp_path):
    crawler = get_crawler()
    stats = crawler.stats
    memory = VerdictMemory(32, stats=stats, directory=str(tmp_path))
    many = urls(65)
    for url in many[:33]:
        memory.put(result(url))
    # over the bound by one: the two next least recently used go too (32 // 16), at once
    assert memory.in_memory() == many[3:33]
    assert stats.get_value("brokenlinks/verdicts/spilled") == 3
    assert memory.get(many[0]) == result(many[0])
    assert stats.get_value("brokenlinks/verdicts/spill_hits") == 1
    assert memory.in_memory() == [*many[3:33], many[0]]
    for url in many[33:]:
        memory.put(result(url))
    kept = memory.in_memory()
    assert len(kept) <= 32
    assert many[0] not in kept
    # each result written once: many[0] came back unchanged and was not written again
    assert stats.get_value("brokenlinks/verdicts/spilled") == len(many) - len(kept)
    assert len(memory) == len(many)
    for url in many:
        assert memory.get(url) == result(url)
    memory.close()


def test_a_newer_result_replaces_the_spilled_one(tmp_path):
    a, b = urls(2)
    memory = VerdictMemory(1, directory=str(tmp_path))
    memory.put(result(a, 200))
    memory.put(result(b))  # a spilled
    memory.put(result(a, 404))  # a back in memory with its new verdict, b spilled
    memory.put(result(b))  # a spilled again, over its old row
    assert memory.get(a) == result(a, 404)
    assert len(memory) == 2
    memory.close()


def test_no_bound_keeps_everything_in_memory(tmp_path):
    memory = VerdictMemory(0, directory=str(tmp_path))
    for url in urls(50):
        memory.put(result(url))
    assert memory.in_memory() == urls(50)
    assert memory.spill_path is None
    assert spill_dirs(tmp_path) == []


def test_a_negative_bound_is_refused():
    with pytest.raises(ValueError, match="at least 0"):
        VerdictMemory(-1)


def test_an_unwritable_spill_keeps_every_result_in_memory(tmp_path, caplog):
    """TMPDIR cannot be written: the results stay in memory, none is lost, one error line."""
    memory = VerdictMemory(2, directory=str(tmp_path / "no-such-directory"))
    for url in urls(5):
        memory.put(result(url))
    assert memory.in_memory() == urls(5)  # least recently used first, as before
    assert memory.spill_path is None
    for url in urls(5):
        assert memory.get(url) == result(url)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "Cannot spill verdicts" in errors[0].getMessage()
    assert "no-such-directory" in errors[0].getMessage()
    memory.close()


# -- cleanup ------------------------------------------------------------------------------


def test_close_removes_the_spill_and_is_idempotent(tmp_path):
    memory = VerdictMemory(1, directory=str(tmp_path))
    for url in urls(3):
        memory.put(result(url))
    assert len(spill_dirs(tmp_path)) == 1
    memory.close()
    memory.close()
    assert spill_dirs(tmp_path) == []
    # nothing is spilled after close: the memory just holds on
    memory.put(result("http://late.test/"))
    assert spill_dirs(tmp_path) == []


@pytest.mark.e2e
def test_the_spill_is_removed_when_an_exception_ends_the_process(tmp_path):
    """No close (an exception escaped the crawl): the interpreter's exit removes it."""
    script = textwrap.dedent(
        f"""
        from brokenlinks.checker.verdicts import CheckResult, Kind, Reason, Verdict
        from brokenlinks.checker.spill import VerdictMemory

        memory = VerdictMemory(1, directory={str(tmp_path)!r})
        for i in range(3):
            memory.put(CheckResult(f"http://x.test/{{i}}", Verdict(Kind.ALIVE, Reason.OK), "t"))
        assert memory.spill_path.exists()
        print(memory.spill_path, flush=True)
        raise RuntimeError("the crawl failed")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        check=False,
    )
    assert proc.returncode == 1
    assert "RuntimeError: the crawl failed" in proc.stderr
    assert "brokenlinks-verdicts-" in proc.stdout
    assert spill_dirs(tmp_path) == []


# -- in the checker -----------------------------------------------------------------------


@deferred_f_from_coro_f
async def test_the_checker_finds_spilled_verdicts_and_closes_the_spill(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    crawler = get_crawler(settings_dict={"BROKENLINKS_VERDICTS_IN_MEMORY": 2})
    checker = build_from_crawler(LinkChecker, crawler)
    decided = [await checker.check(url, verdicts.classify_status(404, url)) for url in urls(5)]
    fresh = checker.remember(
        "http://fresh.test/", verdicts.classify_status(200, "http://fresh.test/"), "then"
    )
    assert len(spill_dirs(tmp_path)) == 1
    assert crawler.stats.get_value("brokenlinks/verdicts/spilled") == 4
    for done in decided:
        assert checker.knows(done.url)
        assert checker.known(done.url) == done
        # a spilled verdict is never decided again
        assert await checker.check(done.url, verdicts.classify_status(200, done.url)) == done
    assert checker.known("http://fresh.test/") == fresh
    assert [r.url for r in checker.take_unreported()] == urls(5)
    assert crawler.stats.get_value("brokenlinks/targets/checked") == 5
    assert crawler.stats.get_value("brokenlinks/verdicts/spill_hits") >= 5
    checker.close()
    assert spill_dirs(tmp_path) == []
