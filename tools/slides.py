"""Slides from the notebooks (`make slides`): one reveal.js deck per notebook that works offline.

The slide types live in the notebooks' cell metadata (`slideshow.slide_type`), so RISE in JupyterLab
(`make lab` installs jupyterlab-rise) and the static decks split them alike. `mark` sets them by
one rule (`slide_type`), which a test checks the notebooks follow:

- a `## ` heading starts a slide and a `### ` heading a sub-slide (below it, in reveal.js); a
  markdown cell with a heading inside is first cut in two there;
- a code cell that draws a figure or an animation starts a sub-slide, so the picture has room,
  unless it follows its heading directly;
- the Colab set-up cell is skipped; every other cell continues the slide it is on.

The decks leave out the Colab badge, an image on colab.research.google.com. A style sheet
(`CONTRAST_CSS`) gives the prompts, the highlighted numbers and comments, the outputs of Keras's model
summaries and the slide numbers a contrast of at least 4.5:1 (WCAG 1.4.3, checked by axe-core in
tests/test_slides.py); MathJax 2 puts assistive MathML beside each formula, for screen readers.

`build` writes outputs/slides/<notebook>.slides.html. Every script, style sheet and font the decks
load (reveal.js, MathJax, RequireJS, jQuery, pinned below) is installed from the npm registry into
outputs/slides/vendor once, and linked by a relative path: the decks make no request to the
internet, and the folder can be copied to a USB stick or a lecture-hall PC as it is.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

from helpers.config import output_path
from tools import npm
from tools.admin import without_badge
from tools.book import OUTPUT_COLOURS
from tools.course import COLAB_TAG, ROOT, cell_source, course_notebooks, has_tag, notebook_text, read_notebook

VENDOR_PACKAGES = {"reveal.js": "4.6.1", "mathjax": "2.7.9", "requirejs": "2.3.7", "jquery": "3.7.1"}
SLIDE, SUBSLIDE, SKIP, CONTINUE = "slide", "subslide", "skip", "-"
# What axe-core found below 4.5:1 on the decks (nbconvert's JupyterLab light theme and reveal.js), each
# darkened: the "In [3]:" prompts (grey at half opacity, #b0b0b0), numbers (#080) and comments (#408080)
# in code on #f5f5f5, the slide number (white on 40 % black), the bright colours of Keras's summaries.
NUMBERS = ", ".join(f".reveal .highlight .{kind}" for kind in ("m", "mb", "mf", "mh", "mi", "mo", "il"))
COMMENTS = ", ".join(f".reveal .highlight .{kind}" for kind in ("c", "c1", "ch", "cm", "cs", "cpf"))
CONTRAST_CSS = "<style>/* tools/slides.py: text contrast of at least 4.5:1 */\n" + "".join([
    ".reveal .jp-InputPrompt, .reveal .jp-OutputPrompt { color: #616161 !important; opacity: 1 !important; }"
    "\n",
    f"{NUMBERS} {{ color: #007000 !important; }}\n",
    f"{COMMENTS} {{ color: #356b6b !important; }}\n",
    ".reveal .slide-number { background-color: rgba(0, 0, 0, 0.75) !important; }\n",
    *(f'.reveal span[style*="color: {bright}"] {{ color: {dark} !important; }}\n'
      for bright, dark in OUTPUT_COLOURS.items())]) + "</style>\n"


def _draws_a_picture(cell: dict) -> bool:
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if "image/png" in data or "data:image/gif" in "".join(data.get("text/html", "")):
            return True
    return False


def _heading_level(cell: dict) -> int:
    first = cell_source(cell).lstrip().split("\n", 1)[0]
    return len(first) - len(first.lstrip("#")) if cell["cell_type"] == "markdown" else 0


def slide_type(cell: dict, previous: dict | None) -> str:
    """The slide type the course's rule gives a cell (see the module's docstring)."""
    if previous is None or _heading_level(cell) in (1, 2):
        return SLIDE
    if has_tag(cell, COLAB_TAG):
        return SKIP
    if _heading_level(cell) == 3:
        return SUBSLIDE
    if cell["cell_type"] == "code" and _draws_a_picture(cell) and _heading_level(previous) == 0:
        return SUBSLIDE
    return CONTINUE


HEADING = re.compile(r"(?m)^(?=#{2,3} )")


def split_at_headings(nb: dict) -> dict:
    """Markdown cells cut before each `## ` or `### ` heading inside them, so that a heading starts a cell."""
    cells = []
    for cell in nb["cells"]:
        parts = HEADING.split(cell_source(cell)) if cell["cell_type"] == "markdown" else []
        if len([p for p in parts if p.strip()]) < 2:
            cells.append(cell)
            continue
        for number, part in enumerate(p for p in parts if p.strip()):
            piece = json.loads(json.dumps(cell))
            piece["source"] = part.rstrip("\n").splitlines(keepends=True)
            if number:
                piece["id"] = f"{cell.get('id', 'cell')}-{number}"
            cells.append(piece)
    nb["cells"] = cells
    return nb


def mark_notebook(nb: dict) -> dict:
    """Cut cells at headings, then set every cell's slideshow.slide_type by `slide_type` (in place)."""
    split_at_headings(nb)
    previous = None
    for cell in nb["cells"]:
        cell.setdefault("metadata", {})["slideshow"] = {"slide_type": slide_type(cell, previous)}
        previous = cell
    return nb


