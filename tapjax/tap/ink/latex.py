"""CROHME truth LaTeX to the standard TAP token sequence.

The truth strings of CROHME InkML files are written by hand: redundant braces,
``\\mbox{}``/``\\mathrm{}``, ``\\frac1p``, ``\\left(``, ``\\lt``, stray ``$``,...
The standard captions (JianshuZhang/TAP ``data/*_caption.txt``) spell the same
expressions canonically: every argument of ``^``, ``_``, ``\\frac`` and ``\\sqrt``
in braces (``x _ { k }``, ``\\frac { a } { b }``, ``\\sqrt [ 3 ] { x }``), no other
braces, one token per symbol. :func:`tokenize` does that in three steps:

1. :func:`lex` splits the string into raw tokens (commands, escaped symbols,
   single characters), dropping ``$`` and spacing commands, mapping synonyms
   (``\\lt`` to ``<``, ``\\le`` to ``\\leq``, ...).
2. :func:`parse` builds a small tree: groups, and the structures ``^``, ``_``,
   ``\\frac``, ``\\sqrt`` with their arguments (braced or single tokens).
3. :func:`serialize` writes the tree back canonically, with braces only
   around arguments.

Parsing and serializing are written as recursions but run on an explicit stack
(:func:`_run`), so any nesting depth (a truth of 5,000 nested braces) gives
tokens, never a ``RecursionError``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Generator, Union

# "ABOVE" is the root-index operator of some CROHME 2014 truths (\sqrt {x} ABOVE {3});
# "\lt"/"\gt" are also written glued to the next letter ("M\ltN").
_TOKEN = re.compile(r"ABOVE|\\[lg]t(?=[a-zA-Z])|\\[a-zA-Z]+|\\.|\S")
_NUMBER = re.compile(r"\d+(\.\d+)?")

# Commands that only change fonts or spacing: their argument is kept as is.
FONT_COMMANDS = frozenset({r"\mbox", r"\mathrm", r"\rm", r"\text", r"\textrm", r"\mathit",
                           r"\mathbf", r"\operatorname", r"\hbox", r"\mathnormal"})
DROPPED = frozenset({"$", r"\left", r"\right", r"\,", r"\;", r"\:", r"\!", r"\ ", r"\quad",
                     r"\qquad", r"\displaystyle", r"\big", r"\Big", r"\bigg", r"\Bigg", "~",
                     r"\limits", r"\nolimits"})
SYNONYMS = {
    r"\lt": "<", r"\gt": ">", r"\le": r"\leq", r"\ge": r"\geq", r"\ne": r"\neq",
    r"\leqslant": r"\leq", r"\geqslant": r"\geq", r"\to": r"\rightarrow",
    r"\lbrace": r"\{", r"\rbrace": r"\}", r"\dots": r"\ldots", r"\ast": "*",
    r"\lbrack": "[", r"\rbrack": "]", r"\vert": "|", r"\mid": "|",
}
# Function names some truths spell letter by letter ("l o g").
SPELLED = {tuple(name[1:]): name for name in (r"\log", r"\lim", r"\sin", r"\cos", r"\tan")}
# Number of mandatory arguments of the structure commands.
ARITY = {r"\frac": 2, r"\sqrt": 1, "^": 1, "_": 1}


def canonical_number(text: str) -> str:
    """A bare decimal number as the standard captions write it: ``08.40`` -> ``8.4``."""
    integer, _, fraction = text.partition(".")
    integer, fraction = integer.lstrip("0") or "0", fraction.rstrip("0")
    return f"{integer}.{fraction}" if fraction else integer


def _join_spelled(tokens: list[str]) -> list[str]:
    """``l o g`` -> ``\\log`` (and the other names of :data:`SPELLED`)."""
    out, i = [], 0
    while i < len(tokens):
        name = SPELLED.get(tuple(tokens[i:i + 3]))
        out.append(name or tokens[i])
        i += 3 if name else 1
    return out


def lex(truth: str) -> list[str]:
    """Raw tokens of a LaTeX string, with synonyms mapped and layout-only tokens dropped."""
    bare = truth.strip("$ ")
    if _NUMBER.fullmatch(bare):
        truth = canonical_number(bare)
    tokens = (SYNONYMS.get(t, t) for t in _TOKEN.findall(truth))
    return _join_spelled([t for t in tokens if t not in DROPPED])


@dataclasses.dataclass
class Group:
    """A braced group (or the whole expression): a list of nodes."""

    nodes: list["Node"]


@dataclasses.dataclass
class Command:
    """A structure token with its arguments (``optional`` is the ``[n]`` of ``\\sqrt[n]``)."""

    name: str
    args: list[Group]
    optional: Group | None = None


Node = Union[str, Group, Command]


def _run(call: Generator) -> object:
    """The result of a generator-coded recursion, run on an explicit stack.

    Each generator yields the generator of a sub-call and is sent back its result;
    its ``return`` value is the result of the call.
    """
    stack, value = [call], None
    while True:
        try:
            sub_call = stack[-1].send(value)
        except StopIteration as done:
            stack.pop()
            if not stack:
                return done.value
            value = done.value
        else:
            stack.append(sub_call)
            value = None


class _Parser:
    """Recursive descent over the raw tokens; each rule is a generator run by :func:`_run`."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def group(self, closing: str | None) -> Generator:
        """Nodes up to ``closing`` (consumed) or the end; an unmatched ``}`` is dropped."""
        nodes = []
        while (token := self.peek()) is not None:
            if token == closing:
                self.pos += 1
                return Group(nodes)
            if token == "}" and closing is None:
                self.pos += 1
                continue
            nodes.append((yield self.node()))
        return Group(nodes)

    def node(self) -> Generator:
        token = self.tokens[self.pos]
        self.pos += 1
        if token == "{":
            return (yield self.group("}"))
        if token in FONT_COMMANDS:
            return (yield self.argument())
        if token in ARITY:
            optional = None
            if token == r"\sqrt" and self.peek() == "[":
                self.pos += 1
                optional = yield self.group("]")
            command = Command(token, [], optional)
            for _ in range(ARITY[token]):
                command.args.append((yield self.argument()))
            if token == r"\sqrt" and self.peek() == "ABOVE":
                self.pos += 1
                command.optional = yield self.argument()
            return command
        return token

    def argument(self) -> Generator:
        """A braced group, or the single next node."""
        if self.peek() is None:
            return Group([])
        node = yield self.node()
        return node if isinstance(node, Group) else Group([node])


