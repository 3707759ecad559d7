from __future__ import annotations

import codecs
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from brokenlinks.seeds.read import (
    InvalidSeed,
    Seed,
    SeedFile,
    SeedFileError,
    SeedFormat,
    detect_format,
    parse_seeds,
    read_seeds,
)

from .conftest import DATA

if TYPE_CHECKING:
    from collections.abc import Callable

FIXTURES = Path(__file__).parent / "fixtures" / "seeds"
SAMPLES = Path(__file__).parents[1] / "data" / "samples"
DEMO = Path(__file__).parents[1] / "data" / "demo"
SCRAPY_FEEDS = DATA / "scrapy-sample-data" / "feeds"

KNOWN_FORMATS = (
    "known formats: Google Search Console, Semrush, Ahrefs, Majestic, Moz"
    " (or a plain list of URLs, one per line)"
)


def urls(seed_file: SeedFile) -> list[tuple[str, int]]:
    return [(seed.url, seed.line) for seed in seed_file.seeds]


def invalid(seed_file: SeedFile) -> list[tuple[int, str]]:
    return [(bad.line, bad.value) for bad in seed_file.invalid]


def assert_one_line_error(excinfo: pytest.ExceptionInfo[SeedFileError], name: str) -> str:
    message = str(excinfo.value)
    assert name in message
    assert "\n" not in message
    assert "\r" not in message
    assert message.startswith("seeds file ")
    return message


# ---------------------------------------------------------------------------
# Real-looking exports (tests/fixtures/seeds/)
# ---------------------------------------------------------------------------

SEMRUSH_SEEDS = [
    Seed(
        url="https://blog.example.org/best-seo-tools/",
        line=2,
        target_url="https://mysite.example/guide/keyword-research",
        anchor_text="keyword research guide",
    ),
    Seed(
        url="http://library.example.edu/links.html",
        line=3,
        target_url="http://mysite.example/tools",
        anchor_text="",
    ),
]
AHREFS_SEEDS = [
    Seed(
        url="https://www.example.com/free-tools/",
        line=2,
        target_url="https://mysite.example/tools/checker",
        anchor_text="free link checker",
    ),
    Seed(
        url="https://annuaire.example.fr/liens-utiles",
        line=3,
        target_url="http://mysite.example/",
        anchor_text="mysite.example",
    ),
]


