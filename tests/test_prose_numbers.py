"""Numbers in prose that cannot go stale (#33 item 4): a measured-looking number in a notebook's markdown
must appear in an output of the same notebook, at the prose's precision or finer.

What is read: every markdown cell's decimals (6.49, -140.0, 0.96) and percentages (97 %, 98.66%, 12.5 %),
outside LaTeX ($...$, $$...$$), code (`...` and fenced blocks), link targets, bare URLs, HTML tags,
arXiv identifiers and the first cell's "*Running time ...*" line (tools/execute.py writes it from
benchmarks/timings.json). Integers without a percent sign are structure ("8 modes"), not checked.

A prose number v written with p decimals matches a number o of an output (stream text, text/plain or
text/markdown of a result or a display) when o is printed with p decimals or more and lies within half a
unit of v's last digit: 6.5 matches 6.49 and 6.5, not 6.4 or 6.6 (an exact half either way). An unsigned
number compares with |o| ("140.0 nats below" matches -139.96); one written with a minus sign (the ASCII or
the typographic one) needs a negative o. A percentage also matches a share printed as a decimal, times
100 (97 % matches 0.973), and a decimal a printed percentage over 100 (0.96 matches 96.0 %).

Not measurements, so not checked: a number that one of the notebook's code cells writes as a literal with
the same digits (a setting quoted in prose, sigma = 0.05 or a threshold of 0.01; comments and strings do
not count, and 0.60 is no 0.6), or a percentage whose share it writes so (39 % and 0.39, but 10 % would need
0.10: a 0.1 in code says nothing about a 10 % in prose). Then two short lists: QUOTED, numbers quoted
from another notebook, checked against that notebook's outputs instead; and ALLOWED, numbers derived
(in closed form, or from printed numbers) or stated (targets, settings written elsewhere), each with its
reason. A test fails on an entry of either list that is no longer needed, so both stay short.

The check is as strong as the precision the prose writes: a short number (0.9, 97 %) can match an
unrelated output by coincidence. A number that is worth quoting is worth printing with its label.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from decimal import Decimal

import pytest

from tools.course import cell_source, notebook_names, notebook_path, read_notebook
from tools.execute import TIME_LINE

MINUS = "-\N{MINUS SIGN}"
PERCENT = r"[ \u00a0\u202f]?%"
# A prose number: an optional minus sign (not a hyphen after a word), digits (thousands with commas),
# optional decimals, an optional percent sign; not part of a version (3.11.2) or a word (v1.5, x2).
PROSE_NUMBER = re.compile(rf"(?:(?<![^\W_])(?<![.)\]])(?P<sign>[{MINUS}]))?(?<![^\W_])(?<![.,])"
                          rf"(?P<int>\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.(?P<frac>\d+))?(?![.,]?\d)"
                          rf"(?P<pct>{PERCENT})?")
# An output number: the same, plus scientific notation (1.2e-03), and noting a percent sign after it.
OUTPUT_NUMBER = re.compile(rf"(?<![\w.])(?P<sign>[{MINUS}])?(?P<int>\d{{1,3}}(?:,\d{{3}})+|\d+)"
                           rf"(?:\.(?P<frac>\d+))?(?:[eE](?P<exp>[-+]?\d+))?(?!\d|\.\d)(?P<pct>{PERCENT})?")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # colours in Keras's model summaries
NOT_PROSE = [  # masked with spaces, so that positions and contexts stay those of the cell
    re.compile(r"```.*?```", re.S),  # fenced code
    re.compile(r"(?<!\\)\$\$.*?(?<!\\)\$\$", re.S),  # display maths
    re.compile(r"(?<![\\$])\$(?!\$).*?(?<!\\)\$", re.S),  # inline maths
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"\]\([^)]*\)"),  # a link's target
    re.compile(r"https?://\S+"),  # a bare URL
    re.compile(r"<[^>\n]+>"),  # an HTML tag and its attributes
    re.compile(r"arXiv:\s*\S+", re.I),  # a citation's identifier
]

# Numbers quoted from another notebook, as the prose writes them: checked against that notebook's outputs.
QUOTED: dict[str, dict[str, str]] = {
    "06_conditional_vae": {"75 %": "02_bottleneck_2d"},  # notebook 02's 5-nearest-neighbour accuracy
    "09_judging_generators": {"99.96 %": "06_conditional_vae"},  # notebook 06's accuracy at noise scale 0.5
}
# Numbers no output needs to show, as the prose writes them, each with its reason.
ALLOWED: dict[str, dict[str, str]] = {
    "03_vae": {
        "39 %": "derived: a 2-D standard normal's mass within radius 1, 1 - exp(-1/2)",
        "86 %": "derived: the same within radius 2, 1 - exp(-2)",
        "99 %": "derived: the same within radius 3, 1 - exp(-9/2)",
        "0.1": "a setting of notebook 04 (the smallest beta of its sweep), quoted in an exercise",
    },
    "04_elbo": {"10.8": "derived: log 50,000, the most information a code can hold on 50,000 images"},
    "05_conv_vae": {
        "50 %": "derived: the share of 4 dimensions out of 8 under an even split",
    },
    "06_conditional_vae": {"97 %": "a target: helpers.targets.CGAN.accuracy, notebook 08's check, quoted"},
    "07_gan_2d": {"0.13": "derived: where the ring's D* starts to fall, from its closed form"},
    "08_cgan": {"0.05": "a goal: helpers.targets.CGAN_GOALS.precision_recall_gap"},
}


@dataclass(frozen=True)
class ProseNumber:
    """A measured-looking number of a markdown cell: its text, value and where it is."""

    cell: int
    text: str
    value: Decimal  # signed; a percentage in percent (97 % is 97)
    places: int  # decimals written
    signed: bool  # written with a minus sign
    percent: bool
    context: str


@dataclass(frozen=True)
class OutputNumber:
    """A number an output shows: signed, as printed (a percentage in percent), with its decimals."""

    value: Decimal
    places: int  # decimals, the exponent included (1.2e-03 has 4)
    percent: bool


def _decimal(match: re.Match) -> tuple[Decimal, int]:
    """The unsigned value of a matched number and its decimal places (the exponent included)."""
    frac = match.group("frac") or ""
    value = Decimal(match.group("int").replace(",", "") + ("." + frac if frac else ""))
    places = len(frac)
    exp = match.groupdict().get("exp")
    if exp:
        value, places = value.scaleb(int(exp)), max(0, places - int(exp))
    return value, places


def _mask(text: str, pattern: re.Pattern) -> str:
    return pattern.sub(lambda m: " " * len(m.group()), text)


def prose_text(source: str, first_cell: bool = False) -> str:
    """A markdown cell's source with everything that is not prose replaced by spaces."""
    if first_cell:
        source = _mask(source, TIME_LINE)
    for pattern in NOT_PROSE:
        source = _mask(source, pattern)
    return source


