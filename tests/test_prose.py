"""The prose stays true: code says what and why, never when, where or which issue asked; the
README stays a front door; the documentation's relative links lead somewhere.

Measured facts (dates, machines, timings) belong in benchmarks/RESULTS.md, which is not scanned.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE = sorted(p for folder in ("tapjax", "experiments") for p in (ROOT / folder).rglob("*.py"))
DOCS = [ROOT / "README.md", ROOT / "data" / "README.md", ROOT / "benchmarks" / "RESULTS.md",
        *sorted((ROOT / "docs").glob("*.md"))]

# What a docstring or comment must not say (the whole text of each file is scanned).
FORBIDDEN = {
    "an issue number": re.compile(r"\bissue\s*#?\d+", re.IGNORECASE),
    "a date": re.compile(r"\b20\d\d-\d\d-\d\d\b"),
    "a machine": re.compile(r"\b(H100|H200|EPYC|\d+-core)\b"),
}
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_there_is_code_to_scan():
    assert len(CODE) > 50


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_code_prose_says_no_when_where_or_which_issue(name):
    pattern = FORBIDDEN[name]
    hits = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
            for path in CODE
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if pattern.search(line)]
    assert not hits, f"{name} in the code's prose (move the fact to benchmarks/RESULTS.md):\n" + "\n".join(hits)


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move detail into docs/"


def test_relative_links_lead_to_files():
    broken = []
    for doc in DOCS:
        for target in LINK.findall(doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a URL or an anchor in the same page
            path = target.split("#", 1)[0]
            if not (doc.parent / path).exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
    assert not broken, "broken relative links:\n" + "\n".join(broken)
