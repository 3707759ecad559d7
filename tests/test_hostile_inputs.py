"""The bad-input suite: hostile seeds files, settings, stores, pages and servers.

Every row is something a stranger's page, an unlucky export or an operator's typo can
produce. Each has one expected outcome (docs/faults.md is the same table for users), and
the database is checked afterwards: ``PRAGMA integrity_check`` and row counts, so that a
fault never costs what was stored before.

Faults found before the crawl go through the crawl command in-process (and a few through a
real ``scrapy crawl``); faults found while crawling share one crawl whose seeds file lists
every hostile page. The CPU-bound pages (200,000 links, 100,000-deep nesting) are tested on
``extract_page`` alone: in a crawl they would only starve the other downloads' timers.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import shutil
import socket
import sqlite3
import threading
from typing import TYPE_CHECKING

import pytest
from scrapy.settings import Settings

from brokenlinks.commands.crawl import Command
from brokenlinks.items import PROSPECT_FIELDS as FEED_EXPORT_FIELDS
from brokenlinks.parsing.extract import extract_page
from brokenlinks.reporting.reports import render_table
from brokenlinks.seeds import read as seeds_module
from brokenlinks.testing.localweb import LocalWeb
from tests.conftest import read_tables, run_crawl, write_seeds

if TYPE_CHECKING:
    from pathlib import Path

# -- a server that misbehaves below HTTP's level ---------------------------------------


class RawServer:
    """Answers by path with hand-written bytes: a slowloris trickle, an endless chunked body."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                request = conn.recv(65536)
                path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b"/"
                if path.startswith(b"/trickle"):
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>")
                    while not self.stopping.wait(0.2):
                        conn.sendall(b" ")  # a byte at a time, never finishing
                elif path.startswith(b"/chunked"):
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n"
                    )
                    chunk = b"<p>" + b"x" * 65_000 + b"</p>"
                    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
                    while not self.stopping.is_set():
                        conn.sendall(frame)
                else:
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


# -- the hostile web -------------------------------------------------------------------

MAXSIZE = 2 * 1024 * 1024