def _context(source: str, start: int, end: int, width: int = 60) -> str:
    left = max(0, start - (width - (end - start)) // 2)
    return " ".join(source[left:left + width].split())


def prose_numbers(cells: list[dict]) -> list[ProseNumber]:
    """The measured-looking numbers of markdown cells: decimals and percentages, outside maths and code."""
    found = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        source = cell_source(cell)
        for match in PROSE_NUMBER.finditer(prose_text(source, first_cell=index == 0)):
            percent = match.group("pct") is not None
            if match.group("frac") is None and not percent:
                continue  # an integer: structure ("8 modes"), not checked
            value, places = _decimal(match)
            signed = match.group("sign") is not None
            context = _context(source, match.start(), match.end())
            found.append(ProseNumber(index, match.group().strip(), -value if signed else value, places,
                                     signed, percent, context))
    return found


def output_text(cell: dict) -> str:
    """The text of a code cell's outputs: streams, and the text/plain or text/markdown of the others."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        for mime in ("text/plain", "text/markdown"):
            if mime in output.get("data", {}):
                parts.append(output["data"][mime])
    return ANSI.sub("", "\n".join("".join(p) if isinstance(p, list) else p for p in parts))


def output_numbers(cells: list[dict]) -> list[OutputNumber]:
    """Every number the notebook's outputs show."""
    found = []
    for cell in cells:
        for match in OUTPUT_NUMBER.finditer(output_text(cell)):
            value, places = _decimal(match)
            signed = match.group("sign") is not None
            found.append(OutputNumber(-value if signed else value, places, match.group("pct") is not None))
    return found


def _written(value: Decimal) -> str:
    """A number as written with its decimals, without an exponent: 0.60, 0.001, 100."""
    return f"{value:f}"


def _literals(source: str) -> set[str]:
    """The unsigned numeric literals of Python code, as written (0.60 stays 0.60; 1e-3 becomes 0.001).

    A number in a comment or a string is no literal.
    """
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    literals = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
            text = token.string.replace("_", "").lower()
            if token.type != tokenize.NUMBER or text.endswith("j"):
                continue
            literals.add(str(int(text, 0)) if text[:2] in ("0x", "0o", "0b") else _written(Decimal(text)))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # an unfinished exercise cell: its literals up to there are kept
    return literals


def code_literals(cells: list[dict]) -> set[str]:
    """The constants a notebook's code writes down: the numeric literals of its code cells."""
    literals = set()
    for cell in cells:
        if cell["cell_type"] == "code":
            literals |= _literals(cell_source(cell))
    return literals


def _rounds_to(prose: Decimal, places: int, shown: Decimal, shown_places: int) -> bool:
    """Whether `shown`, printed with `shown_places` decimals, rounds to `prose` written with `places`."""
    return shown_places >= places and abs(shown - prose) <= Decimal(5).scaleb(-places - 1)


def appears(number: ProseNumber, outputs: list[OutputNumber]) -> bool:
    """Whether an output shows the prose number, at its precision or finer (see the module's docstring)."""
    target = abs(number.value)
    for out in outputs:
        if number.signed and out.value >= 0:
            continue
        shown = abs(out.value)
        if number.percent == out.percent:
            candidates = [(shown, out.places)]
        elif number.percent:  # a share printed as 0.973, quoted as 97 %
            candidates = [(shown.scaleb(2), out.places - 2)] if shown <= 1 else []
        else:  # a percentage printed as 96.0 %, quoted as 0.96
            candidates = [(shown.scaleb(-2), out.places + 2)]
        if any(_rounds_to(target, number.places, value, places) for value, places in candidates):
            return True
    return False


def is_setting(number: ProseNumber, literals: set[str]) -> bool:
    """Whether the prose number is a constant a code cell writes down, with the same digits.

    A decimal as written (0.05 and sigma = 0.05; but 0.60 is no 0.6, 1.00 no 1.0); a percentage as its share
    with two more decimals (39 % and 0.39, 99.2 % and 0.992; so 10 % needs 0.10, a 0.1 in code says nothing).
    """
    value = abs(number.value)
    return _written(value.scaleb(-2) if number.percent else value) in literals


def unmatched(nb: dict) -> list[ProseNumber]:
    """The notebook's prose numbers that no output of it shows and no code cell writes as a literal."""
    cells = nb["cells"]
    outputs, literals = output_numbers(cells), code_literals(cells)
    return [n for n in prose_numbers(cells) if not is_setting(n, literals) and not appears(n, outputs)]


def stale(nb: dict, allowed: dict[str, str], quoted: dict[str, list[OutputNumber]]) -> list[ProseNumber]:
    """The numbers `unmatched` finds, less the `allowed` ones and the `quoted` ones their source shows.

    `quoted` maps a number, as the prose writes it, to the outputs of the notebook it is quoted from.
    """
    return [n for n in unmatched(nb)
            if n.text not in allowed and not (n.text in quoted and appears(n, quoted[n.text]))]


def report(name: str, numbers: list[ProseNumber], quoted: dict[str, str] | None = None) -> str:
    """What the test says: each number in prose that no output shows, with its cell and its context."""
    lines = [f"{name}: {len(numbers)} number(s) in prose that no output of the notebook shows; fix the "
             "prose, or print the number (tests/test_prose_numbers.py's ALLOWED is for derived numbers):"]
    for n in numbers:
        source = ""
        if n.text in (quoted or {}):
            source = f" (quoted from {quoted[n.text]}, whose outputs do not show it)"
        lines.append(f"  cell {n.cell}: {n.text!r}{source} in \u2026{n.context}\u2026")
    return "\n".join(lines)


# --- the course's notebooks --------------------------------------------------------------------------


@pytest.mark.parametrize("name", notebook_names())
def test_every_number_in_prose_appears_in_an_output(name):
    quoted = QUOTED.get(name, {})
    sources = {text: output_numbers(read_notebook(notebook_path(source))["cells"])
               for text, source in quoted.items()}
    missing = stale(read_notebook(notebook_path(name)), ALLOWED.get(name, {}), sources)
    assert not missing, report(name, missing, quoted)


def test_quoted_and_allowed_numbers_are_still_needed():
    names = set(notebook_names())
    assert set(ALLOWED) | set(QUOTED) <= names, "ALLOWED or QUOTED names a notebook the course does not have"
    assert {source for quoted in QUOTED.values() for source in quoted.values()} <= names
    unneeded = []
    for name in sorted(set(ALLOWED) | set(QUOTED)):
        nb = read_notebook(notebook_path(name))
        needed = {n.text for n in unmatched(nb)}  # an allowed number no output or setting shows
        in_prose = {n.text for n in prose_numbers(nb["cells"])}  # a quoted one the prose still quotes
        unneeded += [f"{name}: {text!r}" for text in ALLOWED.get(name, {}) if text not in needed]
        unneeded += [f"{name}: {text!r}" for text in QUOTED.get(name, {}) if text not in in_prose]
    assert not unneeded, ("entries no longer needed (an output or a code cell shows the number, or the prose "
                       "dropped it): " + ", ".join(unneeded))


# --- the checker on planted notebooks ----------------------------------------------------------------


def _notebook(markdown: str, *outputs: str, code: str = "") -> dict:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# A title"},
             {"cell_type": "markdown", "metadata": {}, "source": markdown}]
    cells.append({"cell_type": "code", "metadata": {}, "source": code, "execution_count": 1,
                  "outputs": [{"output_type": "stream", "name": "stdout", "text": text} for text in outputs]})
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _stale(markdown: str, *outputs: str, code: str = "") -> list[str]:
    return [n.text for n in unmatched(_notebook(markdown, *outputs, code=code))]