@pytest.mark.parametrize(
    ("name", "seed_format", "seeds", "duplicates"),
    [
        (
            "gsc-latest-links.csv",  # UTF-8 with BOM, CRLF
            SeedFormat.GSC,
            [
                Seed(url="https://resources.example.net/seo-links.html", line=2),
                Seed(url="https://forum.example.org/t/what-tools-do-you-use/1234?page=2", line=3),
                Seed(url="http://blog.example.com/2019/03/link-roundup/", line=5),
            ],
            1,  # same page, host in capitals and a fragment
        ),
        (
            "gsc-old-links.csv",  # Webmaster Tools "Download latest links"
            SeedFormat.GSC,
            [
                Seed(url="http://www.example.org/links.htm", line=2),
                Seed(url="http://directory.example.net/cat/tools/", line=3),
            ],
            0,
        ),
        ("semrush-backlinks.csv", SeedFormat.SEMRUSH, SEMRUSH_SEEDS, 1),
        ("semrush-backlinks-semicolon.csv", SeedFormat.SEMRUSH, SEMRUSH_SEEDS, 1),
        ("semrush-backlinks-utf16.csv", SeedFormat.SEMRUSH, SEMRUSH_SEEDS, 1),
        ("ahrefs-backlinks-utf16.csv", SeedFormat.AHREFS, AHREFS_SEEDS, 1),
        ("ahrefs-backlinks-utf8.csv", SeedFormat.AHREFS, AHREFS_SEEDS, 1),
        (
            "ahrefs-legacy.csv",  # header starts with a "#" column, not a comment
            SeedFormat.AHREFS,
            [
                Seed(
                    url="http://www.example.org/resources/",
                    line=2,
                    target_url="http://mysite.example/widgets",
                    anchor_text="widget maker",
                ),
                Seed(
                    url="https://wiki.example.net/Links",
                    line=3,
                    target_url="https://mysite.example/",
                    anchor_text="MySite",
                ),
            ],
            0,
        ),
        (
            "majestic-backlinks.csv",  # "Target URL" is the first column
            SeedFormat.MAJESTIC,
            [
                Seed(
                    url="https://links.example.org/web/",
                    line=2,
                    target_url="https://mysite.example/",
                    anchor_text="MySite home",
                ),
                Seed(
                    url="http://old.example.com/~jo/bookmarks.html",
                    line=3,
                    target_url="https://mysite.example/blog/guide",
                    anchor_text="",
                ),
            ],
            0,
        ),
        (
            "majestic-api.csv",  # SourceURL / TargetURL / AnchorText
            SeedFormat.MAJESTIC,
            [
                Seed(
                    url="http://partners.example.com/",
                    line=2,
                    target_url="http://mysite.example/",
                    anchor_text="our partner",
                ),
                Seed(
                    url="https://partners.example.com/list?p=2",
                    line=3,
                    target_url="https://mysite.example/tools",
                    anchor_text="tools",
                ),
            ],
            0,
        ),
        (
            "moz-inbound-links.csv",  # URLs without a scheme get http://
            SeedFormat.MOZ,
            [
                Seed(
                    url="http://resources.example.net/web-tools",
                    line=2,
                    target_url="http://mysite.example/tools/checker",
                    anchor_text="link checker",
                ),
                Seed(
                    url="https://www.example.com/blog/roundup",
                    line=3,
                    target_url="https://mysite.example/",
                    anchor_text="MySite",
                ),
                Seed(
                    url="http://www.example.com/blog/roundup",
                    line=4,
                    target_url="http://mysite.example/",
                    anchor_text="MySite",
                ),
            ],
            0,
        ),
        (
            "semrush-multiline.csv",  # quoted fields over several lines: record start lines
            SeedFormat.SEMRUSH,
            [
                Seed(
                    url="https://school.example.edu/resources/",
                    line=2,
                    target_url="https://mysite.example/a",
                    anchor_text="printable worksheets",
                ),
                Seed(
                    url="https://school.example.edu/other/",
                    line=5,
                    target_url="https://mysite.example/b",
                    anchor_text="b",
                ),
                Seed(
                    url="https://news.example.com/story",
                    line=6,
                    target_url="https://mysite.example/c",
                    anchor_text="c",
                ),
                Seed(
                    url="https://news.example.com/story-2",
                    line=9,
                    target_url="https://mysite.example/d",
                    anchor_text="d",
                ),
            ],
            0,
        ),
        (
            "urls.txt",
            SeedFormat.URLS,
            [
                Seed(url="https://resources.example.net/links.html", line=3),
                Seed(url="http://blog.example.org/2019/01/best-tools/", line=4),
                Seed(url="https://www.example.com/useful-links", line=6),
            ],
            2,
        ),
    ],
)
def test_fixture_exports(name, seed_format, seeds, duplicates):
    seed_file = read_seeds(FIXTURES / name)
    assert seed_file.path == str(FIXTURES / name)
    assert seed_file.format is seed_format
    assert seed_file.seeds == seeds
    assert seed_file.duplicates == duplicates
    if name != "urls.txt":
        assert seed_file.invalid == []


def test_fixture_url_list_invalid_lines():
    seed_file = read_seeds(FIXTURES / "urls.txt")
    assert seed_file.invalid == [
        InvalidSeed(
            line=7, value="ftp://files.example.com/list.txt", why="not an http(s) URL (ftp:)"
        ),
        InvalidSeed(line=8, value="javascript:void(0)", why="not an http(s) URL (javascript:)"),
        InvalidSeed(line=9, value="example.com/no-scheme", why="not an absolute URL"),
    ]


@pytest.mark.parametrize(
    ("name", "seed_format", "count", "duplicates"),
    [
        ("backlinks-urls.txt", SeedFormat.URLS, 3, 1),
        ("gsc-latest-links.csv", SeedFormat.GSC, 3, 0),
        ("semrush-backlinks.csv", SeedFormat.SEMRUSH, 2, 1),
        ("ahrefs-backlinks.csv", SeedFormat.AHREFS, 2, 0),
    ],
)
def test_data_samples(name, seed_format, count, duplicates):
    seed_file = read_seeds(SAMPLES / name)
    assert seed_file.format is seed_format
    assert len(seed_file.seeds) == count
    assert seed_file.duplicates == duplicates
    assert seed_file.invalid == []
    # pages of the demo web (data/demo/): the samples find prospects offline
    hosts = {seed.url.split("/")[2] for seed in seed_file.seeds}
    assert all((DEMO / host).is_dir() for host in hosts), hosts


