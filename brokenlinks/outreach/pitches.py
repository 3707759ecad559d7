"""The outreach fields of report rows, and the pitches ``scrapy pitches`` writes.

:func:`load` reads what the outreach steps stored; :func:`enrich_prospects` and
:func:`enrich_targets` add it to the rows of ``scrapy prospects`` and ``scrapy report``
(:data:`PROSPECT_FIELDS`, :data:`TARGET_FIELDS`); :func:`pitches` keeps the prospects worth
pitching, groups them by recipient (one message per address, or per site when only a
contact page is known) and fills one draft per recipient from a Jinja2 template
(:data:`DEFAULT_TEMPLATE`, or the user's own: the variables are :data:`TEMPLATE_VARIABLES`). Pure but for :func:`load`; reads no
settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from brokenlinks.outreach import records
from brokenlinks.outreach.authority import METRICS, authority
from brokenlinks.outreach.replacement import query, rank
from brokenlinks.parsing.sites import site_of_host
from brokenlinks.parsing.urls import host_of

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from jinja2 import Template
    from sqlalchemy import Engine

#: what the archive says a dead target was
ARCHIVE_FIELDS = ("archived_url", "archived_at", "archived_title", "archived_summary")
#: RDAP status of the registered domain of a target dead by dns
DOMAIN_FIELDS = ("domain_status", "domain_checked_at")
#: your best page to replace the dead one, and the best three
REPLACEMENT_FIELDS = ("replacement_url", "replacement_title", "replacement_score", "replacements")
#: whom to write to on the referring site
CONTACT_FIELDS = ("contact_emails", "contact_page", "author", "social")
#: the backlink exports' metrics of the referring page
AUTHORITY_FIELDS = ("authority", "authority_source", *METRICS, "export_target_url", "exports")
#: the fields outreach adds to ``scrapy prospects`` rows
PROSPECT_FIELDS = (
    *AUTHORITY_FIELDS,
    *ARCHIVE_FIELDS,
    *DOMAIN_FIELDS,
    *CONTACT_FIELDS,
    *REPLACEMENT_FIELDS,
)
#: the fields outreach adds to ``scrapy report`` rows (one per dead target)
TARGET_FIELDS = (*ARCHIVE_FIELDS, *DOMAIN_FIELDS, *REPLACEMENT_FIELDS)
#: one dead link of a pitch, as the template's ``links`` and ``pages`` hold it
LINK_FIELDS = (
    "id",
    "source_url",
    "source_title",
    "anchor_text",
    "context",
    "target_url",
    "reason",
    *DOMAIN_FIELDS,
    *ARCHIVE_FIELDS,
    "replacement_url",
    "replacement_title",
    "replacement_score",
    "score",
)
#: the columns of ``scrapy pitches`` (one row per recipient): the recipient first, as
#: mail-merge tools expect
PITCH_COLUMNS = (
    "email",
    "contact_emails",
    "contact_page",
    "author",
    "social",
    "sites",
    "campaign",
    "links",
    "ask",
    "score",
    "authority",
    "source_urls",
    "target_urls",
    "replacement_urls",
    "prospect_ids",
    "subject",
    "draft",
)
#: what a pitch asks: your page instead of each dead link, only that links are dead, or both
ASKS = ("replacement", "dead-link notice", "replacement + dead-link notice")
#: the variables a pitch template can use, and what they hold
TEMPLATE_VARIABLES: dict[str, str] = {
    "links": (
        "the dead links on the recipient's pages, best first: each has source_url, "
        "source_title, anchor_text, context, target_url, reason, domain_status, "
        "archived_url, archived_at, archived_title, archived_summary, replacement_url, "
        "replacement_title"
    ),
    "pages": "the same links by referring page: each has url, title and links",
    "sites": "the recipient's sites (space-separated)",
    "author": "the page's author, if found",
    "first_name": "the author's first word, if found",
    "email": "the address the pitch goes to (first of contact_emails)",
    "contact_page": "the site's contact page",
    # the first link's fields at the top level: a template written for one link per pitch
    # (before pitches were grouped by recipient) still renders
    "source_url": "the first link's referring page (theirs)",
    "source_title": "its title",
    "source_domain": "its site",
    "anchor_text": "the first dead link's text",
    "context": "the sentence around it",
    "target_url": "the first dead URL",
    "reason": "why it is dead (http_status, dns, ...)",
    "domain_status": "registered / unregistered / unknown (targets dead by dns)",
    "archived_url": "the dead page's last good capture in the Wayback Machine",
    "archived_at": "when it was captured (ISO 8601)",
    "archived_title": "what the dead page was: its title",
    "archived_summary": "... and its first paragraphs",
    "replacement_url": "your page that replaces it (empty: no replacement, only a notice)",
    "replacement_title": "its title",
}

#: the bundled template; ``Subject:`` on the first line becomes the ``subject`` column. Reads
#: well for one link (one sentence) and for many (a list per page); a link without a
#: replacement says plainly that it is dead
DEFAULT_TEMPLATE = """\
{% set one = links|length == 1 %}\
Subject: {% if one %}A broken link on {{ source_title or source_domain }}\
{% else %}{{ links|length }} broken links on {{ sites.split()[0] }}{% endif %}

