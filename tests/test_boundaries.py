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
    # drivers.face: the second judgement of a certification's evidence (GB/T 38671) runs the
    # kiosk's own face engine again, away from the terminal; no other driver.
    "edge_server": ("webapi", "common", "drivers.face"),
    "fleet": ("webapi", "common"),
    "provisioning": ("fleet.protocol", "common"),
    # Simulators speak device-side protocols; they may use the fleet's wire protocol, never the
    # kiosk's internals, the drivers they exist to test, or the edge server.
    # The fleet simulator runs the agent's I/O-free core (fleet.agent.core), the update
    # phases' pure state and resume table (fleet.agent.update.state) and the phase machine
    # itself (fleet.agent.update.machine), nothing else of it.
    "simulators": ("fleet.protocol", "fleet.agent.core", "fleet.agent.update.state",
                   "fleet.agent.update.machine", "webapi", "common"),
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


# One home for each shared helper (docs/architecture.md, "common/"): a second definition of one of
# these names anywhere else is a copy that will drift.
ONE_HOME: dict[str, str] = {
    "utc_now": "common/clock.py",
    "iso_utc": "common/clock.py",
    "china_now": "common/clock.py",
    "Deadline": "common/clock.py",
    "Backoff": "common/backoff.py",
    "UtcDateTime": "common/sqlite.py",
    "UTCDateTime": "common/sqlite.py",
    "make_engine": "common/sqlite.py",
    "write_atomically": "common/files.py",
    "create_once": "common/files.py",
    "device_token": "common/device_token.py",
    "DEVICE_ID_PATTERN": "common/device_id.py",
    "__version__": "common/version.py",
    "install_problem_handlers": "webapi/problems.py",
}
SOURCE_PACKAGES = sorted(OURS - {"tests"})


def _definitions(path: Path) -> list[tuple[int, str]]:
    """Names a module defines: top-level functions, classes and assignments, and methods."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.append((node.lineno, node.name))
        elif isinstance(node, ast.Assign):
            found += [(node.lineno, t.id) for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found.append((node.lineno, node.target.id))
        if isinstance(node, ast.ClassDef):
            # Methods, not fields: a settings field may be named like a helper it holds the
            # output of (`device_token` is a kiosk's credential, not the token function).
            found += [
                (n.lineno, n.name) for n in node.body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            ]
    return found


def _second_homes(root: Path = ROOT) -> list[str]:
    bad = []
    for package in SOURCE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            for lineno, name in _definitions(path):
                home = ONE_HOME.get(name)
                if home is not None and rel != home:
                    bad.append(f"{rel}:{lineno} defines {name} (its home is {home})")
    return bad


def test_shared_helpers_have_one_home():
    assert _second_homes() == []


def test_the_one_home_check_sees_a_copy(tmp_path):
    (tmp_path / "fleet").mkdir()
    (tmp_path / "fleet" / "x.py").write_text("class Backoff:\n    pass\n")
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "backoff.py").write_text("class Backoff:\n    pass\n")
    assert _second_homes(tmp_path) == [
        "fleet/x.py:1 defines Backoff (its home is common/backoff.py)"
    ]


def test_the_device_id_rule_is_written_once():
    # Catches copies under any name (`DEVICE_ID = re.compile(...)`), not only DEVICE_ID_PATTERN.
    rule = "[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
    copies = [
        path.relative_to(ROOT).as_posix()
        for package in SOURCE_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if rule in path.read_text()
    ]
    assert copies == ["common/device_id.py"]


# Finer rules inside the parts: module prefix -> what it must never import (ours or third-party),
# each for a reason a reader can check.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # The flow runs without a window and without a network: tests drive it with fakes.
    "kiosk.flow": ("kivy", "httpx", "kiosk.ui", "kiosk.edge.client", "kiosk.peripherals",
                   "smartcard"),
    # Screens render views and send taps; they never talk to the edge or the devices.
    "kiosk.ui.screens": ("httpx", "kiosk.edge.client", "smartcard", "drivers.card.pcsc"),
    # Drivers are usable without the kiosk's toolkit.
    "drivers": ("kivy", "httpx", "fastapi"),
    # The I/O-free cores: no sockets, no clients, no clocks of their own.
    "fleet.protocol": ("paho", "httpx", "psutil", "fastapi", "sqlalchemy", "sqlmodel",
                       "fleet.agent", "fleet.manager", "fleet.mqtt"),
    "fleet.agent.core": ("paho", "httpx", "psutil", "fleet.mqtt", "fleet.agent.service",
                         "fleet.agent.transport", "fleet.agent.health", "fleet.agent.state"),
    # Agent and manager share only the protocol (and the MQTT client).
    "fleet.agent": ("fleet.manager", "fastapi", "sqlalchemy", "sqlmodel"),
    "fleet.manager": ("fleet.agent",),
    # The manager's service never depends on its REST layer (no api <-> service circle).
    "fleet.manager.service": ("fleet.manager.api", "fleet.manager.server"),
    "fleet.manager.registry": ("fleet.manager.api", "paho"),
    # The central client is a client: it knows nothing of the edge's routes or tables.
    "edge_server.central": ("edge_server.routers", "edge_server.models", "edge_server.services"),
    # Servers never load the terminal's stack.
    "edge_server": ("kivy", "smartcard", "dlib", "face_recognition", "paho"),
    "common": ("fastapi", "starlette", "uvicorn", "kivy", "smartcard"),
}


def _forbidden_imports(prefix: str, root: Path = ROOT) -> list[str]:
    base = root.joinpath(*prefix.split("."))
    paths = sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]
    bad = []
    for path in paths:
        if not path.exists():
            continue
        for lineno, module in _imports(path):
            if any(module == f or module.startswith(f + ".") for f in FORBIDDEN[prefix]):
                bad.append(f"{path.relative_to(root)}:{lineno} imports {module}")
    return bad


@pytest.mark.parametrize("prefix", sorted(FORBIDDEN))
def test_finer_rules_inside_the_parts(prefix):
    assert (ROOT.joinpath(*prefix.split("."))).exists() or (
        ROOT.joinpath(*prefix.split(".")).with_suffix(".py").exists()
    ), f"{prefix} names no module: update FORBIDDEN"
    assert _forbidden_imports(prefix) == []


def test_the_finer_checker_sees_lazy_imports_too(tmp_path):
    (tmp_path / "kiosk" / "flow").mkdir(parents=True)
    (tmp_path / "kiosk" / "flow" / "x.py").write_text("def f():\n    import kivy.clock\n")
    assert _forbidden_imports("kiosk.flow", tmp_path) == ["kiosk/flow/x.py:2 imports kivy.clock"]