# ---------------------------------------------------------------------------
# Header detection
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # Google Search Console
        (["Linking page", "Last crawled"], SeedFormat.GSC),
        (["Linking page"], SeedFormat.GSC),  # "More sample links"
        (["Links", "First discovered"], SeedFormat.GSC),
        (["Links", "Last crawled"], SeedFormat.GSC),
        (["  LINKING PAGE ", "last crawled"], SeedFormat.GSC),
        # Semrush
        (
            [
                "Page ascore",
                "Source title",
                "Source url",
                "Target url",
                "Anchor",
                "External links",
                "Internal links",
                "Nofollow",
                "Sponsored",
                "Ugc",
                "Text",
                "Frame",
                "Form",
                "Image",
                "Sitewide",
                "First seen",
                "Last seen",
                "New link",
                "Lost link",
            ],
            SeedFormat.SEMRUSH,
        ),
        (
            ["Page score", "Trust score", "Source title", "Source url", "Target url"],
            SeedFormat.SEMRUSH,
        ),
        (["Source url", "Target url", "Anchor"], SeedFormat.SEMRUSH),
        (["SOURCE URL", "TARGET URL", "ANCHOR", "NOFOLLOW"], SeedFormat.SEMRUSH),
        # Ahrefs
        (
            [
                "Referring page title",
                "Referring page URL",
                "Language",
                "Platform",
                "Referring page HTTP code",
                "Domain rating",
                "UR",
                "Domain traffic",
                "Referring domains",
                "Linked domains",
                "External links",
                "Page traffic",
                "Keywords",
                "Target URL",
                "Left context",
                "Anchor",
                "Right context",
                "Type",
                "Content",
                "Nofollow",
                "UGC",
                "Sponsored",
                "Rendered",
                "Raw",
                "Lost status",
                "Drop reason",
                "Discovered status",
                "First seen",
                "Last seen",
                "Lost",
            ],
            SeedFormat.AHREFS,
        ),
        (
            ["#", "Domain Rating", "URL Rating", "Referring Page URL", "Link URL"],
            SeedFormat.AHREFS,
        ),
        (
            ["Referring Page URL", "Link URL", "TextPre", "Link Anchor", "TextPost"],
            SeedFormat.AHREFS,
        ),
        (["Referring page URL"], SeedFormat.AHREFS),
        # Majestic
        (
            [
                "Target URL",
                "Source URL",
                "Anchor Text",
                "Source Crawl Date",
                "Source First Found Date",
                "Flag No Follow",
                "Flag Image Link",
                "Flag Redirect",
                "Flag Frame",
                "Flag Old Crawl",
                "Flag Alt Text",
                "Flag Mention",
                "Source Citation Flow",
                "Source Trust Flow",
                "Target Citation Flow",
                "Target Trust Flow",
            ],
            SeedFormat.MAJESTIC,
        ),
        (
            ["SourceURL", "ACRank", "AnchorText", "Date", "FlagRedirect", "TargetURL"],
            SeedFormat.MAJESTIC,
        ),
        (["Source URL", "Target URL", "Anchor Text"], SeedFormat.MAJESTIC),
        (["source_url", "target_url", "anchor_text"], SeedFormat.MAJESTIC),
        (["Source URL", "SourceTopicalTrustFlow_Topic_0"], SeedFormat.MAJESTIC),
        # Moz
        (
            [
                "URL",
                "Title",
                "Anchor Text",
                "Spam Score",
                "Domain Authority",
                "Page Authority",
                "Number of Domains Linking to Page",
                "Target URL",
                "Link Type",
            ],
            SeedFormat.MOZ,
        ),
        (
            ["Source URL", "Source Title", "Target URL", "Anchor Text", "Page Authority"],
            SeedFormat.MOZ,
        ),
        (
            ["Source URL", "Target URL", "Anchor Text", "Domain Authority", "Spam Score"],
            SeedFormat.MOZ,
        ),
        (["URL", "Title"], SeedFormat.MOZ),
        # A one-column list with a title row
        (["URL"], SeedFormat.URLS),
        (["urls"], SeedFormat.URLS),
        (["Page URL", ""], SeedFormat.URLS),
        # Unknown
        ([], None),
        ([""], None),
        (["Foo", "Bar"], None),
        (["id", "name", "value"], None),
        (["URL", "Status"], None),
        (["Links"], SeedFormat.URLS),
        (["Links", "Count"], None),
        (["Target URL", "Anchor Text", "Page Authority"], None),  # no referring page column
        (["Site", "Linking pages", "Target pages"], None),  # GSC "Top linking sites"
        (["Domain ascore", "Domain", "Backlinks", "IP", "Country"], None),  # Semrush domains
    ],
)
def test_detect_format(header, expected):
    assert detect_format(header) == expected


