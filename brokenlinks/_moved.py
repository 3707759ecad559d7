"""Old flat module paths, kept importable for one release with a ``DeprecationWarning``.

Until 0.2 the package was flat (``brokenlinks.checks``, ``brokenlinks.guard``...). Settings
that name a component by its old path (``EXTENSIONS``, ``DOWNLOADER_MIDDLEWARES``,
``TWISTED_DNS_RESOLVER``, ``DOWNLOADER``, ``FEED_EXPORTERS``) and code that imports an old
module keep working: importing an old name warns once and hands back the module at its new
place, the same module object, so ``load_object("brokenlinks.checks.LinkChecker")`` is the
class the add-on installs. :data:`MOVED` is the whole table; ``brokenlinks/__init__.py``
installs the finder.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType

#: old module (under ``brokenlinks.``) → its place now
MOVED: dict[str, str] = {
    "botwall": "judge.botwall",
    "charsets": "parsing.charsets",
    "checks": "checker.checks",
    "db": "storage.db",
    "downloader": "net.downloader",
    "egress": "render.egress",
    "extract": "parsing.extract",
    "feeds": "extensions.feeds",
    "freshness": "checker.freshness",
    "guard": "net.guard",
    "models": "storage.models",
    "pages": "checker.pages",
    "parked": "judge.parked",
    "preflight": "ops.preflight",
    "progress": "extensions.progress",
    "quietlogs": "extensions.quietlogs",
    "recheck": "seeds.recheck",
    "redirects": "downloadermiddlewares.redirects",
    "renderhandler": "render.handler",
    "reports": "reporting.reports",
    "retry": "downloadermiddlewares.retry",
    "schedule": "ops.schedule",
    "shards": "seeds.shards",
    "sites": "parsing.sites",
    "siteurls": "parsing.siteurls",
    "soft404": "judge.soft404",
    "store": "storage.store",
    "summary": "extensions.summary",
    "textsearch": "judge.textsearch",
    "urls": "parsing.urls",
    "verdicts": "checker.verdicts",
    "verdictspill": "checker.spill",
    "workers": "checker.workers",
}
_PREFIX = "brokenlinks."


class _MovedLoader(importlib.abc.Loader):
    def __init__(self, old: str, new: str) -> None:
        self.old = old
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default: a throwaway module that exec_module replaces

    def exec_module(self, module: ModuleType) -> None:
        warnings.warn(
            f"{self.old} moved to {self.new}; the old path goes in brokenlinks 0.3",
            DeprecationWarning,
            stacklevel=2,
        )
        # importlib returns whatever sys.modules holds under the name once this returns:
        # the module at its new place, not a copy of it
        sys.modules[self.old] = importlib.import_module(self.new)


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Find ``brokenlinks.<old>`` for the modules in :data:`MOVED`."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_PREFIX):
            return None
        new = MOVED.get(fullname.removeprefix(_PREFIX))
        if new is None:
            return None
        loader = _MovedLoader(fullname, _PREFIX + new)
        return importlib.machinery.ModuleSpec(fullname, loader)


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
