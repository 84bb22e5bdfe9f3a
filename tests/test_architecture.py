"""The package layout stays as docs/ARCHITECTURE.md draws it.

* no module imports a private module (``_name``) of another subpackage — it imports the name the
  owning subpackage exports on purpose (its ``__init__``'s ``__all__``); the top-level private
  modules ``ttjax/_*.py`` are package-internal and may be imported from anywhere inside ``ttjax``;
* scripts and notebooks import public names only (no ``ttjax…._private`` module);
* no file in ``ttjax/`` is over 400 lines;
* ``ttjax.weights`` knows no architecture: nothing in it imports ``ttjax.models``;
* every subpackage ``__init__`` (and ``ttjax/__init__``) defines ``__all__`` and each name in it
  resolves.
"""

from __future__ import annotations

import ast
import importlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "ttjax"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(path: Path) -> str:
    """The package a file belongs to (``ttjax.ntk`` for ``ttjax/ntk/_driver.py`` and its init)."""
    return ".".join(path.relative_to(ROOT).parent.parts)


def _is_private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def _is_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imported_modules(tree: ast.AST, package: str | None) -> Iterator[tuple[int, str]]:
    """(line, dotted module) for each module an import statement reaches.

    ``from a.b import c`` reaches ``a.b`` and, when ``c`` is itself a module, ``a.b.c``.
    Relative imports are resolved against ``package``.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                assert package is not None, "relative import outside a package"
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                if module.startswith("ttjax") and _is_module(sub):
                    yield node.lineno, sub


def _private_parents(module: str) -> list[str]:
    """The package owning each private component of ``module`` (``ttjax.ntk`` for ``_layers``)."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i, part in enumerate(parts) if i and _is_private(part)]


def _may_import(package: str, module: str) -> bool:
    """Whether code in ``package`` may import ``module``: each private component of it belongs to
    ``package`` (or a package above it), or is a top-level ``ttjax._name``."""
    return all(
        owner == "ttjax" or package == owner or package.startswith(owner + ".")
        for owner in _private_parents(module)
    )


def _package_files() -> list[Path]:
    return sorted(PKG.rglob("*.py"))


def _notebook_cells() -> Iterator[tuple[str, str]]:
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        for i, cell in enumerate(cells):
            if cell.get("cell_type") == "code":
                source = "".join(cell["source"])
                # IPython magics and shell escapes are not Python
                lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
                yield f"{nb.relative_to(ROOT)}[cell {i}]", "\n".join(lines)


def test_no_private_import_across_subpackages() -> None:
    bad = []
    for path in _package_files():
        package = _package_of(path)
        for line, module in _imported_modules(ast.parse(path.read_text()), package):
            if module.startswith("ttjax") and not _may_import(package, module):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    assert not bad, "import the subpackage's exported name instead:\n" + "\n".join(bad)


def test_scripts_and_notebooks_use_public_names() -> None:
    files = sorted(ROOT.glob("scripts/*.py")) + sorted(ROOT.glob("notebooks/*.py"))
    sources = [(str(p.relative_to(ROOT)), p.read_text()) for p in files]
    sources += list(_notebook_cells())
    assert sources
    bad = []
    for where, text in sources:
        for line, module in _imported_modules(ast.parse(text), None):
            if module.startswith("ttjax") and _private_parents(module):
                bad.append(f"{where}:{line}: {module}")
    assert not bad, "scripts and notebooks import public names only:\n" + "\n".join(bad)


def test_no_file_over_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _package_files()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules (over {MAX_LINES} lines): {long}"


def test_weights_do_not_import_models() -> None:
    bad = []
    for path in sorted((PKG / "weights").rglob("*.py")):
        for line, module in _imported_modules(ast.parse(path.read_text()), _package_of(path)):
            if module == "ttjax.models" or module.startswith("ttjax.models."):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    assert not bad, "ttjax.weights must not know the architectures:\n" + "\n".join(bad)


def _packages() -> list[str]:
    return sorted(_module_name(p) for p in PKG.rglob("__init__.py"))


@pytest.mark.parametrize("package", _packages())
def test_every_package_lists_its_exports(package: str) -> None:
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{package}/__init__.py defines no __all__"
    assert len(set(exported)) == len(exported), f"{package}.__all__ repeats a name"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not define: {missing}"