# ---------------------------------------------------------------------------
# Encodings and delimiters
# ---------------------------------------------------------------------------

SEMRUSH_TEXT = (
    "Page ascore,Source title,Source url,Target url,Anchor\n"
    '5,"Café, crème",https://café.example/liens,https://mysite.example/,"née"\n'
    "7,Plain,http://Example.COM:80/a,http://mysite.example/b,b\n"
)
SEMRUSH_EXPECTED = [
    Seed(
        url="https://xn--caf-dma.example/liens",
        line=2,
        target_url="https://mysite.example/",
        anchor_text="née",
    ),
    Seed(
        url="http://example.com/a", line=3, target_url="http://mysite.example/b", anchor_text="b"
    ),
]


def encode(text: str, how: str) -> bytes:
    if how == "utf-16-le-bom":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    if how == "utf-16-be-bom":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    return text.encode(how)


@pytest.mark.parametrize(
    "how", ["utf-8", "utf-8-sig", "utf-16-le-bom", "utf-16-be-bom", "utf-16", "cp1252"]
)
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_encodings_delimiters_newlines(tmp_path, how, delimiter, newline):
    text = SEMRUSH_TEXT.replace(",", delimiter) if delimiter != "," else SEMRUSH_TEXT
    if delimiter != ",":
        # the quoted field keeps its comma, now a plain character
        text = text.replace(f'"Café{delimiter} crème"', '"Café, crème"')
    text = text.replace("\n", newline)
    path = tmp_path / "export.csv"
    path.write_bytes(encode(text, how))
    seed_file = read_seeds(path)
    assert seed_file.format is SeedFormat.SEMRUSH
    assert seed_file.seeds == SEMRUSH_EXPECTED
    assert seed_file.invalid == []


@pytest.mark.parametrize(
    ("data", "expected_url"),
    [
        ("http://example.com/caf\u00e9\n".encode("cp1252"), "http://example.com/caf%C3%A9"),
        ("http://example.com/caf\u00e9\n".encode(), "http://example.com/caf%C3%A9"),
        ("http://example.com/\u20ac\n".encode("cp1252"), "http://example.com/%E2%82%AC"),
        (codecs.BOM_UTF8 + b"http://example.com/\n", "http://example.com/"),
        ("\ufeffhttp://example.com/\n".encode("utf-16"), "http://example.com/"),
        (b"http://example.com/\r\n", "http://example.com/"),
    ],
)
def test_decoding_url_lists(tmp_path, data, expected_url):
    path = tmp_path / "list.txt"
    path.write_bytes(data)
    assert urls(read_seeds(path)) == [(expected_url, 1)]


# ---------------------------------------------------------------------------
# Plain URL lists
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "bad", "duplicates"),
    [
        ("http://example.com/", [("http://example.com/", 1)], [], 0),
        ("http://example.com/\n", [("http://example.com/", 1)], [], 0),
        ("\n\n  https://example.com/a  \n", [("https://example.com/a", 3)], [], 0),
        (
            "# comment\n#http://not-a-seed.example/\nhttp://example.com/a\n",
            [("http://example.com/a", 3)],
            [],
            0,
        ),
        ("  # indented comment\nhttp://example.com/a\n", [("http://example.com/a", 2)], [], 0),
        (
            "http://example.com/a   # inline note\nhttp://example.com/b\t# tab note\n",
            [("http://example.com/a", 1), ("http://example.com/b", 2)],
            [],
            0,
        ),
        (
            "HTTP://Example.com\nhttp://example.com/\nhttp://EXAMPLE.com:80/#x\n",
            [("http://example.com/", 1)],
            [],
            2,
        ),
        (
            "http://example.com/a\nhttps://example.com/a\n",
            [("http://example.com/a", 1), ("https://example.com/a", 2)],
            [],
            0,
        ),
        (
            "http://example.com/a?b=1\nhttp://example.com/a?b=2\n",
            [("http://example.com/a?b=1", 1), ("http://example.com/a?b=2", 2)],
            [],
            0,
        ),
        (
            "http://example.com/\nftp://example.com/\nmailto:a@example.com\nnot a url\n",
            [("http://example.com/", 1)],
            [(2, "ftp://example.com/"), (3, "mailto:a@example.com"), (4, "not a url")],
            0,
        ),
        (
            "www.example.com/page\nhttp://example.com/\n",
            [("http://example.com/", 2)],
            [(1, "www.example.com/page")],
            0,
        ),
        (
            "http://a.example/ http://b.example/\nhttp://c.example/\n",
            [("http://c.example/", 2)],
            [(1, "http://a.example/ http://b.example/")],
            0,
        ),
        (
            "http://[::1\nhttp://example.com/\n",
            [("http://example.com/", 2)],
            [(1, "http://[::1")],
            0,
        ),
        (
            # a comma in a URL is no CSV delimiter in a list
            "http://example.com/a,b;c\thttp://x.example/\nhttp://ok.example/\n",
            [("http://ok.example/", 2)],
            [(1, "http://example.com/a,b;c\thttp://x.example/")],
            0,
        ),
        ("http://example.com/a,b;c\n", [("http://example.com/a,b;c", 1)], [], 0),
        ("https://bücher.example/ü\n", [("https://xn--bcher-kva.example/%C3%BC", 1)], [], 0),
        (
            "http://example.com/a\rhttp://example.com/b\r",
            [
                ("http://example.com/a", 1),
                ("http://example.com/b", 2),
            ],
            [],
            0,
        ),
        ("URL\nhttp://example.com/a,b\n", [("http://example.com/a,b", 2)], [], 0),
        ("Links\n\nhttp://example.com/\n", [("http://example.com/", 3)], [], 0),
    ],
)
def test_plain_lists(text, expected, bad, duplicates):
    seed_file = parse_seeds(text)
    assert seed_file.format is SeedFormat.URLS
    assert urls(seed_file) == expected
    assert invalid(seed_file) == bad
    assert seed_file.duplicates == duplicates
    assert all(seed.target_url is None and seed.anchor_text is None for seed in seed_file.seeds)


