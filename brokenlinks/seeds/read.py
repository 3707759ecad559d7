"""Read the referring pages a backlinks crawl starts from: URL lists and backlink CSV exports.

Pure functions, no settings. A seeds file is either a plain list of URLs (one a line, blank
lines and ``#`` comments ignored) or a CSV backlink export from Google Search Console,
Semrush, Ahrefs, Majestic or Moz, recognised by its header row. The export of any other tool
is read by naming its URL column (``url_column``, ``-a url_column=NAME``), and a CSV without
a header row by its first column of URLs. Whatever the source, the result is one
:class:`Seed` per distinct referring page, how the file was read (:attr:`SeedFile.layout`),
plus the lines that were skipped and why, so that the spider can log them and go on.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from brokenlinks.outreach.authority import METRIC_COLUMNS
from brokenlinks.parsing.urls import is_http, parse_absolute, scheme_of
from brokenlinks.seeds.formats import (
    ANY_CSV,
    DELIMITERS,
    KNOWN_FORMATS,
    SITE_LEVEL,
    URLS,
    SeedFormat,
    Spec,
    detect,
    detect_format,
    is_known,
    norm,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = [
    "InvalidSeed",
    "Seed",
    "SeedFile",
    "SeedFileError",
    "SeedFormat",
    "detect_format",
    "parse_seeds",
    "parse_seeds_bytes",
    "read_seeds",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Seed:
    """A referring page to crawl, with what the export says it links to."""

    url: str
    line: int
    target_url: str | None = None
    anchor_text: str | None = None
    #: the export's link metrics: (canonical name, raw cell) pairs (see outreach.authority);
    #: extra data, not part of what makes two seeds equal
    metrics: tuple[tuple[str, str], ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class InvalidSeed:
    """A line (or CSV record) that names no crawlable referring page."""

    line: int
    value: str
    why: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedFile:
    """The referring pages of one seeds file, unique by URL, in file order."""

    path: str
    format: SeedFormat
    seeds: list[Seed]
    invalid: list[InvalidSeed]
    duplicates: int
    #: how the file was read, for people: "Ahrefs export, URL column 'Referring page URL'"
    layout: str = ""


class SeedFileError(ValueError):
    """One-line message naming the file and what is wrong."""


#: the longest line a seeds file may have (the csv module's default field limit)
MAX_LINE_CHARS = 131_072
#: the largest seeds file read (a million-row export is well under it)
MAX_FILE_BYTES = 256 * 1024 * 1024
_HTML_START = re.compile(
    r"\s*(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])",
    re.IGNORECASE | re.DOTALL,
)


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


def _error(path: str, what: str) -> SeedFileError:
    return SeedFileError(f"seeds file {path!r}: {what}")


def _show_header(cells: list[str], limit: int = 12) -> str:
    cells = [cell.strip() for cell in cells]
    if len(cells) <= limit:
        return repr(cells)
    return repr(cells[:limit])[:-1] + f", ... ({len(cells) - limit} more)]"


def _sniff_header(line: str) -> tuple[Spec, str] | None:
    """Return the export format and delimiter of a header line, if it is one."""
    candidates: list[tuple[int, int, str, list[str]]] = []
    for rank, delimiter in enumerate(DELIMITERS):
        cells = next(csv.reader([line], delimiter=delimiter))
        known = sum(1 for cell in cells if is_known(norm(cell)))
        if known:
            candidates.append((known, -rank, delimiter, cells))
    # The delimiter that splits the line into the most known columns wins.
    for _, _, delimiter, cells in sorted(candidates, reverse=True):
        # Old Ahrefs exports start with a "#" column; any other "#" line is a comment.
        if line.startswith("#") and cells[0].strip() != "#":
            continue
        spec = detect(cells)
        if spec is not None:
            return spec, delimiter
    return None


def _unknown_header(line: str, path: str) -> SeedFileError:
    cells = max(
        (next(csv.reader([line], delimiter=d)) for d in DELIMITERS),
        key=len,
    )
    what = (
        f"unknown CSV header {_show_header(cells)}; {KNOWN_FORMATS}; "
        "or name the column of referring page URLs with -a url_column=NAME"
    )
    if not SITE_LEVEL.isdisjoint(norm(cell) for cell in cells):
        what += "; this export lists sites or domains, not pages: export the backlinks instead"
    return _error(path, what)


_SCHEMELESS = re.compile(r"(?://)?[^\s/:?#@]+\.[^\s/:?#@]+(?::\d+)?(?:[/?#].*)?", re.DOTALL)
_SPACE = re.compile(r"\s+")


def _parse_http(value: str, *, schemeless: bool = False) -> tuple[str | None, str]:
    """Return (parsed URL, "") or (None, why it is not a crawlable page URL)."""
    if schemeless and "://" not in value and _SCHEMELESS.fullmatch(value):
        value = "http://" + value.removeprefix("//")
    parsed = parse_absolute(value)
    if parsed is None:
        return None, "not an absolute URL"
    if not is_http(parsed):
        return None, f"not an http(s) URL ({scheme_of(parsed)}:)"
    return parsed, ""


class _Collector:
    """Keeps the first occurrence of each referring page, counts the rest."""

    __slots__ = ("duplicates", "invalid", "seeds", "seen")

    def __init__(self) -> None:
        self.seeds: list[Seed] = []
        self.invalid: list[InvalidSeed] = []
        self.seen: set[str] = set()
        self.duplicates = 0

    def reject(self, line: int, value: str, why: str) -> None:
        self.invalid.append(InvalidSeed(line=line, value=value, why=why))

    def add(self, seed: Seed) -> None:
        if seed.url in self.seen:
            self.duplicates += 1
            return
        self.seen.add(seed.url)
        self.seeds.append(seed)


def _read_list(numbered_lines: Iterable[tuple[int, str]], out: _Collector) -> None:
    for lineno, raw in numbered_lines:
        value = raw.strip()
        if not value or value.startswith("#"):
            continue
        first, *rest = _SPACE.split(value, maxsplit=1)
        if rest:
            if not rest[0].startswith("#"):
                out.reject(lineno, value, "contains whitespace (one URL per line)")
                continue
            value = first  # "URL  # a note"
        url, why = _parse_http(value)
        if url is None:
            out.reject(lineno, value, why)
        else:
            out.add(Seed(url=url, line=lineno))


def _column(index: dict[str, int], names: tuple[str, ...]) -> int | None:
    return next((index[name] for name in names if name in index), None)


def _read_csv(
    lines: Iterator[str],
    *,
    first_line: int,
    spec: Spec,
    delimiter: str,
    path: str,
    out: _Collector,
    headerless_column: int | None = None,
) -> str:
    """Read CSV records into *out*; return the URL column's name (the file's layout).

    With *headerless_column*, the file has no header row and that column holds the URLs.
    """
    reader = csv.reader(lines, delimiter=delimiter)
    offset = first_line - 1
    index: dict[str, int] = {}
    metric_columns: dict[str, int] = {}
    try:
        if headerless_column is not None:
            header: list[str] = []
            referring = headerless_column
            referring_name = f"column {headerless_column + 1}"
            target = anchor = None
        else:
            header = next(reader)
            for position, cell in enumerate(header):
                index.setdefault(norm(cell), position)
            found = _column(index, spec.referring)
            if found is None:  # pragma: no cover - callers pass headers that have one
                raise _error(path, f"no referring page column in {_show_header(header)}")
            referring = found
            referring_name = header[referring].strip()
            target = _column(index, spec.target)
            anchor = _column(index, spec.anchor)
        for name, position in index.items():
            if name in METRIC_COLUMNS:
                metric_columns.setdefault(METRIC_COLUMNS[name], position)
        previous = reader.line_num
        for row in reader:
            lineno = offset + previous + 1
            previous = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if referring >= len(row):
                width = f"the header has {len(header)}" if header else f"needs {referring + 1}"
                out.reject(
                    lineno, delimiter.join(row).strip(), f"too few fields ({len(row)}, {width})"
                )
                continue
            value = row[referring].strip()
            if not value:
                out.reject(lineno, value, f"empty {referring_name!r} field")
                continue
            url, why = _parse_http(value, schemeless=spec.schemeless)
            if url is None:
                out.reject(lineno, value, why)
                continue
            target_url = None
            if target is not None and target < len(row) and row[target].strip():
                target_url = _parse_http(row[target].strip(), schemeless=spec.schemeless)[0]
            anchor_text = None
            if anchor is not None and anchor < len(row):
                anchor_text = " ".join(row[anchor].split())
            metrics = tuple(
                (name, row[position].strip())
                for name, position in metric_columns.items()
                if position < len(row) and row[position].strip()
            )
            out.add(
                Seed(
                    url=url,
                    line=lineno,
                    target_url=target_url,
                    anchor_text=anchor_text,
                    metrics=metrics,
                )
            )
    except csv.Error as exc:
        # Only a runaway quoted field gets here (longer than csv.field_size_limit()).
        msg = f"malformed CSV near line {offset + reader.line_num}: {exc}"
        raise _error(path, msg) from exc
    return referring_name


#: records looked at to tell a header-less CSV from a URL list
_SNIFF_RECORDS = 20


def _sniff_headerless(sample: list[str]) -> tuple[str, int] | None:
    """The delimiter and URL column of a CSV without a header row, if *sample* is one.

    Two records or more, each splitting into the same number of fields (two or more), and
    one column holding an http(s) URL in every record: the first such column is the
    referring page. A URL list whose URLs hold commas splits into as many fields only by
    chance, so a list rarely passes; a one-record file stays a list (a comma is allowed in
    a URL).

    >>> _sniff_headerless(["http://a.example/x,Home page,12", "https://b.example/,Blog,3"])
    (',', 0)
    >>> _sniff_headerless(["12;http://a.example/x", "3;https://b.example/"])
    (';', 1)
    >>> _sniff_headerless(["http://a.example/a,b", "http://a.example/c"]) is None
    True
    """
    records = [line.strip() for line in sample]
    records = [r for r in records if r and not r.startswith("#")]
    if len(records) < 2:  # noqa: PLR2004
        return None
    for delimiter in DELIMITERS:
        rows = list(csv.reader(records, delimiter=delimiter))
        width = len(rows[0])
        if width < 2 or any(len(row) != width for row in rows):  # noqa: PLR2004
            continue
        for column in range(width):
            if all(_parse_http(row[column].strip())[0] is not None for row in rows):
                return delimiter, column
    return None


def _named_column(line: str, url_column: str, path: str) -> tuple[Spec, str]:
    """The spec and delimiter of a header line that has the column the user named."""
    wanted = norm(url_column)
    for delimiter in DELIMITERS:
        cells = next(csv.reader([line], delimiter=delimiter))
        if any(norm(cell) == wanted for cell in cells):
            known = detect(cells)
            base = known if known is not None and known is not URLS else ANY_CSV
            return replace(base, referring=(wanted,)), delimiter
    cells = max((next(csv.reader([line], delimiter=d)) for d in DELIMITERS), key=len)
    what = f"no column {url_column!r} (url_column) in its first line {_show_header(cells)}"
    raise _error(path, what)


def _bounded(lines: Iterable[str], path: str) -> Iterator[str]:
    """Yield *lines*, refusing one longer than :data:`MAX_LINE_CHARS` by its number."""
    for lineno, line in enumerate(lines, start=1):
        if len(line) > MAX_LINE_CHARS:
            what = f"line {lineno} is longer than {MAX_LINE_CHARS} characters"
            raise _error(path, what)
        yield line


def parse_seeds(text: str, *, path: str = "<string>", url_column: str | None = None) -> SeedFile:
    """Parse the text of a seeds file: a URL list or a CSV backlink export.

    Referring pages are unique by URL (after parsing: host case, default port and fragment
    do not matter); lines that name no http(s) page are reported in ``invalid`` with their
    line number. Raises :class:`SeedFileError` when the text is no seeds file: binary, no
    valid URL at all, or a CSV header of no known tool (*path* names the file in messages).
    *url_column* names the column of referring pages in any CSV (its first non-blank line is
    the header then); a CSV without a header row is read by its first column of URLs.

    >>> seeds = parse_seeds('''# resource pages
    ... https://Example.com/links#top
    ... https://example.com/links
    ... javascript:void(0)
    ... ''')
    >>> [(seed.url, seed.line) for seed in seeds.seeds], seeds.duplicates
    ([('https://example.com/links', 2)], 1)
    >>> seeds.invalid
    [InvalidSeed(line=4, value='javascript:void(0)', why='not an http(s) URL (javascript:)')]
    >>> seeds = parse_seeds('''Page ascore,Source title,Source url,Target url,Anchor
    ... 12,Tools,http://blog.example/tools,https://mine.example/guide,"the  guide"
    ... ''')
    >>> seed = seeds.seeds[0]
    >>> seeds.format, seed.url, seed.line
    (<SeedFormat.SEMRUSH: 'semrush'>, 'http://blog.example/tools', 2)
    >>> seed.target_url, seed.anchor_text
    ('https://mine.example/guide', 'the guide')
    >>> seeds = parse_seeds('''Page;Found on
    ... http://blog.example/tools;2024-01-02
    ... ''', url_column="page")
    >>> [seed.url for seed in seeds.seeds], seeds.layout
    (['http://blog.example/tools'], "CSV, URL column 'Page'")
    >>> parse_seeds("http://a.example/x,Tools page\\nhttp://b.example/,Blog\\n").layout
    'CSV without a header row, URL column 1'
    """
    text = text.removeprefix("\ufeff")
    if "\0" in text:
        raise _error(path, "looks binary (it contains NUL characters), not a text file")
    if _HTML_START.match(text[:1024]):
        raise _error(
            path, "is an HTML page, not a seeds file (a URL list or a backlink CSV export)"
        )
    # newline="": the csv module needs the line ends as they are; lines end at \n, \r\n or \r.
    lines = _bounded(io.StringIO(text, newline=""), path)
    lineno = 0
    comments = 0
    out = _Collector()
    for raw in lines:
        lineno += 1
        line = raw.strip()
        if not line:
            continue
        header = _sniff_header(line) if url_column is None else None
        if url_column is not None and not (
            line.startswith("#") and norm(url_column) not in norm(line)
        ):
            header = _named_column(line, url_column, path)
        if header is not None:
            spec, delimiter = header
            if spec is URLS:
                _read_list(enumerate(lines, start=lineno + 1), out)
                layout = f"URL list, title row {line!r}"
            else:
                rows = itertools.chain([raw], lines)
                column = _read_csv(
                    rows, first_line=lineno, spec=spec, delimiter=delimiter, path=path, out=out
                )
                export = "CSV" if spec.format is SeedFormat.CSV else f"{spec.label} export"
                layout = f"{export}, URL column {column!r}"
            seed_format, label = spec.format, spec.label
            break
        if line.startswith("#"):
            comments += 1
            continue
        sample = [raw, *itertools.islice(lines, _SNIFF_RECORDS - 1)]
        rest = itertools.chain(sample[1:], lines)
        headerless = _sniff_headerless(sample)
        if headerless is not None:
            delimiter, position = headerless
            _read_csv(
                itertools.chain([raw], rest),
                first_line=lineno,
                spec=ANY_CSV,
                delimiter=delimiter,
                path=path,
                out=out,
                headerless_column=position,
            )
            seed_format, label = SeedFormat.CSV, "CSV"
            layout = f"CSV without a header row, URL column {position + 1}"
            break
        if _parse_http(line)[0] is None and any(d in line for d in DELIMITERS):
            raise _unknown_header(line, path)
        _read_list(itertools.chain([(lineno, raw)], enumerate(rest, start=lineno + 1)), out)
        seed_format, label, layout = SeedFormat.URLS, URLS.label, URLS.label
        break
    else:
        raise _error(path, "holds only comments and blank lines" if comments else "is empty")
    if not out.seeds:
        if not out.invalid:
            raise _error(path, f"holds a {label} header but no rows")
        first = out.invalid[0]
        raise _error(
            path,
            f"no valid referring page URL ({len(out.invalid)} invalid; "
            f"line {first.line}: {first.value!r}: {first.why})",
        )
    return SeedFile(
        path=path,
        format=seed_format,
        seeds=out.seeds,
        invalid=out.invalid,
        duplicates=out.duplicates,
        layout=layout,
    )


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def _decode(data: bytes, path: str) -> str:
    """Decode a seeds file: UTF-8 (BOM or not), UTF-16 (BOM or not), else cp1252."""
    encoding: str | None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Semrush and Ahrefs "for Excel" exports: UTF-16 with a BOM, tab-separated.
        encoding = "utf-16"
    elif data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif b"\0" in data:
        encoding = _utf16_without_bom(data)
        if encoding is None:
            raise _error(path, "looks binary (NUL bytes and no UTF-16 byte order mark)")
    else:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "cp1252"  # Excel's "CSV" on Western Windows
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        what = "UTF-8 or cp1252" if encoding == "cp1252" else exc.encoding
        raise _error(path, f"is not valid {what} text (byte {exc.start})") from exc


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le``/``-be`` when *data* reads as mostly-ASCII UTF-16 text without a BOM.

    >>> _utf16_without_bom("URL\\nhttp://a.example/".encode("utf-16-le"))
    'utf-16-le'
    >>> _utf16_without_bom(b"\\x00\\x01\\x02\\x03") is None
    True
    """
    sample = data[:4096]
    if len(sample) < 2 or len(data) % 2:  # noqa: PLR2004
        return None
    high_le, high_be = sample[1::2], sample[0::2]
    for high, low, encoding in ((high_le, high_be, "utf-16-le"), (high_be, high_le, "utf-16-be")):
        # ASCII text in UTF-16: every high byte is NUL, no low byte is
        if high.count(0) >= 0.9 * len(high) and low.count(0) == 0:
            return encoding
    return None