def test_a_stale_decimal_is_reported_and_a_fresh_one_is_not():
    assert _stale("After training the loss fell to 3.21.", "loss 3.19") == ["3.21"]
    assert _stale("After training the loss fell to 3.21.", "loss 3.2149") == []
    assert _stale("The loss fell to 3.2.", "loss 3.2149") == []  # rounded further: fine
    assert _stale("The loss fell to 3.2149.", "loss 3.21") == ["3.2149"]  # more than the output shows
    assert _stale("The loss fell to 3.21.", "loss 3.215") == []  # an exact half, either way
    assert _stale("The loss fell to 3.21.", "loss 3.2151") == ["3.21"]


def test_a_stale_percentage_is_reported_whether_printed_as_a_share_or_a_percentage():
    prose = "The classifier agrees for 97 % of them and for 98.66% of the sevens."
    assert _stale(prose, "accuracy 0.9731", "sevens: 98.66 %") == []
    assert _stale(prose, "accuracy 0.9649", "sevens: 98.7 %") == ["97 %", "98.66%"]
    assert _stale("About 97 % of them.", "epoch 97/100") == ["97 %"]  # a bare integer is no percentage
    assert _stale("A precision of 0.96.", "precision 96.2 %") == []
    assert _stale("A precision of 0.96.", "precision 97.2 %") == ["0.96"]