# ---------------------------------------------------------------------------
# CSV rows
# ---------------------------------------------------------------------------

HEADER = "Page ascore,Source title,Source url,Target url,Anchor\n"


@pytest.mark.parametrize(
    ("rows", "expected", "bad"),
    [
        ("1,t,http://example.com/,http://t.example/,a\n", [("http://example.com/", 2)], []),
        (
            "1,t\n2,t,http://example.com/\n",  # too few fields; then no target or anchor columns
            [("http://example.com/", 3)],
            [(2, "1,t")],
        ),
        (
            "1,t,,http://t.example/,a\n2,t,http://example.com/\n",
            [("http://example.com/", 3)],
            [(2, "")],
        ),
        ("1,t,   ,x,a\n2,t,http://example.com/\n", [("http://example.com/", 3)], [(2, "")]),
        (
            "1,t,ftp://example.com/f,x,a\n1,t,javascript:void(0),x,a\n1,t,http://example.com/\n",
            [("http://example.com/", 4)],
            [(2, "ftp://example.com/f"), (3, "javascript:void(0)")],
        ),
        (
            "1,t,example.com/page,x,a\n1,t,http://example.com/\n",  # no scheme guessing for Semrush
            [("http://example.com/", 3)],
            [(2, "example.com/page")],
        ),
        (",,,,\n\n1,t,http://example.com/\n", [("http://example.com/", 4)], []),
        (
            '1,"multi\nline\ntitle",http://a.example/,x,a\n2,t,http://b.example/\n',
            [("http://a.example/", 2), ("http://b.example/", 5)],
            [],
        ),
        (
            '1,"multi\r\nline",http://a.example/,x,a\r\n2,t,nope\r\n3,t,http://c.example/\r\n',
            [("http://a.example/", 2), ("http://c.example/", 5)],
            [(4, "nope")],
        ),
        ('1,"say ""hi""",http://a.example/,x,"a ""b"""\n', [("http://a.example/", 2)], []),
        (
            "1,t,HTTP://A.EXAMPLE/x#frag,x,a\n2,t,http://a.example:80/x,x,a\n",
            [("http://a.example/x", 2)],
            [],
        ),
    ],
)
def test_csv_rows(rows, expected, bad):
    seed_file = parse_seeds(HEADER + rows)
    assert seed_file.format is SeedFormat.SEMRUSH
    assert urls(seed_file) == expected
    assert invalid(seed_file) == bad


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ("1,t\n", "too few fields (2, the header has 5)"),
        ("1,t,,x,a\n", "empty 'Source url' field"),
        ("1,t,ftp://example.com/,x,a\n", "not an http(s) URL (ftp:)"),
        ("1,t,/relative/page,x,a\n", "not an absolute URL"),
    ],
)
def test_invalid_row_reasons(row, why):
    seed_file = parse_seeds(HEADER + row + "2,t,http://example.com/\n")
    assert seed_file.invalid[0].why == why
    assert seed_file.invalid[0].line == 2


