"""The outreach fields of report rows, and the pitches ``scrapy pitches`` writes.

:func:`load` reads what the outreach steps stored; :func:`enrich_prospects` and
:func:`enrich_targets` add it to the rows of ``scrapy prospects`` and ``scrapy report``
(:data:`PROSPECT_FIELDS`, :data:`TARGET_FIELDS`); :func:`pitches` keeps the prospects worth
pitching and fills a draft from a Jinja2 template (:data:`DEFAULT_TEMPLATE`, or the user's
own: the variables are :data:`TEMPLATE_VARIABLES`). Pure but for :func:`load`; reads no
settings.
"""

from __future__ import annotations

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
#: the columns of ``scrapy pitches``: the recipient first, as mail-merge tools expect
PITCH_COLUMNS = (
    "email",
    "contact_emails",
    "contact_page",
    "author",
    "social",
    "source_url",
    "source_title",
    "source_domain",
    "anchor_text",
    "context",
    "target_url",
    "reason",
    *ARCHIVE_FIELDS,
    *DOMAIN_FIELDS,
    *REPLACEMENT_FIELDS,
    "authority",
    "authority_source",
    "score",
    "subject",
    "draft",
)
#: the variables a pitch template can use, and what they hold
TEMPLATE_VARIABLES: dict[str, str] = {
    "source_url": "the referring page (theirs)",
    "source_title": "its title",
    "source_domain": "its site",
    "author": "the page's author, if found",
    "first_name": "the author's first word, if found",
    "email": "the address the pitch goes to (first of contact_emails)",
    "contact_page": "the site's contact page",
    "anchor_text": "the dead link's text",
    "context": "the sentence around the link",
    "target_url": "the dead URL",
    "reason": "why it is dead (http_status, dns, ...)",
    "domain_status": "registered / unregistered / unknown (targets dead by dns)",
    "archived_url": "the dead page's last good capture in the Wayback Machine",
    "archived_at": "when it was captured (ISO 8601)",
    "archived_title": "what the dead page was: its title",
    "archived_summary": "... and its first paragraphs",
    "replacement_url": "your page that replaces it",
    "replacement_title": "its title",
}

#: the bundled template; ``Subject:`` on the first line becomes the ``subject`` column
DEFAULT_TEMPLATE = """\
Subject: A broken link on {{ source_title or source_domain }}

Hi {{ first_name or "there" }},

I was reading "{{ source_title or source_url }}" ({{ source_url }}) and noticed that the \
link{% if anchor_text %} "{{ anchor_text }}"{% endif %} goes to {{ target_url }}, which no \
longer works{% if reason == "dns" %} (the whole site is gone){% endif %}.
{% if archived_title %}
It used to be "{{ archived_title }}"{% if archived_at %} (last archived \
{{ archived_at[:10] }}){% endif %}.
{% endif %}{% if replacement_url %}
If you are looking for a replacement, "{{ replacement_title or replacement_url }}" covers \
the same ground: {{ replacement_url }}
{% endif %}
Thanks for keeping the page useful!
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


def render(template: Template, row: Mapping[str, Any], name: str = "template") -> tuple[str, str]:
    """Fill *template* from a pitch *row*: (subject, draft).

    A first line ``Subject: ...`` becomes the subject and is left out of the draft.

    >>> t = compile_template("Subject: Hi {{ source_domain }}\\n\\nSee {{ replacement_url }}")
    >>> render(t, {"source_domain": "blog.example", "replacement_url": "https://mine.example/"})
    ('Hi blog.example', 'See https://mine.example/')
    >>> render(t, {"source_domain": "blog.example"})
    ('Hi blog.example', 'See')
    """
    variables = {key: row.get(key) for key in TEMPLATE_VARIABLES}
    author = row.get("author") or ""
    variables["first_name"] = author.split()[0] if author.split() else None
    from jinja2 import TemplateError  # noqa: PLC0415  (see compile_template)

    try:
        text = template.render(**variables)
    except TemplateError as e:
        msg = f"pitch template {name}: {e}"
        raise ValueError(msg) from e
    subject = ""
    first, _, rest = text.partition("\n")
    if first.lower().startswith("subject:"):
        subject, text = first[len("subject:") :].strip(), rest
    return subject, text.strip()


def pitches(
    prospects: Iterable[Mapping[str, Any]],
    template: Template,
    *,
    name: str = "template",
    min_score: int = 0,
) -> list[dict[str, Any]]:
    """The prospects worth pitching, each with its recipient, subject and draft.

    Worth pitching: not marked by the user (outreach status ``new``: contacted, won,
    ignored, replied and lost ones are left out), a score of at least *min_score*, and a
    way to reach the site (an address or a contact page).
    """
    out: list[dict[str, Any]] = []
    for prospect in prospects:
        if prospect.get("outreach", "new") != "new" or prospect.get("score", 0) < min_score:
            continue
        emails = (prospect.get("contact_emails") or "").split()
        if not emails and not prospect.get("contact_page"):
            continue
        row = {column: prospect.get(column) for column in PITCH_COLUMNS}
        row["email"] = emails[0] if emails else None
        row["subject"], row["draft"] = render(template, row, name)
        out.append(row)
    return out