def test_a_report_names_the_cell_the_number_and_its_context():
    nb = _notebook("Some words first, and then the loss fell to 3.21 after all the epochs.", "loss 3.19")
    text = report("09_x", unmatched(nb))
    assert "09_x: 1 number(s)" in text and "cell 1: '3.21' in \u2026" in text
    assert "the loss fell to 3.21 after" in text


def test_signs_thousands_and_scientific_notation():
    assert _stale("The ELBO is \u2212140.0 nats.", "elbo -139.96") == []
    assert _stale("The ELBO is \u2212140.0 nats.", "elbo 139.96") == ["\u2212140.0"]
    assert _stale("It sits 140.0 nats below zero.", "elbo -139.96") == []
    assert _stale("Each of 1,234.5 points.", "n = 1,234.5") == []
    assert _stale("A gradient of 0.0012.", "grad 1.21e-03") == []
    assert _stale("Python 3.11.2 and 2-D codes, x-0.5.", "nothing") == ["0.5"]  # a version is no number
    assert _stale("About 0.2 of it.", "TFP 0.25.0") == ["0.2"]  # nor in an output


def test_allowed_and_quoted_numbers():
    nb = _notebook("Chance is 10 %; notebook 02 reached about 78 %, this model 80.1 %.", "accuracy 80.1%")
    other = output_numbers(_notebook("", "accuracy 74.8%")["cells"])
    assert [n.text for n in stale(nb, {}, {})] == ["10 %", "78 %"]
    assert [n.text for n in stale(nb, {"10 %": "derived: chance"}, {"78 %": other})] == ["78 %"]
    again = output_numbers(_notebook("", "accuracy 78.3%")["cells"])
    assert stale(nb, {"10 %": "derived: chance"}, {"78 %": again}) == []
    text = report("06_x", stale(nb, {}, {"78 %": other}), {"78 %": "02_x"})
    assert "'78 %' (quoted from 02_x, whose outputs do not show it)" in text


