"""The Scrapyd round trip, for real: deploy, schedule, poll, read the log and the database.

One Scrapyd (with a username and password) runs on 127.0.0.1 on a free port in a temporary
directory for the module; the project is deployed to it with ``scrapyd-deploy`` from a copy
of the checkout, and backlinks crawls run against the local test web. The server is stopped
by its PID at the end.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
import urllib.error
from datetime import timedelta

import pytest

from brokenlinks.ops.schedule import Job, ScheduleError, ScrapydClient

from .conftest import PROJECT, WEB_ROOT, resolve_map
from .scrapyd_support import PROJECT_NAME, ScrapydServer, clean_env, copy_project, deploy
from .test_egress import hostile_web, trap  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e

USERNAME = "agency"
PASSWORD = "s3cret-for-tests"
RESOURCE_PAGES = {"http://blog.test/resources.html", "http://news.test/article.html"}


@pytest.fixture(scope="module")
def scrapyd(tmp_path_factory):
    server = ScrapydServer(
        tmp_path_factory.mktemp("scrapyd") / "node", username=USERNAME, password=PASSWORD
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def deployed(scrapyd, tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("deploy") / "project")
    result = deploy(
        project, {"test": scrapyd.url}, username=USERNAME, password=PASSWORD, version="r1"
    )
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    answer = json.loads(result.stdout)
    assert answer["status"] == "ok", answer
    assert (answer["project"], answer["version"]) == (PROJECT_NAME, "r1")
    assert answer["spiders"] == len(local_spiders())
    return project


def local_spiders():
    listed = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return listed.stdout.split()


def rows(db_path, table):
    con = sqlite3.connect(db_path)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(f"SELECT * FROM {table}")]
    finally:
        con.close()


def crawl_settings(web, **extra):
    settings = {
        "BROKENLINKS_RESOLVE": json.dumps(resolve_map(web)),
        "DOWNLOAD_TIMEOUT": "2",
        **extra,
    }
    return [("setting", f"{key}={value}") for key, value in settings.items()]


def test_authentication_is_enforced(scrapyd):
    for path in ("daemonstatus.json", "listprojects.json"):
        with pytest.raises(urllib.error.HTTPError) as info:
            scrapyd.request(path, auth=False)
        info.value.close()
        assert info.value.code == 401
    assert scrapyd.get("daemonstatus.json")["status"] == "ok"


def test_deploy_without_credentials_is_refused(scrapyd, tmp_path):
    project = copy_project(tmp_path / "project")
    result = deploy(
        project, {"test": scrapyd.url}, username=None, password=None, version="anonymous"
    )
    assert result.returncode == 1
    assert "Deploy failed (401)" in result.stderr
    versions = scrapyd.get("listversions.json", [("project", PROJECT_NAME)])["versions"]
    assert "anonymous" not in versions


def test_deploy_lists_the_spider(scrapyd, deployed):
    assert scrapyd.get("listprojects.json")["projects"] == [PROJECT_NAME]
    assert scrapyd.get("listversions.json", [("project", PROJECT_NAME)])["versions"] == ["r1"]
    spiders = scrapyd.get("listspiders.json", [("project", PROJECT_NAME)])["spiders"]
    # the egg's spiders are the checkout's
    assert "backlinks" in spiders
    assert spiders == local_spiders()
    # the egg is what runs: Scrapyd keeps it in its own eggs_dir
    assert (scrapyd.root / "eggs" / PROJECT_NAME / "r1.egg").is_file()


def test_round_trip(scrapyd, deployed, test_web, tmp_path):
    """Two jobs: seeds by URL into a given database, seeds by path into the default one.

    The first checks its links in two shard processes: a shard starts from the deployed
    egg as the crawl does, and logs to the job's log.
    """
    test_web.reset()
    db_path = tmp_path / "shared.sqlite3"
    feed = tmp_path / "prospects.csv"
    by_url = scrapyd.post(
        "schedule.json",
        [
            ("project", PROJECT_NAME),
            ("spider", "backlinks"),
            ("seeds", "http://seeds.test/resources.txt"),
            ("jobid", "by-url"),
            *crawl_settings(
                test_web,
                BROKENLINKS_DATABASE_URL=f"sqlite:///{db_path}",
                FEEDS=json.dumps({str(feed): {"format": "csv"}}),
                BROKENLINKS_CHECK_SHARDS="2",
            ),
        ],
    )
    assert by_url == {"status": "ok", "jobid": "by-url", "node_name": scrapyd.node_name}
    by_path = scrapyd.post(
        "schedule.json",
        [
            ("project", PROJECT_NAME),
            ("spider", "backlinks"),
            ("seeds", str(WEB_ROOT / "seeds.test" / "mysite-links.csv")),
            ("domain", "mysite.test"),
            ("jobid", "by-path"),
            *crawl_settings(test_web),
        ],
    )
    assert by_path["status"] == "ok", by_path
    finished = scrapyd.wait_finished({"by-url", "by-path"})
    assert finished["by-url"]["spider"] == "backlinks"
    assert finished["by-url"]["log_url"] == "/logs/brokenlinks/backlinks/by-url.log"

    # listjobs.json has no exit status: the job log tells how the crawl ended
    for jobid in ("by-url", "by-path"):
        log = scrapyd.job_log("backlinks", jobid)
        assert "Spider closed (finished)" in log, log[-3000:]
        assert "] ERROR:" not in log, log[-3000:]
        assert "Traceback" not in log, log[-3000:]
    log = scrapyd.job_log("backlinks", "by-url")
    assert "Read 2 referring pages from http://seeds.test/resources.txt" in log
    assert f"sqlite:///{db_path}" in log
    assert "[shard 1/2]" in log
    assert "[shard 2/2]" in log

    # the settings given with -d setting=... reached the crawl: its rows are in db_path
    pages = {row["url"] for row in rows(db_path, "pages")}
    assert pages == RESOURCE_PAGES
    runs = rows(db_path, "crawl_runs")
    assert [(run["spider"], run["finish_reason"]) for run in runs] == [("backlinks", "finished")]
    assert json.loads(runs[0]["arguments"]) == {"seeds": "http://seeds.test/resources.txt"}
    stats = json.loads(runs[0]["stats"])
    assert stats["brokenlinks/prospects"] > 0
    assert stats["brokenlinks/shards/processes"] == 2
    dead = {row["url"] for row in rows(db_path, "targets") if row["kind"] == "dead"}
    assert {"http://gone.test/404", "http://mysite.test/old-guide.html"} <= dead
    # the prospects, exported where the FEEDS setting said
    with feed.open(encoding="utf-8", newline="") as f:
        prospects = list(csv.DictReader(f))
    assert len(prospects) == stats["brokenlinks/prospects"]
    assert {p["target_url"] for p in prospects} <= dead

    # without BROKENLINKS_DATABASE_URL the default relative path lands in Scrapyd's directory
    default_db = scrapyd.root / "data" / "brokenlinks.sqlite3"
    assert default_db.is_file()
    log = scrapyd.job_log("backlinks", "by-path")
    assert f"in sqlite:///data/brokenlinks.sqlite3 ({default_db})" in log
    assert {row["url"] for row in rows(default_db, "pages")} == {
        "http://news.test/article.html",
        "http://news.test/other.html",
    }
    checked = {row["url"] for row in rows(default_db, "targets") if row["kind"] is not None}
    assert checked
    assert all("mysite.test/" in url for url in checked)


def test_bad_arguments_show_in_the_job_log(scrapyd, deployed, test_web):
    answer = scrapyd.post(
        "schedule.json",
        [
            ("project", PROJECT_NAME),
            ("spider", "backlinks"),
            ("seeds", "no-such-seeds.txt"),
            ("jobid", "bad-seeds"),
            *crawl_settings(test_web),
        ],
    )
    assert answer["status"] == "ok"
    scrapyd.wait_finished({"bad-seeds"})
    log = scrapyd.job_log("backlinks", "bad-seeds")
    errors = [line for line in log.splitlines() if "] ERROR:" in line]
    assert errors, log[-3000:]
    assert (
        f"seeds: file 'no-such-seeds.txt' does not exist (relative to {scrapyd.root})" in errors[0]
    )
    # Scrapyd's own log has the exit status listjobs.json leaves out
    assert "Process died: exitstatus=1" in scrapyd.log_path.read_text()


def test_schedule_command_against_scrapyd(scrapyd, deployed, test_web, tmp_path):
    """``scrapy schedule``: the due job is scheduled once, runs, and is not due again."""
    test_web.reset()
    db_path = tmp_path / "weekly.sqlite3"
    schedule = tmp_path / "schedule.toml"
    resolve = ", ".join(f'"{k}" = "{v}"' for k, v in resolve_map(test_web).items())
    schedule.write_text(
        f"""