@pytest.mark.parametrize(
    ("row", "target_url", "anchor_text"),
    [
        ("http://s.example/,http://t.example/x#y, anchor \n", "http://t.example/x", "anchor"),
        ("http://s.example/,,a\n", None, "a"),
        ("http://s.example/,not a url,a\n", None, "a"),
        ("http://s.example/,mailto:x@t.example,a\n", None, "a"),
        ('http://s.example/,http://t.example/,"two\n  lines"\n', "http://t.example/", "two lines"),
        ("http://s.example/,http://t.example/,\n", "http://t.example/", ""),
        ("http://s.example/,http://t.example/\n", "http://t.example/", None),
        ("http://s.example/\n", None, None),
    ],
)
def test_target_and_anchor(row, target_url, anchor_text):
    seed = parse_seeds("Source url,Target url,Anchor\n" + row).seeds[0]
    assert seed.url == "http://s.example/"
    assert seed.target_url == target_url
    assert seed.anchor_text == anchor_text


def test_duplicates_keep_the_first_occurrence():
    text = (
        "Source URL,Target URL,Anchor Text,Source Trust Flow\n"
        "http://a.example/,http://t.example/1,first,1\n"
        "http://b.example/,http://t.example/2,b,1\n"
        "http://A.example/#x,http://t.example/3,second,1\n"
        "http://a.example:80/,http://t.example/4,third,1\n"
    )
    seed_file = parse_seeds(text)
    assert seed_file.format is SeedFormat.MAJESTIC
    assert seed_file.duplicates == 2
    assert seed_file.seeds[0] == Seed(
        url="http://a.example/", line=2, target_url="http://t.example/1", anchor_text="first"
    )
    assert [seed.url for seed in seed_file.seeds] == ["http://a.example/", "http://b.example/"]


@pytest.mark.parametrize(
    ("text", "seed_format", "expected"),
    [
        # blank lines and comments before the header keep line numbers right
        (
            "\n# exported\n\nLinking page\nhttp://a.example/\n",
            SeedFormat.GSC,
            [("http://a.example/", 5)],
        ),
        # header cells quoted, padded and in another case
        (
            '" Source URL ";"TARGET URL";"anchor text";"Flag Redirect"\nhttp://a.example/;x;y;0\n',
            SeedFormat.MAJESTIC,
            [("http://a.example/", 2)],
        ),
        # tab-separated with commas inside fields
        (
            "Referring page URL\tAnchor\nhttp://a.example/x,y\ta, b\n",
            SeedFormat.AHREFS,
            [("http://a.example/x,y", 2)],
        ),
        # the delimiter that yields the most known columns wins
        (
            "Source url;Target url,Anchor;Page ascore\nhttp://a.example/;x,y;1\n",
            SeedFormat.SEMRUSH,
            [("http://a.example/", 2)],
        ),
        # Moz: scheme-less and protocol-relative URLs
        (
            "URL,Page Authority\nexample.com/x,1\n//example.org/y,2\nlocalhost:8000/z,3\n",
            SeedFormat.MOZ,
            [("http://example.com/x", 2), ("http://example.org/y", 3)],
        ),
        # extra fields beyond the header are ignored
        (
            "Linking page,Last crawled\nhttp://a.example/,2024-01-01,extra,fields\n",
            SeedFormat.GSC,
            [("http://a.example/", 2)],
        ),
        # BOM character left in the text (parse_seeds gets decoded text)
        ("\ufeffLinking page\nhttp://a.example/\n", SeedFormat.GSC, [("http://a.example/", 2)]),
    ],
)
def test_csv_layouts(text, seed_format, expected):
    seed_file = parse_seeds(text)
    assert seed_file.format is seed_format
    assert urls(seed_file) == expected


def test_moz_scheme_guess_keeps_other_schemes_invalid():
    text = "URL,Page Authority\njavascript:void(0),1\nmailto:a@b.example,1\nhttp://ok.example/,1\n"
    seed_file = parse_seeds(text)
    assert invalid(seed_file) == [(2, "javascript:void(0)"), (3, "mailto:a@b.example")]


# ---------------------------------------------------------------------------
# Bad files: SeedFileError, one line naming the file
# ---------------------------------------------------------------------------


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "nope" / "seeds.txt"


def _under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "plain-file").write_text("", encoding="utf-8")
    return tmp_path / "plain-file" / "seeds.txt"


def _directory(tmp_path: Path) -> Path:
    path = tmp_path / "seeds.d"
    path.mkdir()
    return path


