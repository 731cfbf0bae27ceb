"""The architecture as tests: the import boundaries of docs/architecture.md §2, and its module map
kept true to the tree.

Pure filesystem and ``ast``: this module imports nothing of the project, so it runs in about a
second, even while the package does not import (``pytest --noconftest`` skips the shared
fixtures, which do import it).

Boundaries (every import statement counts, wherever it is: module level, inside a function, or
under ``if TYPE_CHECKING:``, because each is a dependency someone has to keep working):

1. only ``pixie_assets/defs/`` (and ``pixie_assets/demo.py``, ``pixie_assets/definitions.py``)
   imports ``dagster`` or a ``dagster_*`` library;
2. ``pixie_assets/training/`` and ``pixie_assets/serving/`` never import ``pixie_assets.world``
   (the world drives them, not the reverse);
3. ``pixie_assets/core/`` imports no other package of ``pixie_assets``.

Module map: in docs/architecture.md, between ``<!-- module-map:start -->`` and
``<!-- module-map:end -->``, every backticked token that ends in ``.py`` or ``/`` is a path
relative to ``pixie_assets/``. Every package directory and module of the tree (``__init__.py``
and ``__pycache__`` aside) must be named there, and every path named there must exist.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "pixie_assets"
DOC = Path("docs") / "architecture.md"
MAP_START = "<!-- module-map:start -->"
MAP_END = "<!-- module-map:end -->"

# Where Dagster may be imported, relative to pixie_assets/ (a trailing / means a whole folder).
DAGSTER_ALLOWED = ("defs/", "demo.py", "definitions.py")
WORLD_FREE = ("training/", "serving/")
CORE = "core/"
DISTRIBUTED = "distributed/"


@dataclass(frozen=True)
class Import:
    """One import statement (one alias of an ``import a, b``), its module resolved to an
    absolute dotted name."""

    path: Path  # relative to the repository root
    line: int
    module: str
    names: tuple[str, ...] = ()  # what ``from module import ...`` takes from it

    def targets(self) -> list[str]:
        """What the statement may load: the module, and for ``from pkg import name`` also
        ``pkg.name`` (it may be a submodule: ``from pixie_assets import world``)."""
        return [self.module, *(f"{self.module}.{n}" for n in self.names if n != "*")]


def _modules(root: Path) -> list[Path]:
    """Every .py file of the package under ``root``, relative to ``root``."""
    return sorted(
        p.relative_to(root)
        for p in (root / PACKAGE).rglob("*.py")
        if "__pycache__" not in p.relative_to(root).parts
    )


def imports_of(root: Path, path: Path) -> list[Import]:
    """Every import statement of ``path``, anywhere in it, relative imports resolved."""
    tree = ast.parse((root / path).read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(Import(path, node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                # relative to the module's own package: pixie_assets/training/fit.py and
                # pixie_assets/training/__init__.py both start from pixie_assets.training
                package = path.parent.parts
                up = node.level - 1
                if up < len(package):
                    module = ".".join([*package[: len(package) - up], *module.split(".")])
                    module = module.rstrip(".")
                else:  # beyond the top: Python refuses it; keep it visible, matching nothing
                    module = "." * node.level + module
            names = tuple(alias.name for alias in node.names)
            found.append(Import(path, node.lineno, module, names))
    return found


def _inside(path: Path, places: tuple[str, ...]) -> bool:
    """Whether ``path`` (relative to the repository root) is one of ``places`` (relative to
    pixie_assets/; a trailing / names a folder and everything below it)."""
    inner = path.relative_to(PACKAGE).as_posix()
    return any(inner.startswith(p) if p.endswith("/") else inner == p for p in places)


def _is_dagster(module: str) -> bool:
    top = module.split(".")[0]
    return top == "dagster" or top.startswith("dagster_")


def _project_package(module: str) -> str | None:
    """The first-level package of a ``pixie_assets`` import (``world`` for
    ``pixie_assets.world.simulator``); None for other libraries and the bare root."""
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) < 2:
        return None
    return parts[1]


def _first(imp: Import, wanted) -> str | None:
    return next((t for t in imp.targets() if wanted(t)), None)


def boundary_violations(root: Path) -> dict[str, list[str]]:
    """Violations of each boundary, one line per offending statement: ``file:line: imports m``."""
    out: dict[str, list[str]] = {"dagster": [], "world": [], "core": [], "distributed": []}
    rules = {
        "dagster": (lambda p: not _inside(p, DAGSTER_ALLOWED), _is_dagster),
        "world": (lambda p: _inside(p, WORLD_FREE), lambda m: _project_package(m) == "world"),
        "core": (
            lambda p: _inside(p, (CORE,)),
            lambda m: _project_package(m) not in (None, "core"),
        ),
        "distributed": (
            lambda p: _inside(p, (DISTRIBUTED,)),
            lambda m: _project_package(m) not in (None, "core", "distributed"),
        ),
    }
    for path in _modules(root):
        for imp in imports_of(root, path):
            for rule, (applies, forbidden) in rules.items():
                if applies(path) and (module := _first(imp, forbidden)):
                    out[rule].append(f"{path.as_posix()}:{imp.line}: imports {module}")
    return out


def _report(lines: list[str], rule: str) -> str:
    return f"{rule} ({len(lines)} import(s)):\n" + "\n".join(f"  {line}" for line in lines)


# --- the module map --------------------------------------------------------------------------

_PATH_TOKEN = re.compile(r"`([A-Za-z0-9_][A-Za-z0-9_./]*(?:\.py|/))`")


def module_map_text(doc: str) -> str:
    start, end = doc.find(MAP_START), doc.find(MAP_END)
    if start < 0 or end < start:
        raise AssertionError(
            f"{DOC} has no module map between {MAP_START!r} and {MAP_END!r} (section 2)"
        )
    return doc[start + len(MAP_START) : end]


def named_paths(map_text: str) -> set[str]:
    """The paths (relative to pixie_assets/) the module map names."""
    return set(_PATH_TOKEN.findall(map_text))


def tree_paths(root: Path) -> set[str]:
    """Package folders (``landing/``) and modules (``landing/layout.py``) under pixie_assets/,
    relative to it, ``__init__.py`` and ``__pycache__`` aside."""
    out: set[str] = set()
    for path in _modules(root):
        inner = path.relative_to(PACKAGE)
        if inner.name != "__init__.py":
            out.add(inner.as_posix())
        out.update(f"{parent.as_posix()}/" for parent in inner.parents if parent != Path("."))
    return out


def module_map_problems(root: Path, doc: str) -> tuple[list[str], list[str]]:
    """(tree paths the map does not name, map paths that do not exist)."""
    named = named_paths(module_map_text(doc))
    present = tree_paths(root)
    unnamed = sorted(present - named)
    base = root / PACKAGE
    missing = sorted(
        p for p in named if not ((base / p).is_dir() if p.endswith("/") else (base / p).is_file())
    )
    return unnamed, missing


# --- the tests -------------------------------------------------------------------------------


def test_only_defs_import_dagster():
    found = boundary_violations(REPO)["dagster"]
    assert not found, _report(
        found,
        "Dagster is imported outside pixie_assets/defs/ (only defs/, demo.py and definitions.py "
        "may: domain code stays Dagster-free; docs/architecture.md §2)",
    )


def test_training_and_serving_never_import_world():
    found = boundary_violations(REPO)["world"]
    assert not found, _report(
        found,
        "pixie_assets/training/ or pixie_assets/serving/ imports pixie_assets.world (the world "
        "drives training and serving, never the reverse; move the code into world/, e.g. "
        "world/counterfactual.py; docs/architecture.md §2)",
    )


def test_core_imports_no_other_project_package():
    found = boundary_violations(REPO)["core"]
    assert not found, _report(
        found,
        "pixie_assets/core/ imports another pixie_assets package (core is the bottom layer: "
        "every package may import it, it imports none of them; docs/architecture.md §2)",
    )


def test_distributed_imports_only_core():
    found = boundary_violations(REPO)["distributed"]
    assert not found, _report(
        found,
        "pixie_assets/distributed/ imports a project package other than core (it runs any "
        "package's tasks and depends on none of them; docs/architecture.md §2)",
    )


def _doc_text() -> str:
    path = REPO / DOC
    assert path.is_file(), f"{DOC} is missing: it holds the module map these tests check"
    return path.read_text(encoding="utf-8")


def test_module_map_names_every_package_and_module():
    unnamed, _ = module_map_problems(REPO, _doc_text())
    assert not unnamed, (
        f"{DOC}'s module map (section 2) does not name these parts of pixie_assets/; add one "
        "line each, as a backticked path relative to pixie_assets/ (e.g. `landing/validate.py`):\n"
        + "\n".join(f"  {p}" for p in unnamed)
    )


def test_module_map_names_only_paths_that_exist():
    _, missing = module_map_problems(REPO, _doc_text())
    assert not missing, (
        f"{DOC}'s module map (section 2) names paths that are not in pixie_assets/ (renamed or "
        "removed? update the map):\n" + "\n".join(f"  {p}" for p in missing)
    )


# --- the checkers themselves, on trees written here ------------------------------------------


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


CLEAN_TREE = {
    "pixie_assets/__init__.py": "",
    "pixie_assets/definitions.py": "import dagster as dg\nfrom pixie_assets.defs import jobs\n",
    "pixie_assets/demo.py": "from dagster import DagsterInstance\n",
    "pixie_assets/core/__init__.py": "",
    "pixie_assets/core/settings.py": "import os\nfrom pixie_assets.core import files\n",
    "pixie_assets/core/files.py": "from . import settings\n",
    "pixie_assets/defs/__init__.py": "",
    "pixie_assets/defs/jobs.py": "import dagster\nimport dagster_duckdb\nfrom ..world import sim\n",
    "pixie_assets/defs/assets/__init__.py": "",
    "pixie_assets/defs/assets/world.py": "import dagster as dg\n",
    "pixie_assets/training/__init__.py": "",
    "pixie_assets/training/evaluation.py": (
        "from pixie_assets.core import settings\nfrom pixie_assets.serving import funnel\n"
        "def later():\n    from pixie_assets.training import metrics\n"
    ),
    "pixie_assets/serving/__init__.py": "",
    "pixie_assets/serving/funnel.py": "import numpy as np\nfrom . import funnel\n",
    "pixie_assets/world/__init__.py": "",
    "pixie_assets/world/counterfactual.py": (
        "from pixie_assets.training import evaluation\nfrom pixie_assets.serving import funnel\n"
    ),
}


def test_boundary_checker_passes_a_tree_that_keeps_the_rules(tmp_path):
    root = _write(tmp_path, CLEAN_TREE)
    assert boundary_violations(root) == {"dagster": [], "world": [], "core": [], "distributed": []}


@pytest.mark.parametrize(
    ("name", "text", "rule", "expected"),
    [
        ("world/simulator.py", "import dagster as dg\n", "dagster", "imports dagster"),
        ("graph/walks.py", "from dagster_duckdb import X\n", "dagster", "imports dagster_duckdb"),
        ("landing/validate.py", "def f():\n    import dagster\n", "dagster", ":2: imports"),
        (
            "training/evaluation.py",
            "from pixie_assets.world.simulator import run\n",
            "world",
            "training/evaluation.py:1: imports pixie_assets.world.simulator",
        ),
        ("serving/pipeline.py", "from pixie_assets import world\n", "world", "pixie_assets.world"),
        ("training/fit.py", "from ..world import truth\n", "world", "pixie_assets.world"),
        (
            "serving/scoring.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    import pixie_assets.world.truth\n",
            "world",
            "serving/scoring.py:3",
        ),
        (
            "core/sql.py",
            "from pixie_assets.landing import layout\n",
            "core",
            "pixie_assets.landing",
        ),
        ("core/quality.py", "from ..graph import csr\n", "core", "pixie_assets.graph"),
        ("distributed/shards.py", "from pixie_assets import graph\n", "distributed", "graph"),
    ],
)
def test_boundary_checker_names_file_line_and_import(tmp_path, name, text, rule, expected):
    root = _write(tmp_path, {**CLEAN_TREE, f"pixie_assets/{name}": text})
    found = boundary_violations(root)
    assert len(found[rule]) == 1, found
    assert found[rule][0].startswith(f"pixie_assets/{name}:")
    assert expected in found[rule][0]
    assert all(not lines for other, lines in found.items() if other != rule), found


def test_module_map_checker(tmp_path):
    root = _write(tmp_path, CLEAN_TREE)
    (root / PACKAGE / "core" / "__pycache__").mkdir()
    (root / PACKAGE / "core" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")
    every = sorted(tree_paths(root))
    assert "core/" in every and "defs/assets/" in every and "definitions.py" in every
    assert not any("__init__" in p or "__pycache__" in p for p in every)
    good = "\n".join(["# x", "", MAP_START, *(f"- `{p}` — what it owns" for p in every), MAP_END])
    assert module_map_problems(root, good) == ([], [])

    stale = good.replace("`world/counterfactual.py`", "`world/simulator.py`")
    assert module_map_problems(root, stale) == (["world/counterfactual.py"], ["world/simulator.py"])
    # only the map counts: a path named elsewhere in the document is neither required nor checked
    after = good.replace("- `core/settings.py` — what it owns\n", "") + "\n`core/settings.py`"
    assert module_map_problems(root, after) == (["core/settings.py"], [])
    assert module_map_problems(root, good + "\n`gone/old.py`") == ([], [])
    with pytest.raises(AssertionError, match="no module map"):
        module_map_problems(root, "# no markers")
