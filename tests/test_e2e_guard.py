"""The fast subset's guard (tests/e2eguard.py): a test that starts a process needs the e2e mark.

The inner tests raise the audit event that ``subprocess.Popen`` raises instead of starting a
process, so this test starts none itself.
"""

from __future__ import annotations

INNER = """
import sys

import pytest


def test_unmarked_starts_one():
    sys.audit("subprocess.Popen", "scrapy", ["scrapy", "crawl", "backlinks"], None, None)


@pytest.mark.e2e
def test_marked_starts_one():
    sys.audit("subprocess.Popen", "scrapy", ["scrapy", "crawl", "backlinks"], None, None)


@pytest.fixture
def server():
    sys.audit("os.posix_spawn", "postgres", ["postgres"], None)


def test_unmarked_fixture_starts_one(server):
    pass


def test_unmarked_starts_none():
    pass
"""


def test_a_process_without_the_e2e_mark_fails_the_test(pytester):
    pytester.makepyfile(test_inner=INNER)
    pytester.makeini("[pytest]\nmarkers =\n    e2e: end to end\n")
    result = pytester.runpytest_inprocess(
        "-p", "tests.e2eguard", "-p", "no:cacheprovider", "-p", "no:twisted"
    )
    result.assert_outcomes(passed=2, failed=1, errors=1)
    # errors (setup) are reported before failures (call); "[" is special to fnmatch
    result.stdout.fnmatch_lines(
        [
            "*test_unmarked_fixture_starts_one started a process in its setup (os.posix_spawn*",
            (
                "*test_unmarked_starts_one started a process in its call (subprocess.Popen "
                "('scrapy', *)) but is not marked e2e: add @pytest.mark.e2e*"
            ),
        ]
    )
