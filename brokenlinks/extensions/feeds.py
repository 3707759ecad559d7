"""Feed exports of prospects: only ``ProspectItem`` reaches a feed, and CSV cells are safe.

The spiders also yield ``PageItem`` and ``CheckItem`` for the store pipeline; a feed that
names no ``item_classes`` of its own exports prospects only. ``scrapy crawl -O file``
*replaces* ``FEEDS``, so this default is applied by the exporter extension itself, not by
a ``FEEDS`` entry in settings.py. Anchor texts and titles come from other people's pages:
a CSV cell that a spreadsheet would run as a formula is prefixed with an apostrophe
(OWASP's advice for CSV injection). :class:`SafeCsvItemExporter` is the project's one CSV
writer: the feeds and the commands' ``-o file.csv`` (``brokenlinks.reporting.reports.write_rows``).

The Scrapy behaviour worked around: a feed's item filter is built in
``FeedExporter.__init__`` from its ``item_classes`` option, and there is no setting for a
default item class of every feed (Scrapy 2.19). The exporter sets the option and builds
the filter Scrapy's way for a feed without ``item_filter``: with the public
``scrapy.extensions.feedexport.ItemFilter`` (the documented default of ``item_filter``),
not the private ``FeedExporter._load_filter``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy.exporters import CsvItemExporter
from scrapy.extensions.feedexport import FeedExporter, ItemFilter

from brokenlinks.items import ProspectItem

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

PROSPECT_ITEM = "brokenlinks.items.ProspectItem"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_safe(value: str) -> str:
    """Neutralise a cell a spreadsheet would evaluate as a formula.

    >>> csv_safe("=HYPERLINK(\\"http://evil.example\\")")
    '\\'=HYPERLINK("http://evil.example")'
    >>> csv_safe("Best tools")
    'Best tools'
    """
    if value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class ProspectFeedExporter(FeedExporter):
    """Scrapy's FeedExporter, exporting prospects only unless a feed says otherwise."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        for uri, options in self.feeds.items():
            if not options.get("item_classes") and not options.get("item_filter"):
                options["item_classes"] = [PROSPECT_ITEM]
                self.filters[uri] = ItemFilter(options)


class SafeCsvItemExporter(CsvItemExporter):
    """CsvItemExporter that escapes formula-like text cells (lists stay comma-joined).

    A feed with no rows still gets its header row (Scrapy writes it with the first item):
    a script reading the file can tell "no prospects" from "no export".
    """

    def finish_exporting(self) -> None:
        if self._headers_not_written and self.include_headers_line:
            self._headers_not_written = False
            fields = self.fields_to_export or ItemAdapter.get_field_names_from_class(ProspectItem)
            names = fields.values() if isinstance(fields, Mapping) else fields
            self.csv_writer.writerow(list(names or ()))
        super().finish_exporting()

    def serialize_field(self, field: Any, name: str, value: Any) -> Any:
        serialized = super().serialize_field(field, name, value)
        if isinstance(serialized, str):
            return csv_safe(serialized)
        return serialized