def mark_all(root: Path = ROOT) -> list[Path]:
    """Write the slide types into every notebook; returns the notebooks that changed."""
    changed = []
    for path in course_notebooks(root):
        text = path.read_text()
        marked = notebook_text(mark_notebook(json.loads(text)))
        if marked != text:
            path.write_text(marked)
            changed.append(path)
    return changed


def install_vendor(vendor: Path) -> Path:
    """reveal.js, MathJax 2, RequireJS and jQuery from npm into `vendor` (once); returns its node_modules."""
    return npm.install_packages(vendor, VENDOR_PACKAGES, "`make slides`")


def exporter():
    """nbconvert's reveal.js exporter, pointed at the local copies in vendor/node_modules."""
    from nbconvert import SlidesExporter

    slides = SlidesExporter()
    slides.reveal_url_prefix = "vendor/node_modules/reveal.js"
    slides.reveal_theme = "white"  # its fonts ship with reveal.js (the default theme loads Google Fonts)
    slides.reveal_scroll = True  # long slides scroll instead of being cut off
    slides.reveal_number = "c/t"
    slides.require_js_url = "vendor/node_modules/requirejs/require.js"
    slides.jquery_url = "vendor/node_modules/jquery/dist/jquery.min.js"
    slides.mathjax_url = "vendor/node_modules/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
    slides.mermaid_js_url = "./vendor/no-mermaid.mjs"  # the course draws no Mermaid diagrams
    slides.font_awesome_url = ""
    return slides


def build(out: Path | None = None, root: Path = ROOT) -> list[Path]:
    """One deck per notebook in `out` (outputs/slides by default); returns their paths."""
    out = out or output_path("slides")
    install_vendor(out / "vendor")
    (out / "vendor" / "no-mermaid.mjs").write_text("export default { initialize() {} };\n")
    slides, decks = exporter(), []
    for path in course_notebooks(root):
        nb = nbformat.reads(notebook_text(without_badge(read_notebook(path))), as_version=4)
        body, _ = slides.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        deck = out / f"{path.stem}.slides.html"
        deck.write_text(body.replace("</head>", CONTRAST_CSS + "</head>", 1))
        decks.append(deck)
    return decks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.slides", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("mark", help="write the slide types into the notebooks")
    build_parser = commands.add_parser("build", help="write the decks (outputs/slides)")
    build_parser.add_argument("--out", type=Path, help="folder for the decks")
    args = parser.parse_args(argv)
    if args.command == "mark":
        changed = mark_all()
        print(f"slide types written; {len(changed)} notebooks changed")
    else:
        decks = build(args.out)
        print(f"{len(decks)} decks in {decks[0].parent}; open one in a browser (no internet needed), "
              "press ? for reveal.js's keys, S for speaker notes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
