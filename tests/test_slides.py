"""`make slides`: one reveal.js deck per notebook, opened in headless Chromium without the internet.

Each deck loads, reveal.js starts with one slide per section (and sub-slides for figures), its maths
is typeset by the local MathJax, and no request leaves the machine. The slide types in the notebooks
follow tools/slides.py's rule. Screenshots of each deck's title and of a slide with a figure go to
outputs/slides/screenshots. Every slide of every deck passes axe-core's audit of WCAG 2.1 A and AA with
no serious or critical violation, and its formulas carry MathJax's assistive MathML (docs/accessibility.md).
"""

from __future__ import annotations

import json

import pytest

from helpers.config import output_path
from tests.browsing import (
    CHROMIUM,
    axe_audit,
    browser_page,
    install_axe,
    leaves_the_machine,
    serious_violations,
    serve,
)
from tools import slides
from tools.course import course_notebooks

pytestmark = [pytest.mark.classroom, pytest.mark.npm, pytest.mark.slow]

NOTEBOOKS = course_notebooks()
REVEAL_READY = "() => document.querySelector('.reveal.ready') !== null"  # reveal.js marks it so
HORIZONTAL = "() => document.querySelectorAll('.reveal .slides > section').length"
ALL_SLIDES = "() => document.querySelectorAll('.reveal .slides section:not(.stack)').length"
MATHJAX_DONE = ("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0"
                " && MathJax.Hub.queue.running === 0"
                " && document.querySelectorAll('.MathJax_CHTML').length > 0")
NEEDS_CHROMIUM = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: `sudo apt-get install chromium`")


@pytest.fixture(scope="module")
def decks():
    return slides.build()


def test_the_notebooks_carry_the_slide_types_of_the_rule():
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        expected = json.loads(json.dumps(nb))
        slides.mark_notebook(expected)
        assert nb == expected, f"{path.name}: run `python -m tools.slides mark`"
        kinds = [c["metadata"]["slideshow"]["slide_type"] for c in nb["cells"]]
        assert kinds[0] == slides.SLIDE and kinds[1] == slides.SKIP  # the title, the Colab set-up
        assert kinds.count(slides.SLIDE) >= 5


def test_the_rule_on_small_cases():
    heading = {"cell_type": "markdown", "metadata": {}, "source": "## 2 · The model\n\ntext"}
    sub = {"cell_type": "markdown", "metadata": {}, "source": "### A detail"}
    prose = {"cell_type": "markdown", "metadata": {}, "source": "Some prose with `## not a heading`"}
    figure = {"cell_type": "code", "metadata": {}, "source": "plt.show()",
              "outputs": [{"output_type": "display_data", "data": {"image/png": "iVBOR"}}]}
    assert slides.slide_type(heading, prose) == slides.SLIDE
    assert slides.slide_type(sub, prose) == slides.SUBSLIDE
    assert slides.slide_type(prose, heading) == slides.CONTINUE
    assert slides.slide_type(figure, prose) == slides.SUBSLIDE
    assert slides.slide_type(figure, heading) == slides.CONTINUE  # stays with its heading
    nb = {"cells": [{"cell_type": "markdown", "id": "a", "metadata": {},
                     "source": ["Prose.\n", "\n", "## 5 · Next\n", "\n", "More.\n", "### Detail\n", "x"]}]}
    cells = slides.mark_notebook(nb)["cells"]
    assert ["".join(c["source"]) for c in cells] == ["Prose.", "## 5 · Next\n\nMore.", "### Detail\nx"]
    assert [c["id"] for c in cells] == ["a", "a-1", "a-2"]
    assert [c["metadata"]["slideshow"]["slide_type"] for c in cells] == ["slide", "slide", "subslide"]


@NEEDS_CHROMIUM
def test_every_deck_opens_offline_with_its_slides_and_maths(decks):
    assert [d.name for d in decks] == [f"{p.stem}.slides.html" for p in NOTEBOOKS]
    shots = output_path("slides", "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    seen = {}
    with serve(decks[0].parent) as base, browser_page((1280, 720)) as (page, requests):
        for deck in decks:
            assert page.goto(base + deck.name).ok
            page.wait_for_function(REVEAL_READY, timeout=60_000)
            page.wait_for_function(MATHJAX_DONE, timeout=120_000)
            seen[deck.stem] = {
                "slides": page.evaluate(HORIZONTAL),
                "all": page.evaluate(ALL_SLIDES),
                "maths": page.locator(".MathJax_CHTML").count(),
                "errors": page.locator(".MathJax_CHTML .merror, .mjx-merror").count(),
            }
            page.screenshot(path=str(shots / f"{deck.stem}-title.png"))
            for key in ("ArrowRight", "ArrowRight", "ArrowDown"):  # a figure's sub-slide, in most decks
                page.keyboard.press(key)
                page.wait_for_timeout(400)
            page.screenshot(path=str(shots / f"{deck.stem}-slide3.png"))
    for name, deck in seen.items():
        assert deck["slides"] >= 5 and deck["all"] > deck["slides"], (name, deck)
        assert deck["maths"] >= 3 and deck["errors"] == 0, (name, deck)
    assert requests and not [url for url in requests if leaves_the_machine(url)]


@pytest.mark.browser
@NEEDS_CHROMIUM
def test_every_slide_passes_an_axe_audit_and_its_maths_is_read_aloud(decks):
    """reveal.js's print layout (?print-pdf) shows every slide at once, so that axe-core sees them all."""
    axe_js, found, maths = install_axe(), {}, {}
    with serve(decks[0].parent) as base, browser_page((1280, 720)) as (page, requests):
        for deck in decks:
            assert page.goto(base + deck.name + "?print-pdf").ok
            page.wait_for_function(REVEAL_READY, timeout=60_000)
            page.wait_for_function(MATHJAX_DONE, timeout=120_000)
            maths[deck.stem] = (page.locator(".MathJax_CHTML").count(),
                                page.locator(".MJX_Assistive_MathML math").count())
            found[deck.name] = axe_audit(page, axe_js)
    serious = serious_violations(found)
    assert not serious, "axe-core's serious and critical violations:\n" + "\n".join(serious)
    for name, (shown, spoken) in maths.items():
        assert shown >= 3 and spoken == shown, f"{name}: {shown} formulas, {spoken} with assistive MathML"
    assert requests and not [url for url in requests if leaves_the_machine(url)]
