"""`make book`: the site is built from the committed notebooks and read in headless Chromium, offline.

Every page loads; its maths is rendered by the site's own MathJax; every image and GIF loads; no
internal link or anchor is broken; search finds a word; the launch buttons open the page's notebook
in Colab and Binder; and no request leaves the machine. Screenshots go to outputs/book/screenshots.
Every page passes axe-core's audit of WCAG 2.1 A and AA with no serious or critical violation, and its
formulas carry MathJax's assistive MathML for screen readers (docs/accessibility.md).
"""

from __future__ import annotations

import html
import re
from urllib.parse import unquote, urlsplit

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
from tools import book
from tools.course import notebook_names, notebook_path, read_notebook, repo_from_pyproject

NOTEBOOKS = notebook_names()
PAGES = ["intro.html", *(f"notebooks/{name}.html" for name in NOTEBOOKS),
         *(f"docs/{guide}.html" for guide in book.GUIDES)]
HAS_MATHJAX = "() => !!document.querySelector('script[src*=\"tex-chtml\"]')"  # on pages with maths only
MATH_READY = "() => window.MathJax && MathJax.startup && MathJax.startup.promise.then(() => true)"
IMAGES_LOADED = "() => Array.from(document.images).every(i => i.complete)"
BROKEN_IMAGES = "() => Array.from(document.images).filter(i => !i.naturalWidth).map(i => i.src.slice(0, 80))"
# A colour-mode icon as Font Awesome may draw it after the page's scripts ran: an SVG named by its title
LATE_ICON = """async () => {
  const button = document.querySelector(".theme-switch-button");
  button.insertAdjacentHTML("beforeend",
    '<svg class="late-icon" role="img" aria-labelledby="t"><title id="t">System Settings</title></svg>');
  await new Promise(done => setTimeout(done, 200));
  const icon = button.querySelector(".late-icon");
  return {hidden: icon.getAttribute("aria-hidden"), titles: icon.querySelectorAll("title").length};
}"""

