"""Token-to-stroke alignment from the InkML symbol segmentation.

Each trace group of a CROHME file is one symbol: a truth label, its strokes, and an href to the
element of the truth MathML it spells. As the TAP authors' ``on-align`` files, every caption
token gets the strokes of its symbol and structure tokens (``{ } ^ _``, a root index's
brackets) get none. :func:`align` follows the references, never the id strings:

1. by MathML element: the href's element kind says the token (``mfrac`` a ``\\frac``,
   ``msqrt``/``mroot`` a ``\\sqrt``, ``mi``/``mo``/``mn`` their text, :func:`token_kind`) and its
   rank among elements of that kind, in caption order, says which occurrence; files of the
   older naming scheme (shared or out-of-order ids) keep every stroke on its own symbol;
2. only for groups whose href is no element: by href name (``<name>_k``), else by label.

Stroke indices are positions in file order (:attr:`tapjax.tap.ink.inkml.Ink.traces`).
:func:`fully_aligned` says whether an alignment explains the whole caption.
"""

from __future__ import annotations

import collections
import re
import tarfile
from typing import Sequence

from tapjax.tap.ink.inkml import Ink, MathMLNode
from tapjax.tap.ink.latex import SYNONYMS

# Caption tokens that are layout, not ink.
STRUCTURE = frozenset({"{", "}", "^", "_", r"\limits"})
# Tokens spelled by MathML layout elements.
ELEMENT_TOKENS = {"mfrac": r"\frac", "msqrt": r"\sqrt", "mroot": r"\sqrt"}
# MathML texts and href names (entity names, unicode, bare names) that spell
# another token (default: a character is itself, a longer name is ``\name``).
TEXT_TOKENS = {
    "lt": "<", "gt": ">", "le": r"\leq", "ge": r"\geq", "ne": r"\neq", "infin": r"\infty",
    "to": r"\rightarrow", "rarr": r"\rightarrow", "vec": r"\rightarrow", "hellip": r"\ldots",
    "ctdot": r"\cdots", "exist": r"\exists", "'": r"\prime", "minus": "-", "\u2212": "-",
    "\u2192": r"\rightarrow", "\u2264": r"\leq", "\u2265": r"\geq", "\u2260": r"\neq",
    "\u221e": r"\infty", "\u2026": r"\ldots", "\u22ef": r"\cdots", "\u00d7": r"\times",
    "\u00f7": r"\div", "\u00b1": r"\pm", "\u00b7": r"\cdot", "\u22c5": r"\cdot",
}
# Labels (and MathML texts) that can also spell another token: a fraction bar is
# drawn as a "-", a centred dot as a ".", the two ellipses stand for each other.
LABEL_ALIASES = {r"\frac": "-", r"\cdot": ".", r"\cdots": r"\ldots", r"\ldots": r"\cdots"}
# Href names a token shares with others in older files (``_k`` for fractions and
# roots alike, ``-_k`` for fractions and minus signs), tried after its own name.
SHARED_HREF_NAMES = {r"\frac": ("", "-"), r"\sqrt": ("",)}
_HREF = re.compile(r"\\?(.*)_(\d+)")

Alignment = list[list[int]]


# ---- Caption side ------------------------------------------------------------------

def root_indices(tokens: Sequence[str]) -> list[tuple[int, int]]:
    """Positions of the ``[`` and ``]`` around each root index of a caption
    (``\\sqrt [ 3 ] { x }``), in caption order."""
    spans, opened = [], []  # opened: (position, opens a root index) per open "["
    for t, token in enumerate(tokens):
        if token == "[":
            opened.append((t, t > 0 and tokens[t - 1] == r"\sqrt"))
        elif token == "]" and opened:
            start, is_index = opened.pop()
            spans += [(start, t)] if is_index else []
    return sorted(spans)


def ink_tokens(tokens: Sequence[str]) -> list[bool]:
    """Whether each caption token is drawn: not a structure token, nor a bracket
    of a root index (:func:`root_indices`)."""
    brackets = {t for span in root_indices(tokens) for t in span}
    return [token not in STRUCTURE and t not in brackets for t, token in enumerate(tokens)]


def token_kind(name: str) -> str:
    """The caption token that a caption token, group label, MathML text or href
    name spells: ``le``, ``\\le`` and ``\u2264`` are all ``\\leq``, ``sin`` is ``\\sin``."""
    name = SYNONYMS.get(name, name)
    bare = name.lstrip("\\") or name
    kind = TEXT_TOKENS.get(bare) or (name if len(bare) == 1 or name[0] == "\\" else "\\" + bare)
    return SYNONYMS.get(kind, kind)


# ---- Pass 1: MathML elements -------------------------------------------------------

def _href_key(href: str | None) -> tuple[str, int] | None:
    """``("x", 2)`` for an href or id ``x_2`` (or ``\\x_2``), None for others."""
    match = _HREF.fullmatch(href or "")
    return (match.group(1), int(match.group(2))) if match else None


def _element_kind(node: MathMLNode, label: str | None, caption_kinds: set[str]) -> str:
    """The token an element spells: by its tag (``mfrac``, ...), else the first of
    its text, its group's label, its id's name and their :data:`LABEL_ALIASES`
    that the caption spells, as each can be wrong (texts ``im`` for ``\\lim``,
    ``?`` for an arrow; a label ``\\ldots`` for a ``ctdot``; an ``<mo>-</mo>``
    fraction bar without ``mfrac``)."""
    if node.tag in ELEMENT_TOKENS:
        return ELEMENT_TOKENS[node.tag]
    id_name = (_href_key(node.xml_id) or ("",))[0]
    kinds = [token_kind(name) for name in (node.text, label, id_name) if name]
    kinds += [token for token, alias in LABEL_ALIASES.items() if alias in kinds]
    return next((kind for kind in kinds if kind in caption_kinds), kinds[0] if kinds else "")


