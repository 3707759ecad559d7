"""Campaigns: which piece of work a crawl belongs to, and which prospects a campaign shows.

A campaign is a name kept with every crawl run (``-a campaign=NAME``). Without one, a crawl
gets :func:`default_campaign`: ``reclaim-<domain>`` for a backlinks crawl restricted to
your own domains, ``competitor-<domain>`` for one restricted to other domains,
``resources`` for an unrestricted backlinks crawl, ``site-<site>`` for a whole-site crawl;
``recheck`` for a re-check, and the campaign of the latest link-checking run for the
outreach look-ups (``archive``, ``contacts``, ``mysite``), which serve it. A campaign
shows the dead links on the pages its crawls read (:func:`in_campaign`), within the domains
its backlinks crawls were restricted to (:func:`campaign_scopes`). A campaign whose name
starts with ``reclaim-`` is reclaim work: its domains are yours (:func:`own_sites`), like
the sites of the pages ``scrapy crawl mysite`` read. Pure; reads no settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from brokenlinks.parsing.sites import site_of_host
from brokenlinks.parsing.urls import host_of

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

#: ``--campaign all``: every campaign, each row labelled with its campaigns
ALL = "all"
#: the name prefix that makes a campaign reclaim work (its domains are yours)
RECLAIM_PREFIX = "reclaim-"
#: spiders whose runs read referring pages and check their links
LINK_CHECKING_SPIDERS = frozenset({"backlinks", "site", "recheck"})


def _domains(arguments: Mapping[str, Any]) -> list[str]:
    raw = str(arguments.get("domain") or "")
    return sorted({d.strip().lower().rstrip(".") for d in raw.split(",") if d.strip()})


def default_campaign(
    spider: str,
    arguments: Mapping[str, Any],
    *,
    own: Iterable[str] = (),
    last: str | None = None,
) -> str:
    """The campaign of a crawl of *spider* with *arguments* (``-a campaign`` when given).

    *own* are your sites; *last* the campaign of the latest link-checking run.

    >>> default_campaign("backlinks", {"seeds": "x.csv", "domain": "mysite.demo"}, own=["mysite.demo"])
    'reclaim-mysite.demo'
    >>> default_campaign("backlinks", {"seeds": "x.csv", "domain": "rivalbrew.demo"})
    'competitor-rivalbrew.demo'
    >>> default_campaign("backlinks", {"seeds": "x.csv"}), default_campaign("recheck", {})
    ('resources', 'recheck')
    >>> default_campaign("site", {"start": "https://www.Example.com/,https://b.test/"})
    'site-example.com'
    >>> default_campaign("contacts", {}, last="resources"), default_campaign("backlinks", {"campaign": "q3"})
    ('resources', 'q3')
    """
    given = str(arguments.get("campaign") or "").strip()
    if given:
        return given
    if spider == "backlinks":
        domains = _domains(arguments)
        if not domains:
            return "resources"
        mine = set(own)
        mode = "reclaim" if all(d in mine for d in domains) else "competitor"
        return f"{mode}-{','.join(domains)}"
    if spider == "site":
        first = str(arguments.get("start") or "").split(",")[0].strip()
        return f"site-{site_of_host(host_of(first)) or 'unknown'}"
    if spider == "recheck":
        return "recheck"
    return last or spider


def is_reclaim(campaign: str) -> bool:
    """Tell whether *campaign* is reclaim work (your own dead pages)."""
    return campaign.startswith(RECLAIM_PREFIX)


def campaign_scopes(runs: Iterable[Mapping[str, Any]]) -> dict[str, frozenset[str] | None]:
    """The target sites each campaign checked (None: every site), from its crawl runs.

    >>> scopes = campaign_scopes([
    ...     {"campaign": "c", "spider": "backlinks", "arguments": {"domain": "a.test"}},
    ...     {"campaign": "c", "spider": "backlinks", "arguments": {"domain": "b.test"}},
    ...     {"campaign": "r", "spider": "backlinks", "arguments": {}},
    ...     {"campaign": "r", "spider": "contacts", "arguments": {}}])
    >>> sorted(scopes["c"]), scopes["r"]
    (['a.test', 'b.test'], None)
    """
    scopes: dict[str, frozenset[str] | None] = {}
    for run in runs:
        name = run["campaign"]
        if run["spider"] not in LINK_CHECKING_SPIDERS:
            scopes.setdefault(name, frozenset())
            continue
        domains = _domains(run.get("arguments") or {})
        if run["spider"] != "backlinks" or not domains:
            scopes[name] = None
            continue
        if name not in scopes or scopes[name] is not None:
            scopes[name] = (scopes.get(name) or frozenset()) | frozenset(domains)
    return scopes


def own_sites(runs: Iterable[Mapping[str, Any]], my_sites: Iterable[str]) -> frozenset[str]:
    """Your sites: those of your pages (*my_sites*) and the domains of reclaim campaigns.

    >>> sorted(own_sites([{"campaign": "reclaim-mine.test", "spider": "backlinks",
    ...                    "arguments": {"domain": "mine.test"}}], ["mycoffee.test"]))
    ['mine.test', 'mycoffee.test']
    """
    out = set(my_sites)
    for run in runs:
        if is_reclaim(run["campaign"]):
            out.update(_domains(run.get("arguments") or {}))
    return frozenset(out)


def in_campaign(
    occurrences: Iterable[dict[str, Any]],
    memberships: Mapping[int, set[str]],
    scopes: Mapping[str, frozenset[str] | None],
    campaign: str,
) -> list[dict[str, Any]]:
    """The occurrences *campaign* shows (every one for ``all``), each with its ``campaign``.

    *memberships* are the campaigns that read each page (by page id); a dead link shows in
    a campaign that read its page and checked its target's site. With ``all``, the
    ``campaign`` of a row names every campaign it belongs to.

    >>> rows = [{"page_id": 1, "target_domain": "a.test"}, {"page_id": 1, "target_domain": "b.test"}]
    >>> [r["target_domain"] for r in in_campaign(rows, {1: {"c", "r"}}, {"c": frozenset({"a.test"}), "r": None}, "c")]
    ['a.test']
    >>> [r["campaign"] for r in in_campaign(rows, {1: {"c", "r"}}, {"c": frozenset({"a.test"}), "r": None}, "all")]
    ['c,r', 'r']
    """
    out = []
    for row in occurrences:
        names = sorted(
            name
            for name in memberships.get(row["page_id"], ())
            if (scope := scopes.get(name)) is None or row["target_domain"] in scope
        )
        if campaign == ALL:
            if names:
                out.append({**row, "campaign": ",".join(names)})
        elif campaign in names:
            out.append({**row, "campaign": campaign})
    return out
