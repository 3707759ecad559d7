"""Recurring crawls on Scrapyd: a schedule file, what is due, and the ``schedule.json`` call.

Scrapyd runs jobs when asked and has no calendar. ``scrapy schedule FILE`` (run from cron or
a systemd timer, more often than the shortest interval) reads a TOML schedule file, decides
which jobs are due from a small JSON state file, and asks Scrapyd to run them::

    [scrapyd]
    url = "http://127.0.0.1:6800/"
    project = "brokenlinks"
    # username, password: here or SCRAPYD_USERNAME / SCRAPYD_PASSWORD in the environment

    [jobs.acme-reclaim]
    spider = "backlinks"
    every = "7d"                      # 30m, 6h, 1d, 2w; hourly, daily, weekly
    args = { seeds = "https://files.example.com/acme.csv", domain = "acme.com" }
    settings = { BROKENLINKS_DATABASE_URL = "postgresql+psycopg://bl@db/brokenlinks" }

A job is due when it never ran or when its interval (less :data:`GRACE`, so that a timer
that fires a few seconds early does not push the crawl back a whole period) has passed
since it was last scheduled, and the job it last scheduled is no longer pending or running.
The parsing and the decision are pure functions; only :class:`ScrapydClient` talks to the
network (Scrapyd's JSON API, with HTTP basic authentication). No settings are read.
"""

from __future__ import annotations

import base64
import json
import re
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

#: a timer may fire a little early: an interval counts as passed this much before its end
GRACE = timedelta(minutes=5)
#: seconds a call to Scrapyd may take
TIMEOUT = 30.0

_INTERVAL = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_NAMED = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
}
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_JOB_KEYS = frozenset({"spider", "every", "args", "settings", "priority"})
_SCRAPYD_KEYS = frozenset({"url", "project", "username", "password"})


class ScheduleError(ValueError):
    """The schedule file, the state file or a Scrapyd call failed (one-line message)."""


