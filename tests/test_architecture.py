"""The import rule of ARCHITECTURE.md: notebooks -> helpers, by layers; tools -> helpers; benchmarks -> tools
and helpers; nothing but the tests imports benchmarks or tests; tools.grade_runner imports nothing of the
project; and no cycle among the modules of helpers, tools and benchmarks."""

import ast
import json

import pytest

from tools.course import ROOT, cell_source

PROJECT_PACKAGES = {"helpers", "benchmarks", "tests", "tools"}
GRAPH_PACKAGES = ("helpers", "tools", "benchmarks")  # their modules form the import graph checked for cycles
LAYERS = {  # the table in ARCHITECTURE.md
    0: {"config", "progress", "evaluate", "vae", "gif", "targets", "colab"},
    1: {"data", "training", "expect"},
    2: {"plots", "classifier", "checks"},
    3: {"explorer", "scoring"},
}
LAYER_OF = {module: layer for layer, modules in LAYERS.items() for module in modules}
MAY_IMPORT = {  # what a module of tools/ or benchmarks/ may import of the project (ARCHITECTURE.md)
    "tools": {"helpers", "tools"},
    "benchmarks": {"helpers", "tools", "benchmarks"},
}
IMPORTS_NOTHING_OF_THE_PROJECT = {"tools.grade_runner"}  # it runs in the grading sandbox, without the course


def module_sources() -> dict[str, str]:
    """The code of every module of helpers/, tools/ and benchmarks/, by dotted name (a package's __init__ by
    the package's)."""
    return {(package if path.stem == "__init__" else f"{package}.{path.stem}"): path.read_text()
            for package in GRAPH_PACKAGES for path in sorted((ROOT / package).glob("*.py"))}


PROJECT_MODULES = set(module_sources()) | {f"tests.{path.stem}" for path in (ROOT / "tests").glob("*.py")}


def imported_modules(source: str, package: str = "helpers", modules: set[str] = PROJECT_MODULES) -> set[str]:
    """Every module an import statement in `source` names (top-level and nested); `.x` is <package>.x.

    `from tools import admin` names tools and, admin being one of `modules`, tools.admin.
    """
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level > 0:  # a relative import inside the package
                module = package + (f".{module}" if module else "")
            names.add(module)
            submodules = (f"{module}.{alias.name}" for alias in node.names)
            names.update(name for name in submodules if name in modules)
    return names


def folder_violations(module: str, source: str) -> list[str]:
    """What `source`, the code of `module` (tools.x or benchmarks.x), imports of the project against the
    rule."""
    folder = module.split(".")[0]
    allowed = " and ".join(sorted(MAY_IMPORT[folder]))
    problems = []
    for name in sorted(imported_modules(source, folder)):
        if name.split(".")[0] not in PROJECT_PACKAGES:
            continue
        if module in IMPORTS_NOTHING_OF_THE_PROJECT:
            problems.append(f"{module} imports {name}: it runs in the grading sandbox, without the course")
        elif name.split(".")[0] not in MAY_IMPORT[folder]:
            problems.append(f"{module} imports {name}: a module of {folder}/ may import {allowed} only")
    return problems


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Module -> the other modules of `sources` it imports (lazy imports inside functions included)."""
    graph = {}
    for module, source in sources.items():
        graph[module] = set()
        for name in imported_modules(source, module.split(".")[0], set(sources)):
            parts = name.split(".")
            known = [".".join(parts[:n]) for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in sources]
            if known and known[0] != module:
                graph[module].add(known[0])  # the module itself, or the package it is in
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or through others (each group sorted)."""
    reach = {}
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph.get(module, ()))
        reach[start] = seen
    groups = {frozenset(other for other in reach[start] if start in reach[other])
              for start in graph if start in reach[start]}
    return sorted(sorted(group) for group in groups)


def layer_violations(module: str, source: str) -> list[str]:
    """What `source`, the code of helpers.<module>, imports against the rule."""
    problems = []
    for name in imported_modules(source):
        top, _, rest = name.partition(".")
        if top in PROJECT_PACKAGES - {"helpers"}:
            problems.append(f"helpers.{module} imports {name}")
        elif top == "helpers" and rest:
            other = rest.split(".")[0]
            if LAYER_OF.get(other, 99) >= LAYER_OF[module]:
                problems.append(f"helpers.{module} (layer {LAYER_OF[module]}) imports helpers.{other} "
                                f"(layer {LAYER_OF.get(other)}): only lower layers may be imported")
    return problems