def test_maths_code_links_integers_and_settings_are_not_checked():
    skipped = ("The bound $\\log 4 \\approx 1.39$ and $$0.29$$, the call `fit(x, 0.3)`, "
               "[a link](https://example.org/v1.5/x.html), arXiv:1503.03585, <img width=\"0.5\">, "
               "8 modes, 60,000 digits, and sigma = 0.05 set in code.")
    assert _stale(skipped, "nothing", code="SIGMA = 0.05  # 0.77 in a comment is no setting") == []
    assert _stale("We measured 0.77.", code="x = 1  # 0.77") == ["0.77"]
    assert _stale("We measured 0.77.", code="print('0.77')") == ["0.77"]
    assert _stale("Rings hold 39 %.", code="shares = (0.39, 0.86)") == []
    assert _stale("About 10 % of them.", code="split = 0.1") == ["10 %"]  # too common a literal to count
    assert _stale("A share of 0.60.", code="x = 0.6") == ["0.60"]  # not the same digits
    assert _stale("A rate of 0.001.", code="lr = 1e-3") == []


def test_the_running_time_line_of_the_first_cell_is_not_checked():
    nb = _notebook("Nothing here.")
    nb["cells"][0]["source"] = ("# T\n\n*Running time on 2 CPU cores (measured, `make execute`):* 1.1 min. "
                                "*Peak memory (full mode):* 1.6 GB.\n\nBut 2.5 is checked.")
    assert [n.text for n in unmatched(nb)] == ["2.5"]
