"""``scrapy demo``: every way of using brokenlinks, on the bundled demo web, offline.

Serves ``data/demo/`` (hosts under ``.demo``) on a loopback port with
:class:`brokenlinks.testing.localweb.LocalWeb` and runs, as child processes, the very
``scrapy crawl`` commands a user would type for each mode (printed before they run), with
``-s BROKENLINKS_RESOLVE={"*.demo": "127.0.0.1:PORT"}`` added:

- ``resources`` (the default): every dead outbound link on resource pages;
- ``reclaim``: links to your site (``mysite.demo``) that hit its dead pages, from a Search
  Console export;
- ``competitor``: links to a competitor's (``rivalbrew.demo``) dead pages, from a Semrush
  and an Ahrefs export;
- ``site``: a whole-site crawl of ``blog.demo``;
- ``weekly``: a crawl, the same crawl again (verdicts reused), then ``scrapy crawl recheck``;
- ``outreach``: from dead links to pitches: the resource-pages crawl (unless a mode before
  it ran it), ``scrapy crawl archive`` (what each dead page was, from ``archive.demo``, a
  Wayback Machine; RDAP from ``iana.demo``/``rdap.demo``), ``scrapy crawl contacts``,
  ``scrapy crawl mysite`` (your site ``mycoffee.demo``), ``scrapy pitches`` (one per
  recipient), a reclaim crawl of the pages linking to ``mycoffee.demo`` and
  ``scrapy redirects`` (the redirect map of its dead pages, as CSV and nginx rules);
- ``all``: each of them.

The crawls write to the database every command uses (``BROKENLINKS_DATABASE_URL``, default
``data/brokenlinks.sqlite3``), so ``scrapy report`` and ``scrapy prospects`` show their
results afterwards. People get one progress line per crawl and its summary; Scrapy's log
goes to ``data/demo.log`` (``--logfile FILE`` elsewhere, ``-L LEVEL`` to the terminal).
``scrapy demo --serve`` serves the demo web alone until Ctrl-C and prints the setting to
paste into any command of the documentation.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.commands import ScrapyCommand
from scrapy.utils.conf import closest_scrapy_cfg
from sqlalchemy.exc import SQLAlchemyError

from brokenlinks.commands.database import with_database
from brokenlinks.config import BrokenlinksConfig
from brokenlinks.extensions.summary import summary_lines
from brokenlinks.storage import db, store
from brokenlinks.testing.localweb import LocalWeb

if TYPE_CHECKING:
    import argparse
    from types import FrameType

#: where the crawls' log goes unless -L or --logfile says otherwise
DEFAULT_LOG = "data/demo.log"
#: how often the progress line is redrawn (seconds)
_TICK = 0.25


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One command the demo runs: what it shows, and the arguments after ``scrapy``."""

    title: str
    args: tuple[str, ...]
    #: check every target again (a demo shows checks, not verdicts remembered from last time)
    fresh: bool = True

    @property
    def is_crawl(self) -> bool:
        return self.args[0] == "crawl"

    @property
    def output(self) -> str | None:
        """The file the step writes (``-O``/``-o``), if any."""
        for option in ("-O", "-o"):
            if option in self.args:
                return self.args[self.args.index(option) + 1]
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Mode:
    what: str
    steps: tuple[Step, ...]


#: the demo web's Wayback Machine and RDAP bootstrap file (scrapy crawl archive)
OUTREACH_SETTINGS = (
    "BROKENLINKS_ARCHIVE_URL=http://archive.demo",
    "BROKENLINKS_RDAP_BOOTSTRAP_URL=http://iana.demo/rdap/dns.json",
)
#: your site in the outreach demo: its pages are the replacements pitched
MYSITE = "http://mycoffee.demo/"
#: where the outreach demo writes its pitches
PITCHES = "demo-pitches.csv"
#: the campaign of the demo's resource-pages crawl (kept apart from yours in the database)
DEMO_CAMPAIGN = "demo-resources"
#: where the outreach demo writes the redirect map of your site, as rows and nginx rules
REDIRECTS = ("demo-redirects.csv", "demo-redirects.conf")


