"""The schedule file, the due rule and the state file (``brokenlinks.ops.schedule``).

The calls to a real Scrapyd are in tests/test_scrapyd.py; here only a refused port is used.
"""

from __future__ import annotations

import configparser
import json
from datetime import UTC, datetime, timedelta

import pytest

from brokenlinks.ops.schedule import (
    GRACE,
    Job,
    LastRun,
    ScheduleError,
    is_due,
    parse_interval,
    parse_schedule,
    read_schedule,
    read_state,
    run_schedule,
    write_state,
)
from brokenlinks.testing.localweb import unused_port

from .conftest import PROJECT

HEADER = """
[scrapyd]
url = "http://127.0.0.1:6800"
project = "brokenlinks"
"""
JOB = """
[jobs.weekly]
spider = "backlinks"
every = "7d"
"""


@pytest.mark.parametrize(
    ("value", "interval"),
    [
        ("10m", timedelta(minutes=10)),
        ("90m", timedelta(minutes=90)),
        ("6h", timedelta(hours=6)),
        (" 1d ", timedelta(days=1)),
        ("7D", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("hourly", timedelta(hours=1)),
        ("Daily", timedelta(days=1)),
        ("weekly", timedelta(weeks=1)),
    ],
)
def test_intervals(value, interval):
    assert parse_interval(value) == interval


@pytest.mark.parametrize(
    "value", ["", "7", "d", "1.5d", "-1d", "0m", "9m", "1 day", "monthly", "1y", "7d 1h"]
)
def test_bad_intervals(value):
    with pytest.raises(ScheduleError, match="is not an interval"):
        parse_interval(value)


def test_schedule_file():
    schedule = parse_schedule(
        HEADER
        + """
username = "agency"
password = "pw"

[jobs.acme-reclaim]
spider = "backlinks"
every = "weekly"
priority = 2
args = { seeds = "https://files.example.com/acme.csv", domain = "acme.com" }
settings = { BROKENLINKS_DATABASE_URL = "postgresql+psycopg://bl@db/bl", DOWNLOAD_TIMEOUT = 20, ROBOTSTXT_OBEY = false, BROKENLINKS_RESOLVE = { "*.test" = "127.0.0.1:1" } }

[jobs.daily-resources]
spider = "backlinks"
every = "1d"
args = { seeds = "/srv/seeds/resources.txt" }
"""
    )
    assert (schedule.url, schedule.project) == ("http://127.0.0.1:6800/", "brokenlinks")
    assert (schedule.username, schedule.password) == ("agency", "pw")
    acme, daily = schedule.jobs
    assert acme == Job(
        name="acme-reclaim",
        spider="backlinks",
        every=timedelta(weeks=1),
        args={"seeds": "https://files.example.com/acme.csv", "domain": "acme.com"},
        settings={
            "BROKENLINKS_DATABASE_URL": "postgresql+psycopg://bl@db/bl",
            "DOWNLOAD_TIMEOUT": "20",
            "ROBOTSTXT_OBEY": "False",
            "BROKENLINKS_RESOLVE": '{"*.test": "127.0.0.1:1"}',
        },
        priority=2.0,
    )
    assert acme.form("brokenlinks") == [
        ("project", "brokenlinks"),
        ("spider", "backlinks"),
        ("priority", "2.0"),
        ("seeds", "https://files.example.com/acme.csv"),
        ("domain", "acme.com"),
        ("setting", "BROKENLINKS_DATABASE_URL=postgresql+psycopg://bl@db/bl"),
        ("setting", "DOWNLOAD_TIMEOUT=20"),
        ("setting", "ROBOTSTXT_OBEY=False"),
        ("setting", 'BROKENLINKS_RESOLVE={"*.test": "127.0.0.1:1"}'),
    ]
    assert (daily.every, daily.settings, daily.priority) == (timedelta(days=1), {}, 0.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[scrapyd\n", "not valid TOML"),
        (JOB, "scrapyd.url: missing"),
        ('[scrapyd]\nurl = "ftp://x"\nproject = "p"\n' + JOB, "is not an http(s) URL"),
        ('[scrapyd]\nurl = "http://x"\n' + JOB, "scrapyd.project: missing"),
        (HEADER, "jobs: no job"),
        (HEADER + "[other]\n" + JOB, "unknown table(s) other"),
        (HEADER + "port = 1\n" + JOB, "scrapyd: unknown key(s) port"),
        (HEADER + JOB + "when = 'monday'\n", "jobs.weekly: unknown key(s) when"),
        (HEADER + "[jobs.weekly]\nevery = '7d'\n", "jobs.weekly: missing spider"),
        (HEADER + "[jobs.weekly]\nspider = 'backlinks'\n", "jobs.weekly: missing every"),
        (HEADER + JOB.replace("7d", "7x"), "jobs.weekly.every: '7x' is not an interval"),
        (HEADER + JOB + "args = 'seeds=x'\n", "jobs.weekly.args: expected a table"),
        (HEADER + JOB + "priority = 'high'\n", "jobs.weekly.priority: expected a number"),
        (HEADER + "[jobs.'a b']\nspider = 'backlinks'\nevery = '1d'\n", "a job name is"),
    ],
)
def test_bad_schedule_files(text, message):
    with pytest.raises(ScheduleError) as info:
        parse_schedule(text, path="weekly.toml")
    assert str(info.value).startswith("schedule file 'weekly.toml': ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_schedule_file(tmp_path):
    with pytest.raises(ScheduleError, match="no such file"):
        read_schedule(tmp_path / "none.toml")


MONDAY = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("every", "last", "now", "due"),
    [
        ("7d", None, MONDAY, True),
        ("7d", MONDAY, MONDAY, False),
        ("7d", MONDAY, MONDAY + timedelta(days=6, hours=23), False),
        ("7d", MONDAY, MONDAY + timedelta(days=7) - GRACE - timedelta(seconds=1), False),
        ("7d", MONDAY, MONDAY + timedelta(days=7) - GRACE, True),
        ("7d", MONDAY, MONDAY + timedelta(days=7), True),
        ("7d", MONDAY, MONDAY + timedelta(days=30), True),
        ("1h", MONDAY, MONDAY + timedelta(minutes=54), False),
        ("1h", MONDAY, MONDAY + timedelta(minutes=55), True),
        # a clock set back: not due until the interval has passed again
        ("1d", MONDAY, MONDAY - timedelta(hours=1), False),
    ],
)
def test_due(every, last, now, due):
    job = Job(name="j", spider="backlinks", every=parse_interval(every))
    assert is_due(job, None if last is None else LastRun(last, "id"), now) is due


def test_state_round_trip(tmp_path):
    path = tmp_path / "s.state.json"
    assert read_state(path) == {}
    state = {"b": LastRun(MONDAY, "job-b"), "a": LastRun(MONDAY + timedelta(hours=1), "job-a")}
    write_state(path, state)
    assert read_state(path) == state
    assert list(json.loads(path.read_text())["jobs"]) == ["a", "b"]
    assert not (tmp_path / "s.state.json.tmp").exists()


@pytest.mark.parametrize("text", ["", "{", '{"jobs": {"a": {"at": "yesterday"}}}', "[]"])
def test_bad_state_file(tmp_path, text):
    path = tmp_path / "s.state.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScheduleError, match=r"unreadable.*fix or delete it"):
        read_state(path)


def test_unreachable_scrapyd_fails_the_job_and_keeps_the_state(tmp_path):
    schedule = parse_schedule(
        HEADER.replace("6800", str(unused_port())) + JOB + JOB.replace("weekly", "other")
    )
    state = tmp_path / "state.json"
    outcomes = run_schedule(schedule, state, now=MONDAY)
    assert [(o.job, o.action) for o in outcomes] == [("weekly", "failed"), ("other", "failed")]
    assert "schedule.json: " in outcomes[0].detail
    assert "refused" in outcomes[0].detail.lower()
    assert not state.exists()


def test_dry_run_and_unknown_forced_job(tmp_path):
    schedule = parse_schedule(HEADER + JOB)
    state = tmp_path / "state.json"
    write_state(state, {"weekly": LastRun(MONDAY, "j1")})
    outcomes = run_schedule(schedule, state, now=MONDAY + timedelta(days=1), dry_run=True)
    assert [(o.job, o.action) for o in outcomes] == [("weekly", "not_due")]
    assert outcomes[0].detail == f"next {(MONDAY + timedelta(days=7)).isoformat()}"
    with pytest.raises(ScheduleError, match="no job named 'nightly'"):
        run_schedule(schedule, state, force=frozenset({"nightly"}))


def test_deploy_examples():
    """The files in deploy/ are valid: the schedule parses, Scrapyd's config has auth."""
    deploy = PROJECT / "deploy"
    schedule = read_schedule(deploy / "schedule.toml")
    assert [job.name for job in schedule.jobs] == ["acme-reclaim", "coffee-resources"]
    assert all(job.every == timedelta(weeks=1) for job in schedule.jobs)
    assert all("BROKENLINKS_DATABASE_URL" in job.settings for job in schedule.jobs)
    conf = configparser.ConfigParser()
    conf.read(deploy / "scrapyd.conf", encoding="utf-8")
    assert conf["scrapyd"]["username"]
    assert conf["scrapyd"]["password"]
    for name in ("crontab", "brokenlinks-schedule.service"):
        assert "scrapy schedule deploy/schedule.toml" in (deploy / name).read_text()
    timer = (deploy / "brokenlinks-schedule.timer").read_text()
    assert "OnCalendar=hourly" in timer
    # a timer's random delay must stay within the grace, or weekly jobs slip by a period
    delay = int(timer.split("RandomizedDelaySec=")[1].split()[0])
    assert timedelta(seconds=delay) < GRACE
