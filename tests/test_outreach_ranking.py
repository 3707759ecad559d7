"""Replacement ranking on a hand-labelled set: how often is the right page of yours first?

Your site: fifteen pages of a gardening site. The dead targets: 25 pages other sites
linked to, each with what a crawl knows of it (its URL, the anchors and sentences that
pointed at it, and for some what the archive says it was), and the page a person picked
as its replacement. Some are easy (the URL says it all), some only the archive or the
context can tell (``/p?id=123``, "click here").
"""

from __future__ import annotations

import re
import sys

import pytest

from brokenlinks.outreach.replacement import _STOP, BM25Plus, query, rank, tokens, url_words

MINE = {
    "/compost-bins-guide": ("Compost bins: build or buy", "Which compost bin suits a small garden, pallets or plastic."),
    "/hot-composting": ("Hot composting in 18 days", "The Berkeley method: turning, temperature and greens to browns."),
    "/saving-seeds": ("Saving your own seeds", "Seed saving for tomatoes, beans and peas, drying and storing."),
    "/growing-tomatoes": ("Growing tomatoes in pots", "Sun, support, feeding and watering tomato plants."),
    "/tomato-blight": ("Tomato blight: spot it, stop it", "Late blight on tomatoes and potatoes, resistant varieties."),
    "/pruning-fruit-trees": ("Pruning apple and pear trees", "Winter pruning of fruit trees, cuts and tools."),
    "/raised-beds": ("Raised beds from scratch", "Building raised garden beds: timber, soil mix, depth."),
    "/no-dig": ("No-dig gardening", "Mulch instead of digging: cardboard, compost layers, weeds."),
    "/watering": ("Watering the garden", "Drip irrigation, soaker hoses and when to water."),
    "/rainwater": ("Harvesting rainwater", "Water butts, gutters and rain barrels for the garden."),
    "/slugs": ("Slugs and snails", "Organic slug control: beer traps, copper, nematodes."),
    "/bees": ("Plants for bees", "Pollinator-friendly flowers that bees love."),
    "/herbs-indoors": ("Growing herbs indoors", "Basil, parsley and mint on a windowsill."),
    "/lawn-care": ("Lawn care calendar", "Mowing, scarifying and feeding the lawn through the year."),
    "/about": ("About us", "Two gardeners writing about what works."),
}  # fmt: skip

#: (dead URL, anchors, contexts, archived title or None, the right replacement)
CASES = [
    ("http://gone.test/compost-bin-plans", ["compost bin plans"], ["Free compost bin plans for pallets."], None, "/compost-bins-guide"),
    ("http://gone.test/berkeley-method", ["Berkeley method"], ["Fast compost with the Berkeley method."], "Hot compost in 18 days", "/hot-composting"),
    ("http://gone.test/p?id=123", ["click here"], ["For seed saving tips click here."], "How to save seeds", "/saving-seeds"),
    ("http://seeds.test/heirloom-seed-saving", ["heirloom seeds"], ["Keep heirloom varieties going."], None, "/saving-seeds"),
    ("http://gone.test/tomatoes-in-containers", ["container tomatoes"], ["Grow tomatoes on a balcony."], None, "/growing-tomatoes"),
    ("http://gone.test/late-blight", ["late blight"], ["Late blight wiped out our potatoes."], "Blight on tomatoes and potatoes", "/tomato-blight"),
    ("http://orchard.test/winter-pruning", ["pruning guide"], ["Prune apple trees in winter."], None, "/pruning-fruit-trees"),
    ("http://gone.test/article/8812", ["this article"], ["Read this article on pear tree cuts."], "Pruning pear trees", "/pruning-fruit-trees"),
    ("http://gone.test/raised-garden-bed-plans", ["raised bed plans"], ["Timber raised garden beds."], None, "/raised-beds"),
    ("http://gone.test/no-dig-method", ["no dig"], ["The no dig method with cardboard."], None, "/no-dig"),
    ("http://gone.test/drip-irrigation", ["drip irrigation"], ["Set up drip irrigation."], None, "/watering"),
    ("http://gone.test/water-butts", ["water butt"], ["Collect rain in a water butt."], "Rain barrels", "/rainwater"),
    ("http://gone.test/slug-control", ["slug control"], ["Beer traps for slugs."], None, "/slugs"),
    ("http://gone.test/pollinators", ["pollinator plants"], ["Flowers for bees and other pollinators."], None, "/bees"),
    ("http://gone.test/windowsill-herbs", ["herbs"], ["Basil on a windowsill."], None, "/herbs-indoors"),
    ("http://gone.test/lawn-calendar", ["lawn calendar"], ["When to scarify the lawn."], None, "/lawn-care"),
    ("http://gone.test/index.php?page=77", ["here"], ["More about it here."], "Organic slug and snail control", "/slugs"),
    ("http://gone.test/mulching", ["mulch"], ["Mulch to suppress weeds."], None, "/no-dig"),
    ("http://gone.test/soaker-hose", ["soaker hoses"], ["Soaker hoses save water."], None, "/watering"),
    ("http://gone.test/blog/2019/05/02/", ["our post"], ["Our post on tomato feeding."], "Feeding tomato plants", "/growing-tomatoes"),
    # harder: other words for the same thing
    ("http://gone.test/keep-lawn-green", ["greener grass"], ["How to get greener grass in summer."], None, "/lawn-care"),
    ("http://gone.test/attracting-butterflies", ["butterfly garden"], ["Nectar-rich flowers for butterflies."], None, "/bees"),
    ("http://gone.test/rain-garden", ["rain garden"], ["Plant a rain garden to soak up runoff."], None, "/rainwater"),
    ("http://gone.test/leaf-mould", ["leaf mould"], ["Turn autumn leaves into leaf mould."], None, "/compost-bins-guide"),
    ("http://gone.test/worm-bin", ["wormery"], ["Feed kitchen scraps to a wormery."], None, "/compost-bins-guide"),
]  # fmt: skip