pytestmark = [pytest.mark.classroom, pytest.mark.browser, pytest.mark.npm, pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: `sudo apt-get install chromium`")]


@pytest.fixture(scope="module")
def site():
    return book.build()


@pytest.fixture(scope="module")
def visited(site):
    """Each page as the browser saw it: maths, images, links, text; plus every request made."""
    shots = output_path("book", "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    pages, axe_js = {}, install_axe()
    with serve(site) as base, browser_page() as (page, requests):
        assert page.goto(base).ok  # index.html sends the reader to the landing page
        page.wait_for_url(re.compile(r"intro\.html$"))
        for name in PAGES:
            response = page.goto(base + name)
            page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')")
            if page.evaluate(HAS_MATHJAX):
                page.wait_for_function(MATH_READY, timeout=60_000)
            page.wait_for_function(IMAGES_LOADED, timeout=60_000)
            pages[name] = {
                "status": response.status,
                "maths": page.locator("mjx-container").count(),
                "spoken_maths": page.locator("mjx-container mjx-assistive-mml math").count(),
                "math_errors": page.locator("mjx-merror").count(),
                "broken_images": page.evaluate(BROKEN_IMAGES),
                "gifs": page.locator('img[src^="data:image/gif"]').count(),
                "links": page.evaluate("() => Array.from(document.querySelectorAll('a[href]'), a => a.href)"),
                "text": page.inner_text("main"),
                "violations": axe_audit(page, axe_js),
            }
            page.screenshot(path=str(shots / f"{name.replace('/', '_')}.png"))
            if name == "intro.html":
                pages[name]["late_icon"] = page.evaluate(LATE_ICON)
        page.goto(base + "search.html?q=reparameterization")
        page.wait_for_selector("ul.search li", timeout=60_000)
        found = page.locator("ul.search li a").evaluate_all("links => links.map(a => a.href)")
        page.screenshot(path=str(shots / "search.png"))
        targets = {}
        for link in {url for p in pages.values() for url in p["links"] if url.startswith(base)}:
            path = urlsplit(link).path
            if path not in targets:
                reply = page.request.get(base.rstrip("/") + path)
                targets[path] = (reply.status, reply.text() if reply.ok else "")
    return base, pages, found, targets, list(requests)


def test_every_page_loads_with_its_maths_and_images(visited):
    _, pages, *_ = visited
    for name, seen in pages.items():
        assert seen["status"] == 200, name
        assert not seen["broken_images"], f"{name}: images that did not load: {seen['broken_images']}"
        assert seen["math_errors"] == 0, name
        if name.startswith("notebooks/"):
            assert seen["maths"] >= 10, f"{name}: only {seen['maths']} formulas rendered"


def test_every_page_passes_an_axe_audit_of_wcag_21_a_and_aa(visited):
    """axe-core in Chromium, after the maths and images: no serious or critical violation on any page."""
    _, pages, *_ = visited
    assert len(pages) == len(PAGES)
    found = serious_violations({name: seen["violations"] for name, seen in pages.items()})
    assert not found, "axe-core's serious and critical violations:\n" + "\n".join(found)


def test_an_icon_drawn_late_is_hidden_from_screen_readers_too(visited):
    """Font Awesome may swap in a titled SVG after the page's script ran: it is hidden all the same."""
    _, pages, *_ = visited
    assert pages["intro.html"]["late_icon"] == {"hidden": "true", "titles": 0}


def test_the_maths_is_read_aloud_from_mathjaxs_assistive_mathml(visited):
    """Beside each rendered formula (hidden from screen readers) MathJax puts its MathML (read aloud)."""
    _, pages, *_ = visited
    assert pages["notebooks/03_vae.html"]["maths"] >= 10
    for name, seen in pages.items():
        assert seen["spoken_maths"] == seen["maths"], f"{name}: formulas without assistive MathML"


def test_figures_gifs_and_the_explorers_still_are_on_the_pages(visited, site):
    _, pages, *_ = visited
    assert pages["notebooks/05_conv_vae.html"]["gifs"] >= 3 and pages["notebooks/08_cgan.html"]["gifs"] >= 2
    assert pages["notebooks/07_gan_2d.html"]["gifs"] >= 1
    for name in ("03_vae", "05_conv_vae"):
        assert "VBox(children" not in pages[f"notebooks/{name}.html"]["text"]  # a picture, not a repr
    assert len(list((site / "_images").glob("*.png"))) >= 30


def test_every_image_on_a_page_has_an_alt_text_that_says_what_it_shows(site):
    """Not its file name: a figure's title, panels and axes, a GIF's own description (issue #35)."""
    for page in PAGES:
        for tag in re.findall(r"<img\b[^>]*>", (site / page).read_text()):
            alt = html.unescape(re.search(r'\balt="([^"]*)"', tag).group(1)) if " alt=" in tag else ""
            shown = re.search(r'\bsrc="([^"]{0,60})', tag).group(1)
            words = 3 if "_images/" in shown or shown.startswith("data:") else 2  # figures; the theme's logo
            assert len(alt.split()) >= words, f"{page}: an image ({shown}...) with alt {alt!r}"
            assert not re.search(r"\.(png|gif|svg|jpe?g)\b|_images/", alt), f"{page}: {alt!r} is a file name"


def test_the_landing_page_is_the_course_map_and_the_guides_are_pages(visited):
    base, pages, *_ = visited
    intro = pages["intro.html"]
    assert "Course map" in intro["text"] and "Two commands" not in intro["text"]
    assert "When it goes wrong" in pages["docs/troubleshooting.html"]["text"]
    assert pages["docs/troubleshooting.html"]["maths"] >= 3  # its $\log \sigma^2$, rendered
    for name in book.GUIDES:
        assert base + f"docs/{name}.html" in intro["links"], name  # in the table of contents
    assert base + "docs/testing.html" in pages["docs/teaching.html"]["links"]  # guide to guide
    assert base + "intro.html" in pages["docs/course-map.html"]["links"]  # a guide's link to the README
    for name in NOTEBOOKS:
        assert base + f"notebooks/{name}.html" in intro["links"], name


def test_no_internal_link_or_anchor_is_broken(visited):
    base, pages, _, targets, _ = visited
    for name, seen in pages.items():
        for link in seen["links"]:
            if not link.startswith(base):
                continue
            parts = urlsplit(link)
            status, text = targets[parts.path]
            assert status == 200, f"{name} links to a missing page: {link}"
            if parts.fragment:
                anchor = html.escape(unquote(parts.fragment), quote=True)
                assert f'id="{anchor}"' in text, f"{name} links to a missing anchor: {link}"


def test_search_and_the_launch_buttons_work(visited):
    _, pages, found, *_ = visited
    assert any("03_vae" in link for link in found), found
    repo = repo_from_pyproject()
    for name in NOTEBOOKS:
        links = pages[f"notebooks/{name}.html"]["links"]
        assert f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{name}.ipynb" in links
        assert any(link.startswith(f"https://mybinder.org/v2/gh/{repo}/main?") and
                   f"notebooks/{name}.ipynb" in unquote(link) for link in links), name


def test_no_request_leaves_the_machine(visited):
    *_, requests = visited
    assert requests and not [url for url in requests if leaves_the_machine(url)]


def test_the_landing_page_and_the_guides_point_outside_links_at_github():
    readme = ("# T\n\nsee [the notes](benchmarks/results.md) and [03](notebooks/03_vae.ipynb)\n"
              "\n## Course map\n\n[x](ARCHITECTURE.md) [g](docs/testing.md)\n\n## Two commands\n\nmake\n")
    page = book.landing_page(readme, "someone/course")
    github = "https://github.com/someone/course/blob/main"
    assert f"({github}/benchmarks/results.md)" in page and f"({github}/ARCHITECTURE.md)" in page
    assert "(notebooks/03_vae.ipynb)" in page and "(docs/testing.md)" in page and "make" not in page
    guide = ("[r](../README.md) [t](testing.md) [n](../notebooks/03_vae.ipynb#the-elbo) "
             "[m](../benchmarks/margins.md) [b](../binder/)")
    assert book.book_links(guide, "docs/teaching.md", "someone/course") == (
        "[r](../intro.md) [t](testing.md) [n](../notebooks/03_vae.ipynb#the-elbo) "
        f"[m]({github}/benchmarks/margins.md) [b]({github}/binder)")


def test_a_notebooks_links_to_files_outside_the_book_point_at_github():
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": [
        "[t](../benchmarks/cgan_tuning.md) [n](03_vae.ipynb#the-elbo) [g](../docs/data.md)"]}]}
    cell = book.book_notebook(nb, "notebooks/08_cgan.ipynb", "someone/course")["cells"][0]
    assert cell["source"] == ("[t](https://github.com/someone/course/blob/main/benchmarks/cgan_tuning.md) "
                              "[n](03_vae.ipynb#the-elbo) [g](../docs/data.md)")


def test_committed_notebooks_show_stills_not_widgets():
    """GitHub, the site and the slides cannot run widgets: `make execute` saves stills in their place."""
    for name in NOTEBOOKS:
        nb = read_notebook(notebook_path(name))
        assert "widgets" not in nb["metadata"], name
        for cell in nb["cells"]:
            for output in cell.get("outputs", []):
                assert "application/vnd.jupyter.widget-view+json" not in output.get("data", {}), name
