"""The manager's layering: the REST API uses the service, never the other way round (no
api <-> service import circle); only `server.py` joins them."""

from __future__ import annotations

import ast
from pathlib import Path

MANAGER = Path(__file__).resolve().parents[3] / "fleet" / "manager"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _outside_api_importing_it(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] == "api" or rel.name == "server.py":
            continue
        if any(n == "fleet.manager.api" or n.startswith("fleet.manager.api.")
               for n in _imports(path)):
            found.append(str(rel))
    return found


def test_nothing_below_the_api_imports_it() -> None:
    assert _outside_api_importing_it(MANAGER) == []


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    (tmp_path / "service.py").write_text("from fleet.manager.api import create_app\n")
    assert _outside_api_importing_it(tmp_path) == ["service.py"]


def test_routes_are_modules_not_closures() -> None:
    init = (MANAGER / "api" / "__init__.py").read_text()
    assert "@app.get" not in init and "@app.post" not in init
    routes = sorted(p.stem for p in (MANAGER / "api" / "routes").glob("*.py"))
    assert routes == ["__init__", "commands", "devices", "health", "metrics", "rollouts"]