def _write(data: bytes) -> Callable[[Path], Path]:
    def make(tmp_path: Path) -> Path:
        path = tmp_path / "seeds-file.csv"
        path.write_bytes(data)
        return path

    return make


def _fixture(name: str) -> Callable[[Path], Path]:
    return lambda _tmp_path: FIXTURES / name


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (_missing, "no such file"),
        (_directory, "is a directory"),
        (_under_a_file, "cannot be read (Not a directory)"),
        (_write(b""), "is empty"),
        (_write(b"\n\n  \r\n"), "is empty"),
        (_write(b"# only\n# comments\n"), "holds only comments and blank lines"),
        (_fixture("empty.txt"), "is empty"),
        (_fixture("comments-only.txt"), "holds only comments and blank lines"),
        (_fixture("binary.bin"), "looks binary"),
        (_write(b"http://example.com/\x00\n"), "looks binary"),
        (_write(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"), "looks binary"),
        (_write(codecs.BOM_UTF16_LE + b"h\x00t\x00\x00\xd8"), "is not valid utf-16"),
        (_write(codecs.BOM_UTF8 + b"http://example.com/\xff\n"), "is not valid utf-8"),
        (_write(b"http://example.com/\x81\x8d\n"), "is not valid UTF-8 or cp1252 text"),
        (_write(codecs.BOM_UTF16_LE + "http://a/\0".encode("utf-16-le")), "looks binary"),
        (_fixture("unknown-header.csv"), f"unknown CSV header ['Foo', 'Bar']; {KNOWN_FORMATS}"),
        (_fixture("site-level.csv"), "lists sites or domains, not pages"),
        (
            _write(b"Foo\tBar\tBaz\nhttp://example.com/\n"),
            "unknown CSV header ['Foo', 'Bar', 'Baz']",
        ),
        (_write(b"URL,Status\nhttp://example.com/,200\n"), "unknown CSV header ['URL', 'Status']"),
        (
            _write(b"Linking page,Last crawled\r\n"),
            "holds a Google Search Console header but no rows",
        ),
        (_write(b"Linking page\n\n,\n"), "holds a Google Search Console header but no rows"),
        (
            _write(b"not-a-url\nalso not\n"),
            "no valid referring page URL (2 invalid; line 1: 'not-a-url'",
        ),
        (
            _write(b"Source url,Target url,Anchor\nftp://x/,a,b\n"),
            "no valid referring page URL (1 invalid; line 2",
        ),
        (_write(b"URL\nfoo\n"), "no valid referring page URL"),
    ],
)
def test_bad_files(tmp_path, make, fragment):
    path = make(tmp_path)
    with pytest.raises(SeedFileError) as excinfo:
        read_seeds(path)
    message = assert_one_line_error(excinfo, path.name)
    assert fragment in message
    assert isinstance(excinfo.value, ValueError)


def test_unknown_header_message_is_complete(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("Foo,Bar\nhttp://example.com/,1\n", encoding="utf-8")
    with pytest.raises(SeedFileError) as excinfo:
        read_seeds(path)
    assert str(excinfo.value) == (
        f"seeds file {str(path)!r}: unknown CSV header ['Foo', 'Bar']; {KNOWN_FORMATS}; "
        "or name the column of referring page URLs with -a url_column=NAME"
    )


def test_long_unknown_header_is_shortened():
    header = ",".join(f"col{i}" for i in range(40))
    with pytest.raises(SeedFileError, match=r"'col11', \.\.\. \(28 more\)\]") as excinfo:
        parse_seeds(header + "\n1,2\n", path="wide.csv")
    assert_one_line_error(excinfo, "wide.csv")


def test_unreadable_file(tmp_path):
    # a FIFO-free way to be unreadable even as root: a path through a regular file
    path = tmp_path / "locked.txt"
    path.write_text("http://example.com/\n", encoding="utf-8")
    with pytest.raises(SeedFileError) as excinfo:
        read_seeds(path / "inner.txt")
    assert_one_line_error(excinfo, "inner.txt")


def test_path_may_be_str_or_pathlike():
    name = str(FIXTURES / "urls.txt")
    assert read_seeds(name) == read_seeds(Path(name))
    assert read_seeds(name).path == name


def test_runaway_quote_is_a_seed_file_error():
    # An unclosed quote swallows the rest of the file into one field; once that field is
    # longer than csv.field_size_limit() the csv module gives up.
    text = 'Linking page,Last crawled\nhttp://a.example/,"2024\n' + "x\n" * 70_000
    with pytest.raises(SeedFileError, match="malformed CSV near line") as excinfo:
        parse_seeds(text, path="runaway.csv")
    assert_one_line_error(excinfo, "runaway.csv")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("http://a.example/\n" + "http://b.example/" + "x" * 200_000 + "\n", 2),
        ("Linking page,Last crawled\nhttp://a.example/,2024\n" + "y," * 70_000, 3),
        ("a," * 70_000 + "\nhttp://a.example/\n", 1),
    ],
)
def test_overlong_line_is_refused_by_its_number(text, line):
    with pytest.raises(SeedFileError, match=f"line {line} is longer than 131072 characters"):
        parse_seeds(text, path="long.txt")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_read(tmp_path, encoding):
    path = tmp_path / "seeds.txt"
    path.write_bytes("# list\nhttp://example.com/\n".encode(encoding))
    assert [seed.url for seed in read_seeds(path).seeds] == ["http://example.com/"]


