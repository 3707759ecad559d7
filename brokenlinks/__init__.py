"""brokenlinks: a Scrapy project that finds dead links worth a replacement pitch.

``brokenlinks.Addon`` installs the project's components in any Scrapy project
(``ADDONS = {"brokenlinks.Addon": 0}``); it is imported on first use, so importing
``brokenlinks`` does not import Scrapy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from brokenlinks import _moved

if TYPE_CHECKING:
    from brokenlinks.addon import Addon

__version__ = "0.2.0"
__all__ = ["Addon", "__version__"]

_moved.install()


def __getattr__(name: str) -> Any:
    if name == "Addon":
        from brokenlinks.addon import Addon  # noqa: PLC0415  # Scrapy only when asked for

        return Addon
    raise AttributeError(f"module 'brokenlinks' has no attribute {name!r}")
