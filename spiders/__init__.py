"""The project's spiders, installed as ``brokenlinks.spiders`` (``SPIDER_MODULES``)."""