def parse_interval(value: str) -> timedelta:
    """Parse a job's ``every``: a number and a unit (m, h, d, w), or hourly, daily, weekly.

    >>> parse_interval("7d"), parse_interval("weekly") == parse_interval("1w")
    (datetime.timedelta(days=7), True)
    >>> parse_interval("90m")
    datetime.timedelta(seconds=5400)
    >>> parse_interval("0h")
    Traceback (most recent call last):
    ...
    brokenlinks.ops.schedule.ScheduleError: every: '0h' is not an interval (use 30m, 6h, 1d, 2w, hourly, daily or weekly; at least 10 minutes)
    """
    named = _NAMED.get(value.strip().lower())
    if named is not None:
        return named
    match = _INTERVAL.match(value.lower())
    interval = (
        timedelta(**{_UNITS[match[2]]: int(match[1])}) if match is not None else timedelta(0)
    )
    # shorter than twice the grace, a job would be due again at once
    if interval < 2 * GRACE:
        msg = (
            f"every: {value!r} is not an interval (use 30m, 6h, 1d, 2w, hourly, daily or "
            f"weekly; at least {int(2 * GRACE.total_seconds()) // 60} minutes)"
        )
        raise ScheduleError(msg)
    return interval


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One recurring crawl: which spider, how often, with which arguments and settings."""

    name: str
    spider: str
    every: timedelta
    args: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    priority: float = 0.0

    def form(self, project: str) -> list[tuple[str, str]]:
        """The ``schedule.json`` form fields (spider arguments as fields, ``setting=K=V``).

        >>> job = Job(name="w", spider="backlinks", every=timedelta(days=7),
        ...           args={"seeds": "s.txt"}, settings={"LOG_LEVEL": "INFO"})
        >>> job.form("brokenlinks")  # doctest: +NORMALIZE_WHITESPACE
        [('project', 'brokenlinks'), ('spider', 'backlinks'), ('priority', '0.0'),
         ('seeds', 's.txt'), ('setting', 'LOG_LEVEL=INFO')]
        """
        fields = [("project", project), ("spider", self.spider), ("priority", str(self.priority))]
        fields += list(self.args.items())
        fields += [("setting", f"{key}={value}") for key, value in self.settings.items()]
        return fields


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """A parsed schedule file."""

    url: str
    project: str
    jobs: tuple[Job, ...]
    username: str | None = None
    password: str | None = None


def _text_map(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        msg = f"{where}: expected a table of names to values"
        raise ScheduleError(msg)
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, dict | list):
            # settings such as BROKENLINKS_RESOLVE travel as JSON, as on the command line
            out[str(key)] = json.dumps(item)
        elif isinstance(item, bool):
            out[str(key)] = "True" if item else "False"
        else:
            out[str(key)] = str(item)
    return out


def _job(name: str, table: object) -> Job:
    where = f"jobs.{name}"
    if not _JOB_NAME.match(name):
        msg = f"{where}: a job name is letters, digits, '.', '_' and '-'"
        raise ScheduleError(msg)
    if not isinstance(table, dict):
        msg = f"{where}: expected a table"
        raise ScheduleError(msg)
    unknown = sorted(set(table) - _JOB_KEYS)
    if unknown:
        msg = (
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_JOB_KEYS))}"
        )
        raise ScheduleError(msg)
    for key in ("spider", "every"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            msg = f"{where}: missing {key} (a string)"
            raise ScheduleError(msg)
    try:
        every = parse_interval(table["every"])
    except ScheduleError as e:
        raise ScheduleError(f"{where}.{e}") from e
    priority = table.get("priority", 0)
    if not isinstance(priority, int | float) or isinstance(priority, bool):
        msg = f"{where}.priority: expected a number"
        raise ScheduleError(msg)
    return Job(
        name=name,
        spider=table["spider"].strip(),
        every=every,
        args=_text_map(table.get("args", {}), f"{where}.args"),
        settings=_text_map(table.get("settings", {}), f"{where}.settings"),
        priority=float(priority),
    )


def parse_schedule(text: str, *, path: str = "<string>") -> Schedule:
    """Parse a schedule file (TOML; see the module docstring). Errors name *path*.

    >>> s = parse_schedule('''
    ... [scrapyd]
    ... url = "http://127.0.0.1:6800"
    ... project = "brokenlinks"
    ... [jobs.weekly-resources]
    ... spider = "backlinks"
    ... every = "weekly"
    ... args = { seeds = "https://example.com/seeds.txt" }
    ... settings = { BROKENLINKS_RESOLVE = { "*.test" = "127.0.0.1:8080" } }
    ... ''')
    >>> s.url, [job.name for job in s.jobs], s.jobs[0].settings
    ('http://127.0.0.1:6800/', ['weekly-resources'], {'BROKENLINKS_RESOLVE': '{"*.test": "127.0.0.1:8080"}'})
    >>> parse_schedule("[scrapyd]\\nproject = 'p'\\n", path="s.toml")
    Traceback (most recent call last):
    ...
    brokenlinks.ops.schedule.ScheduleError: schedule file 's.toml': scrapyd.url: missing (the Scrapyd server, http://host:6800/)
    """
    try:
        data = tomllib.loads(text)
        return _schedule(data)
    except tomllib.TOMLDecodeError as e:
        msg = f"schedule file {path!r}: not valid TOML ({e})"
        raise ScheduleError(msg) from e
    except ScheduleError as e:
        raise ScheduleError(f"schedule file {path!r}: {e}") from e


def _schedule(data: dict[str, Any]) -> Schedule:
    unknown = sorted(set(data) - {"scrapyd", "jobs"})
    if unknown:
        msg = f"unknown table(s) {', '.join(unknown)}; known: scrapyd, jobs"
        raise ScheduleError(msg)
    server = data.get("scrapyd", {})
    if not isinstance(server, dict):
        msg = "scrapyd: expected a table"
        raise ScheduleError(msg)
    unknown = sorted(set(server) - _SCRAPYD_KEYS)
    if unknown:
        msg = f"scrapyd: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_SCRAPYD_KEYS))}"
        raise ScheduleError(msg)
    url = server.get("url")
    if not isinstance(url, str) or not url.strip():
        msg = "scrapyd.url: missing (the Scrapyd server, http://host:6800/)"
        raise ScheduleError(msg)
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        msg = f"scrapyd.url: {url!r} is not an http(s) URL"
        raise ScheduleError(msg)
    project = server.get("project")
    if not isinstance(project, str) or not project.strip():
        msg = "scrapyd.project: missing (the project name given to scrapyd-deploy)"
        raise ScheduleError(msg)
    jobs_table = data.get("jobs", {})
    if not isinstance(jobs_table, dict) or not jobs_table:
        msg = "jobs: no job (add a [jobs.NAME] table)"
        raise ScheduleError(msg)
    username, password = server.get("username"), server.get("password")
    return Schedule(
        url=url.strip().rstrip("/") + "/",
        project=project.strip(),
        jobs=tuple(_job(name, table) for name, table in jobs_table.items()),
        username=None if username is None else str(username),
        password=None if password is None else str(password),
    )


def read_schedule(path: str | Path) -> Schedule:
    """Read and parse the schedule file at *path*."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as e:
        msg = f"schedule file {str(path)!r}: no such file"
        raise ScheduleError(msg) from e
    except (OSError, UnicodeDecodeError) as e:
        msg = f"schedule file {str(path)!r}: cannot be read ({e})"
        raise ScheduleError(msg) from e
    return parse_schedule(text, path=str(path))


# ---------------------------------------------------------------------------
# State: when each job was last scheduled, and as which Scrapyd job
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LastRun:
    """When a job was last scheduled, and the Scrapyd job ID it got."""

    at: datetime
    jobid: str


def read_state(path: Path) -> dict[str, LastRun]:
    """Read the state file; a missing file is an empty state."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            name: LastRun(datetime.fromisoformat(entry["at"]), str(entry["jobid"]))
            for name, entry in data["jobs"].items()
        }
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        msg = f"state file {str(path)!r}: unreadable ({type(e).__name__}: {e}); fix or delete it"
        raise ScheduleError(msg) from e


def write_state(path: Path, state: dict[str, LastRun]) -> None:
    """Write the state file atomically (a crash leaves the old or the new one)."""
    data = {
        "jobs": {
            name: {"at": last.at.isoformat(), "jobid": last.jobid}
            for name, last in sorted(state.items())
        }
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def is_due(job: Job, last: LastRun | None, now: datetime) -> bool:
    """Tell whether *job* should be scheduled at *now*, given when it last was.

    >>> job = Job(name="j", spider="backlinks", every=timedelta(days=7))
    >>> monday = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
    >>> is_due(job, None, monday)
    True
    >>> last = LastRun(monday, "abc")
    >>> [is_due(job, last, monday + timedelta(days=d)) for d in (1, 6, 7)]
    [False, False, True]
    >>> is_due(job, last, monday + timedelta(days=7) - GRACE)  # the timer fired early
    True
    """
    return last is None or now - last.at >= job.every - GRACE


# ---------------------------------------------------------------------------
# Scrapyd's JSON API
# ---------------------------------------------------------------------------


class ScrapydClient:
    """The few Scrapyd API calls the scheduler needs, over ``urllib`` with basic auth."""

    def __init__(
        self, url: str, *, username: str | None = None, password: str | None = None
    ) -> None:
        self.url = url.rstrip("/") + "/"
        self._headers = {"Accept": "application/json"}
        if username:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"

    def _call(self, endpoint: str, fields: list[tuple[str, str]], *, post: bool) -> dict[str, Any]:
        url = self.url + endpoint
        body = urllib.parse.urlencode(fields).encode()
        if post:
            request = urllib.request.Request(url, data=body, headers=self._headers)  # noqa: S310
        else:
            full = f"{url}?{body.decode()}" if fields else url
            request = urllib.request.Request(full, headers=self._headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                data = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            hint = " (wrong or missing username/password)" if e.code == 401 else ""  # noqa: PLR2004
            msg = f"scrapyd {url}: HTTP {e.code}{hint}"
            raise ScheduleError(msg) from e
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            msg = f"scrapyd {url}: {reason}"
            raise ScheduleError(msg) from e
        except ValueError as e:
            msg = f"scrapyd {url}: not a JSON answer ({e})"
            raise ScheduleError(msg) from e
        if not isinstance(data, dict) or data.get("status") != "ok":
            message = data.get("message") if isinstance(data, dict) else data
            msg = f"scrapyd {url}: {' '.join(str(message).split())}"
            raise ScheduleError(msg)
        return data

    def schedule(self, project: str, job: Job) -> str:
        """Ask Scrapyd to run *job* now; return the Scrapyd job ID."""
        return str(self._call("schedule.json", job.form(project), post=True)["jobid"])

    def state(self, project: str, jobid: str) -> str | None:
        """``pending``, ``running``, ``finished`` or ``None`` (a job Scrapyd does not know)."""
        data = self._call("status.json", [("job", jobid), ("project", project)], post=False)
        state = data.get("currstate")
        return None if state is None else str(state)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the scheduler did with one job."""

    job: str
    action: str  # scheduled, not_due, still_running, failed
    detail: str = ""


def run_schedule(
    schedule: Schedule,
    state_path: Path,
    *,
    now: datetime | None = None,
    client: ScrapydClient | None = None,
    force: frozenset[str] = frozenset(),
    dry_run: bool = False,
) -> list[Outcome]:
    """Schedule the due jobs of *schedule* on Scrapyd and record them in the state file.

    Jobs named in *force* are scheduled whether due or not. With *dry_run* nothing is
    scheduled or written: the outcomes say what would be.
    """
    now = now or datetime.now(UTC)
    unknown = sorted(force - {job.name for job in schedule.jobs})
    if unknown:
        msg = f"no job named {', '.join(repr(n) for n in unknown)} in the schedule file"
        raise ScheduleError(msg)
    client = client or ScrapydClient(
        schedule.url, username=schedule.username, password=schedule.password
    )
    state = read_state(state_path)
    outcomes: list[Outcome] = []
    for job in schedule.jobs:
        last = state.get(job.name)
        if job.name not in force and not is_due(job, last, now):
            assert last is not None
            outcomes.append(
                Outcome(job.name, "not_due", f"next {(last.at + job.every).isoformat()}")
            )
            continue
        try:
            if last is not None:
                previous = client.state(schedule.project, last.jobid)
                if previous in {"pending", "running"}:
                    outcomes.append(
                        Outcome(job.name, "still_running", f"job {last.jobid} {previous}")
                    )
                    continue
            if dry_run:
                outcomes.append(Outcome(job.name, "due"))
                continue
            jobid = client.schedule(schedule.project, job)
        except ScheduleError as e:
            outcomes.append(Outcome(job.name, "failed", str(e)))
            continue
        state[job.name] = LastRun(now, jobid)
        write_state(state_path, state)
        outcomes.append(Outcome(job.name, "scheduled", f"job {jobid}"))
    return outcomes
