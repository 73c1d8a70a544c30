"""The architecture's folder boundaries, enforced: who may import whom (docs/architecture.md)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"common", "webapi", "drivers", "kiosk", "edge_server", "fleet", "provisioning",
        "simulators",
        "kioskctl", "benchmarks", "tests"}

# package -> module prefixes of ours it may import (itself always allowed)
ALLOWED: dict[str, tuple[str, ...]] = {
    "common": (),
    # FastAPI adapters shared by our servers (problem+json); a leaf over common.
    "webapi": ("common",),
    "drivers": ("common",),
    "kiosk": ("drivers", "common"),
    "edge_server": ("webapi", "common"),
    "fleet": ("webapi", "common"),
    "provisioning": ("fleet.protocol", "common"),
    # Simulators speak device-side protocols; they may use the fleet's wire protocol, never the
    # kiosk's internals, the drivers they exist to test, or the edge server.
    "simulators": ("fleet.protocol", "webapi", "common"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _violations(package: str, root: Path = ROOT) -> list[str]:
    allowed = (package, *ALLOWED[package])
    bad = []
    for path in sorted((root / package).rglob("*.py")):
        for lineno, module in _imports(path):
            top = module.split(".")[0]
            if top not in OURS:
                continue
            if not any(module == a or module.startswith(a + ".") for a in allowed):
                bad.append(f"{path.relative_to(root)}:{lineno} imports {module}")
    return bad


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_the_design_allows(package):
    assert _violations(package) == []


def test_the_checker_sees_a_violation(tmp_path):
    (tmp_path / "drivers").mkdir()
    (tmp_path / "drivers" / "bad.py").write_text("from kiosk.flow import x\nimport common\n")
    assert _violations("drivers", tmp_path) == ["drivers/bad.py:1 imports kiosk.flow"]