def parse(tokens: list[str]) -> Group:
    """The tree of a raw token list (see the module docstring)."""
    return _run(_Parser(tokens).group(None))


def _is_script(node: Node, name: str) -> bool:
    return isinstance(node, Command) and node.name == name


def _script_order(nodes: list[Node]) -> list[Node]:
    """Drops empty scripts (``x _ { }``) and puts a subscript before its superscript."""
    nodes = [n for n in nodes
             if not (isinstance(n, Command) and n.name in "^_" and not n.args[0].nodes)]
    for i in range(len(nodes) - 1):
        if _is_script(nodes[i], "^") and _is_script(nodes[i + 1], "_"):
            nodes[i], nodes[i + 1] = nodes[i + 1], nodes[i]
    return nodes


def serialize(node: Node) -> list[str]:
    """Canonical token sequence of a tree: braces only around structure arguments."""
    return _run(_serialize(node))


def _serialize(node: Node) -> Generator:
    """:func:`serialize` as a generator-coded recursion (see :func:`_run`)."""
    if isinstance(node, str):
        return [node]
    out = []
    if isinstance(node, Group):
        for child in _script_order(node.nodes):
            out += yield _serialize(child)
        return out
    out.append(node.name)
    if node.optional is not None:
        out += ["[", *(yield _serialize(node.optional)), "]"]
    for arg in node.args:
        out += ["{", *(yield _serialize(arg)), "}"]
    return out


def tokenize(truth: str) -> list[str]:
    """Standard TAP caption tokens of a CROHME truth LaTeX string (without ``<eol>``)."""
    return serialize(parse(lex(truth)))
