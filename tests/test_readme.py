"""The README is the course's front door: short, its course map's times measured, its links alive.

The README's times are typed by hand, in whole minutes; no script writes into the README. These tests
hold them to benchmarks/timings.json (what `make execute` measured), and check that every guide of
docs/ is linked from the README and is a page of the course website.
"""

import itertools
import re

import pytest

from tools import book, execute
from tools.course import ROOT, notebook_names

README = ROOT / "README.md"
MAX_BYTES = 10 * 1024  # a two-minute read
GUIDES = sorted((ROOT / "docs").glob("*.md"))
MARKDOWN_PAGES = [README, ROOT / "ARCHITECTURE.md", *GUIDES, *sorted((ROOT / "benchmarks").glob("*.md")),
                  ROOT / "tests" / "colab" / "README.md"]
LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)\s]+)\)")
MAP_ROW = re.compile(r"^\| \[[^\]]+\]\(notebooks/([0-9][0-9]_\w+)\.ipynb\) \|[^|\n]*\|([^|\n]*)\|$", re.M)
MAP_HEADER = re.compile(r"^\| Notebook \| What it teaches \| Full run, ([^|]+) \|$", re.M)


def test_the_readme_is_short():
    size = len(README.read_bytes())
    assert size <= MAX_BYTES, f"README.md has {size} bytes, more than {MAX_BYTES}: move detail to docs/"


def test_the_course_map_lists_every_notebook_in_order():
    assert [name for name, _ in MAP_ROW.findall(README.read_text())] == notebook_names()


def test_the_course_maps_times_are_what_the_latest_full_runs_round_to():
    """After `make execute`, this says which times to retype (whole minutes, a range where runs differ)."""
    timings, text = execute.load_timings(), README.read_text()
    wrong = [f"{name}: the README says {typed.strip()!r}, benchmarks/timings.json gives {measured!r}"
             for name, typed in MAP_ROW.findall(text)
             if typed.strip().replace("-", execute.DASH)  # a hyphen typed for the en dash is fine
             != (measured := execute.minutes(timings["full"].get(name, []), decimals=0))]
    assert not wrong, "update the README's course map:\n" + "\n".join(wrong)
    runs = [run for name in notebook_names() for run in timings["full"].get(name, [])]
    header = MAP_HEADER.search(text)
    assert header and header.group(1) == f"{execute.cores(runs)} cores", "the runs' core count, in the header"
    assert f"on {execute.cores(runs)} CPU cores" in text


def test_the_readme_has_nothing_a_script_would_rewrite():
    """Tables go to their own pages (benchmarks/*.md); badges are in the notebooks (`make badges`)."""
    text = README.read_text()
    for marker in ("bench:start", "execute:start", "margins:start", "Open In Colab"):
        assert marker not in text, marker


@pytest.mark.parametrize("page", MARKDOWN_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_to_a_file_of_the_repository_resolves(page):
    for target in LINK.findall(page.read_text()):
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"


def test_every_guide_is_linked_from_the_readme_and_is_a_page_of_the_website():
    text = README.read_text()
    assert sorted(book.GUIDES) == sorted(path.stem for path in GUIDES), "tools/book.py GUIDES and docs/"
    for name in book.GUIDES:
        assert f"](docs/{name}.md)" in text, f"the README does not link docs/{name}.md"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_a_guide_has_one_title_and_no_skipped_heading_level(guide):
    """The website's build stops on a skipped level (a warning, and warnings are errors there)."""
    text = re.sub(r"(?ms)^```.*?^```", "", guide.read_text())  # code blocks hold no headings
    levels = [len(hashes) for hashes in re.findall(r"(?m)^(#+) ", text)]
    assert levels[0] == 1 and levels.count(1) == 1, f"{guide.name}: one `# ` title, first"
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), f"{guide.name}: a heading level skipped"


def test_the_websites_landing_page_is_the_introduction_and_the_course_map():
    page = book.landing_page(README.read_text(), "someone/course")
    assert page.startswith("# From autoencoders") and "## Course map" in page
    assert "## Two commands" not in page
    for name in notebook_names():
        assert f"](notebooks/{name}.ipynb)" in page, name
    assert "](https://github.com/someone/course/blob/main/benchmarks/timings.md)" in page
    assert "](docs/course-map.md)" in page


GOAL_WORDS = {"accuracy": "conditional accuracy", "worst_digit": "the worst digit", "precision": "precision",
              "recall": "recall", "frechet_ratio": "the Fréchet distance", "train_seconds": "training time"}


def test_the_readme_says_which_cgan_goals_the_last_run_met():
    """The README's goals paragraph names the goals as benchmarks/cgan_goals.md reports them met or not."""
    report = (ROOT / "benchmarks" / "cgan_goals.md").read_text()
    met_line = report.split("Met by every seed: ")[1]
    met, not_met = (part.strip(" .\n").split(", ") for part in met_line.split(". Not met: "))
    paragraph = next(p for p in README.read_text().split("\n\n") if "cgan_goals.md" in p)
    said_met, said_not = " ".join(paragraph.split()).split("; not yet those for ")
    met, not_met = ([goal for goal in goals if goal != "none"] for goals in (met, not_met))
    assert all(GOAL_WORDS[goal] in said_met for goal in met), (met, said_met)
    assert all(GOAL_WORDS[goal] in said_not for goal in not_met), (not_met, said_not)
    assert not any(GOAL_WORDS[goal] in said_not for goal in met), said_not
    assert not any(GOAL_WORDS[goal] in said_met for goal in not_met), said_met
    # the figures are the mean row's, as the report prints them (percentages to one decimal)
    mean = re.search(r"^\| mean \| ([\d.]+)% \| ([\d.]+)% \| ([\d.]+)x \| "
                     r"([\d.]+) / ([\d.]+) \| ([\d.]+) min", report, re.M).groups()
    figures = [f"{float(mean[0]):.1f} %", f"{float(mean[1]):.1f} %", f"({mean[3]})", f"({mean[2]} times",
               f"({mean[4]},", f"({mean[5]} min)"]
    assert all(figure in paragraph for figure in figures), [f for f in figures if f not in paragraph]
