"""Token-to-stroke alignment from the InkML symbol segmentation.

Each trace group of a CROHME file is one symbol: a truth label, the strokes
drawn for it, and an href to the MathML element it spells (``x_2`` is the
second ``x``, ``\\frac_1`` the first fraction, ...). The TAP attention guider
(the ``on-align`` files of the reference code) gives every caption token the
strokes of its symbol and none to structure tokens (``{ } ^ _``).

:func:`align` matches a caption to the groups in two passes:

1. by href: the k-th occurrence of a token takes the group whose href is
   ``<name>_k``, where ``name`` is the token or one of the names the MathML
   writers used for it (:data:`HREF_NAMES`: ``\\frac`` is also ``-`` or an
   unnamed ``_k``, ``\\leq`` is ``le``, ...); a group is never used twice;
2. by label: tokens still without strokes take, in caption order, the first
   unused group with the same label in MathML document order (this covers
   files whose hrefs list strokes, ``0:1:``, instead of naming symbols).

Stroke indices are positions in file order (:attr:`tapjax.tap.inkml.Ink.traces`).
"""

from __future__ import annotations

import collections
import re
import tarfile
from typing import Sequence

from tapjax.tap.inkml import Ink, TraceGroup
from tapjax.tap.latex import SYNONYMS

# Caption tokens that are layout, not ink.
STRUCTURE = frozenset({"{", "}", "^", "_", r"\limits"})
# Names a token has in MathML hrefs, tried in order (default: the token without "\").
HREF_NAMES = {
    r"\frac": ("frac", "", "-"), r"\sqrt": ("sqrt", ""),
    r"\rightarrow": ("rightarrow", "vec", "rarr"),
    r"\leq": ("leq", "le"), r"\geq": ("geq", "ge"), r"\neq": ("neq", "ne"),
    r"\infty": ("infty", "infin"), r"\ldots": ("ldots", "hellip", "ctdot"),
    r"\exists": ("exists", "exist"), "<": ("<", "lt"), ">": (">", "gt"), r"\prime": ("prime", "'"),
}
# Group labels that can stand for a caption token other than themselves.
LABEL_ALIASES = {r"\frac": "-"}
_HREF = re.compile(r"\\?(.*)_(\d+)")

Alignment = list[list[int]]


def _href_key(href: str | None) -> tuple[str, int] | None:
    match = _HREF.fullmatch(href or "")
    return (match.group(1), int(match.group(2))) if match else None


def _names(token: str) -> tuple[str, ...]:
    return HREF_NAMES.get(token, (token.lstrip("\\"),))


def _match_hrefs(tokens: Sequence[str], groups: Sequence[TraceGroup]) -> list[int | None]:
    """Pass 1: the group index of each token found by href (None if not found)."""
    by_href = {key: i for i, g in enumerate(groups) if (key := _href_key(g.href)) is not None}
    seen, used, matched = collections.Counter(), set(), []
    for token in tokens:
        index = None
        if token not in STRUCTURE:
            seen[token] += 1
            found = (by_href.get((name.lstrip("\\"), seen[token])) for name in _names(token))
            index = next((i for i in found if i is not None), None)
            index = None if index in used else index
            used.add(index)
        matched.append(index)
    return matched


def _label_matches(label: str, token: str) -> bool:
    label = SYNONYMS.get(label, label)
    return label == token or label == LABEL_ALIASES.get(token)


def _match_labels(tokens, groups, mathml_ids, matched: list[int | None]) -> list[int | None]:
    """Pass 2: unmatched tokens take unused groups with their label, in MathML order.

    Only groups whose href names no symbol take part: a named group that pass 1
    did not match spells a different token (the reference alignments agree).
    """
    position = {h: i for i, h in enumerate(mathml_ids)}
    unnamed = {i for i, g in enumerate(groups) if _href_key(g.href) is None}
    free = sorted(unnamed - set(matched),
                  key=lambda i: (position.get(groups[i].href, len(position)), i))
    matched = list(matched)
    for t, token in enumerate(tokens):
        if matched[t] is None and token not in STRUCTURE:
            index = next((i for i in free if _label_matches(groups[i].label, token)), None)
            if index is not None:
                free.remove(index)
                matched[t] = index
    return matched


def align(tokens: Sequence[str], ink: Ink) -> Alignment:
    """For each caption token, the sorted stroke indices drawn for it (empty if none)."""
    stroke = {trace_id: i for i, trace_id in enumerate(ink.trace_ids)}
    matched = _match_labels(tokens, ink.groups, ink.mathml_ids, _match_hrefs(tokens, ink.groups))
    return [[] if i is None else sorted(stroke[t] for t in ink.groups[i].trace_ids if t in stroke)
            for i in matched]


def read_align_tar(path) -> dict[str, tuple[list[str], Alignment]]:
    """Reference alignments (``on-align-train.tar.gz``): key -> (tokens, strokes per token).

    Each ``<key>.align`` member has a line per caption token, ``token stroke...``,
    with ``-1`` for a token drawn with no stroke.
    """
    out = {}
    with tarfile.open(path) as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".align")):
                continue
            key = member.name.rsplit("/", 1)[-1].removesuffix(".align")
            lines = tar.extractfile(member).read().decode().split("\n")
            rows = [line.split() for line in lines if line.strip()]
            out[key] = ([r[0] for r in rows],
                        [sorted(int(s) for s in r[1:] if s != "-1") for r in rows])
    return out
