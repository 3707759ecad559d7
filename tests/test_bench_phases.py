"""The py-spy phase table of the benchmark (``benchmarks/phases.py``): a pure function."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import phases

PROCESS = 'process 42:"python -m scrapy crawl backlinks"'
REACTOR = "AsyncioSelectorReactor.run (twisted/internet/asyncioreactor.py:257)"
RAW = [
    # the download path: Twisted's HTTP client under the reactor
    f"{PROCESS};{REACTOR};HTTPClientParser.dataReceived (twisted/web/_newclient.py:10) 40",
    # extraction in a spider callback, and a log call inside it: logging
    f"{PROCESS};{REACTOR};parse (spiders/base.py:9);links (brokenlinks/parsing/extract.py:40) 20",
    f"{PROCESS};{REACTOR};links (brokenlinks/parsing/extract.py:40);debug (logging/__init__.py:7) 5",
    # judgement in a worker thread, decoding the body through Scrapy's Response
    (
        f"{PROCESS};thread (0x7f);_read_page (brokenlinks/checker/checks.py:122);"
        "page_signals (brokenlinks/judge/soft404.py:160) 12"
    ),
    (
        f"{PROCESS};_judge (brokenlinks/checker/checks.py:360);_markup (brokenlinks/checker/checks.py:129);"
        "TextResponse.text (scrapy/http/response/text.py:90) 3"
    ),
    # the store thread
    (
        f"{PROCESS};thread (0x7e);Store.flush (brokenlinks/storage/store.py:200);"
        "Session.execute (sqlalchemy/orm/session.py:2300) 15"
    ),
    # waiting: not CPU
    f"{PROCESS};{REACTOR};EpollSelector.select (selectors.py:468) 100",
    f"{PROCESS};thread (0x7d);_worker (concurrent/futures/thread.py:81) 50",
    # the checker's own code, and the engine
    f"{PROCESS};{REACTOR};LinkChecker._follow (brokenlinks/checker/checks.py:300) 2",
    f"{PROCESS};{REACTOR};ExecutionEngine._start_request (scrapy/core/engine.py:10) 3",
    f"{PROCESS};<module> (brokenlinks/settings.py:1);_find_and_load (<frozen importlib._bootstrap>:1) 4",
    "not a py-spy line",
    "",
]


def test_phases_deepest_project_frame_wins():
    counts = phases.phases(RAW)
    assert counts == Counter(
        {
            "download path (handler, Twisted, middlewares, asyncio)": 40,
            "page extraction": 20,
            "logging": 5,
            "body judgement (soft 404, parked, bot wall)": 15,
            "store (SQLAlchemy, sessions, SQL)": 15,
            phases.IDLE: 150,
            "link checker logic": 2,
            "engine, scheduler, spider": 3,
            "imports": 4,
        }
    )


def test_table_leaves_idle_out_and_adds_up():
    text = phases.table(phases.phases(RAW), cpu=1.04, requests=100)
    rows = list(text.splitlines()[2:])
    assert (
        rows[0] == "| download path (handler, Twisted, middlewares, asyncio) | 40 | 38.5% | 4.00 |"
    )
    assert rows[-1] == "| all | 104 | 100% | 10.40 |"
    assert "idle" not in text
    without_cpu = phases.table(Counter({"stats": 1}))
    assert without_cpu.splitlines()[0] == "| phase | samples | share |"


def test_command_reads_a_profile(tmp_path, capsys):
    profile = tmp_path / "prof.txt"
    profile.write_text("\n".join(RAW), encoding="utf-8")
    assert phases.main([str(profile)]) == 0
    assert "| page extraction | 20 |" in capsys.readouterr().out
