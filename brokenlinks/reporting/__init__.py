"""The HTML report of ``scrapy report -o report.html``: one self-contained page for people.

:mod:`~brokenlinks.reporting.data` reads what the page shows from the store (through
:mod:`brokenlinks.storage.store` and :mod:`brokenlinks.reporting.reports`), :mod:`~brokenlinks.reporting.charts`
draws its charts as inline SVG, and :mod:`~brokenlinks.reporting.html` renders the page from
the Jinja2 template in ``templates/`` with its stylesheet and script inlined.
"""
