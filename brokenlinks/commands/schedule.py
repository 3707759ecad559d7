"""``scrapy schedule FILE``: ask Scrapyd to run the crawls of a schedule file that are due.

Meant for cron or a systemd timer (examples in ``deploy/``). The schedule file and the due
rule are described in :mod:`brokenlinks.ops.schedule`; the state file (default: the schedule
file's name with ``.state.json``) remembers when each job was last scheduled. Credentials
come from the file or from ``SCRAPYD_USERNAME`` / ``SCRAPYD_PASSWORD``. Prints one line per
job; exits 1 when the file is bad or a job could not be scheduled.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from brokenlinks.ops.schedule import ScheduleError, read_schedule, run_schedule

if TYPE_CHECKING:
    import argparse


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "[options] SCHEDULE_FILE"

    def short_desc(self) -> str:
        return "Schedule the due crawls of a schedule file on Scrapyd (for cron/systemd timers)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--state",
            metavar="FILE",
            help="state file (default: SCHEDULE_FILE with the suffix .state.json)",
        )
        parser.add_argument(
            "--force",
            metavar="JOB",
            action="append",
            default=[],
            help="schedule this job now, due or not (repeatable)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="say what is due, schedule nothing"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give one schedule file")
        path = Path(args[0])
        state = Path(opts.state) if opts.state else path.with_suffix(".state.json")
        try:
            schedule = read_schedule(path)
            if schedule.username is None and os.environ.get("SCRAPYD_USERNAME"):
                schedule = dataclasses.replace(
                    schedule,
                    username=os.environ["SCRAPYD_USERNAME"],
                    password=os.environ.get("SCRAPYD_PASSWORD", ""),
                )
            outcomes = run_schedule(
                schedule, state, force=frozenset(opts.force), dry_run=opts.dry_run
            )
        except ScheduleError as e:
            sys.stderr.write(f"error: {e}\n")
            self.exitcode = 1
            return
        for outcome in outcomes:
            line = f"{outcome.job}: {outcome.action}"
            if outcome.detail:
                line += f" ({outcome.detail})"
            (sys.stderr if outcome.action == "failed" else sys.stdout).write(line + "\n")
        if any(outcome.action == "failed" for outcome in outcomes):
            self.exitcode = 1
