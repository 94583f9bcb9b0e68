"""docs/architecture.md matches the tree: every module it lists exists, every module of
``tapjax/`` is listed, and every command ``tapjax`` lists is named with its contract."""

import re
from pathlib import Path

from tapjax.cli.__main__ import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"
FRONT_DOORS = {"recognize", "evaluate"}
ROW = re.compile(r"^\| `([a-z_/]+)` \|", re.M)


def listed_modules(text: str) -> set[str]:
    """The modules of the page's tables: a row's first cell, as ``room/sub/module``."""
    return set(ROW.findall(text))


def tree_modules(package: Path) -> set[str]:
    """Every module below the package's rooms, as ``room/sub/module`` (packages' ``__init__`` left out)."""
    return {str(p.relative_to(package).with_suffix("")) for p in package.rglob("*.py")
            if p.name != "__init__.py" and p.parent != package}


def test_every_listed_module_exists_and_every_module_is_listed():
    listed, present = listed_modules(PAGE.read_text()), tree_modules(ROOT / "tapjax")
    assert sorted(listed - present) == [], "listed in docs/architecture.md but not in the tree"
    assert sorted(present - listed) == [], "in the tree but not listed in docs/architecture.md"


def test_the_front_doors_are_named():
    text = PAGE.read_text()
    top = {p.stem for p in (ROOT / "tapjax").glob("*.py") if p.name != "__init__.py"}
    assert top == FRONT_DOORS
    assert all(f"tapjax/{name}.py" in text for name in top)


def test_every_command_is_named_with_its_contract():
    text = PAGE.read_text()
    assert all(f"`tapjax {name}" in text for name in COMMANDS), sorted(COMMANDS)
    assert "main(argv) -> int" in text and "exit status 2" in text and "--json" in text


def test_the_check_sees_a_missing_row(tmp_path):
    (tmp_path / "tapjax" / "al").mkdir(parents=True)
    (tmp_path / "tapjax" / "al" / "loop.py").write_text("")
    (tmp_path / "tapjax" / "al" / "new.py").write_text("")
    assert tree_modules(tmp_path / "tapjax") - listed_modules("| `al/loop` | rounds |\n") == {"al/new"}
