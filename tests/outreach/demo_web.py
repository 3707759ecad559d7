"""The demo web extended for outreach: archived captures, RDAP, your site, a contact page.

:func:`extend_demo` builds it from ``data/demo`` and the files beside this module
(``tests/outreach/demo/``) in a new directory, without changing ``data/demo``: the routes
are merged, the new hosts copied, and the blog's two posts get an author and a link to
the new contact page. ``scrapy demo`` can serve the result the same way (see
docs/outreach.md and the issue-13 report).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

OVERLAY = Path(__file__).parent / "demo"
#: what the demo's crawl settings need, besides BROKENLINKS_RESOLVE = {"*.demo": ...}
SETTINGS = {
    "BROKENLINKS_ARCHIVE_URL": "http://archive.demo",
    "BROKENLINKS_RDAP_BOOTSTRAP_URL": "http://iana.demo/rdap/dns.json",
}
MYSITE = "http://mycoffee.demo/"
BLOG_POSTS = ("pour-over-guide.html", "grinder-notes.html")


def extend_demo(demo: Path, dest: Path) -> Path:
    """Copy the demo web at *demo* to *dest* with the outreach overlay; return *dest*."""
    shutil.copytree(demo, dest)
    for item in OVERLAY.iterdir():
        if item.is_dir():
            shutil.copytree(item, dest / item.name, dirs_exist_ok=True)
    routes = json.loads((demo / "routes.json").read_text(encoding="utf-8"))
    extra = json.loads((OVERLAY / "routes.json").read_text(encoding="utf-8"))
    routes.update({host: rules for host, rules in extra.items() if not host.startswith("_")})
    (dest / "routes.json").write_text(json.dumps(routes, indent=2) + "\n", encoding="utf-8")
    for name in BLOG_POSTS:
        post = dest / "blog.demo" / name
        html = post.read_text(encoding="utf-8")
        html = html.replace("</head>", '<meta name="author" content="Sam Brewer"></head>', 1)
        html = html.replace("</body>", '<p><a href="/contact.html">Contact</a></p>\n</body>', 1)
        post.write_text(html, encoding="utf-8")
    return dest
