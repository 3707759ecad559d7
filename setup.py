"""setuptools shim for ``scrapyd-deploy``, which builds the egg with ``python setup.py bdist_egg``.

Everything is declared in pyproject.toml (packages, the ``scrapy`` settings entry point).
Without this file scrapyd-deploy writes a setup.py of its own into the checkout.
"""

from setuptools import setup

setup()
