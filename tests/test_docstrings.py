"""Public functions document every parameter and what they return (numpydoc).

ruff's ``D`` rules check that docstrings exist and are laid out in the numpy convention; they
do not check that a ``Parameters`` section names every argument or that a ``Returns`` section
exists. This test does, from the source (AST), so decorators (Prefect tasks and flows) and
optional imports do not hide a function:

- every public function and public method (name without a leading ``_``, in a public class) with
  arguments besides ``self``/``cls`` has a ``Parameters`` section that names each of them, each
  entry followed by an indented description;
- every one whose return annotation is not ``None`` has a ``Returns`` (or ``Yields``) section;
- properties, ``@overload`` stubs and ``__dunder__`` methods are exempt (the attribute or the
  class docstring documents them).

Units are the reviewer's part: a parameter or return that is a physical quantity says its unit
(nT, km/s, nPa, hours, UTC).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("data_sources", "forecasting", "flows", "dashboards", "superstorm_cli")
#: checked units: a file belongs to the longest of these that holds it
UNITS = (
    "data_sources",
    "forecasting",
    "forecasting/models",
    "forecasting/verification",
    "forecasting/evaluation",
    "forecasting/alerting",
    "forecasting/products",
    "flows",
    "dashboards",
    "superstorm_cli",
)
EXEMPT_DECORATORS = {"property", "cached_property", "overload", "setter", "deleter"}
NO_RETURN = {"None", "NoReturn", "Never"}
_HEADER = re.compile(r"^(\w[\w ]*)\n-{3,}$", re.M)
_ENTRY = re.compile(r"^(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::.*)?$")

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def _decorator_names(node: FunctionNode) -> set[str]:
    names = set()
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if isinstance(target, ast.Attribute):
            names.add(target.attr)
        elif isinstance(target, ast.Name):
            names.add(target.id)
    return names


def unit_of(path: Path) -> str:
    """The checked unit (see :data:`UNITS`) that holds ``path``."""
    rel = path.relative_to(ROOT).parent.as_posix()
    return max((u for u in UNITS if rel == u or rel.startswith(u + "/")), key=len)


def public_functions(unit: str) -> Iterator[tuple[Path, str, FunctionNode]]:
    """Every public module-level function and public-class method of ``unit``'s files."""
    top = unit.split("/")[0]
    for path in sorted((ROOT / top).rglob("*.py")):
        if unit_of(path) != unit:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        yield from _walk(path, tree.body, "")


def _walk(
    path: Path, body: list[ast.stmt], prefix: str
) -> Iterator[tuple[Path, str, FunctionNode]]:
    for node in body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            yield from _walk(path, node.body, f"{prefix}{node.name}.")
        elif isinstance(node, FunctionNode) and not node.name.startswith("_"):
            if not _decorator_names(node) & EXEMPT_DECORATORS:
                yield path, prefix + node.name, node


def sections(doc: str) -> dict[str, str]:
    """numpydoc sections of a docstring: header -> body text."""
    found = list(_HEADER.finditer(doc))
    out = {}
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(doc)
        out[m.group(1).strip()] = doc[m.end() : end]
    return out


def documented_names(body: str) -> set[str]:
    """Parameter names listed in a ``Parameters`` section that have a description."""
    names: set[str] = set()
    lines = body.strip("\n").splitlines()
    for i, line in enumerate(lines):
        if not line or line[0].isspace():
            continue
        m = _ENTRY.match(line.strip())
        described = i + 1 < len(lines) and lines[i + 1][:1].isspace() and lines[i + 1].strip()
        if m and described:
            names.update(n.strip().lstrip("*") for n in m.group(1).split(","))
    return names


def arguments(node: FunctionNode) -> list[str]:
    """Argument names a caller passes (without ``self``/``cls``)."""
    a = node.args
    names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
    names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
    return [n for n in names if n not in ("self", "cls")]


def returns_value(node: FunctionNode) -> bool:
    """Whether the annotated return is something other than ``None``."""
    r = node.returns
    if r is None:
        return False
    text = ast.unparse(r).strip("'\"")
    return text.split(".")[-1] not in NO_RETURN


def problems(node: FunctionNode) -> list[str]:
    """What the docstring of ``node`` lacks, in words (empty: complete)."""
    doc = ast.get_docstring(node)
    if not doc:
        return ["no docstring"]
    parts = sections(doc)
    out = []
    args = arguments(node)
    if args:
        missing = [n for n in args if n not in documented_names(parts.get("Parameters", ""))]
        if missing:
            out.append("Parameters lacks " + ", ".join(missing))
    if returns_value(node) and not ({"Returns", "Yields"} & parts.keys()):
        out.append("no Returns section")
    return out


@pytest.mark.parametrize("unit", UNITS)
def test_public_functions_document_parameters_and_returns(unit: str) -> None:
    bad = []
    for path, name, node in public_functions(unit):
        for p in problems(node):
            bad.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}: {p}")
    assert not bad, f"{len(bad)} docstring gaps in {unit}/:\n" + "\n".join(bad)


def test_every_production_file_is_checked() -> None:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    assert files and all(unit_of(p) in UNITS for p in files)


def test_checker_sees_gaps() -> None:
    src = '''
def f(dst: float, lead_time: int) -> float:
    """Dst.

    Parameters
    ----------
    dst : float
        Dst [nT].
    lead_time
    """
'''
    node = ast.parse(src).body[0]
    assert isinstance(node, ast.FunctionDef)
    assert problems(node) == ["Parameters lacks lead_time", "no Returns section"]
    good = src.replace("    lead_time\n", "    lead_time : int\n        Hours ahead.\n")
    good = good.replace(
        '    """\n', '\n    Returns\n    -------\n    float\n        Dst [nT].\n    """\n'
    )
    node = ast.parse(good).body[0]
    assert isinstance(node, ast.FunctionDef)
    assert problems(node) == []
