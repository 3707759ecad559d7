"""brokenlinks: a Scrapy project that finds dead links worth a replacement pitch."""

import os

# Scrapy's cookie middleware builds a TLDExtract at import time, which downloads the Public
# Suffix List unless this is set; the settings module imports this package first.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

__version__ = "0.1.0"