def my_pages():
    return [
        {"url": f"http://mine.test{path}", "title": title, "summary": text,
         "url_words": url_words(f"http://mine.test{path}"), "headings": title}
        for path, (title, text) in MINE.items()
    ]  # fmt: skip


def test_right_replacement_first():
    queries = {
        url: query(url, anchors, contexts, {"archived_title": archived} if archived else None)
        for url, anchors, contexts, archived, _ in CASES
    }
    ranked = rank(queries, my_pages())
    right = [
        url
        for url, *_, expected in CASES
        if ranked[url] and ranked[url][0].url == f"http://mine.test{expected}"
    ]
    in_top3 = [
        url
        for url, *_, expected in CASES
        if f"http://mine.test{expected}" in [m.url for m in ranked[url]]
    ]
    # measured: 24 of 25 first; the miss is a vocabulary gap no word-based ranking closes
    # ("leaf mould" shares no word with the compost pages), so it is in no top three either
    assert (len(right), len(CASES)) == (24, 25)
    assert len(in_top3) == 24
    assert "http://gone.test/leaf-mould" not in right


def test_each_target_keeps_at_most_three_scored_pages():
    ranked = rank({"http://gone.test/tomatoes": "tomatoes"}, my_pages())[
        "http://gone.test/tomatoes"
    ]
    assert 1 <= len(ranked) <= 3
    assert [m.url for m in ranked] == [
        "http://mine.test/growing-tomatoes",
        "http://mine.test/tomato-blight",
        "http://mine.test/saving-seeds",
    ]
    assert [m.score for m in ranked] == sorted((m.score for m in ranked), reverse=True)
    assert all(m.score > 0 for m in ranked)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Best Tools", ["best", "tool"]),
        ("index.html?page=3", []),
        ("Compost_Bins-101", ["compost", "bin"]),
        ("Café résumé", ["café", "résumé"]),
    ],
)
def test_tokens(text, expected):
    assert tokens(text) == expected


def test_nothing_in_common_ranks_nothing():
    assert rank({"http://gone.test/x": "quantum chromodynamics"}, my_pages()) == {
        "http://gone.test/x": []
    }
    assert rank({"http://gone.test/x": "compost"}, []) == {"http://gone.test/x": []}


def _unstemmed(text: str) -> list[str]:
    """The tokens rank-bm25 was given when its scores were recorded (no plural folding)."""
    return [
        w
        for w in re.findall(r"[^\W_]+", text.lower())
        if len(w) > 1 and not w.isdigit() and w not in _STOP
    ]


def test_scores_are_rank_bm25s():
    # recorded with rank-bm25 0.2.2's BM25Plus (before it was replaced by BM25Plus here),
    # given the same token lists: the same formula gives the same scores
    pages = my_pages()
    corpus = [
        _unstemmed(" ".join([p["title"], p["title"], p["headings"], p["url_words"], p["summary"]]))
        for p in pages
    ]
    bm25 = BM25Plus(corpus)

    def best(query_words):
        floor = sum(bm25.idf.get(w, 0.0) for w in query_words) * bm25.delta
        scores = [round(v - floor, 3) for v in bm25.scores(query_words)]
        order = sorted(range(len(pages)), key=lambda i: -scores[i])[:3]
        return [(pages[i]["url"], scores[i]) for i in order]

    assert best(["tomatoes"]) == [
        ("http://mine.test/growing-tomatoes", 3.016),
        ("http://mine.test/saving-seeds", 1.597),
        ("http://mine.test/tomato-blight", 1.517),
    ]
    assert best(["compost", "bins", "garden"]) == [
        ("http://mine.test/compost-bins-guide", 9.668),
        ("http://mine.test/watering", 2.473),
        ("http://mine.test/no-dig", 1.984),
    ]
    assert "rank_bm25" not in sys.modules
