"""From a dead link to a pitch: authority, archived captures, contacts, replacements, pitches.

One module per step, each pure where it can be: :mod:`~brokenlinks.outreach.authority`
(the seller's metrics of a backlink export, one 0-100 ``authority``),
:mod:`~brokenlinks.outreach.archive` (the Wayback Machine's CDX API and captures),
:mod:`~brokenlinks.outreach.contacts` (whom to write to),
:mod:`~brokenlinks.outreach.rdap` (is an expired domain free?),
:mod:`~brokenlinks.outreach.replacement` (which of your pages replaces a dead one),
:mod:`~brokenlinks.outreach.pitches` (the rows and drafts of ``scrapy pitches``),
:mod:`~brokenlinks.outreach.records` (the outreach tables' SQL) and
:mod:`~brokenlinks.outreach.items` (the records the outreach spiders yield).
"""
