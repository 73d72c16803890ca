"""The import rule of ARCHITECTURE.md: notebooks -> helpers -> nothing of this project above it."""

import ast
import json

import pytest

from helpers.config import project_root

ROOT = project_root()
PROJECT_PACKAGES = {"helpers", "benchmarks", "tests", "tools"}
LAYERS = {  # the table in ARCHITECTURE.md
    0: {"config", "progress", "evaluate", "vae", "gif", "targets", "colab"},
    1: {"data", "training", "expect"},
    2: {"plots", "classifier", "checks"},
    3: {"explorer", "scoring"},
}
LAYER_OF = {module: layer for layer, modules in LAYERS.items() for module in modules}


def imported_modules(source: str) -> set[str]:
    """Every module an import statement in `source` names (top-level and nested); `.x` is helpers.x."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level > 0:  # a relative import inside the package
                module = "helpers" + (f".{module}" if module else "")
            names.add(module)
            if module == "helpers":  # from helpers import config: a module, if there is one by that name
                names.update(f"helpers.{alias.name}" for alias in node.names if alias.name in LAYER_OF)
    return names


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
    code = ("".join(c["source"]) for c in cells if c["cell_type"] == "code")
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


def test_benchmarks_do_not_import_tests():
    for path in (ROOT / "benchmarks").glob("*.py"):
        imports = imported_modules(path.read_text())
        assert not any(name.split(".")[0] == "tests" for name in imports), path


def test_students_install_only_helpers():
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setup["packages"] == ["helpers"]  # tools/ and benchmarks/ are run from a checkout
    for path in (ROOT / "helpers").glob("*.py"):
        assert not any(n.split(".")[0] == "tools" for n in imported_modules(path.read_text())), path