def _hostile_files(root: Path) -> dict[str, dict[str, object]]:
    site = root / "bad.test"
    site.mkdir(parents=True)
    (site / "charset.html").write_bytes(
        b'<!doctype html><title>Caf\xe9</title><a href="http://gone.test/404">caf\xe9</a>'
    )
    (site / "bomb.html").write_bytes(gzip.compress(b" " * (16 * 1024 * 1024), 9))
    (site / "refresh-a.html").write_text(
        '<meta http-equiv="refresh" content="0;url=/refresh-b.html"><a href="/x">x</a>',
        encoding="utf-8",
    )
    (site / "refresh-b.html").write_text(
        '<meta http-equiv="refresh" content="0;url=/refresh-a.html"><a href="/y">y</a>',
        encoding="utf-8",
    )
    return {
        "bad.test": {
            "/charset.html": {
                "file": "bad.test/charset.html",
                "content_type": "text/html; charset=x-no-such-charset",
            },
            "/bomb.html": {
                "file": "bad.test/bomb.html",
                "headers": {"Content-Encoding": "gzip"},
            },
            "/to-private": {"location": "http://10.0.0.1/admin"},
            "/to-loopback-name": {"location": "http://localhost/admin"},
        },
        "gone.test": {"/404": {"status": 404}},
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-web")
    routes = _hostile_files(root)
    raw = RawServer()
    with LocalWeb(root, routes=routes) as web:
        yield web, raw
    raw.stop()


def resolve(web: LocalWeb, raw: RawServer) -> dict[str, str]:
    return {"*.test": f"127.0.0.1:{web.port}", "raw.test": f"127.0.0.1:{raw.port}"}


def integrity_and_counts(db_path: Path) -> tuple[str, dict[str, int]]:
    con = sqlite3.connect(db_path)
    try:
        check = con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()
    tables = read_tables(db_path)
    return check, {name: len(rows) for name, rows in tables.items()}


# -- faults found before the crawl ------------------------------------------------------


def command_line(settings: dict[str, object], seeds: str) -> tuple[int, list[str]]:
    """Run the project's ``scrapy crawl backlinks -a seeds=SEEDS`` command in-process.

    Every fault of this table ends the command in ``process_options``, before
    ``scrapy.cmdline`` builds a crawler process, so that hook gives the exact line and exit
    status that ``scrapy crawl`` gives (the subprocess tests below prove it for a few rows)
    at a fraction of the cost.
    """
    project = Settings()
    project.setmodule("brokenlinks.settings", priority="project")
    project.setdict(settings, priority="cmdline")
    command = Command()
    command.settings = project
    parser = argparse.ArgumentParser()
    command.add_options(parser)
    opts = parser.parse_args(["-a", f"seeds={seeds}"])
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            command.process_options(["backlinks"], opts)
        except SystemExit as e:
            command.exitcode = int(e.code or 0)
    return command.exitcode, stderr.getvalue().splitlines()


_HUGE_LINE = "http://a.test/" + "x," * 100_000


def _seeds_file(tmp: Path, case: str) -> str:
    path = tmp / "seeds.txt"
    if case == "overlong line":
        path.write_text("http://bad.test/charset.html\n" + _HUGE_LINE + "\n", encoding="utf-8")
    elif case == "one 50 MB line":
        path.write_text("a," * 25_000_000, encoding="utf-8")
    elif case == "NUL bytes":
        path.write_bytes(b"http://bad.test/charset.html\n\x00\x01\x02")
    elif case == "a directory":
        path.mkdir()
    elif case == "an HTML page":
        path.write_text("<!DOCTYPE html><html><title>a, b</title></html>", encoding="utf-8")
    elif case == "only invalid lines":
        path.write_text("".join(f"not a url {i}\n" for i in range(100_000)), encoding="utf-8")
    else:
        path.write_text("http://bad.test/charset.html\n", encoding="utf-8")
    return str(path)


PRE_CRAWL = [
    ("overlong line", {}, "error: seeds file '{seeds}': line 2 is longer than 131072 characters"),
    ("one 50 MB line", {}, "error: seeds file '{seeds}': line 1 is longer than 131072 characters"),
    (
        "NUL bytes",
        {},
        "error: seeds file '{seeds}': looks binary (NUL bytes and no UTF-16 byte order mark)",
    ),
    ("a directory", {}, "error: seeds: '{seeds}' is not a file"),
    (
        "an HTML page",
        {},
        (
            "error: seeds file '{seeds}': is an HTML page, not a seeds file (a URL list or a "
            "backlink CSV export)"
        ),
    ),
    (
        "only invalid lines",
        {},
        (
            "error: seeds file '{seeds}': no valid referring page URL (100000 invalid; line 1: "
            "'not a url 0': contains whitespace (one URL per line))"
        ),
    ),
    (
        "setting",
        {"BROKENLINKS_RECHECK_AFTER": "-1"},
        "error: BROKENLINKS_RECHECK_AFTER: -1 is not a number of days, at least 0",
    ),
    (
        "setting",
        {"BROKENLINKS_RECHECK_AFTER": "abc"},
        "error: BROKENLINKS_RECHECK_AFTER: 'abc' is not a number",
    ),
    (
        "setting",
        {"BROKENLINKS_RESOLVE": "garbage"},
        (
            "error: BROKENLINKS_RESOLVE: 'garbage' is not NAME=ADDRESS[:PORT] pairs separated by "
            "commas, or a JSON object"
        ),
    ),
    (
        "setting",
        {"BROKENLINKS_RESOLVE": "a.test=not-an-ip"},
        "error: invalid BROKENLINKS_RESOLVE value 'not-an-ip' for 'a.test': not an IP address",
    ),
    (
        "setting",
        {"BROKENLINKS_STORE_BATCH_SIZE": "2.5"},
        "error: BROKENLINKS_STORE_BATCH_SIZE: '2.5' is not a whole number",
    ),
    (
        "setting",
        {"BROKENLINKS_MAX_BODY_BYTES": "10"},
        "error: BROKENLINKS_MAX_BODY_BYTES: 10 is not a number of bytes, at least 1024",
    ),
    (
        "setting",
        {"BROKENLINKS_VERDICTS_IN_MEMORY": "-5"},
        "error: BROKENLINKS_VERDICTS_IN_MEMORY: -5 is not a whole number, at least 0 (0: no bound)",
    ),
    (
        "setting",
        {"BROKENLINKS_VERDICTS_IN_MEMORY": "many"},
        "error: BROKENLINKS_VERDICTS_IN_MEMORY: 'many' is not a whole number",
    ),
    (
        "setting",
        {"PLAYWRIGHT_CDP_URL": "http://10.0.0.1:9222"},
        (
            "error: PLAYWRIGHT_CDP_URL: a browser the crawl did not launch would bypass the "
            "network guard; unset it or use -a render=never"
        ),
    ),
]


@pytest.mark.parametrize(("case", "settings", "line"), PRE_CRAWL)
@pytest.mark.e2e
def test_bad_seeds_and_settings_fail_before_the_crawl(
    tmp_path, hostile_crawl, case, settings, line
):
    db_path = tmp_path / "db.sqlite3"
    shutil.copy(hostile_crawl.db_path, db_path)
    before = integrity_and_counts(db_path)
    seeds = _seeds_file(tmp_path, case)
    code, lines = command_line(
        {"BROKENLINKS_DATABASE_URL": f"sqlite:///{db_path}", **settings}, seeds
    )
    assert (code, lines) == (1, [line.format(seeds=seeds)])
    assert integrity_and_counts(db_path) == before
    assert before[0] == "ok"


STORE_CASES = [
    (
        "corrupt",
        (
            "error: BROKENLINKS_DATABASE_URL: cannot use the store 'sqlite:///{db}': file is not "
            "a database"
        ),
    ),
    (
        "not a database",
        (
            "error: BROKENLINKS_DATABASE_URL: cannot use the store 'sqlite:///{db}': file is not "
            "a database"
        ),
    ),
    (
        "read-only",
        (
            "error: BROKENLINKS_DATABASE_URL: cannot use the store 'sqlite:///file%3A{db}"
            "?mode=ro&uri=true': attempt to write a readonly database"
        ),
    ),
    (
        "parent is a file",
        (
            "error: invalid BROKENLINKS_DATABASE_URL='sqlite:///{db}/x.sqlite3': [Errno 17] File "
            "exists: '{db}'"
        ),
    ),
    (
        "unparseable",
        (
            "error: invalid BROKENLINKS_DATABASE_URL='not a url': Could not parse SQLAlchemy URL "
            "from given URL string"
        ),
    ),
]


def _store(tmp_path: Path, stored: Path, case: str) -> tuple[Path, str]:
    db_path = tmp_path / "db.sqlite3"
    if case == "corrupt":
        data = bytearray(stored.read_bytes())
        data[:100] = b"\xff" * 100  # the header: SQLite no longer recognises the file
        db_path.write_bytes(bytes(data))
    elif case == "not a database":
        db_path.write_text("name,url\nx,http://a.test/\n", encoding="utf-8")
    else:
        shutil.copy(stored, db_path)
    url = {
        "read-only": f"sqlite:///file:{db_path}?mode=ro&uri=true",
        "parent is a file": f"sqlite:///{db_path}/x.sqlite3",
        "unparseable": "not a url",
    }.get(case, f"sqlite:///{db_path}")
    return db_path, url


@pytest.mark.parametrize(("case", "line"), STORE_CASES)
@pytest.mark.e2e
def test_unusable_store_fails_before_the_crawl(tmp_path, hostile_crawl, case, line):
    db_path, url = _store(tmp_path, hostile_crawl.db_path, case)
    before = db_path.read_bytes()
    seeds = write_seeds(tmp_path, ["http://bad.test/charset.html"])
    code, lines = command_line({"BROKENLINKS_DATABASE_URL": url}, str(seeds))
    assert (code, lines) == (1, [line.format(db=db_path)])
    assert db_path.read_bytes() == before  # nothing written, nothing lost


@pytest.mark.parametrize(
    ("case", "settings", "line"),
    [PRE_CRAWL[6], ("read-only", {}, STORE_CASES[2][1])],
)
@pytest.mark.e2e
def test_real_scrapy_crawl_gives_the_same_line(
    tmp_path, hostile, hostile_crawl, case, settings, line
):
    web, raw = hostile
    db_path, url = _store(tmp_path, hostile_crawl.db_path, case)
    before = integrity_and_counts(db_path)
    seeds = _seeds_file(tmp_path, case)
    web.reset()
    result = run_crawl(
        tmp_path,
        web,
        {"seeds": seeds},
        db_path=db_path,
        settings={
            "BROKENLINKS_RESOLVE": resolve(web, raw),
            "BROKENLINKS_DATABASE_URL": url,
            "LOG_FILE": str(tmp_path / "job.log"),  # as Scrapyd runs it
            **settings,
        },
    )
    assert result.returncode == 1
    expected = line.format(seeds=seeds, db=db_path)
    assert result.stderr.splitlines() == [expected]
    assert expected.removeprefix("error: ") in (tmp_path / "job.log").read_text(encoding="utf-8")
    assert web.requests() == []
    assert integrity_and_counts(db_path) == before


# -- faults found while crawling ------------------------------------------------------

#: referring page → the start of the error stored for it (None: read, with its links)
EXPECTED_PAGES: dict[str, str | None] = {
    "http://bad.test/charset.html": None,
    "http://bad.test/bomb.html": (
        "IgnoreRequest: Ignored response <200 http://bad.test/bomb.html> because its body ("
    ),
    # a meta refresh is not followed (brokenlinks.downloadermiddlewares.redirects): the page is read as itself,
    # and its refresh target is one of its links, so a refresh loop cannot lose it
    "http://bad.test/refresh-a.html": None,
    "http://bad.test/to-private": "refused by the network guard: private address 10.0.0.1",
    "http://bad.test/to-loopback-name": "refused by the network guard: loopback address 127.0.0.1",
    "http://raw.test/trickle": (
        "DownloadTimeoutError: Getting http://raw.test/trickle took longer than 10.0 seconds."
    ),
    "http://raw.test/chunked": (
        f"download cancelled: larger than DOWNLOAD_MAXSIZE ({MAXSIZE} bytes)"
    ),
}


@pytest.fixture(scope="module")
def hostile_crawl(tmp_path_factory, hostile):
    """One crawl of every hostile page; its database is also what later faults must keep."""
    web, raw = hostile
    web.reset()
    tmp_path = tmp_path_factory.mktemp("hostile-crawl")
    invalid = [f"not a url {i}" for i in range(100_000)]
    seeds = write_seeds(tmp_path, [*EXPECTED_PAGES, *invalid])
    return run_crawl(
        tmp_path,
        web,
        {"seeds": str(seeds), "render": "never"},
        settings={
            "BROKENLINKS_RESOLVE": resolve(web, raw),
            "DOWNLOAD_MAXSIZE": MAXSIZE,
            "DOWNLOAD_TIMEOUT": 10,
            "DOWNLOAD_WARNSIZE": 0,
            "RETRY_TIMES": 0,
            "BROKENLINKS_TIMEOUT_RETRY_TIMES": 0,
        },
        timeout=120,
    )


@pytest.mark.e2e
def test_hostile_pages_and_servers_in_one_crawl(hostile_crawl):
    result = hostile_crawl
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    # 100,000 invalid seed lines: ten logged with their numbers, the rest counted
    skipped = [line for line in result.stderr.splitlines() if ": skipped 'not a url" in line]
    assert len(skipped) == 10
    assert f"line {len(EXPECTED_PAGES) + 1}: skipped 'not a url 0'" in skipped[0]
    assert "skipped 99990 more invalid lines" in result.stderr
    assert result.stats["brokenlinks/seeds/invalid"] == 100_000
    pages = {row["url"]: row for row in result.rows["pages"]}
    for url, error in EXPECTED_PAGES.items():
        row = pages[url]
        if error is None:
            assert (row["status"], row["error"]) == (200, None), (url, row)
        else:
            assert row["status"] is None, (url, row)
            assert row["error"].startswith(error), (url, row)
            # each failed page is logged with its URL and reason
            assert f"Could not read {url}: {error}" in result.stderr
    assert "ERROR" not in result.stderr
    # the page with an unknown charset was read, its link checked, every link stored once
    links = result.rows["links"]
    dead = {(i["source_url"], i["target_url"]) for i in result.items}
    assert dead == {("http://bad.test/charset.html", "http://gone.test/404")}
    assert len(links) == len({(r["page_id"], r["target_id"]) for r in links})
    check, _ = integrity_and_counts(result.db_path)
    assert check == "ok"


@pytest.mark.e2e
def test_seeds_url_answering_an_html_page(tmp_path, hostile):
    web, raw = hostile
    result = run_crawl(
        tmp_path,
        web,
        {"seeds": "http://bad.test/charset.html"},
        settings={"BROKENLINKS_RESOLVE": resolve(web, raw)},
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "] ERROR: " in line]
    assert len(errors) == 1
    assert errors[0].endswith(
        "seeds file 'http://bad.test/charset.html': is an HTML page, not a seeds file "
        "(a URL list or a backlink CSV export)"
    )
    assert result.rows["crawl_runs"][-1]["finish_reason"] == "seeds_unavailable"


def test_two_hundred_thousand_links():
    html = (
        "<!doctype html><title>Links</title><main>"
        + "".join(f"<a href=/p/{i}>{i}</a>" for i in range(200_000))
        + '<a href="http://gone.test/404">dead</a></main>'
    )
    page = extract_page(html, "http://bad.test/links.html")
    assert len(page.links) == 200_001
    assert page.links[-1].url == "http://gone.test/404"


def test_hundred_thousand_deep_nesting():
    html = "<div>" * 100_000 + '<a href="http://gone.test/404">deep</a>' + "</div>" * 100_000
    page = extract_page(html, "http://bad.test/deep.html")
    assert [link.url for link in page.links] == ["http://gone.test/404"]


@pytest.mark.e2e
def test_no_referring_page_read_is_a_failed_run(tmp_path, hostile):
    web, raw = hostile
    seeds = write_seeds(
        tmp_path, ["http://bad.test/to-private", "http://gone.test/404", "http://x.invalid/"]
    )
    result = run_crawl(
        tmp_path,
        web,
        {"seeds": str(seeds), "render": "never"},
        output="prospects.csv",
        settings={"BROKENLINKS_RESOLVE": resolve(web, raw), "RETRY_TIMES": 0},
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "] ERROR: " in line]
    assert len(errors) == 1, result.stderr[-3000:]
    assert errors[0].endswith(
        "Crawl failed: no referring page could be read: 3 failed (CannotResolveHostError 1, "
        "guard_refused 1, http_404 1)"
    )
    assert "failed referring pages by reason: CannotResolveHostError 1, guard_refused 1" in (
        result.stderr
    )
    for url in ("http://bad.test/to-private", "http://gone.test/404", "http://x.invalid/"):
        assert f"Could not read {url}: " in result.stderr
    # an empty export still has its header row
    header = result.output.read_text(encoding="utf-8").splitlines()
    assert header == [",".join(FEED_EXPORT_FIELDS)]
    run = result.rows["crawl_runs"][-1]
    assert run["finish_reason"] == "finished"
    assert "no referring page could be read" in result.stats["brokenlinks/job_failed"]


def test_table_output_shows_printable_text_only():
    title = "Free tools\x1b[2J\x1b]0;pwned\x07 \u202egnp.exe"
    table = render_table([{"source_title": title, "n": 1}], ["source_title", "n"])
    assert not [ch for ch in table if ch != "\n" and not ch.isprintable()]
    assert "Free tools�[2J�]0;pwned� �gnp.exe" in table


def test_seeds_file_over_the_size_bound_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(seeds_module, "MAX_FILE_BYTES", 1024 * 1024)
    path = tmp_path / "huge.txt"
    path.write_text("http://a.example/\n" * 100_000, encoding="utf-8")  # 1.8 MB
    with pytest.raises(seeds_module.SeedFileError) as excinfo:
        seeds_module.read_seeds(path)
    assert str(excinfo.value) == f"seeds file '{path}': is larger than 1 MiB; split it"
