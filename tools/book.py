"""The course website (`make book`): a Jupyter Book 1 site built from the committed notebooks, offline.

The notebooks are the single source. `build` stages them with a landing page (the README's
introduction and course map) and the guides of docs/ under outputs/book/src, and runs
`jupyter-book build` without executing anything: each notebook's page shows the figures and GIFs of
the committed full-mode run. Changes from the committed files, made in the staged copies only:

- a notebook's Colab badge (an image on colab.research.google.com) becomes the page's launch buttons
  (Colab and Binder, in the top bar);
- links between the README, the guides and the notebooks stay links within the site; links to other
  files of the repository point at it on GitHub;
- each figure's image gets the alt text its notebook output carries (helpers.plots.describe_figure, in
  the output's metadata): MyST-NB names the image by its bytes' SHA-256 and gives it that name as alt;
- MathJax 3 is served from the site itself (npm's `mathjax`, installed once into outputs/book/vendor):
  a page makes no request to the internet to render its maths, and search runs in the browser; its
  assistive MathML is on, so that screen readers read the maths;
- code is highlighted by the theme's own accessible Pygments styles (a11y-high-contrast, light and
  dark); a style sheet and a script in the site's _static (`ACCESSIBILITY_CSS`, `ACCESSIBILITY_JS`) fix what
  the axe-core audit of tests/test_book.py found in the theme and the outputs (docs/accessibility.md).

The site is outputs/book/_build/html; open index.html, or serve the folder with any web server.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html as html_escape
import posixpath
import re
import shutil
import subprocess
import sys
from pathlib import Path

from helpers.config import output_path
from tools import npm
from tools.admin import without_badge
from tools.course import (
    BRANCH,
    COLAB_TAG,
    NOTEBOOK_GLOB,
    ROOT,
    cell_source,
    course_notebooks,
    has_tag,
    notebook_text,
    read_notebook,
    repo_from_pyproject,
)

MATHJAX_VERSION = "3.2.2"
TITLE = "From autoencoders to conditional GANs, in TensorFlow"
LANDING_SECTIONS = ("## Course map",)  # after the README's introduction, the landing page shows these
# The guides of docs/, in the order of the book's "Guides" part (a test checks that none is left out)
GUIDES = ("course-map", "teaching", "testing", "benchmarks", "colab", "data", "troubleshooting",
          "accessibility")
MARKDOWN_LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)\s]+)\)")
IMAGE_TAG = re.compile(r'<img alt="[^"]*" src="([^"]*_images/([0-9a-f]{64})\.png)"')
# Keras's model summaries (printed by rich) colour their text with bright colours made for a dark
# terminal: on the light theme's output background (#f3f4f5) they reach 1.6:1 to 3.2:1. Each becomes a
# darker shade of its hue with at least 4.5:1 (WCAG 1.4.3); the dark theme keeps the bright ones.
OUTPUT_COLOURS = {"#0087ff": "#0060c0", "#00d7ff": "#006d80", "#00af00": "#007000"}
ACCESSIBILITY_CSS = "/* The outputs' text contrast on the light theme (tools/book.py) */\n" + "".join(
    f'html:not([data-theme="dark"]) .cell_output span[style*="color: {bright}"] '
    f"{{ color: {dark} !important; text-decoration-color: {dark} !important; }}\n"
    for bright, dark in OUTPUT_COLOURS.items())
# The theme's buttons whose accessible name does not contain their visible label (WCAG 2.5.3): the
# search buttons show "Search Ctrl+K" but are named "Search", so they are named by what they show;
# the colour-mode button's icons carry titles ("Light", "Dark", "System Settings") that Font Awesome
# turns into text inside the button, so the icons are hidden from the accessibility tree and their
# titles dropped: the button keeps its name, "Color mode". Font Awesome draws its icons when it likes
# (it may swap in an SVG it made from the titled icon after this script ran), so every change of the
# page is watched and each icon hidden the moment it appears.
ACCESSIBILITY_JS = """\
function hideThemeIcons() {
  document.querySelectorAll(".theme-switch-button .theme-switch, .theme-switch-button svg").forEach(icon => {
    if (icon.hasAttribute("title")) icon.removeAttribute("title");
    if (icon.getAttribute("aria-hidden") !== "true") icon.setAttribute("aria-hidden", "true");
    icon.querySelectorAll("title").forEach(t => t.remove());
  });
}
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".search-button-field[aria-label]").forEach(b => b.removeAttribute("aria-label"));
  hideThemeIcons();
  new MutationObserver(hideThemeIcons).observe(document.body, {childList: true, subtree: true});
});
"""


def install_mathjax(vendor: Path) -> Path:
    """MathJax 3 from the npm registry into `vendor` (once); returns its es5 folder (tex-chtml.js)."""
    modules = npm.install_packages(vendor, {"mathjax": MATHJAX_VERSION}, "`make book` (offline maths)")
    return modules / "mathjax" / "es5"


def readme_section(text: str, heading: str) -> str:
    """A `## ` section of the README, from its heading to the next `## ` heading."""
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end == -1 else text[start:end]


def landing_page(readme: str, repo: str) -> str:
    """The README's title, introduction and course map, with links fixed for the book."""
    intro = readme[: readme.index("\n## ")]
    page = "\n\n".join([intro.strip(), *(readme_section(readme, h).strip() for h in LANDING_SECTIONS)])
    return book_links(page, "README.md", repo) + "\n"