Hi {{ first_name or "there" }},
{% if one %}
I was reading "{{ source_title or source_url }}" ({{ source_url }}) and noticed that the \
link{% if anchor_text %} "{{ anchor_text }}"{% endif %} goes to {{ target_url }}, which no \
longer works{% if reason == "dns" %} (the whole site is gone){% endif %}.
{% if archived_title %}
It used to be "{{ archived_title }}"{% if archived_at %} (last archived \
{{ archived_at[:10] }}){% endif %}.
{% endif %}{% if replacement_url %}
If you are looking for a replacement, "{{ replacement_title or replacement_url }}" covers \
the same ground: {{ replacement_url }}
{% else %}
I don't know of a page that replaces it; removing the link, or pointing it to \
{% if archived_url %}the archived copy ({{ archived_url }}){% else %}another source\
{% endif %}, would fix it for your readers.
{% endif %}{% else %}
I was reading your pages and noticed {{ links|length }} links that no longer work:
{% for page in pages %}
On "{{ page.title or page.url }}" ({{ page.url }}):
{% for link in page.links %}
- {% if link.anchor_text %}"{{ link.anchor_text }}" -> {% endif %}{{ link.target_url }}\
{% if link.reason == "dns" %} (the whole site is gone){% endif %}\
{% if link.archived_title %}; it used to be "{{ link.archived_title }}"{% endif %}
{% if link.replacement_url %}  A replacement that covers the same ground: \
"{{ link.replacement_title or link.replacement_url }}", {{ link.replacement_url }}
{% else %}  This link is dead and I know of no replacement: removing it would help \
your readers.
{% endif %}{% endfor %}{% endfor %}
{% endif %}
Thanks for keeping the page{{ "" if pages|length == 1 else "s" }} useful!
"""


@dataclass(slots=True)
class OutreachData:
    """What the outreach steps stored, read once for a report."""

    metrics: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    captures: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    my_pages: list[dict[str, Any]] = field(default_factory=list)

    def page_authority(self) -> dict[str, float]:
        """The ``authority`` of every referring page an export gave metrics for."""
        out: dict[str, float] = {}
        for url, rows in self.metrics.items():
            value, _ = authority(rows)
            if value is not None:
                out[url] = value
        return out


def load(engine: Engine) -> OutreachData:
    """Read every outreach table."""
    return OutreachData(
        metrics=records.export_metrics(engine),
        captures=records.captures(engine),
        contacts=records.contacts(engine),
        domains=records.domain_statuses(engine),
        my_pages=records.my_pages(engine),
    )


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.replace(microsecond=0).isoformat() if hasattr(value, "isoformat") else str(value)


def _archive_fields(data: OutreachData, target_url: str) -> dict[str, Any]:
    found = data.captures.get(target_url) or {}
    return {
        "archived_url": found.get("archived_url"),
        "archived_at": _iso(found.get("archived_at")),
        "archived_title": found.get("archived_title"),
        "archived_summary": found.get("archived_summary"),
    }


def _domain_fields(data: OutreachData, target_url: str) -> dict[str, Any]:
    found = data.domains.get(site_of_host(host_of(target_url))) or {}
    return {
        "domain_status": found.get("domain_status"),
        "domain_checked_at": _iso(found.get("checked_at")),
    }


def _replacements(
    data: OutreachData, occurrences: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    anchors: dict[str, list[str]] = {}
    contexts: dict[str, list[str]] = {}
    for row in occurrences:
        anchors.setdefault(row["target_url"], []).append(row["anchor_text"])
        contexts.setdefault(row["target_url"], []).append(row["context"])
    queries = {
        target: query(target, anchors[target], contexts[target], data.captures.get(target))
        for target in anchors
    }
    ranked = rank(queries, data.my_pages)
    out: dict[str, dict[str, Any]] = {}
    for target, matches in ranked.items():
        best = matches[0] if matches else None
        out[target] = {
            "replacement_url": best.url if best else None,
            "replacement_title": best.title if best else None,
            "replacement_score": best.score if best else None,
            "replacements": " ".join(f"{m.url} ({m.score})" for m in matches),
        }
    return out


_NO_REPLACEMENT = dict.fromkeys(REPLACEMENT_FIELDS)


def enrich_targets(
    rows: Sequence[dict[str, Any]],
    data: OutreachData,
    occurrences: Iterable[Mapping[str, Any]],
) -> None:
    """Add :data:`TARGET_FIELDS` to ``scrapy report`` rows (one per dead target), in place."""
    replacements = _replacements(data, occurrences)
    for row in rows:
        target = row["target_url"]
        row.update(_archive_fields(data, target))
        row.update(_domain_fields(data, target))
        row.update(replacements.get(target, _NO_REPLACEMENT))


def enrich_prospects(
    rows: Sequence[dict[str, Any]],
    data: OutreachData,
    occurrences: Iterable[Mapping[str, Any]],
) -> None:
    """Add :data:`PROSPECT_FIELDS` to ``scrapy prospects`` rows, in place."""
    replacements = _replacements(data, occurrences)
    for row in rows:
        exports = data.metrics.get(row["source_url"], [])
        value, source = authority(exports)
        row["authority"] = value
        row["authority_source"] = source or None
        for name in METRICS:
            row[name] = next((e[name] for e in exports if e.get(name) is not None), None)
        row["export_target_url"] = next(
            (e["export_target_url"] for e in exports if e.get("export_target_url")), None
        )
        row["exports"] = (
            " ".join(f"{e['export_format']}:{e['export_file']}" for e in exports) or None
        )
        row.update(_archive_fields(data, row["target_url"]))
        row.update(_domain_fields(data, row["target_url"]))
        found = data.contacts.get(row["source_domain"]) or {}
        row["contact_emails"] = found.get("contact_emails") or None
        row["contact_page"] = found.get("contact_page")
        row["author"] = found.get("author")
        row["social"] = found.get("social") or None
        row.update(replacements.get(row["target_url"], _NO_REPLACEMENT))


# --- pitches ------------------------------------------------------------------------------------


def _blank_none(value: Any) -> Any:
    # a field nothing was found for prints as nothing, not as "None"
    return "" if value is None else value


def compile_template(text: str, name: str = "template") -> Template:
    """Compile a pitch template (sandboxed; an unknown variable is an error, not a blank).

    Raises ``ValueError`` naming *name* for a syntax error or a variable that is not one of
    :data:`TEMPLATE_VARIABLES`: a typo must not reach hundreds of mails as a blank.

    >>> compile_template("Hi {{ autor }}", "t.j2")
    Traceback (most recent call last):
    ...
    ValueError: pitch template t.j2: unknown variable(s) autor; known: anchor_text, ...
    """
    # imported here, as Jinja2 is only needed by ``scrapy pitches`` (not by every command)
    from jinja2 import StrictUndefined, TemplateError, meta  # noqa: PLC0415
    from jinja2.sandbox import SandboxedEnvironment  # noqa: PLC0415

    env = SandboxedEnvironment(
        undefined=StrictUndefined, keep_trailing_newline=True, finalize=_blank_none
    )
    try:
        unknown = sorted(meta.find_undeclared_variables(env.parse(text)) - set(TEMPLATE_VARIABLES))
        if unknown:
            known = ", ".join(sorted(TEMPLATE_VARIABLES))
            msg = f"unknown variable(s) {', '.join(unknown)}; known: {known}"
            raise ValueError(msg)
        return env.from_string(text)
    except (TemplateError, ValueError) as e:
        msg = f"pitch template {name}: {e}"
        raise ValueError(msg) from e


def _variables(pitch: Mapping[str, Any]) -> dict[str, Any]:
    links = list(pitch.get("link_list") or [])
    first = links[0] if links else {}
    variables: dict[str, Any] = {key: first.get(key) for key in LINK_FIELDS}
    variables["source_domain"] = first.get("source_domain")
    for key in ("sites", "author", "email", "contact_page"):
        variables[key] = pitch.get(key)
    variables["links"] = links
    variables["pages"] = pitch.get("page_list") or []
    author = pitch.get("author") or ""
    variables["first_name"] = author.split()[0] if author.split() else None
    return {key: variables.get(key) for key in (*TEMPLATE_VARIABLES, "first_name")}


def render(
    template: Template, pitch: Mapping[str, Any], name: str = "template"
) -> tuple[str, str]:
    """Fill *template* from a *pitch* (see :func:`pitches`): (subject, draft).

    A first line ``Subject: ...`` becomes the subject and is left out of the draft; runs of
    blank lines that ``{% if %}`` blocks leave are squeezed to one.

    >>> t = compile_template("Subject: Hi {{ source_domain }}\\n\\n\\n\\nSee {{ replacement_url }}")
    >>> link = {"source_domain": "blog.example", "replacement_url": "https://mine.example/"}
    >>> render(t, {"link_list": [link]})
    ('Hi blog.example', 'See https://mine.example/')
    >>> render(t, {"link_list": [{"source_domain": "blog.example"}]})
    ('Hi blog.example', 'See')
    """
    from jinja2 import TemplateError  # noqa: PLC0415  (see compile_template)

    try:
        text = template.render(**_variables(pitch))
    except TemplateError as e:
        msg = f"pitch template {name}: {e}"
        raise ValueError(msg) from e
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    subject = ""
    first, _, rest = text.partition("\n")
    if first.lower().startswith("subject:"):
        subject, text = first[len("subject:") :].strip(), rest
    return subject, re.sub(r"\n{3,}", "\n\n", text).strip()


@dataclass(slots=True)
class Selection:
    """Why prospects were left out of the pitches, counted (for the command's message)."""

    marked: int = 0
    below_score: int = 0
    own_site: int = 0
    no_recipient: int = 0

    def message(self) -> str:
        """One line saying what was left out and what to do about it ('' when nothing)."""
        parts = []
        if self.own_site:
            parts.append(
                f"{self.own_site} on or to your own sites (reclaim work: scrapy redirects)"
            )
        if self.no_recipient:
            parts.append(
                f"{self.no_recipient} without a recipient (scrapy crawl contacts finds them)"
            )
        if self.marked:
            parts.append(f"{self.marked} marked with scrapy prospects --mark")
        if self.below_score:
            parts.append(f"{self.below_score} below --min-score")
        return f"prospects left out: {'; '.join(parts)}" if parts else ""


def recipient(prospect: Mapping[str, Any]) -> str | None:
    """Whom a prospect's pitch goes to: its site's first address, else its contact page.

    >>> recipient({"contact_emails": "Ann@Blog.test b@blog.test", "source_domain": "blog.test"})
    'ann@blog.test'
    >>> recipient({"contact_emails": None, "contact_page": "http://x.test/c", "source_domain": "x.test"})
    'x.test'
    >>> recipient({"source_domain": "x.test"}) is None
    True
    """
    emails = (prospect.get("contact_emails") or "").split()
    if emails:
        return emails[0].lower()
    if prospect.get("contact_page"):
        return str(prospect["source_domain"])
    return None


def _ask(links: Sequence[Mapping[str, Any]]) -> str:
    with_replacement = sum(1 for link in links if link.get("replacement_url"))
    if with_replacement == len(links):
        return ASKS[0]
    return ASKS[1] if not with_replacement else ASKS[2]


def pitches(
    prospects: Iterable[Mapping[str, Any]],
    template: Template,
    *,
    name: str = "template",
    min_score: int = 0,
    own_sites: frozenset[str] = frozenset(),
    selection: Selection | None = None,
) -> list[dict[str, Any]]:
    """One pitch per recipient, listing each dead link on their pages, with subject and draft.

    Worth pitching: not marked by the user (outreach status ``new``: contacted, won,
    ignored, replied and lost ones are left out), a score of at least *min_score*, neither
    on nor to one of *own_sites* (a link to your own dead page is reclaim work, a dead link
    on your own page is yours to fix), and a way to reach the site (an address or a contact
    page). A recipient is an address (all sites giving it share one pitch) or, when only a
    contact page is known, a site. Every pitch asks something: a replacement for a link, or
    plainly that it is dead (``ask``). Best first (its best prospect's score). *selection*
    counts what was left out.
    """
    left = selection if selection is not None else Selection()
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for prospect in prospects:
        if prospect.get("outreach", "new") != "new":
            left.marked += 1
            continue
        if prospect.get("score", 0) < min_score:
            left.below_score += 1
            continue
        if (
            prospect.get("source_domain") in own_sites
            or prospect.get("target_domain") in own_sites
        ):
            left.own_site += 1
            continue
        who = recipient(prospect)
        if who is None:
            left.no_recipient += 1
            continue
        groups.setdefault(who, []).append(prospect)
    out: list[dict[str, Any]] = []
    for members in groups.values():
        members.sort(key=lambda p: (-(p.get("score") or 0), p["source_url"], p["target_url"]))
        first = members[0]
        links = [
            {**{key: p.get(key) for key in LINK_FIELDS}, "source_domain": p["source_domain"]}
            for p in members
        ]
        pages: dict[str, dict[str, Any]] = {}
        for link in links:
            entry = pages.setdefault(
                link["source_url"],
                {"url": link["source_url"], "title": link["source_title"], "links": []},
            )
            entry["links"].append(link)
        emails = (first.get("contact_emails") or "").split()
        authorities = [p["authority"] for p in members if p.get("authority") is not None]
        pitch: dict[str, Any] = {
            "email": emails[0] if emails else None,
            "contact_emails": first.get("contact_emails"),
            "contact_page": first.get("contact_page"),
            "author": first.get("author"),
            "social": first.get("social"),
            "sites": " ".join(dict.fromkeys(p["source_domain"] for p in members)),
            "campaign": first.get("campaign"),
            "links": len(links),
            "ask": _ask(links),
            "score": first.get("score"),
            "authority": max(authorities) if authorities else None,
            "source_urls": " ".join(pages),
            "target_urls": " ".join(dict.fromkeys(link["target_url"] for link in links)),
            "replacement_urls": " ".join(
                dict.fromkeys(link["replacement_url"] or "-" for link in links)
            ),
            "prospect_ids": " ".join(str(p.get("id") or "") for p in members).strip(),
            "link_list": links,
            "page_list": list(pages.values()),
        }
        pitch["subject"], pitch["draft"] = render(template, pitch, name)
        out.append(pitch)
    return out
