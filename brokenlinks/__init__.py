"""brokenlinks: a Scrapy project that finds dead links worth a replacement pitch."""

__version__ = "0.1.0"