def staged_path(path: str) -> str | None:
    """Where a repository file is in the book's sources (None: not in the book)."""
    if path == "README.md":
        return "intro.md"
    if path.startswith("docs/") and path.endswith(".md") and path[5:-3] in GUIDES:
        return path
    if posixpath.dirname(path) == "notebooks" and Path(path).match(NOTEBOOK_GLOB):
        return path
    return None


def book_links(text: str, source: str, repo: str) -> str:
    """A Markdown file of the repository (at path `source`) with its relative links fixed for the book.

    A link to a file the book has (the README, a guide, a notebook) points at its page; a link to any
    other file of the repository points at it on GitHub.
    """
    here = posixpath.dirname(source)
    staged_here = posixpath.dirname(staged_path(source) or source)

    def fix(match: re.Match) -> str:
        target, _, anchor = match.group(1).partition("#")
        path = posixpath.normpath(posixpath.join(here, target))
        staged = staged_path(path)
        if staged is None:
            return f"](https://github.com/{repo}/blob/{BRANCH}/{path}{'#' + anchor if anchor else ''})"
        return f"]({posixpath.relpath(staged, staged_here or '.')}{'#' + anchor if anchor else ''})"

    return MARKDOWN_LINK.sub(fix, text)


def book_notebook(nb: dict, source: str = "", repo: str = "") -> dict:
    """A notebook as the book shows it: no Colab badge or set-up cell (the launch buttons replace them).

    With its path `source` and the `repo`, its Markdown links are fixed for the book (`book_links`).
    """
    nb = without_badge(nb)
    for cell in nb["cells"]:  # the Colab set-up cell does nothing on a web page
        if has_tag(cell, COLAB_TAG):
            cell["metadata"]["tags"].append("remove-cell")
        elif source and cell["cell_type"] == "markdown":
            cell["source"] = book_links(cell_source(cell), source, repo)
    return nb


def figure_alt_texts(nb: dict) -> dict[str, str]:
    """Each PNG output's alt text, by the SHA-256 of its bytes (MyST-NB's name for the image file)."""
    alts = {}
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            alt = output.get("metadata", {}).get("image/png", {}).get("alt")
            if alt and "image/png" in output.get("data", {}):
                alts[hashlib.sha256(base64.b64decode(output["data"]["image/png"])).hexdigest()] = alt
    return alts


def add_alt_texts(site: Path, alts: dict[str, str]) -> None:
    """Replace the file-name alt of every figure image on the site's pages by the figure's alt text."""
    for page in site.rglob("*.html"):
        text = page.read_text()
        def describe(match: re.Match) -> str:
            alt = alts.get(match.group(2))
            if alt is None:
                return match.group(0)
            return f'<img alt="{html_escape.escape(alt)}" src="{match.group(1)}"'

        described = IMAGE_TAG.sub(describe, text)
        if described != text:
            page.write_text(described)