def parse_seeds_bytes(data: bytes, *, path: str, url_column: str | None = None) -> SeedFile:
    """Parse the bytes of a seeds file, as read from disk or downloaded from *path* (a URL).

    The text is decoded as :func:`read_seeds` decodes files (UTF-8, UTF-16 with a byte order
    mark, else cp1252), then parsed by :func:`parse_seeds`.

    >>> seeds = parse_seeds_bytes("URL\\nhttp://a.example/\\n".encode("utf-16"), path="s")
    >>> [seed.url for seed in seeds.seeds]
    ['http://a.example/']
    >>> parse_seeds_bytes(b"", path="https://example.com/seeds.txt")
    Traceback (most recent call last):
    ...
    brokenlinks.seeds.read.SeedFileError: seeds file 'https://example.com/seeds.txt': is empty
    """
    if not data:
        raise _error(path, "is empty")
    return parse_seeds(_decode(data, path), path=path, url_column=url_column)


def read_seeds(path: str | os.PathLike[str], *, url_column: str | None = None) -> SeedFile:
    """Read a seeds file (a URL list or a backlink CSV export); see :func:`parse_seeds`.

    Every problem with the file itself is a :class:`SeedFileError` whose message is one
    line naming the file.

    >>> read_seeds("no-such-seeds.txt")
    Traceback (most recent call last):
    ...
    brokenlinks.seeds.read.SeedFileError: seeds file 'no-such-seeds.txt': no such file
    """
    name = os.fspath(path)
    try:
        with Path(name).open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise _error(name, "no such file") from exc
    except IsADirectoryError as exc:
        raise _error(name, "is a directory, not a file") from exc
    except OSError as exc:
        raise _error(name, f"cannot be read ({exc.strerror or exc})") from exc
    if len(data) > MAX_FILE_BYTES:
        raise _error(name, f"is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB; split it")
    return parse_seeds_bytes(data, path=name, url_column=url_column)
