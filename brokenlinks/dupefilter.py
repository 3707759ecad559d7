"""A duplicate filter that never drops a referring page's own redirect or meta-refresh hop.

Scrapy's duplicate filter drops a request whose URL was seen before, with no callback, no
errback and no log line above DEBUG. For a referring page whose redirects or meta
refreshes loop (a → b → a), or lead to another seed, that means the page leaves no record
at all. :class:`SeedHopDupeFilter` lets such hops through when the request descends from a
seed (meta ``brokenlinks_seed``, kept by Scrapy's redirect middlewares); a loop then ends
at ``REDIRECT_MAX_TIMES`` as ``IgnoreRequest: max redirections reached``, which the spider
records. Seeds themselves are still filtered, so a ``JOBDIR`` resume skips what was done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.dupefilters import RFPDupeFilter

if TYPE_CHECKING:
    from scrapy import Request

#: the meta key that marks a referring-page request (and, through redirects, its hops)
SEED_META = "brokenlinks_seed"


class SeedHopDupeFilter(RFPDupeFilter):
    """``DUPEFILTER_CLASS``: Scrapy's filter, except for redirect hops of seeds."""

    def request_seen(self, request: Request) -> bool:
        seen = super().request_seen(request)
        if seen and request.meta.get(SEED_META) and request.meta.get("redirect_times"):
            return False
        return seen
