"""The rooms' import rules: ``tapjax.common`` imports neither project; ``tapjax.tap`` and
``tapjax.al`` never import each other (docs/architecture.md)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tapjax"
ROOMS = ("common", "tap", "al")
FORBIDDEN = {"common": {"tap", "al"}, "tap": {"al"}, "al": {"tap"}}
FRONT_DOOR = {"recognize.py", "evaluate.py"}  # python -m tapjax.recognize / tapjax.evaluate (architecture.md)


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports (``import a.b``, ``from a.b import c`` as ``a.b`` and ``a.b.c``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "tapjax" and parts[1] in ROOMS else None


def violations(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        room = path.relative_to(package).parts[0]
        for module in imported_modules(path):
            if room_of(module) in FORBIDDEN.get(room, ()):
                found.append(f"{path.relative_to(package.parent)} imports {module}")
    return found


def test_every_module_lives_in_a_room():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name not in {"__init__.py", *FRONT_DOOR}]
    assert not loose and {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(ROOMS)


@pytest.mark.parametrize("name", sorted(FRONT_DOOR))
def test_the_front_door_only_calls_its_command(name):
    """``tapjax/recognize.py`` imports ``main`` from ``tapjax.tap.recognize`` and nothing else of tapjax."""
    stem = name.removesuffix(".py")
    ours = {m for m in imported_modules(PACKAGE / name) if m.startswith("tapjax")}
    assert ours == {f"tapjax.tap.{stem}", f"tapjax.tap.{stem}.main"}


def test_no_room_imports_what_it_may_not():
    assert violations(PACKAGE) == []


def test_no_two_modules_share_a_name():
    names = [p.stem for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" and p.parent != PACKAGE]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("room, imports, bad", [
    ("common", "from tapjax.tap import model", True),
    ("common", "import tapjax.al.loop", True),
    ("tap", "from tapjax.al.taggers import BiLSTMTagger", True),
    ("al", "from tapjax import tap", True),
    ("al", "from tapjax.common import sharding", False),
])
def test_the_check_catches_a_forbidden_import(tmp_path, room, imports, bad):
    (tmp_path / room).mkdir()
    (tmp_path / room / "module.py").write_text(imports + "\n")
    assert bool(violations(tmp_path)) == bad