def book_config(repo: str) -> str:
    """_config.yml: no execution, local MathJax, search, launch buttons for Colab and Binder."""
    return f"""\
title: "{TITLE}"
author: The course's authors
copyright: "2026"
only_build_toc_files: true
execute:
  execute_notebooks: "off"
repository:
  url: https://github.com/{repo}
  branch: {BRANCH}
launch_buttons:
  notebook_interface: jupyterlab
  binderhub_url: https://mybinder.org
  colab_url: https://colab.research.google.com
html:
  use_repository_button: true
  use_issues_button: false
  use_edit_page_button: false
  home_page_in_navbar: true
sphinx:
  config:
    mathjax_path: ../mathjax/tex-chtml.js  # relative to _static: the site's own copy, in its root
    html_extra_path: ["site"]  # not _static, whose every .js Jupyter Book adds to every page
    html_show_copyright: false
    nb_ipywidgets_js: {{}}  # no widget manager from a CDN: saved notebooks show widgets as stills
    mathjax3_config:  # MathML beside each formula, for screen readers (MathJax 3's default, made sure)
      options:
        enableAssistiveMml: true
        menuOptions:
          settings:
            assistiveMml: true
    suppress_warnings: ["mystnb.unknown_mime_type"]
"""


def book_toc(notebooks: list[Path]) -> str:
    """_toc.yml: the landing page, the notebooks in course order, then the guides of docs/."""
    parts = {"Notebooks": [f"notebooks/{path.stem}" for path in notebooks],
             "Guides": [f"docs/{name}" for name in GUIDES]}
    return "format: jb-book\nroot: intro\nparts:\n" + "".join(
        f"- caption: {caption}\n  chapters:\n" + "".join(f"  - file: {file}\n" for file in files)
        for caption, files in parts.items())


def stage(src: Path, root: Path = ROOT) -> list[Path]:
    """Write the book's sources into `src` (emptied first); returns the staged notebooks."""
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    repo = repo_from_pyproject(root / "pyproject.toml")
    notebooks = course_notebooks(root)
    staged = []
    for path in notebooks:
        target = src / "notebooks" / path.name
        target.write_text(notebook_text(book_notebook(read_notebook(path), f"notebooks/{path.name}", repo)))
        staged.append(target)
    (src / "intro.md").write_text(landing_page((root / "README.md").read_text(), repo))
    (src / "docs").mkdir()
    for name in GUIDES:
        guide = f"docs/{name}.md"
        (src / guide).write_text(book_links((root / guide).read_text(), guide, repo))
    (src / "_config.yml").write_text(book_config(repo))
    (src / "_toc.yml").write_text(book_toc(notebooks))
    mathjax = install_mathjax(src.parent / "vendor")
    shutil.copytree(mathjax, src / "site" / "mathjax")
    (src / "_static").mkdir()  # Jupyter Book adds each .css and .js of it to every page
    (src / "_static" / "accessibility.css").write_text(ACCESSIBILITY_CSS)
    (src / "_static" / "accessibility.js").write_text(ACCESSIBILITY_JS)
    return staged


def build(out: Path | None = None, root: Path = ROOT) -> Path:
    """Stage and build the site under `out` (outputs/book by default); returns the html folder."""
    out = out or output_path("book")
    src = out / "src"
    staged = stage(src, root)
    html = out / "_build" / "html"
    if html.parent.exists():
        shutil.rmtree(html.parent)
    jupyter_book = str(Path(sys.executable).parent / "jupyter-book")
    command = [jupyter_book, "build", str(src), "--path-output", str(out), "--warningiserror", "--quiet"]
    subprocess.run(command, check=True)
    alts = {}
    for path in staged:
        alts.update(figure_alt_texts(read_notebook(path)))
    add_alt_texts(html, alts)
    return html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.book", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for the sources and the site (outputs/book)")
    args = parser.parse_args(argv)
    html = build(args.out)
    print(f"the site is in {html}: open {html / 'index.html'} in a browser, or publish the folder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
