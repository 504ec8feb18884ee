"""The import-layer contract: data_sources < forecasting < dashboards < flows < superstorm_cli.

Every module's imports (also those inside functions) are parsed with :mod:`ast`; a package
may import its own layer and the layers below, never one above. First-party code is never
imported by string (``importlib.import_module("data_sources.x")``, ``__import__``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("data_sources", "forecasting", "dashboards", "flows", "superstorm_cli")
RANK = {name: i for i, name in enumerate(LAYERS)}


def _modules() -> list[Path]:
    return sorted(p for layer in LAYERS for p in (ROOT / layer).rglob("*.py"))


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def _string_imports(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        if name not in ("import_module", "__import__"):
            continue
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            if arg.value.split(".")[0] in RANK:
                out.append((node.lineno, arg.value))
        else:
            out.append((node.lineno, ast.unparse(arg)))  # a computed name can be first-party
    return out


def test_there_are_modules_to_check():
    assert len(_modules()) > 50


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_only_its_layer_and_below(path):
    own = path.relative_to(ROOT).parts[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    above = [
        f"line {line}: {mod}"
        for line, mod in _imports(tree)
        if mod.split(".")[0] in RANK and RANK[mod.split(".")[0]] > RANK[own]
    ]
    assert not above, f"{path.relative_to(ROOT)} ({own}) imports a higher layer: {above}"
    strings = [f"line {line}: {mod}" for line, mod in _string_imports(tree)]
    assert not strings, f"{path.relative_to(ROOT)} imports first-party code by string: {strings}"


def test_the_checker_sees_a_violation():
    bad = ast.parse(
        "def f():\n    from flows import forecast\n    importlib.import_module('forecasting.x')\n"
    )
    assert _imports(bad) == [(2, "flows")]
    assert _string_imports(bad) == [(3, "forecasting.x")]
