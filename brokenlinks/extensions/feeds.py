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
default item class of every feed (Scrapy 2.19). :func:`export_prospects_only` gives every
feed without ``item_classes`` or ``item_filter`` of its own ``item_classes = [ProspectItem]``
in the ``FEEDS`` setting itself, at that setting's priority: the add-on calls it
(``brokenlinks.Addon.update_settings``), after the command line, Scrapyd and the spider
have set their feeds and before Scrapy's ``FeedExporter`` reads them. Only public API: the
documented ``FEEDS`` options, no ``FeedExporter.feeds``/``filters`` attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy.exporters import CsvItemExporter
from scrapy.extensions.feedexport import FeedExporter

from brokenlinks.items import ProspectItem

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

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


def export_prospects_only(settings: BaseSettings) -> None:
    """Make every feed that names no item classes (nor a filter) export prospects only.

    >>> from scrapy.settings import Settings
    >>> s = Settings({"FEEDS": {"a.csv": {"format": "csv"},
    ...                         "pages.jl": {"format": "jsonlines", "item_classes": ["x.P"]}}})
    >>> export_prospects_only(s)
    >>> s.getdict("FEEDS")["a.csv"]["item_classes"], s.getdict("FEEDS")["pages.jl"]["item_classes"]
    (['brokenlinks.items.ProspectItem'], ['x.P'])
    """
    feeds = settings.getdict("FEEDS")
    if not feeds:
        return
    changed = {
        uri: options
        if options.get("item_classes") or options.get("item_filter")
        else {**options, "item_classes": [PROSPECT_ITEM]}
        for uri, options in feeds.items()
    }
    settings.set("FEEDS", changed, settings.getpriority("FEEDS") or 0)


class ProspectFeedExporter(FeedExporter):
    """Scrapy's FeedExporter under the name the add-on installs (settings may name it).

    The prospects-only default is in the feeds' options (:func:`export_prospects_only`).
    Settings written before the add-on (0.1: ``EXTENSIONS`` naming this class, no
    ``ADDONS``) never ran it; then a feed without item classes of its own gets prospects
    only here, where Scrapy hands each scraped item over (its ``item_scraped`` receiver).
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        feeds = crawler.settings.getdict("FEEDS")
        self._prospects_only = any(
            not (options.get("item_classes") or options.get("item_filter"))
            for options in feeds.values()
        )

    def item_scraped(self, item: Any, spider: Spider) -> None:
        if self._prospects_only and not isinstance(item, ProspectItem):
            return
        super().item_scraped(item, spider)


class SafeCsvItemExporter(CsvItemExporter):
    """CsvItemExporter that escapes formula-like text cells (lists stay comma-joined).

    A feed with no rows still gets its header row (Scrapy writes it with the first item):
    a script reading the file can tell "no prospects" from "no export".
    """

    #: whether Scrapy has written the header row: it does with the first item
    _exported_an_item = False

    def export_item(self, item: Any) -> None:
        self._exported_an_item = True
        super().export_item(item)

    def finish_exporting(self) -> None:
        if not self._exported_an_item and self.include_headers_line:
            fields = self.fields_to_export or ItemAdapter.get_field_names_from_class(ProspectItem)
            names = fields.values() if isinstance(fields, Mapping) else fields
            self.csv_writer.writerow(list(names or ()))
        super().finish_exporting()

    def serialize_field(self, field: Any, name: str, value: Any) -> Any:
        serialized = super().serialize_field(field, name, value)
        if isinstance(serialized, str):
            return csv_safe(serialized)
        return serialized
