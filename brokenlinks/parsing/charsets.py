"""Decode a page's bytes the way a browser does, once per page.

Pure functions, no settings. :func:`decode_html` runs ``w3lib.encoding.html_to_unicode``
(what Scrapy's ``TextResponse`` uses: byte order mark, then the HTTP ``Content-Type``
charset, then ``<meta charset>``/``http-equiv``/XML declaration) with the project's own
label rules and detector on top:

* **Labels** map as in the WHATWG Encoding standard: ``iso-8859-1``, ``latin1`` and
  ``us-ascii`` are windows-1252, ``shift_jis`` is windows-31J, ``gb2312``/``gbk`` are
  gb18030 and so on; a page cannot declare UTF-16 in its own ASCII bytes (a ``<meta
  charset=utf-16>`` means UTF-8); an unknown label is ignored.
* **Undeclared pages** (no BOM, no usable header or meta label) get the browsers' fallbacks,
  not Scrapy's ``charset-normalizer`` guess (which calls a short windows-1252 ``caf\\xe9``
  Urdu, cp1006): UTF-8 when the bytes are valid UTF-8; else a CJK multi-byte encoding
  (Shift_JIS, EUC-JP, gb18030, Big5, EUC-KR) when the whole page decodes in it and its
  non-ASCII characters are CJK (one accented Western letter before a space or a ``<`` is
  not a valid multi-byte sequence); else the best scoring of windows-1252, ISO-8859-2 and
  windows-1250, where a non-ASCII letter scores, a symbol costs and a C1 control or an
  unmapped byte costs more, ties going to windows-1252 (the fallback of browsers in Western
  locales). Undeclared windows-1251 (Cyrillic) is detected, as Chromium's detector does
  (words made of non-ASCII letters only, which windows-1251 reads as Cyrillic): a rendered
  and an unrendered reading of the page must give the same links. Undeclared Greek, Hebrew,
  Arabic or KOI8-R pages are not detected: they decode as windows-1252.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from typing import NamedTuple

from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    to_unicode,
)

__all__ = ["Decoded", "browser_fallback", "codec_for", "decode_html"]

_WINDOWS_1252_LABELS = frozenset(
    [
        "ansi_x3.4-1968",
        "ascii",
        "cp1252",
        "cp819",
        "csisolatin1",
        "ibm819",
        "iso-8859-1",
        "iso-ir-100",
        "iso8859-1",
        "iso88591",
        "iso_8859-1",
        "iso_8859-1:1987",
        "l1",
        "latin1",
        "latin-1",
        "us-ascii",
        "windows-1252",
        "x-cp1252",
    ]
)
# WHATWG Encoding standard: these labels name a superset in every browser.
_LABEL_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "chinese": "gb18030",
    "csgb2312": "gb18030",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "big5": "big5hkscs",
    "x-mac-roman": "mac-roman",
}
# a <meta> charset label that w3lib does not know (x-mac-roman, x-gbk ...)
_META_LABEL = re.compile(
    rb"""<meta\b[^>]*charset\s*=\s*["']?\s*([a-zA-Z0-9._:\-]+)""", re.IGNORECASE
)
# tried in this order on undeclared bytes that are not UTF-8
_CJK_CODECS = ("cp932", "euc_jp", "gb18030", "big5hkscs", "cp949")
_LATIN_CODECS = ("cp1252", "iso8859-2", "cp1250")
_BYTE_WORD = re.compile(rb"[A-Za-z\x80-\xff]+")
#: share of non-ASCII letters in the accented words, and of Cyrillic among them
_CYRILLIC_SHARE = 0.8


class Decoded(NamedTuple):
    """A page's text and the Python codec it was decoded with."""

    text: str
    encoding: str


def codec_for(label: str | bytes | None) -> str | None:
    """Return the Python codec for an encoding label (WHATWG mapping), ``None`` if unknown.

    >>> codec_for("ISO-8859-1"), codec_for("Shift_JIS"), codec_for("utf-16"), codec_for("nope")
    ('cp1252', 'cp932', 'utf-8', None)
    """
    if label is None:
        return None
    if isinstance(label, bytes):
        label = label.decode("ascii", "replace")
    label = label.strip().lower()
    if label in _WINDOWS_1252_LABELS:
        return "cp1252"
    label = _LABEL_ALIASES.get(label, label)
    try:
        name: str = codecs.lookup(label).name
    except LookupError:
        return None
    # A page cannot declare UTF-16 in its own ASCII-compatible bytes (WHATWG: use UTF-8).
    if name.startswith(("utf-16", "utf-32")):
        return "utf-8"
    return name