[scrapyd]
url = "{scrapyd.url}"
project = "{PROJECT_NAME}"

[jobs.weekly-resources]
spider = "backlinks"
every = "7d"
args = {{ seeds = "http://seeds.test/resources.txt" }}
settings = {{ BROKENLINKS_DATABASE_URL = "sqlite:///{db_path}", DOWNLOAD_TIMEOUT = 6, BROKENLINKS_RESOLVE = {{ {resolve} }} }}
""",
        encoding="utf-8",
    )
    env = {
        **clean_env(tmp_path),
        "SCRAPYD_USERNAME": USERNAME,
        "SCRAPYD_PASSWORD": PASSWORD,
    }

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "scrapy", "schedule", str(schedule), *args],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    first = run()
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("weekly-resources: scheduled (job "), first.stdout
    jobid = first.stdout.split("(job ")[1].rstrip(")\n")
    state = json.loads((tmp_path / "schedule.state.json").read_text())
    assert state["jobs"]["weekly-resources"]["jobid"] == jobid

    # forced while the first job is pending or running: never two runs of one job at once
    # (the job waits on hang.test, linked from resources.html: two 6 s timeouts and the
    # confirmation's, so it runs long after a busy machine has started this command)
    second = run("--force", "weekly-resources")
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(f"weekly-resources: still_running (job {jobid} "), (
        second.stdout
    )

    scrapyd.wait_finished({jobid})
    log = scrapyd.job_log("backlinks", jobid)
    assert "Spider closed (finished)" in log, log[-3000:]
    assert {row["url"] for row in rows(db_path, "pages")} == RESOURCE_PAGES

    third = run()
    assert third.stdout.startswith("weekly-resources: not_due (next "), third.stdout
    dry = run("--dry-run", "--force", "weekly-resources")
    assert dry.stdout == "weekly-resources: due\n", dry.stdout
    # wrong credentials: one line, exit status 1
    env["SCRAPYD_PASSWORD"] = "wrong"
    refused = run("--force", "weekly-resources")
    assert refused.returncode == 1
    assert "HTTP 401 (wrong or missing username/password)" in refused.stderr
    assert json.loads((tmp_path / "schedule.state.json").read_text()) == state


def test_schedule_client_reports_scrapyd_errors(scrapyd, deployed):
    client = ScrapydClient(scrapyd.url, username=USERNAME, password=PASSWORD)
    job = Job(name="typo", spider="backlink", every=timedelta(days=1))
    with pytest.raises(ScheduleError, match=r"schedule\.json: spider 'backlink' not found$"):
        client.schedule(PROJECT_NAME, job)
    assert client.state(PROJECT_NAME, "no-such-job") is None
    with pytest.raises(ScheduleError, match="project 'elsewhere' not found"):
        client.state("elsewhere", "no-such-job")


@pytest.mark.e2e
def test_browser_settings_of_a_job_cannot_switch_the_guard_off(
    scrapyd,
    deployed,
    tmp_path,
    hostile_web,  # noqa: F811  (fixtures of tests/test_egress.py)
    trap,  # noqa: F811
):
    """Scrapyd's ``setting=`` has the command line's priority: merged, or refused."""
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://hostile.test/\n", encoding="utf-8")
    db_path = tmp_path / "guard.sqlite3"
    resolve = json.dumps({"*.test": f"127.0.0.1:{hostile_web.port}"})
    jobs = {
        "guard-merged": {"args": ["--user-agent=BrokenlinksProbe/1"]},
        "guard-bypass": {"args": ["--no-proxy-server"]},
    }
    for jobid, options in jobs.items():
        answer = scrapyd.post(
            "schedule.json",
            [
                ("project", PROJECT_NAME),
                ("spider", "backlinks"),
                ("seeds", str(seeds)),
                ("render", "always"),
                ("jobid", jobid),
                ("setting", f"BROKENLINKS_RESOLVE={resolve}"),
                ("setting", f"BROKENLINKS_DATABASE_URL=sqlite:///{db_path}"),
                ("setting", "DOWNLOAD_TIMEOUT=2"),
                ("setting", f"PLAYWRIGHT_LAUNCH_OPTIONS={json.dumps(options)}"),
            ],
        )
        assert answer["status"] == "ok", answer
    scrapyd.wait_finished(set(jobs))

    log = scrapyd.job_log("backlinks", "guard-merged")
    assert "Spider closed (finished)" in log, log[-3000:]
    assert "] ERROR:" not in log, log[-3000:]
    stats = json.loads(rows(db_path, "crawl_runs")[0]["stats"])
    assert stats["brokenlinks/render/pages"] == 1
    assert stats["brokenlinks/render/egress/refused/loopback"] >= 8
    assert trap.seen == []

    log = scrapyd.job_log("backlinks", "guard-bypass")
    errors = [line for line in log.splitlines() if "] ERROR:" in line]
    assert len(errors) == 1, log[-3000:]
    assert (
        "PLAYWRIGHT_LAUNCH_OPTIONS: '--no-proxy-server' would bypass the browser's egress proxy"
        in errors[0]
    )
    assert len(rows(db_path, "crawl_runs")) == 1, "the refused job crawled nothing"
