"""Whom to write to: e-mail addresses, the author, the contact page and social profiles of a page.

:func:`read_contacts` reads one HTML page: ``mailto:`` links, addresses in the text
(including the common obfuscations ``name [at] domain [dot] com``, ``name (at) domain
(dot) com`` and Cloudflare's ``data-cfemail``), the author (``<meta name="author">``,
``rel="author"``, schema.org ``author`` in JSON-LD or microdata, bylines), the contact page
(links named contact / about / write for us / advertise, in the languages the soft-404
rules of :mod:`brokenlinks.judge.soft404` know) and social profiles. Pure; reads no settings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from parsel import Selector

from brokenlinks.parsing.urls import host_of, resolve_href, url_parts

_EMAIL = re.compile(
    r"(?<![\w.+-])[\w.+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}(?![\w-])", re.IGNORECASE
)
_OPEN, _CLOSE = r"[\[\(\{<]", r"[\]\)\}>]"
# "at"/"dot" in brackets, or as upper-case words ("jo AT site DOT com"); a bare "at" is prose
_AT = rf"\s*{_OPEN}\s*at\s*{_CLOSE}\s*|\s+(?-i:AT)\s+"
_DOT_WORD = rf"\s*{_OPEN}\s*dot\s*{_CLOSE}\s*|\s+(?-i:DOT)\s+|\."
_OBFUSCATED = re.compile(
    rf"([\w.+-]+)(?:{_AT})([a-z0-9-]+(?:(?:{_DOT_WORD})[a-z0-9-]+)+)",
    re.IGNORECASE,
)
_DOT = re.compile(_DOT_WORD, re.IGNORECASE)
#: file names that look like addresses (retina images: logo@2x.png)
_NOT_MAIL = re.compile(r"\.(?:png|jpe?g|gif|webp|svg|avif|css|js)$", re.IGNORECASE)

#: link texts (and URL path words) of contact pages, best first, in the languages of the
#: soft-404 rules: en, de, fr, es, pt, it, nl, sv, da/no, fi, pl, cs, tr, ru, ja, zh, ko
CONTACT_WORDS: tuple[tuple[str, ...], ...] = (
    (
        "contact", "contact us", "contact me", "get in touch", "kontakt", "kontaktieren",
        "contactez-nous", "nous contacter", "contacto", "contáctanos", "contactanos",
        "contato", "fale conosco", "contatti", "contattaci", "kontakta oss", "kontakt oss",
        "kontakt os", "yhteystiedot", "ota yhteyttä", "kontakty", "iletişim", "контакты",
        "связаться", "обратная связь", "お問い合わせ", "联系我们", "聯絡我們", "聯繫我們",
        "문의", "연락처",
    ),
    (
        "write for us", "guest post", "contribute", "schreib für uns", "gastbeitrag",
        "écrire pour nous", "escribe para nosotros", "escreva para nós", "scrivi per noi",
        "schrijf voor ons", "współpraca",
    ),
    (
        "advertise", "advertising", "werben", "werbung", "mediadaten", "publicité", "annoncer",
        "publicidad", "anúnciate", "anuncie", "publicidade", "pubblicità", "adverteren",
        "annonsera", "annoncer", "annonsere", "mainosta", "reklama", "inzerce", "reklam",
        "реклама", "広告", "广告", "廣告", "광고",
    ),
    (
        "about", "about us", "about me", "impressum", "über uns", "à propos", "qui sommes-nous",
        "sobre nosotros", "acerca de", "quiénes somos", "sobre nós", "quem somos", "chi siamo",
        "over ons", "om oss", "om os", "tietoa meistä", "meistä", "o nas", "o nás",
        "hakkımızda", "о нас", "会社概要", "关于我们", "關於我們", "회사소개",
    ),
)  # fmt: skip
_PATH_WORDS: tuple[tuple[str, ...], ...] = (
    ("contact", "contact-us", "kontakt", "contacto", "contato", "contatti", "contactez-nous"),
    ("write-for-us", "guest-post", "contribute"),
    ("advertise", "advertising", "werbung", "mediadaten", "publicite"),
    ("about", "about-us", "impressum", "uber-uns", "ueber-uns", "a-propos", "chi-siamo"),
)

#: social networks: host (without www.) → paths that are not profiles
_SOCIAL_HOSTS = {
    "twitter.com": ("/intent", "/share", "/home", "/search", "/hashtag"),
    "x.com": ("/intent", "/share", "/home", "/search", "/hashtag"),
    "facebook.com": ("/sharer", "/share", "/dialog", "/plugins", "/tr"),
    "linkedin.com": ("/share", "/sharing", "/shareArticle", "/cws"),
    "instagram.com": ("/p/", "/explore"),
    "youtube.com": ("/watch", "/embed", "/results"),
    "github.com": (),
    "bsky.app": ("/intent",),
    "mastodon.social": ("/share",),
    "pinterest.com": ("/pin/",),
    "tiktok.com": ("/embed",),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Contacts:
    emails: list[str] = field(default_factory=list)
    contact_page: str | None = None
    author: str | None = None
    social: list[str] = field(default_factory=list)


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def deobfuscate(text: str) -> list[str]:
    """The addresses written out in *text*, obfuscated or not, lower-cased, in order.

    >>> deobfuscate("Write to jo.smith [at] example [dot] org or sales(at)shop(dot)co(dot)uk")
    ['jo.smith@example.org', 'sales@shop.co.uk']
    >>> deobfuscate("mail: team@news.example.com; logo@2x.png; Jo AT site DOT com")
    ['team@news.example.com', 'jo@site.com']
    >>> deobfuscate("we meet at noon. See you")
    []
    """
    found = [(match.start(), match.group()) for match in _EMAIL.finditer(text)]
    for match in _OBFUSCATED.finditer(text):
        domain = _DOT.sub(".", match.group(2))
        if "." in domain:
            found.append((match.start(), f"{match.group(1)}@{domain}"))
    out: list[str] = []
    for _, written in sorted(found):
        address = written.lower().strip(".")
        if not _NOT_MAIL.search(address) and _EMAIL.fullmatch(address) and address not in out:
            out.append(address)
    return out


def decode_cfemail(value: str) -> str | None:
    """Decode Cloudflare's e-mail protection (``data-cfemail``: a key byte XOR-ing the rest).

    >>> decode_cfemail("543e3b14312c35392438317a3b2633")
    'jo@example.org'
    """
    try:
        data = bytes.fromhex(value)
    except ValueError:
        return None
    if len(data) < 2:  # noqa: PLR2004
        return None
    try:
        return bytes(b ^ data[0] for b in data[1:]).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _mailto(href: str) -> str | None:
    if not href.lower().startswith("mailto:"):
        return None
    address = unquote(href[7:].split("?", 1)[0]).split(",", 1)[0].strip()
    return address or None


def _ld_authors(value: Any) -> list[str]:
    names: list[str] = []
    if isinstance(value, list):
        for entry in value:
            names.extend(_ld_authors(entry))
    elif isinstance(value, dict):
        if "author" in value:
            author = value["author"]
            for entry in author if isinstance(author, list) else [author]:
                if isinstance(entry, str):
                    names.append(entry)
                elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    names.append(entry["name"])
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            if key in value:
                names.extend(_ld_authors(value[key]))
    return names


_BY = re.compile(r"^(?:by|von|par|por|di|door|av|af)\s+", re.IGNORECASE)


def _author(sel: Selector) -> str | None:
    candidates: list[str | None] = [sel.xpath("//meta[@name='author']/@content").get()]
    for script in sel.xpath("//script[@type='application/ld+json']/text()").getall():
        try:
            candidates.extend(_ld_authors(json.loads(script)))
        except json.JSONDecodeError:
            continue
    candidates.append(sel.xpath("string(//*[@itemprop='author']//*[@itemprop='name'])").get())
    candidates.append(sel.xpath("string(//*[@itemprop='author'])").get())
    candidates.append(sel.xpath("string(//a[contains(concat(' ', @rel, ' '), ' author ')])").get())
    candidates.append(
        sel.xpath(
            "string(//*[contains(concat(' ', normalize-space(@class), ' '), ' byline ')"
            " or contains(@class, 'author-name') or contains(@class, 'post-author')])"
        ).get()
    )
    for candidate in candidates:
        name = _BY.sub("", _clean(candidate))
        if name and len(name) <= 100:  # noqa: PLR2004
            return name
    return None


def _contact_rank(text: str, url: str) -> int | None:
    words = _clean(text).lower().strip(" :|»›>")
    for rank, names in enumerate(CONTACT_WORDS):
        if words in names:
            return rank
    parts = url_parts(url)
    last = (parts.path if parts else "").rstrip("/").rsplit("/", 1)[-1].lower()
    last = last.rsplit(".", 1)[0]
    for rank, names in enumerate(_PATH_WORDS):
        if last in names:
            return rank
    return None


def _social(url: str) -> str | None:
    parts = url_parts(url)
    if parts is None:
        return None
    host = parts.host.removeprefix("www.").removeprefix("m.")
    skipped = _SOCIAL_HOSTS.get(host)
    if skipped is None or parts.path.strip("/") == "":
        return None
    if any(parts.path.startswith(prefix) for prefix in skipped):
        return None
    return f"https://{host}{parts.path.rstrip('/')}"


def read_contacts(html: str, url: str) -> Contacts:
    """Read the contacts a page gives: addresses, author, contact page, social profiles.

    >>> c = read_contacts('''<html><head><meta name="author" content="Jo Smith"></head><body>
    ... <p>Tips? jo [at] blog [dot] example</p><a href="mailto:Editor@Blog.example?subject=hi">mail</a>
    ... <a href="/about">About</a><a href="/kontakt/">Kontakt</a>
    ... <a href="https://twitter.com/intent/tweet?u=1">share</a><a href="https://x.com/josmith">x</a>
    ... </body></html>''', "https://blog.example/post")
    >>> c.emails, c.author, c.contact_page, c.social
    (['editor@blog.example', 'jo@blog.example'], 'Jo Smith', 'https://blog.example/kontakt/', ['https://x.com/josmith'])
    >>> read_contacts('<link rel="me" href="https://bsky.app/profile/jo.example">', "https://blog.example/").social
    ['https://bsky.app/profile/jo.example']
    """
    sel = Selector(text=html or "<html></html>")
    emails: list[str] = []
    contact: tuple[int, str] | None = None
    social: list[str] = []
    for anchor in sel.xpath("//a[@href]"):
        href = (anchor.attrib.get("href") or "").strip()
        address = _mailto(href)
        if address is not None:
            emails.extend(deobfuscate(address))
            continue
        absolute = resolve_href(href, url)
        if absolute is None or not absolute.startswith(("http://", "https://")):
            continue
        profile = _social(absolute)
        if profile is not None:
            if profile not in social:
                social.append(profile)
            continue
        if host_of(absolute) != host_of(url):
            continue
        rank = _contact_rank(anchor.xpath("string(.)").get() or "", absolute)
        if rank is not None and (contact is None or rank < contact[0]):
            contact = (rank, absolute.split("#", 1)[0])
    # <link rel="me"> names the site's own profiles (IndieWeb, Mastodon verification); a
    # link checker reads no <link>, so these profiles are never checked as links
    for href in sel.xpath(
        "//link[contains(concat(' ', normalize-space(@rel), ' '), ' me ')]/@href"
    ).getall():
        absolute = resolve_href(href.strip(), url)
        profile = _social(absolute) if absolute else None
        if profile is not None and profile not in social:
            social.append(profile)
    for value in sel.xpath("//@data-cfemail").getall():
        decoded = decode_cfemail(value)
        if decoded:
            emails.extend(deobfuscate(decoded))
    text = " ".join(sel.xpath("//body//text()[not(ancestor::script or ancestor::style)]").getall())
    emails.extend(deobfuscate(text))
    return Contacts(
        emails=list(dict.fromkeys(e.lower() for e in emails)),
        contact_page=contact[1] if contact else None,
        author=_author(sel),
        social=social,
    )
