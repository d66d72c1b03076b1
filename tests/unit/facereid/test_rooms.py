"""The rooms stay a one-way street (issue 26): no two modules import each other, and no two
rooms (``facereid.<room>``) do, counting imports inside functions too."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "facereid"


def module_imports() -> dict[str, set[str]]:
    modules: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("facereid"):
                module = str(node.module)
                found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("facereid")}
        modules[name] = found
    return {m: {d for d in deps if d in modules and d != m} for m, deps in modules.items()}


def room(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_two_modules_import_each_other() -> None:
    imports = module_imports()
    assert len(imports) > 50  # the whole package was read
    circles = [
        (a, b) for a, b in itertools.combinations(imports, 2) if b in imports[a] and a in imports[b]
    ]
    assert circles == []


def test_no_two_rooms_import_each_other() -> None:
    doors: dict[str, set[str]] = {}
    for module, deps in module_imports().items():
        for dep in deps:
            if room(module) != room(dep):
                doors.setdefault(room(module), set()).add(room(dep))
    assert "facereid.wire" in doors["facereid.gallery"]  # the scan sees the doors
    circles = [
        (a, b)
        for a, b in itertools.combinations(doors, 2)
        if b in doors[a] and a in doors.get(b, set())
    ]
    assert circles == []