def _caption_order(mathml: Sequence[MathMLNode], kinds, indices) -> list[int]:
    """Element indices in the order a caption spells them: document order, except
    that a root's index (its second child) comes before its base. Some writers
    put the index first: a root keeps its children's order where the caption's
    next index (``indices``, a deque of kind Counters) spells the first child and
    not the second."""
    children = collections.defaultdict(list)
    for i, node in enumerate(mathml):
        children[node.parent].append(i)

    def spelled(i) -> collections.Counter:
        subtree, stack = [], [i]
        while stack:
            subtree.append(stack.pop())
            stack += children[subtree[-1]]
        return collections.Counter(kinds[j] for j in subtree if kinds[j])

    order, stack = [], children[-1][::-1]
    while stack:
        i = stack.pop()
        order.append(i)
        kids = children[i]
        if mathml[i].tag == "mroot" and len(kids) == 2:
            index = indices.popleft() if indices else None
            kids = kids if index == spelled(kids[0]) != spelled(kids[1]) else kids[::-1]
        stack += kids[::-1]
    return order


def _match_elements(tokens, drawn, groups, mathml) -> list[int | None]:
    """Pass 1: the k-th drawn token of a kind takes the group of the k-th element
    of that kind in caption order (None where there is none)."""
    token_kinds = [token_kind(token) if ink else None for token, ink in zip(tokens, drawn)]
    labels, caption_kinds = {g.href: g.label for g in groups}, set(token_kinds)
    kinds = [node.xml_id and _element_kind(node, labels.get(node.xml_id), caption_kinds)
             for node in mathml]
    indices = collections.deque(collections.Counter(filter(None, token_kinds[start + 1:end]))
                                for start, end in root_indices(tokens))
    by_href = collections.defaultdict(collections.deque)  # a list: ids can repeat
    for i, group in enumerate(groups):
        by_href[group.href].append(i)
    elements = collections.defaultdict(collections.deque)
    for i in _caption_order(mathml, kinds, indices):
        if kinds[i]:
            same_id = by_href[mathml[i].xml_id]
            elements[kinds[i]].append(same_id.popleft() if same_id else None)
    return [elements[kind].popleft() if elements[kind] else None for kind in token_kinds]


# ---- Pass 2: groups whose href is no MathML element --------------------------------

def _spells(label: str, kind: str) -> bool:
    return token_kind(label) in (kind, LABEL_ALIASES.get(kind))


def _match_free(tokens, drawn, groups, free: Sequence[int], matched) -> list[int | None]:
    """Pass 2, over the ``free`` groups: an unmatched drawn token, the k-th of its
    kind, takes the group whose href names it (``<name>_k``, or a shared name,
    :data:`SHARED_HREF_NAMES`), else the first unnamed group (no href, or one
    listing strokes, ``0:1:``) whose label spells it. A named group that names
    no token spells a token the caption lacks, so it is left alone."""
    named, unnamed = {}, []
    for i in free:
        key = _href_key(groups[i].href)
        if key is None:
            unnamed.append(i)
        else:
            named[(key[0] and token_kind(key[0]), key[1])] = i
    seen, matched = collections.Counter(), list(matched)
    for t, (token, ink) in enumerate(zip(tokens, drawn)):
        kind = token_kind(token)
        seen[kind] += ink
        if ink and matched[t] is None:
            names = [(name, seen[kind]) for name in (kind, *SHARED_HREF_NAMES.get(kind, ()))]
            index = next((named.pop(name) for name in names if name in named), None)
            if index is None:
                index = next((i for i in unnamed if _spells(groups[i].label, kind)), None)
                unnamed = [i for i in unnamed if i != index]
            matched[t] = index
    return matched


def align(tokens: Sequence[str], ink: Ink) -> Alignment:
    """For each caption token, the sorted stroke indices drawn for it (empty if none)."""
    mathml = ink.mathml
    drawn = ink_tokens(tokens)
    ids = {node.xml_id for node in mathml} - {None}
    free = [i for i, group in enumerate(ink.groups) if group.href not in ids]
    matched = _match_free(tokens, drawn, ink.groups, free,
                          _match_elements(tokens, drawn, ink.groups, mathml))
    stroke = {trace_id: i for i, trace_id in enumerate(ink.trace_ids)}
    return [[] if i is None else sorted(stroke[t] for t in ink.groups[i].trace_ids if t in stroke)
            for i in matched]


def fully_aligned(tokens: Sequence[str], token_strokes: Alignment, stroke_count: int) -> bool:
    """Whether an alignment explains the whole caption: every drawn token
    (:func:`ink_tokens`) has a stroke, no structure token has one, and no stroke
    is given to two tokens or lies outside ``0 .. stroke_count - 1``.

    Strokes given to no token are allowed: they are ink the truth does not spell
    (stray strokes, symbols missing from the truth), which no alignment can fix.
    """
    strokes = [s for row in token_strokes for s in row]
    drawn = ink_tokens(tokens)
    return (len(token_strokes) == len(tokens)
            and all(bool(row) == ink for row, ink in zip(token_strokes, drawn))
            and len(set(strokes)) == len(strokes) and all(0 <= s < stroke_count for s in strokes))


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
