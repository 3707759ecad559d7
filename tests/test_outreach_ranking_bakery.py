"""Replacement ranking on a second hand-labelled set, from another site: a home-baking blog.

The first set (``test_outreach_ranking.py``) is a gardening site; this one was labelled
apart, by reading each dead target as a person would and picking the page of the site
that replaces it, with the family the first set missed: a dead URL whose own words name
the right page exactly, linked from a sentence that talks about other pages of the site
("Before the bread recipe below, read this guide; our focaccia uses olive oil"). What the
dead page was (its URL's words, its archived title) must outweigh the sentence around the
link, and "brownie" must find "brownies".
"""

from __future__ import annotations

from brokenlinks.outreach.replacement import query, rank, url_words

MINE = {
    "/sourdough-starter": ("How to make a sourdough starter", "Flour and water, feeding schedule, when the starter is ready."),
    "/sourdough-bread": ("Sourdough bread for beginners", "A simple country loaf: levain, bulk ferment, shaping and baking in a Dutch oven."),
    "/bagels": ("New York style bagels", "Boiling and baking chewy bagels at home, with malt syrup."),
    "/croissants": ("Croissants, step by step", "Laminating butter into dough for flaky croissants."),
    "/pie-crust": ("All-butter pie crust", "Flaky pastry for pies and tarts, blind baking."),
    "/pizza-dough": ("Neapolitan pizza dough", "High hydration dough, cold fermentation, baking on a steel."),
    "/focaccia": ("Easy focaccia", "Olive oil, dimples and rosemary: a no-knead flatbread."),
    "/chocolate-chip-cookies": ("Chewy chocolate chip cookies", "Brown butter, resting the dough, and chocolate chunks."),
    "/brownies": ("Fudgy brownies", "Cocoa and melted chocolate brownies with a crackly top."),
    "/banana-bread": ("Moist banana bread", "Overripe bananas, a quick bread with walnuts."),
    "/cheesecake": ("New York cheesecake", "Cream cheese, a water bath and no cracks."),
    "/macarons": ("French macarons", "Almond flour, meringue, macaronage and feet."),
    "/gluten-free-flour": ("Gluten-free flour blend", "Rice flour, starch and xanthan gum for gluten-free baking."),
    "/oven-temperature": ("Oven temperature conversions", "Celsius, Fahrenheit and gas marks, fan ovens."),
    "/about": ("About the bakery", "A home baker writing about bread and cakes."),
}  # fmt: skip

#: (dead URL, anchors, contexts, archived title or None, the right replacement)
CASES = [
    # the URL says it all, the context is about something else on the linking page
    ("http://gone.test/sourdough-starter", ["this guide"], ["Before the bread recipe below, read this guide; our focaccia uses olive oil."], None, "/sourdough-starter"),
    ("http://gone.test/pie-crust", ["here"], ["We serve the cheesecake with cream; the crust recipe is here."], None, "/pie-crust"),
    ("http://gone.test/bagels", ["recipe"], ["Weekend baking: pizza dough on Friday, this recipe on Sunday."], None, "/bagels"),
    ("http://gone.test/banana-bread", ["banana bread"], ["A chocolate chip cookie and brownie fan? Try this banana bread."], None, "/banana-bread"),
    ("http://gone.test/oven-temperature-conversion", ["conversion chart"], ["Baking bread and brownies in a fan oven needs the conversion chart."], None, "/oven-temperature"),
    # the archive tells what it was; the URL does not
    ("http://gone.test/p?id=42", ["click here"], ["For a starter that never fails click here."], "Sourdough starter from scratch", "/sourdough-starter"),
    ("http://gone.test/recipes/1187", ["this recipe"], ["Our kids love this recipe."], "Chewy chocolate chip cookies with brown butter", "/chocolate-chip-cookies"),
    ("http://gone.test/blog/2018/11/", ["our post"], ["See our post from last winter."], "Laminated dough: croissants at home", "/croissants"),
    ("http://gone.test/index.php?page=9", ["here"], ["More about it here."], "Cheesecake without cracks", "/cheesecake"),
    # anchors and contexts agree
    ("http://cookies.test/chewy-cookies", ["chewy cookies"], ["The secret of chewy cookies is resting the dough."], None, "/chocolate-chip-cookies"),
    ("http://gone.test/fudge-brownies", ["fudgy brownies"], ["Fudgy brownies with a crackly top."], None, "/brownies"),
    ("http://gone.test/neapolitan-pizza", ["pizza dough"], ["Cold fermented pizza dough."], None, "/pizza-dough"),
    ("http://gone.test/no-knead-focaccia", ["focaccia"], ["Dimpled focaccia with rosemary."], None, "/focaccia"),
    ("http://gone.test/macaron-troubleshooting", ["macarons"], ["Why macarons crack and have no feet."], None, "/macarons"),
    ("http://gone.test/gf-flour-mix", ["gluten-free flour"], ["A gluten-free flour blend with rice flour."], None, "/gluten-free-flour"),
    ("http://gone.test/country-loaf", ["country loaf"], ["Bake a country loaf in a Dutch oven."], None, "/sourdough-bread"),
    ("http://gone.test/laminating-butter", ["lamination"], ["Laminating butter for flaky layers."], None, "/croissants"),
    ("http://gone.test/cheesecake-water-bath", ["water bath"], ["Use a water bath for cheesecake."], None, "/cheesecake"),
    ("http://gone.test/malt-syrup", ["malt syrup"], ["Boil bagels with malt syrup."], None, "/bagels"),
    ("http://gone.test/blind-baking", ["blind baking"], ["Blind baking a tart shell."], None, "/pie-crust"),
    # harder: the context names another page of the site
    ("http://gone.test/brownie-recipe", ["brownies"], ["Pair them with banana bread or cookies."], None, "/brownies"),
    ("http://gone.test/focaccia-bread", ["focaccia"], ["Also good with sourdough bread and pizza dough."], None, "/focaccia"),
    # no word in common (a vocabulary gap)
    ("http://gone.test/viennoiserie", ["viennoiserie"], ["Classic viennoiserie."], None, "/croissants"),
]  # fmt: skip


def _ranked():
    pages = [
        {"url": f"http://mine.test{path}", "title": title, "summary": text,
         "url_words": url_words(f"http://mine.test{path}"), "headings": title}
        for path, (title, text) in MINE.items()
    ]  # fmt: skip
    queries = {
        url: query(url, anchors, contexts, {"archived_title": archived} if archived else None)
        for url, anchors, contexts, archived, _ in CASES
    }
    return rank(queries, pages)


def test_right_replacement_first_on_a_second_site():
    ranked = _ranked()
    first = [
        url
        for url, *_, expected in CASES
        if ranked[url] and ranked[url][0].url == f"http://mine.test{expected}"
    ]
    # measured: 22 of 23 first (19 before the dead page's own words were weighted above the
    # context and plurals folded); the miss is a vocabulary gap ("viennoiserie" shares no
    # word with the croissant page), in no top three either
    assert (len(first), len(CASES)) == (22, 23)
    assert [url for url, *_ in CASES if url not in first] == ["http://gone.test/viennoiserie"]


def test_the_dead_urls_own_words_beat_a_context_about_other_pages():
    ranked = _ranked()
    for url in (
        "http://gone.test/sourdough-starter",
        "http://gone.test/pie-crust",
        "http://gone.test/bagels",
        "http://gone.test/brownie-recipe",
        "http://gone.test/focaccia-bread",
    ):
        expected = next(e for u, *_, e in CASES if u == url)
        assert ranked[url][0].url == f"http://mine.test{expected}", url
