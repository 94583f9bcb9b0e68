"""The house's import rules (docs/architecture.md): ``tapjax.common`` imports neither project;
``tapjax.tap`` and ``tapjax.al`` never import each other; inside ``tapjax.tap`` the sub-rooms
stand in layers (``ink`` < ``nets`` < ``read`` < ``fit``), each importing only its own and
lower layers; ``tapjax.cli`` sits on top and nothing below imports it; no import cycle."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tapjax"
ROOMS = ("common", "tap", "al", "cli")
FORBIDDEN = {"common": {"tap", "al", "cli"}, "tap": {"al", "cli"}, "al": {"tap", "cli"}}
TAP_LAYERS = ("ink", "nets", "read", "fit")
FRONT_DOOR = {"recognize.py", "evaluate.py"}  # python -m tapjax.recognize / tapjax.evaluate


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


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) > 2 and parts[:2] == ["tapjax", "tap"] and parts[2] in TAP_LAYERS:
        return TAP_LAYERS.index(parts[2])
    return None


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def violations(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        own = module_name(path, package)
        for module in imported_modules(path):
            if room_of(module) in FORBIDDEN.get(room_of(own) or "", ()):
                found.append(f"{own} imports {module}")
            below, above = layer_of(own), layer_of(module)
            if below is not None and above is not None and above > below:
                found.append(f"{own} ({TAP_LAYERS[below]}) imports {module} ({TAP_LAYERS[above]})")
    return found


def import_graph(package: Path) -> dict[str, set[str]]:
    """Each module of the package -> the package's modules it imports."""
    modules = {module_name(p, package): p for p in package.rglob("*.py")}
    return {name: {m for m in imported_modules(path) if m in modules and m != name}
            for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph`` (one per strongly connected component of two or more)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_lives_in_a_room():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name not in {"__init__.py", *FRONT_DOOR}]
    rooms = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert not loose and rooms == set(ROOMS)
    tap = PACKAGE / "tap"
    assert [p.name for p in tap.glob("*.py") if p.name != "__init__.py"] == []
    assert {p.name for p in tap.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(TAP_LAYERS)


@pytest.mark.parametrize("name", sorted(FRONT_DOOR))
def test_the_front_door_only_calls_its_command(name):
    """``tapjax/recognize.py`` imports ``main`` from ``tapjax.cli.recognize`` and nothing else."""
    stem = name.removesuffix(".py")
    ours = {m for m in imported_modules(PACKAGE / name) if m.startswith("tapjax")}
    assert ours == {f"tapjax.cli.{stem}", f"tapjax.cli.{stem}.main"}


def test_no_room_imports_what_it_may_not():
    assert violations(PACKAGE) == []


def test_no_import_cycle():
    assert cycles(import_graph(PACKAGE)) == []


def test_no_two_modules_share_a_name():
    names = [p.stem for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" and p.parent != PACKAGE]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("where, imports, bad", [
    ("common", "from tapjax.tap.nets import model", True),
    ("common", "import tapjax.al.loop", True),
    ("tap/ink", "from tapjax.al.taggers import BiLSTMTagger", True),
    ("al", "from tapjax import tap", True),
    ("al", "from tapjax.cli import evaluate", True),
    ("al", "from tapjax.common import sharding", False),
    ("tap/ink", "from tapjax.tap.nets import parser", True),
    ("tap/read", "from tapjax.tap.fit import trainer", True),
    ("tap/fit", "from tapjax.tap.read import decoding", False),
    ("cli", "from tapjax.tap.fit import trainer", False),
])
def test_the_check_catches_a_forbidden_import(tmp_path, where, imports, bad):
    (tmp_path / "tapjax" / where).mkdir(parents=True)
    (tmp_path / "tapjax" / where / "module.py").write_text(imports + "\n")
    assert bool(violations(tmp_path / "tapjax")) == bad


def test_the_check_finds_a_cycle(tmp_path):
    (tmp_path / "tapjax").mkdir()
    (tmp_path / "tapjax" / "a.py").write_text("from tapjax import b\n")
    (tmp_path / "tapjax" / "b.py").write_text("import tapjax.c\n")
    (tmp_path / "tapjax" / "c.py").write_text("from tapjax.a import f\n")
    assert cycles(import_graph(tmp_path / "tapjax")) == [["tapjax.a", "tapjax.b", "tapjax.c"]]
