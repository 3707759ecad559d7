"""setuptools shim for ``scrapyd-deploy``, and the package list.

Everything else is declared in pyproject.toml (metadata, the ``scrapy`` settings entry point,
``package-dir``). The packages are found here because two of them live outside
``brokenlinks/``: ``spiders/`` and ``pipelines/`` sit at the top of the repository (the design
card's layout) but install as ``brokenlinks.spiders`` and ``brokenlinks.pipelines``, which a
``[tool.setuptools.packages.find]`` table cannot express beside the found ones. Data folders
(templates, parking fingerprints) are namespace packages, found too. Without this file
``scrapyd-deploy`` writes a setup.py of its own into the checkout.
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages(
            include=["brokenlinks", "brokenlinks.*"], exclude=["*.__pycache__"]
        ),
        "brokenlinks.spiders",
        "brokenlinks.pipelines",
    ],
)
