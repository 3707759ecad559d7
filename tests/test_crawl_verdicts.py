"""End to end: soft 404s, parked domains, bot walls and Retry-After through ``scrapy crawl``.

One crawl of ``blog.test/tricky.html`` (every case of issue 3, listed in
``tests/web/expected.json``); the assertions read the database, the feed and the test
web's request log.
"""

from __future__ import annotations

import itertools
import re

import pytest

from .conftest import run_crawl, write_seeds

pytestmark = pytest.mark.e2e

TRICKY = "http://blog.test/tricky.html"


@pytest.fixture(scope="module")
def tricky_crawl(tmp_path_factory, test_web):
    test_web.reset()
    tmp = tmp_path_factory.mktemp("tricky")
    seeds = write_seeds(tmp, [TRICKY])
    # no tricky host hangs: a long timeout keeps a loaded machine from cutting one of the
    # attempts this module counts (a 2 s timeout once cut one of throttle.test's six)
    result = run_crawl(tmp, test_web, {"seeds": str(seeds)}, settings={"DOWNLOAD_TIMEOUT": 15})
    assert result.returncode == 0, result.stderr[-3000:]
    result.web_requests = test_web.requests()  # type: ignore[attr-defined]
    return result


def targets(result):
    return {row["url"]: row for row in result.rows["targets"]}


def test_every_tricky_link_gets_its_verdict(tricky_crawl, expected):
    rows = targets(tricky_crawl)
    checked = [link for link in expected[TRICKY] if link["kind"] != "unchecked"]
    assert len(checked) == 34
    wrong = []
    for link in checked:
        row = rows[link["target_url"]]
        got = (row["kind"], row["reason"], row["status"], row["final_url"])
        want = (link["kind"], link["reason"], link["status"], link["final_url"])
        if got != want:
            wrong.append((link["target_url"], got, want, row["detail"]))
    assert not wrong


@pytest.mark.parametrize(
    ("target", "kind", "reason", "detail"),
    [
        # a template 404 answered with 200; its title says so
        ("http://soft404.test/old-greenhouse-guide", "dead", "soft_404", "says not found"),
        # a deep URL redirected to the home page
        ("http://rehome.test/2019/04/seed-trays", "dead", "soft_404", "home page"),
        # every unknown path 302s to a search page
        ("http://searchy.test/articles/old-watering-guide", "dead", "soft_404", "land too"),
        # German title
        ("http://seite.test/alte-seite", "dead", "soft_404", "says not found"),
        # the host serves its home page for unknown paths: same as the probe
        ("http://seite.test/kleingarten-2015", "dead", "soft_404", "cannot exist"),
        # a not-found template whose title says nothing: same as the probe
        ("http://webdev.test/old-plugin-review", "dead", "soft_404", "cannot exist"),
        # look-alikes that must stay alive
        ("http://webdev.test/fixing-404-errors.html", "alive", "ok", ""),
        ("http://soft404.test/hours.html", "alive", "ok", ""),
        ("http://soft404.test/", "alive", "ok", ""),
        ("http://seite.test/", "alive", "ok", ""),
        ("http://searchy.test/search?q=tomatoes", "alive", "ok", ""),
        ("http://parkingco.test/domain-parking.html", "alive", "ok", ""),
        # an app shell (same empty page for every URL) and an affiliate redirect to
        # another site's home page
        ("http://spa.test/recipes/green-tomato-chutney", "alive", "ok", ""),
        ("http://go.test/recommends/seed-catalogue", "alive", "ok", ""),
        # parked pages, by markup and by redirect to a marketplace
        ("http://heirloomseeds.test/catalogue", "dead", "parked", "Sedo"),
        ("http://gardenforum.test/", "dead", "parked", "ParkingCrew"),
        ("http://compostclub.test/", "dead", "parked", "dan.com"),
        ("http://plantswap.test/swap-calendar", "dead", "parked", "lander"),
        ("http://tomatoclub.test/varieties", "dead", "parked", "AdSense"),
        ("http://rosegarden.parked.test/varieties", "dead", "parked", "GoDaddy"),
        ("http://oldnursery.test/roses", "dead", "parked", "HugeDomains"),
        ("http://bulbshop.test/", "dead", "parked", "Afternic"),
        # bot walls and rate limits: blocked, never dead
        ("http://cfwall.test/", "blocked", "bot_wall", "Cloudflare"),
        ("http://cfwall.test/busy", "blocked", "bot_wall", "Cloudflare"),
        ("http://ddosguard.test/", "blocked", "bot_wall", "DDoS-Guard"),
        ("http://throttle.test/always", "blocked", "rate_limited", ""),
        ("http://later.test/", "blocked", "rate_limited", "beyond the cap"),
        ("http://maintenance.test/long", "blocked", "rate_limited", "beyond the cap"),
        ("http://slowdown.test/wait-2", "alive", "ok", ""),
        ("http://maintenance.test/back", "alive", "ok", ""),
    ],
)
def test_case_by_case(tricky_crawl, target, kind, reason, detail):
    row = targets(tricky_crawl)[target]
    assert (row["kind"], row["reason"]) == (kind, reason), row["detail"]
    assert detail in (row["detail"] or "")


def test_prospects_are_the_dead_rows(tricky_crawl, expected):
    want = sorted(
        (link["target_url"], link["reason"]) for link in expected[TRICKY] if link["kind"] == "dead"
    )
    got = sorted((item["target_url"], item["reason"]) for item in tricky_crawl.items)
    assert got == want
    assert {item["reason"] for item in tricky_crawl.items} == {"soft_404", "parked"}


