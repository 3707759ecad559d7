"""The store: every write and read of the project's database, in one public place.

The SQL lives in :mod:`brokenlinks.storage.writes` (batch upserts of crawl records, crawl
runs, outreach marks) and :mod:`brokenlinks.storage.reads` (what crawls, reports and
commands ask), written against :mod:`brokenlinks.storage.tables`; callers import this
module (``from brokenlinks.storage import store``). Outreach records
(:mod:`brokenlinks.outreach.records`) upsert through :func:`brokenlinks.storage.tables.insert`.
"""

from brokenlinks.storage.reads import (
    campaign_memberships,
    campaign_occurrences,
    campaign_runs,
    check_events,
    check_history,
    count_rows,
    crawl_runs,
    dead_links,
    dead_occurrences,
    fresh_verdicts,
    get_run,
    last_campaign,
    last_run_id,
    lost_links,
    outreach_statuses,
    own_sites,
    pages_linking_to,
    prospect_urls,
    recheck_plan,
    revived_targets,
    store_totals,
)
from brokenlinks.storage.tables import (
    OUTREACH_STATUSES,
    PAGE_GONE_STATUSES,
    UnknownProspectError,
    parse_time,
    to_json,
)
from brokenlinks.storage.writes import (
    finish_run,
    is_contention,
    retry_on_contention,
    set_outreach,
    start_run,
    write_batch,
)

__all__ = [
    "OUTREACH_STATUSES",
    "PAGE_GONE_STATUSES",
    "UnknownProspectError",
    "campaign_memberships",
    "campaign_occurrences",
    "campaign_runs",
    "check_events",
    "check_history",
    "count_rows",
    "crawl_runs",
    "dead_links",
    "dead_occurrences",
    "finish_run",
    "fresh_verdicts",
    "get_run",
    "is_contention",
    "last_campaign",
    "last_run_id",
    "lost_links",
    "outreach_statuses",
    "own_sites",
    "pages_linking_to",
    "parse_time",
    "prospect_urls",
    "recheck_plan",
    "retry_on_contention",
    "revived_targets",
    "set_outreach",
    "start_run",
    "store_totals",
    "to_json",
    "write_batch",
]