def modes(demo: str, samples: str) -> dict[str, Mode]:
    """The demo's modes; *demo* and *samples* are the paths of data/demo and data/samples."""
    seeds = f"{demo}/seeds.txt"
    resource_pages = Step(
        title="resource pages",
        args=(
            "crawl",
            "backlinks",
            "-a",
            f"seeds={seeds}",
            "-a",
            f"campaign={DEMO_CAMPAIGN}",
            "-O",
            "demo-resources.csv",
        ),
    )
    weekly: tuple[str, ...] = ("crawl", "backlinks", "-a", f"seeds={seeds}")
    weekly += ("-a", "campaign=demo-weekly", "-O", "demo-weekly.csv")
    archive_settings = tuple(arg for value in OUTREACH_SETTINGS for arg in ("-s", value))
    return {
        "resources": Mode(
            what="resource pages: every dead outbound link on pages of your niche",
            steps=(resource_pages,),
        ),
        "reclaim": Mode(
            what="reclaim: links to your site (mysite.demo) that now hit its dead pages",
            steps=(
                Step(
                    title="reclaim, from a Search Console export",
                    args=(
                        "crawl",
                        "backlinks",
                        "-a",
                        f"seeds={samples}/gsc-latest-links.csv",
                        "-a",
                        "domain=mysite.demo",
                        # mysite.demo is not among your pages (scrapy crawl mysite): the
                        # campaign's name says it is yours
                        "-a",
                        "campaign=reclaim-mysite.demo",
                        "-O",
                        "demo-reclaim.csv",
                    ),
                ),
            ),
        ),
        "competitor": Mode(
            what="competitor: links to a competitor's (rivalbrew.demo) dead pages",
            steps=tuple(
                Step(
                    title=f"competitor, from {tool} export",
                    args=(
                        "crawl",
                        "backlinks",
                        "-a",
                        f"seeds={samples}/{name}-backlinks.csv",
                        "-a",
                        "domain=rivalbrew.demo",
                        "-O",
                        f"demo-competitor-{name}.csv",
                    ),
                )
                for name, tool in (("semrush", "a Semrush"), ("ahrefs", "an Ahrefs"))
            ),
        ),
        "site": Mode(
            what="whole site: every dead link of a site, internal and external",
            steps=(
                Step(
                    title="whole site",
                    args=("crawl", "site", "-a", "start=http://blog.demo/", "-O", "demo-site.csv"),
                ),
            ),
        ),
        "weekly": Mode(
            what="weekly: the database remembers; re-crawls reuse fresh verdicts",
            steps=(
                Step(
                    title="week 1",
                    args=weekly,
                ),
                Step(
                    title="later that week: fresh verdicts are reused",
                    args=weekly,
                    fresh=False,
                ),
                Step(
                    title="the scheduled re-check: still dead? still linked?",
                    args=("crawl", "recheck", "-O", "demo-still-dead.csv"),
                ),
            ),
        ),
        "outreach": Mode(
            what="outreach: from the dead links to pitches ready to send",
            steps=(
                resource_pages,
                Step(
                    title="what each dead page was (the archive), is its domain free (RDAP)?",
                    args=("crawl", "archive", *archive_settings),
                    fresh=False,
                ),
                Step(
                    title="whom to write to on each linking site",
                    args=("crawl", "contacts"),
                    fresh=False,
                ),
                Step(
                    title="your pages, to pick the replacements",
                    args=("crawl", "mysite", "-a", f"mysite={MYSITE}"),
                    fresh=False,
                ),
                Step(
                    title="pitches ready to send, one per recipient",
                    args=("pitches", "--campaign", DEMO_CAMPAIGN, "-o", PITCHES),
                    fresh=False,
                ),
                Step(
                    title="links to your own dead pages (reclaim): who links to mycoffee.demo",
                    args=(
                        "crawl",
                        "backlinks",
                        "-a",
                        f"seeds={demo}/mycoffee-links.txt",
                        "-a",
                        "domain=mycoffee.demo",
                        "-O",
                        "demo-reclaim-mycoffee.csv",
                    ),
                ),
                *(
                    Step(
                        title=f"the redirect map of your dead pages ({what})",
                        args=("redirects", "--campaign", "reclaim-mycoffee.demo", "-o", path),
                        fresh=False,
                    )
                    for what, path in zip(("rows", "nginx rules"), REDIRECTS, strict=True)
                ),
            ),
        ),
    }


MODE_NAMES = ("resources", "reclaim", "competitor", "site", "weekly", "outreach")