@pytest.mark.parametrize(
    "text",
    [
        "<!DOCTYPE html>\n<html><title>a, b; c</title></html>",
        "\n  <html lang=en><title>a, b</title>",
        "<!-- generated, by a CMS -->\n<!doctype html><p>a, b</p>",
    ],
)
def test_html_page_is_no_seeds_file(text):
    with pytest.raises(SeedFileError, match="is an HTML page, not a seeds file"):
        parse_seeds(text, path="x")


@pytest.mark.parametrize(
    "text",
    [
        '"',
        '"unterminated,header\nhttp://example.com/\n',
        ",,,",
        ";;;\n;;;\n",
        "\t\n\t\n",
        "#",
        "\r\r\r",
        "\x0c\x0b",
        'Linking page\n"http://a.example/\n',
        'Source url,Target url\n"",""\n',
        "Links\n" + "\u2028http://example.com/\n",
        "\x00",
        "http://",
        "https://[",
        "Referring page URL\t#\n#\thttp://x.example/\n",
    ],
)
def test_odd_text_never_raises_anything_else(text):
    error: SeedFileError | None = None
    try:
        seed_file = parse_seeds(text, path="odd.txt")
    except SeedFileError as exc:
        error = exc
    if error is not None:
        assert str(error).startswith("seeds file 'odd.txt': ")
        assert "\n" not in str(error)
    else:
        assert seed_file.seeds
        assert all(seed.url.startswith(("http://", "https://")) for seed in seed_file.seeds)


# ---------------------------------------------------------------------------
# Scrapy's odd sample CSVs (tests/data/scrapy-sample-data): none is a backlink export
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("feed-sample3.csv", "['id', 'name', 'value']"),  # multi-line quoted field
        ("feed-sample4.csv", "['id', 'name', 'value']"),  # Latin-1 bytes: cp1252 fallback
        ("feed-sample5.csv", "['id', 'name', 'value']"),  # cp852 bytes: decoded as cp1252
        ("feed-sample6.csv", "[\"'id'\", \"'name'\", \"'value'\"]"),  # single-quote quotechar
    ],
)
def test_scrapy_sample_csvs(name, header):
    path = SCRAPY_FEEDS / name
    with pytest.raises(SeedFileError) as excinfo:
        read_seeds(path)
    message = assert_one_line_error(excinfo, name)
    assert f"unknown CSV header {header}" in message


# ---------------------------------------------------------------------------
# Size
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["list", "csv"])
def test_large_files_stream(tmp_path, kind):
    rows = 100_000
    if kind == "list":
        lines = [f"https://site{i % 5000}.example/page/{i}" for i in range(rows)]
        text = "# big list\n" + "\n".join(lines) + "\n"
    else:
        lines = [
            f'{i % 90},"Title {i}",https://site{i // 2 % 5000}.example/page/{i // 2},'
            f"https://mysite.example/{i % 7},anchor {i}"
            for i in range(rows)
        ]
        text = HEADER + "\n".join(lines) + "\n"
    path = tmp_path / "big.txt"
    path.write_text(text, encoding="utf-8")
    # CPU time, not wall time: other processes on a loaded machine do not count against it
    started = time.process_time()
    seed_file = read_seeds(path)
    elapsed = time.process_time() - started
    expected = rows if kind == "list" else rows // 2
    assert len(seed_file.seeds) == expected
    assert seed_file.duplicates == rows - expected
    # the list's last line, or the first of the last pair of CSV rows
    assert seed_file.seeds[-1].line == (rows + 1 if kind == "list" else rows)
    assert elapsed < 5, f"{rows} rows took {elapsed:.1f} s of CPU"