def _notebook_source(path) -> str:
    cells = json.loads(path.read_text())["cells"]
    code = (cell_source(c) for c in cells if c["cell_type"] == "code")
    lines = (line for block in code for line in block.splitlines())
    return "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))  # no magics


def test_every_helpers_module_has_a_layer():
    modules = {p.stem for p in (ROOT / "helpers").glob("*.py") if p.stem != "__init__"}
    assert modules == set(LAYER_OF), "update LAYERS here and the table in ARCHITECTURE.md"


@pytest.mark.parametrize("module", sorted(LAYER_OF))
def test_helpers_import_only_lower_layers(module):
    assert layer_violations(module, (ROOT / "helpers" / f"{module}.py").read_text()) == []


def test_the_package_face_imports_only_helpers():
    imports = imported_modules((ROOT / "helpers" / "__init__.py").read_text())
    assert all(name.split(".")[0] not in PROJECT_PACKAGES - {"helpers"} for name in imports)


def test_the_layer_rule_catches_violations():
    assert layer_violations("config", "from helpers.data import load_mnist") != []  # upwards
    assert layer_violations("data", "from helpers.plots import tile") != []
    assert layer_violations("data", "from .plots import tile") != []  # relative
    assert layer_violations("plots", "def f():\n    from benchmarks.bench import run\n") != []
    allowed = "from helpers import seed_everything\nfrom helpers.data import IMAGE_SHAPE"
    assert layer_violations("plots", allowed) == []


def test_only_config_reads_the_course_environment_variables():
    for path in (ROOT / "helpers").glob("*.py"):
        if path.stem == "config":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.environ.get", "os.getenv"):
                args = [a.value for a in node.args if isinstance(a, ast.Constant)]
                assert not any(str(a).startswith("COURSE_") for a in args), (
                    f"{path.name}: {ast.unparse(node)}; read it through helpers.config")


@pytest.mark.parametrize("notebook", sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")))
def test_notebooks_import_only_helpers_of_this_project(notebook):
    imports = imported_modules(_notebook_source(ROOT / "notebooks" / notebook))
    own = {name for name in imports if name.split(".")[0] in PROJECT_PACKAGES}
    assert all(name.split(".")[0] == "helpers" for name in own), f"{notebook} imports {own}"
    assert any(name.startswith("helpers") for name in imports)


@pytest.mark.parametrize("module", sorted(m for m in module_sources() if m.split(".")[0] in MAY_IMPORT))
def test_tools_and_benchmarks_import_what_the_rule_allows(module):
    assert folder_violations(module, module_sources()[module]) == []


def test_the_folder_rule_catches_violations():
    assert folder_violations("tools.book", "from benchmarks.bench import run") != []  # tools -> benchmarks
    assert folder_violations("tools.book", "def f():\n    import tests.browsing\n") != []  # lazily, too
    assert folder_violations("benchmarks.bench", "from tests.browsing import serve") != []
    assert folder_violations("tools.grade_runner", "from helpers.checks import MIME") != []
    assert folder_violations("tools.grade_runner", "from tools import course") != []
    assert folder_violations("tools.grade_runner", "import json\nimport nbformat") == []
    allowed = ("from helpers.config import output_path\nfrom tools import course\n"
               "from tools.machine import free_port")
    assert folder_violations("benchmarks.bench", allowed) == []
    assert folder_violations("tools.book", allowed) == []


def test_no_module_of_the_project_imports_itself_back():
    assert import_cycles(import_graph(module_sources())) == []


def test_the_cycle_rule_catches_cycles_through_lazy_imports_and_other_modules():
    planted = {"benchmarks.bench": "from tools.course import ROOT\ndef f():\n    from benchmarks import cgan",
               "benchmarks.cgan": "from benchmarks.protocol import grid",
               "benchmarks.protocol": "from benchmarks.bench import run",
               "tools.course": "import json", "tools": "", "benchmarks": ""}
    cycle = ["benchmarks.bench", "benchmarks.cgan", "benchmarks.protocol"]
    assert import_cycles(import_graph(planted)) == [cycle]
    planted["benchmarks.protocol"] = "from tools.course import ROOT"
    assert import_cycles(import_graph(planted)) == []


def test_students_install_only_helpers():
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setup["packages"] == ["helpers"]  # tools/ and benchmarks/ are run from a checkout
    for path in (ROOT / "helpers").glob("*.py"):
        assert not any(n.split(".")[0] == "tools" for n in imported_modules(path.read_text())), path