def display_path(path: Path, cwd: Path) -> str:
    """*path* relative to *cwd* when it is inside it (shorter commands), else absolute.

    >>> display_path(Path("/p/data/demo"), Path("/p")), display_path(Path("/p/data"), Path("/q"))
    ('data/demo', '/p/data')
    """
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()


def resolve_setting(port: int) -> str:
    """The ``-s`` argument that sends every ``*.demo`` name to the demo web, quoted for a shell.

    >>> resolve_setting(8800)
    '-s \\'BROKENLINKS_RESOLVE={"*.demo": "127.0.0.1:8800"}\\''
    """
    return "-s " + shlex.quote(f"BROKENLINKS_RESOLVE={json.dumps(resolve_map(port))}")


def resolve_map(port: int) -> dict[str, str]:
    return {"*.demo": f"127.0.0.1:{port}"}


class Command(ScrapyCommand):
    requires_project = True
    # the crawls run as child processes: the demo itself needs no crawler process
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}  # noqa: RUF012  (Scrapy's own attribute)

    def syntax(self) -> str:
        return "[resources|reclaim|competitor|site|weekly|outreach|all ...] | --serve [--port N]"

    def short_desc(self) -> str:
        return "Run each way of using brokenlinks on the bundled demo web (offline)"

    def long_desc(self) -> str:
        return (
            "Serve the demo web in data/demo/ on a loopback port and run, on it, the scrapy "
            "crawl commands of a mode (each printed before it runs): resources (the default), "
            "reclaim, competitor, site, weekly, outreach (archive, contacts, your site, then "
            f"scrapy pitches -o {PITCHES}, a reclaim crawl of your site and scrapy "
            f"redirects -o {REDIRECTS[0]}), or all of them. The resource-pages crawl is "
            f"campaign {DEMO_CAMPAIGN}. Prospects go to "
            "demo-<mode>.csv in the working directory, and every crawl is stored in the "
            "database all commands use (BROKENLINKS_DATABASE_URL, default "
            "data/brokenlinks.sqlite3): scrapy report and scrapy prospects read it. Scrapy's "
            f"log goes to {DEFAULT_LOG} (--logfile FILE), or to the terminal with -L LEVEL. "
            "--serve serves the demo web alone until Ctrl-C and prints the "
            "-s BROKENLINKS_RESOLVE=... that sends the documentation's examples to it."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.description = with_database(parser.description, self.settings)
        parser.add_argument(
            "--serve",
            action="store_true",
            help="serve the demo web until Ctrl-C and print the setting that reaches it",
        )
        parser.add_argument(
            "--port",
            type=int,
            default=0,
            metavar="N",
            help="port of the demo web (default: any free one)",
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        # the demo's own process never logs; what -L / --logfile / --nolog ask for is
        # passed on to the crawls it runs
        self._log_level = opts.loglevel
        self._log_file = opts.logfile
        self._no_log = bool(opts.nolog)
        self._user_settings = list(opts.set or [])

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        project = Path(closest_scrapy_cfg()).parent
        cwd = Path.cwd()
        demo = project / "data" / "demo"
        plan = modes(display_path(demo, cwd), display_path(project / "data" / "samples", cwd))
        if opts.serve:
            if args:
                self._fail(f"--serve takes no mode (got {' '.join(args)})")
                return
            self._serve(demo, opts.port, plan)
            return
        names = list(dict.fromkeys(args or ["resources"]))
        if "all" in names:
            names = list(MODE_NAMES)
        unknown = [name for name in names if name not in plan]
        if unknown:
            self._fail(f"unknown mode {', '.join(unknown)}; use {', '.join(MODE_NAMES)} or all")
            return
        try:
            database_url = BrokenlinksConfig.from_settings(self.settings).database_url
        except ValueError as e:
            self._fail(str(e))
            return
        steps: list[Step] = []
        for name in names:
            # a command an earlier mode ran already is not run again (outreach reuses the
            # resource-pages crawl); within a mode, a repeat is the point (weekly)
            earlier = {step.args for step in steps}
            steps += [step for step in plan[name].steps if step.args not in earlier]
        log_file = self._prepare_log()
        with LocalWeb(demo, port=opts.port) as web:
            for number, step in enumerate(steps, 1):
                if not self._run_step(
                    step,
                    number,
                    len(steps),
                    web=web,
                    database_url=database_url,
                    log_file=log_file,
                ):
                    self.exitcode = 1
                    break
        self._out("")
        self._out(f"Stored in {db.describe_url(database_url)}: scrapy report, scrapy prospects")
        if log_file:
            self._out(f"Crawl log: {log_file}")
        if PITCHES in {step.output for step in steps}:
            self._out(f"Pitches, one row per recipient with a draft: {PITCHES}")
        if REDIRECTS[0] in {step.output for step in steps}:
            self._out(f"Redirect map of your dead pages: {' and '.join(REDIRECTS)}")
        others = [name for name in MODE_NAMES if name not in names]
        if others:
            self._out(f"More: scrapy demo {' | '.join(others)} | all;  scrapy demo --serve")

    # --- running the crawls -----------------------------------------------------------------

    def _prepare_log(self) -> str | None:
        """The log file of the crawls (emptied), or None when their log goes to the terminal."""
        if self._no_log or (self._log_level and not self._log_file):
            return None
        log_file = self._log_file or DEFAULT_LOG
        path = Path(log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")
        return log_file

    def _child_settings(self, step: Step, port: int, log_file: str | None) -> list[str]:
        assert self.settings is not None
        settings = [f"BROKENLINKS_RESOLVE={json.dumps(resolve_map(port))}"]
        given = {entry.partition("=")[0] for entry in self._user_settings}
        if step.fresh and "BROKENLINKS_RECHECK_AFTER" not in given:
            settings.append("BROKENLINKS_RECHECK_AFTER=0")
        if self._no_log:
            settings.append("LOG_ENABLED=False")
        elif log_file:
            settings += [f"LOG_FILE={log_file}", "LOG_FILE_APPEND=True"]
            if self._log_level:
                settings.append(f"LOG_LEVEL={self._log_level}")
        else:
            settings.append(f"LOG_LEVEL={self._log_level}")
        settings += self._user_settings
        return [arg for value in settings for arg in ("-s", value)]

    def _run_step(
        self,
        step: Step,
        number: int,
        total: int,
        *,
        web: LocalWeb,
        database_url: str,
        log_file: str | None,
    ) -> bool:
        """Run one crawl, show its progress and summary; False when it failed."""
        self._out(f"\n[{number}/{total}] {step.title}")
        self._out(f"$ scrapy {shlex.join(step.args)}")
        before = _last_run(database_url)
        command = [
            sys.executable,
            "-m",
            "scrapy",
            *step.args,
            *self._child_settings(step, web.port, log_file),
        ]
        started = time.monotonic()
        served = web.count()
        with subprocess.Popen(  # noqa: S603  (our own interpreter, our own arguments)
            command,
            stdout=subprocess.DEVNULL,
            # a command that is not a crawl says what it wrote on stderr
            stderr=subprocess.PIPE if log_file or not step.is_crawl else None,
            text=True,
        ) as child:
            errors = self._wait(child, web, served, started, quiet=log_file is None)
        elapsed = time.monotonic() - started
        if child.returncode:
            self._out(f"  failed (exit status {child.returncode})")
            for line in errors.splitlines()[-5:]:
                self._out(f"  {line}")
            if log_file:
                self._out(f"  see {log_file}")
            return False
        if not step.is_crawl:
            for line in errors.splitlines()[-1:]:
                self._out(f"  {line} in {elapsed:.1f} s")
            return True
        run = _run_after(database_url, before)
        if run is None or not run.get("stats"):
            self._out(f"  done in {elapsed:.1f} s (no crawl stats stored: see the log)")
            return True
        stats: dict[str, Any] = run["stats"]
        lines = summary_lines(stats) if step.output else outreach_lines(stats)
        for line in lines:
            self._out(f"  {line}")
        if step.output:
            self._out(f"  written to {step.output} in {elapsed:.1f} s")
        else:
            self._out(f"  stored in {elapsed:.1f} s")
        problems = [
            f"{stats[f'log_count/{level}']} {level.lower()}s"
            for level in ("ERROR", "WARNING")
            if stats.get(f"log_count/{level}")
        ]
        if problems and log_file:
            self._out(f"  {' and '.join(problems)} logged: see {log_file}")
        return True

    def _wait(
        self,
        child: subprocess.Popen[str],
        web: LocalWeb,
        served: int,
        started: float,
        *,
        quiet: bool,
    ) -> str:
        """Wait for *child*, drawing a progress line on a terminal; return its stderr."""
        chunks: list[str] = []
        reader = None
        if child.stderr is not None:
            stream = child.stderr
            reader = threading.Thread(target=lambda: chunks.append(stream.read()), daemon=True)
            reader.start()
        progress = sys.stderr.isatty() and not quiet
        shown = ""
        while child.poll() is None:
            if progress:
                answered = web.count() - served
                seconds = time.monotonic() - started
                line = (
                    f"  crawling: {answered} requests answered by the demo web, {seconds:.0f} s"
                    if answered
                    else f"  starting scrapy, {seconds:.0f} s"
                )
                if line != shown:
                    sys.stderr.write(f"\r\033[K{line}")
                    sys.stderr.flush()
                    shown = line
            time.sleep(_TICK)
        if progress:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
        if reader is not None:
            reader.join()
        return "".join(chunks)

    # --- serving ---------------------------------------------------------------------------

    def _serve(self, demo: Path, port: int, plan: dict[str, Mode]) -> None:
        done = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            done.set()

        signal.signal(signal.SIGTERM, on_signal)
        with LocalWeb(demo, port=port) as web:
            setting = resolve_setting(web.port)
            example = plan["resources"].steps[0].args
            lines = [
                f"Serving the demo web ({display_path(demo, Path.cwd())}/) on {web.base}",
                "Add this to any scrapy command to reach its *.demo hosts:",
                f"  {setting}",
                "for example:",
                f"  scrapy {shlex.join(example)} {setting}",
                "Ctrl-C stops it.",
            ]
            self._out("\n".join(lines))
            sys.stdout.flush()
            try:
                while not done.wait(_TICK):
                    pass
            except KeyboardInterrupt:
                pass

    # --- output ----------------------------------------------------------------------------

    def _out(self, line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def _fail(self, message: str) -> None:
        sys.stderr.write(f"error: {message}\n")
        self.exitcode = 1


def outreach_lines(stats: dict[str, Any]) -> list[str]:
    """What an outreach crawl (archive, contacts, mysite) looked up, from its stats.

    >>> outreach_lines({"brokenlinks/archive/targets": 6, "brokenlinks/archive/found": 5,
    ...                 "brokenlinks/archive/no_capture": 1, "brokenlinks/rdap/domains": 1,
    ...                 "brokenlinks/rdap/status/unregistered": 1})
    ['archive: 6 dead targets, 5 captures read, 1 without capture, 0 failed', 'RDAP: 1 domains (unregistered 1)']
    >>> outreach_lines({"brokenlinks/mysite/pages": 7, "brokenlinks/mysite/sitemap_urls": 7})
    ['your site: 7 pages read (7 listed by sitemaps)']
    """

    def count(key: str) -> int:
        return int(stats.get(f"brokenlinks/{key}", 0))

    lines = []
    if "brokenlinks/archive/targets" in stats:
        lines.append(
            f"archive: {count('archive/targets')} dead targets, {count('archive/found')} "
            f"captures read, {count('archive/no_capture')} without capture, "
            f"{count('archive/failed')} failed"
        )
    if "brokenlinks/rdap/domains" in stats:
        prefix = "brokenlinks/rdap/status/"
        answers = ", ".join(
            f"{key.removeprefix(prefix)} {value}"
            for key, value in sorted(stats.items())
            if key.startswith(prefix)
        )
        lines.append(
            f"RDAP: {count('rdap/domains')} domains" + (f" ({answers})" if answers else "")
        )
    if "brokenlinks/contacts/sites" in stats:
        lines.append(
            f"contacts: {count('contacts/sites')} linking sites, {count('contacts/with_email')} "
            f"with an address, {count('contacts/contact_page_read')} contact pages read, "
            f"{count('contacts/failed')} failed"
        )
    if "brokenlinks/mysite/pages" in stats:
        lines.append(
            f"your site: {count('mysite/pages')} pages read "
            f"({count('mysite/sitemap_urls')} listed by sitemaps)"
        )
    return lines


def _last_run(database_url: str) -> int:
    try:
        engine = db.create_engine_from_url(database_url)
    except ValueError:
        return 0
    try:
        return store.last_run_id(engine)
    except SQLAlchemyError:
        return 0  # no database yet: the first crawl creates it
    finally:
        engine.dispose()


def _run_after(database_url: str, before: int) -> dict[str, Any] | None:
    """The crawl run stored after run *before*, or None."""
    engine = db.create_engine_from_url(database_url)
    try:
        latest = store.last_run_id(engine)
        return store.get_run(engine, latest) if latest > before else None
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()
