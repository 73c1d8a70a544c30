"""The flow imports neither Kivy nor httpx: by its source (AST) and at run time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FLOW = ROOT / "kiosk" / "flow"
FORBIDDEN = ("kivy", "httpx", "httpcore")


def _forbidden_imports(folder: Path) -> list[str]:
    bad = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module
                     else [])
            bad += [f"{path.relative_to(folder.parent.parent)}:{node.lineno} imports {name}"
                    for name in names if name.split(".")[0] in FORBIDDEN]
    return bad


def test_no_flow_module_imports_kivy_or_httpx() -> None:
    assert list(FLOW.rglob("*.py")) and _forbidden_imports(FLOW) == []


def test_the_scan_sees_a_forbidden_import(tmp_path: Path) -> None:
    (tmp_path / "kiosk" / "flow" / "identify").mkdir(parents=True)
    (tmp_path / "kiosk" / "flow" / "identify" / "qr.py").write_text(
        "def f():\n    from kivy.clock import Clock\n")
    assert _forbidden_imports(tmp_path / "kiosk" / "flow") == [
        "kiosk/flow/identify/qr.py:2 imports kivy.clock"]


def test_importing_the_flow_loads_neither_at_run_time() -> None:
    # Catches indirect imports too (a flow module importing a kiosk module that imports httpx).
    code = ("import sys, kiosk.flow, kiosk.flow.identify, kiosk.flow.journeys;"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(FORBIDDEN)!r}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