def _is_cjk(char: str) -> bool:
    # halfwidth katakana are single Shift_JIS bytes 0xA1-0xDF, where Latin-1 has its
    # letters: alone they say nothing
    name = unicodedata.name(char, "")
    return name.startswith(("CJK ", "HIRAGANA", "KATAKANA", "HANGUL", "FULLWIDTH", "IDEOGRAPHIC"))


def _latin_score(data: bytes, codec: str) -> int:
    score = 0
    for char in data.decode(codec, "replace"):
        if char.isascii():
            continue
        if char.isalpha():
            score += 1
        elif char == "\ufffd" or "\x80" <= char <= "\x9f":
            score -= 3
        else:
            score -= 1
    return score


def browser_fallback(data: bytes) -> str:
    """Return the codec a browser would read undeclared page bytes with.

    >>> browser_fallback("caf\\u00e9".encode()), browser_fallback(b"<p>caf\\xe9</p>")
    ('utf-8', 'cp1252')
    >>> browser_fallback("<p>Za\\u017c\\u00f3\\u0142\\u0107 g\\u0119\\u015bl\\u0105</p>".encode("iso-8859-2"))
    'iso8859-2'
    >>> browser_fallback("<p>\\u65e5\\u672c\\u8a9e\\u3067\\u3059</p>".encode("shift_jis"))
    'cp932'
    >>> browser_fallback("<p>\\u0417\\u043d\\u0430\\u043a\\u043e\\u043c\\u0441\\u0442\\u0432\\u0430 "
    ...     "\\u0432 \\u041c\\u043e\\u0441\\u043a\\u0432\\u0435</p>".encode("cp1251"))
    'cp1251'
    """
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    for codec in _CJK_CODECS:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        wide = [char for char in text if not char.isascii()]
        if wide and sum(map(_is_cjk, wide)) >= 0.9 * len(wide):
            return codec
    if _looks_cyrillic(data):
        return "cp1251"
    # max() keeps the first of equal scores: windows-1252 wins ties
    return max(_LATIN_CODECS, key=lambda codec: _latin_score(data, codec))


def _looks_cyrillic(data: bytes) -> bool:
    """Tell whether undeclared single-byte text is windows-1251 (as Chromium's detector does).

    Words written in windows-1251 are runs of high bytes with no ASCII letter in them,
    where Western and Central European words with accents are mostly ASCII letters
    (``Singleb\xf6rse``; even Polish ``Za\xbf\xf3\xb3\xe6`` is half ASCII); and
    windows-1251 reads those high bytes as Cyrillic letters.
    """
    words = [word for word in _BYTE_WORD.findall(data) if not word.isascii()]
    letters = sum(len(word) for word in words)
    high = sum(byte >= 0x80 for word in words for byte in word)  # noqa: PLR2004
    if not letters or high < _CYRILLIC_SHARE * letters:
        return False
    text = b"".join(words).decode("cp1251", "replace")
    cyrillic = sum("\u0400" <= char <= "\u04ff" for char in text if not char.isascii())
    return bool(cyrillic >= _CYRILLIC_SHARE * high)


def _content_type(data: bytes, charset: str | None) -> str | None:
    """The Content-Type to hand w3lib: the project's label rules applied first."""
    codec = codec_for(charset)
    if codec is None and read_bom(data)[0] is None:
        declared = html_body_declared_encoding(data)
        if declared is not None and declared.startswith(("utf-16", "utf-32")):
            codec = "utf-8"
        elif declared is None and (label := _META_LABEL.search(data[:4096])):
            codec = codec_for(label.group(1))
    return None if codec is None else f"text/html; charset={codec}"


def decode_html(data: bytes, charset: str | None = None) -> Decoded:
    """Decode page bytes; *charset* is the HTTP ``Content-Type`` charset label, if any.

    A byte order mark wins, then *charset*, then the page's own declaration, then
    :func:`browser_fallback`.

    >>> decode_html(b"<meta charset='iso-8859-1'><p>\\x93caf\\xe9\\x94") == (
    ...     "<meta charset='iso-8859-1'><p>\\u201ccaf\\u00e9\\u201d", "cp1252")
    True
    >>> decode_html(b"<meta charset='utf-8'><p>caf\\xe9", "windows-1252").encoding
    'cp1252'
    """
    # html_to_unicode's order, from w3lib's parts: its default_encoding and
    # auto_detect_fun, which the detector plugged into, are deprecated in w3lib 2.6
    encoding, bom = read_bom(data)
    if encoding is not None and bom is not None:
        return Decoded(to_unicode(data[len(bom) :], encoding), codecs.lookup(encoding).name)
    encoding = http_content_type_encoding(_content_type(data, charset))
    if encoding is None:
        encoding = html_body_declared_encoding(data) or browser_fallback(data)
    if encoding in {"utf-16", "utf-32"}:
        encoding += "-be"
    return Decoded(to_unicode(data, encoding), codecs.lookup(encoding).name)