def test_marketplaces_are_never_fetched(tricky_crawl):
    hosts = {r.host for r in tricky_crawl.web_requests}
    assert not hosts & {"www.hugedomains.com", "www.afternic.com"}
    assert "brokenlinks/requests/get" in tricky_crawl.stats


def test_one_probe_per_host_and_honest_hosts_stay_cheap(tricky_crawl):
    probes = [r for r in tricky_crawl.web_requests if "-brokenlinks-probe-" in r.path]
    per_host = {}
    for r in probes:
        per_host.setdefault(r.host, []).append(r)
    # one probe per host (searchy.test: the probe's redirect is followed, same host)
    assert all(len(v) == 1 for h, v in per_host.items() if h != "searchy.test"), per_host
    assert len(per_host["searchy.test"]) == 1
    # an honest host (404 to the probe): the 2xx HEAD is trusted, no GET
    slowdown = [r.method for r in tricky_crawl.web_requests if r.host == "slowdown.test"]
    assert slowdown.count("GET") == 1  # the probe only
    assert tricky_crawl.stats["brokenlinks/probes/honest"] == 3
    assert tricky_crawl.stats["brokenlinks/probes/not_honest"] == 14
    assert tricky_crawl.stats["brokenlinks/probes/sent"] == len(per_host) == 17


def test_retry_after_is_honoured_per_host(tricky_crawl):
    log = tricky_crawl.web_requests
    wait = [r for r in log if r.host == "slowdown.test" and r.path == "/wait-2"]
    assert [r.status for r in wait][:2] == [429, 200]
    # a lower bound only (the retry is held back); how late it comes is the machine's load
    gap = wait[1].time - wait[0].time
    assert gap >= 1.9, gap
    # other hosts were served meanwhile: the wait held back no one else
    others = [r for r in log if r.host != "slowdown.test" and wait[0].time < r.time < wait[1].time]
    assert others
    # seconds form: throttle.test waited about 1 s before each retry
    always = [r for r in log if r.host == "throttle.test" and r.path == "/always"]
    assert not [k for k in tricky_crawl.stats if "exception_type_count" in k and "Timeout" in k]
    assert len(always) == 6  # HEAD and GET, each retried RETRY_TIMES = 2 times
    assert all(b.time - a.time >= 0.9 for a, b in itertools.pairwise(always))
    # HTTP-date beyond the cap: no retry at all; HTTP-date in the past: retried at once
    assert [r.method for r in log if r.host == "later.test"] == ["HEAD", "GET"]
    back = [r for r in log if r.host == "maintenance.test" and r.path == "/back"]
    assert [r.status for r in back][:2] == [503, 200]  # (no wait: test_retry_after.py)
    stats = tricky_crawl.stats
    # over the cap: later.test HEAD, maintenance.test/long HEAD and GET ... (expected.json)
    assert stats["brokenlinks/retry_after/over_cap"] == 4
    # slowdown.test 1, throttle.test 3 HEAD + 3 GET answers, maintenance.test/back 1
    assert stats["brokenlinks/retry_after/honoured"] == 8


def test_summary_counts_what_could_not_be_verified(tricky_crawl):
    log = tricky_crawl.stderr
    assert re.search(r"blocked by reason: bot_wall 3, rate_limited 3", log), log[-2000:]
    assert re.search(r"dead by reason: parked 8, soft_404 6", log)


def test_retry_after_cap_setting(tmp_path, web):
    seeds = write_seeds(tmp_path, [TRICKY])
    result = run_crawl(
        tmp_path,
        web,
        {"seeds": str(seeds)},
        settings={"BROKENLINKS_RETRY_AFTER_MAX": 1, "DOWNLOAD_TIMEOUT": 15},  # as tricky_crawl
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Retry-After: 2 is over a 1 s cap: the HEAD is not retried and nobody waits; the
    # confirming GET finds the page back
    wait = [r for r in web.requests() if r.host == "slowdown.test" and r.path == "/wait-2"]
    assert [(r.method, r.status) for r in wait] == [("HEAD", 429), ("GET", 200)]
    assert result.stats["brokenlinks/retry_after/over_cap"] == 5
    assert result.stats["brokenlinks/retry_after/honoured"] == 7
    row = targets(result)["http://slowdown.test/wait-2"]
    assert (row["kind"], row["reason"]) == ("alive", "ok")


def test_probe_switched_off(tmp_path, web):
    seeds = write_seeds(tmp_path, [TRICKY])
    result = run_crawl(
        tmp_path,
        web,
        {"seeds": str(seeds)},
        settings={"BROKENLINKS_SOFT404_PROBE": False, "DOWNLOAD_TIMEOUT": 15},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert not [r for r in web.requests() if "-brokenlinks-probe-" in r.path]
    rows = targets(result)
    # a 2xx HEAD is trusted everywhere: the template 404 goes unnoticed ...
    assert rows["http://soft404.test/old-greenhouse-guide"]["kind"] == "alive"
    # ... while what needs no probe is still found: a home redirect (read with GET) and
    # redirects to marketplaces (decided on the Location)
    assert rows["http://rehome.test/2019/04/seed-trays"]["reason"] == "soft_404"
    assert rows["http://oldnursery.test/roses"]["reason"] == "parked"
    assert "brokenlinks/probes/sent" not in result.stats
