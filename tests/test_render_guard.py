"""The browser's network guard holds whatever the settings say (issue 21, point 2).

``-s PLAYWRIGHT_LAUNCH_OPTIONS=...`` (priority cmdline) used to replace the options the
crawl wrote at spider priority: the browser then ran without its egress proxy and with its
own DNS. Now harmless options are merged with the guard's where the browser is launched,
and an option that would open another way out is refused before the crawl, with one
``error:`` line. The hostile page of ``tests/test_egress.py`` reaches for a trap server on
loopback in every way a page can; the trap must see nothing.
"""

from __future__ import annotations

import json

import pytest

from brokenlinks.config import BrokenlinksConfig
from brokenlinks.render.browser import context_options, egress_args
from tests.test_egress import crawl_hostile, hostile_page, hostile_web, trap  # noqa: F401

#: a harmless launch option whose effect a page can show: its user agent, read by a script
PROBE_AGENT = "BrokenlinksProbe/1"
SHOWS_AGENT = """<script>
const a = document.createElement("a");
a.href = "http://gone.test/agent-" + encodeURIComponent(navigator.userAgent);
a.textContent = "agent";
document.body.append(a);
</script>"""


@pytest.fixture
def agent_web(hostile_web):  # noqa: F811  (the fixture imported above)
    page = hostile_web.root / "hostile.test" / "index.html"
    page.write_text(page.read_text(encoding="utf-8") + SHOWS_AGENT, encoding="utf-8")
    return hostile_web


@pytest.mark.e2e
def test_command_line_launch_options_are_merged_and_the_guard_holds(
    tmp_path,
    agent_web,
    trap,  # noqa: F811
):
    options = {"args": [f"--user-agent={PROBE_AGENT}"], "headless": True}
    result = crawl_hostile(tmp_path, agent_web, PLAYWRIGHT_LAUNCH_OPTIONS=options)
    assert result.returncode == 0, result.stderr[-3000:]
    assert trap.seen == []
    stats = result.stats
    assert stats["brokenlinks/render/pages"] == 1
    assert stats["brokenlinks/render/egress/refused/loopback"] >= 8
    # the user's option reached the browser: the script saw the user agent it sets
    targets = {item["target_url"] for item in result.items}
    assert f"http://gone.test/agent-{PROBE_AGENT.replace('/', '%2F')}" in targets, targets
    assert "http://gone.test/404" in targets


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        (
            "PLAYWRIGHT_LAUNCH_OPTIONS",
            {"args": ["--proxy-server=http://127.0.0.1:{trap}"]},
            "'--proxy-server=http://127.0.0.1:{trap}'",
        ),
        ("PLAYWRIGHT_LAUNCH_OPTIONS", {"args": ["--no-proxy-server"]}, "'--no-proxy-server'"),
        (
            "PLAYWRIGHT_LAUNCH_OPTIONS",
            {"args": ["--proxy-bypass-list=*"]},
            "'--proxy-bypass-list=*'",
        ),
        (
            "PLAYWRIGHT_LAUNCH_OPTIONS",
            {"args": ["--host-resolver-rules=MAP * 127.0.0.1:{trap}"]},
            "'--host-resolver-rules=MAP * 127.0.0.1:{trap}'",
        ),
        (
            "PLAYWRIGHT_LAUNCH_OPTIONS",
            {"proxy": {"server": "http://127.0.0.1:{trap}"}},
            "'proxy'",
        ),
        (
            "PLAYWRIGHT_CONTEXTS",
            {"p": {"user_data_dir": "{tmp}/profile", "args": ["--no-proxy-server"]}},
            "context 'p': '--no-proxy-server'",
        ),
        ("PLAYWRIGHT_BROWSER_TYPE", "firefox", "use chromium"),
    ],
)
def test_a_bypassing_option_is_refused_before_the_crawl(
    tmp_path,
    hostile_web,  # noqa: F811
    trap,  # noqa: F811
    setting,
    value,
    named,
):
    def fill(text: str) -> str:
        return text.replace("{trap}", str(trap.port)).replace("{tmp}", str(tmp_path))

    value = json.loads(fill(json.dumps(value)))
    result = crawl_hostile(tmp_path, hostile_web, **{setting: value})
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert errors[0].startswith(f"error: {setting}"), errors
    assert fill(named) in errors[0]
    assert "Traceback" not in result.stderr
    assert trap.seen == []
    assert hostile_web.requests(host="hostile.test") == []


def test_a_persistent_context_is_launched_with_the_guard():
    # scrapy-playwright launches a persistent context without PLAYWRIGHT_LAUNCH_OPTIONS
    proxy = "http://127.0.0.1:9"
    options = context_options(
        BrokenlinksConfig(render_browser_path="/opt/chrome"),
        {"user_data_dir": "/tmp/profile", "locale": "de-DE", "args": ["--no-proxy-server"]},
        proxy,
    )
    assert options == {
        "user_data_dir": "/tmp/profile",
        "locale": "de-DE",
        "args": egress_args(proxy),
        "headless": True,
        "executable_path": "/opt/chrome",
    }
    assert context_options(BrokenlinksConfig(), {"proxy": {"server": "x:1"}}, proxy) == {}


def test_the_egress_proxy_waits_for_the_first_rendered_page():
    from scrapy.utils.misc import build_from_crawler
    from scrapy.utils.test import get_crawler

    from brokenlinks.render.handler import LazyPlaywrightHandler

    crawler = get_crawler(
        settings_dict={
            "PLAYWRIGHT_BROWSER_TYPE": "firefox",
            "PLAYWRIGHT_CDP_URL": "http://10.0.0.1:9222",
        }
    )
    handler = build_from_crawler(LazyPlaywrightHandler, crawler)
    # nothing listens before a page asks for the browser
    assert handler.egress is None
    # a remote browser or another browser type would launch without the guard
    assert handler.config.cdp_url is None
    assert handler.config.browser_type_name == "chromium"


@pytest.mark.parametrize(
    "arg",
    [
        "-proxy-server=http://10.0.0.1:3128",  # Chromium reads one dash like two
        "--Proxy-Server=http://10.0.0.1:3128",
        " --no-proxy-server",
        "--host-rules=MAP * 10.0.0.1",
        "--proxy-pac-url=http://10.0.0.1/p.pac",
    ],
)
def test_every_spelling_of_a_routing_switch_is_refused(arg):
    from scrapy.settings import Settings

    from brokenlinks.render.browser import check_browser_settings, launch_options

    with pytest.raises(ValueError, match="would bypass the browser's egress proxy"):
        check_browser_settings(Settings({"PLAYWRIGHT_LAUNCH_OPTIONS": {"args": [arg]}}))
    proxy = "http://127.0.0.1:9"
    options = launch_options(BrokenlinksConfig(), {"args": [arg, "--lang=de"]}, proxy)
    assert options["args"] == ["--lang=de", *egress_args(proxy)]
