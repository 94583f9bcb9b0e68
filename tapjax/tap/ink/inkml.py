"""InkML reader for CROHME files and any user's ink (lxml).

An InkML file holds the ink (``<trace>`` elements, one per stroke, whose points list the
channels of ``<traceFormat>``), annotations (the truth LaTeX, writer, ...) and the symbol
segmentation (nested ``<traceGroup>`` elements with a truth label and ``<traceView>``
references). Only the ink is required: a file without a truth reads with ``Ink.truth == ""``.

The reader is strict about the ink: every point carries the same values (all the declared
channels, or the same leading ones throughout: MfrDB files declare an F channel they never
give), X and Y are found by name, coordinates are finite and within ±:data:`MAX_COORDINATE`,
trace ids are unique. The XML is parsed strictly first (non-NCName MathML ids such as
``xml:id="+_1"`` are accepted); a file only a recovering parse can read loads with a warning in
:attr:`Ink.warnings`, unless the recovery lost ink (fewer traces than ``<trace`` tags in the
bytes, or no ``</ink>``). A file that cannot be read raises
:class:`InkMLError`, this module's one error type; :func:`read_folder` collects them instead.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import os
import re
from pathlib import Path
from typing import Iterable, NamedTuple

import numpy as np
from lxml import etree

DEFAULT_CHANNELS = ("X", "Y")
# The channels kept, in this column order, whatever order the traceFormat declares.
COLUMNS = ("X", "Y", "T")
# Largest plausible |X| or |Y| (CROHME coordinates stay below 3e4).
MAX_COORDINATE = 1e7


class InkMLError(Exception):
    """An InkML file that cannot be read: ``path`` names it, ``problem`` says why."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem

    def __reduce__(self):  # picklable across worker processes
        return type(self), (self.path, self.problem)


@dataclasses.dataclass(frozen=True)
class TraceGroup:
    """One segmented symbol: its truth label, the ids of its traces, its MathML href."""

    label: str
    trace_ids: tuple[str, ...]
    href: str | None = None


class MathMLNode(NamedTuple):
    """One element of the truth MathML: local tag, ``xml:id`` (None if it has
    none), stripped text, index of its parent element (-1 for ``<math>``)."""

    tag: str
    xml_id: str | None
    text: str
    parent: int


@dataclasses.dataclass(frozen=True)
class Ink:
    """The content of one InkML file.

    ``traces[i]`` is a float64 array ``[points, len(channels)]`` for the stroke
    with id ``trace_ids[i]``; ``channels`` names its columns: ``("X", "Y")``, or
    ``("X", "Y", "T")`` when the file gives T, in that order whatever order the
    file declares (other channels are dropped). Strokes are in file order, the
    stroke order used by the alignment (:mod:`tapjax.tap.ink.alignment`). ``truth``
    is the truth LaTeX, ``""`` when the file has none. ``mathml`` lists the
    elements of the truth MathML in document order (:class:`MathMLNode`; their
    ``xml:id`` are the targets of the trace groups' hrefs). ``warnings`` says what was wrong with a file that
    still read (its XML was malformed and recovered).
    """

    path: str
    channels: tuple[str, ...]
    trace_ids: tuple[str, ...]
    traces: tuple[np.ndarray, ...]
    truth: str
    annotations: dict[str, str]
    groups: tuple[TraceGroup, ...]
    mathml: tuple[MathMLNode, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The file name without ``.inkml``: the key of the standard captions."""
        return Path(self.path).name.removesuffix(".inkml")

    def channel(self, name: str) -> list[np.ndarray]:
        """The values of channel ``name`` for every stroke."""
        column = self.channels.index(name)
        return [trace[:, column] for trace in self.traces]


# collect_ids=False: CROHME MathML ids ("+_1", "0:1:") are not NCNames, which
# libxml2 reports as an error; they are well-formed XML.
_STRICT = etree.XMLParser(huge_tree=True, resolve_entities=False, collect_ids=False)
_RECOVERING = etree.XMLParser(recover=True, huge_tree=True, resolve_entities=False,
                              collect_ids=False)
_TRACE_TAG = re.compile(rb"<(?:[\w.-]+:)?trace[\s/>]")
_INK_END = re.compile(rb"</(?:[\w.-]+:)?ink\s*>")


def _local(tag) -> str:
    """The tag without its namespace ("" for comments and processing instructions)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _ink_root(path, root, problem: str = "") -> etree._Element:
    """``root`` if it is an ``<ink>`` element, else the error saying the file is not InkML."""
    if root is None or _local(root.tag) != "ink":
        detail = f" ({problem})" if problem else ""
        raise InkMLError(path, f"no <ink> root element (not InkML or unreadable XML){detail}")
    return root


def _parse_xml(path, data: bytes) -> tuple[etree._Element, tuple[str, ...]]:
    """The ``<ink>`` root, parsed strictly, else recovered with a warning (module docstring)."""
    try:
        return _ink_root(path, etree.fromstring(data, _STRICT)), ()
    except etree.XMLSyntaxError as error:
        problem = error.msg
    try:
        root = etree.fromstring(data, _RECOVERING)
    except etree.XMLSyntaxError:
        root = None
    root = _ink_root(path, root, problem)
    parsed, opened = sum(1 for _ in root.iter("{*}trace")), len(_TRACE_TAG.findall(data))
    if parsed < opened:
        raise InkMLError(path, f"XML cut or malformed: {parsed} of {opened} traces recovered "
                               f"({problem})")
    if not _INK_END.search(data):
        raise InkMLError(path, f"XML cut or malformed: no closing </ink>, {parsed} traces "
                               f"recovered ({problem})")
    return root, (f"XML was malformed and recovered: {problem}",)


def _declared_channels(root, path) -> tuple[str, ...]:
    """The channel names of the (first) ``<traceFormat>``, in declared order."""
    trace_format = next(root.iter("{*}traceFormat"), None)
    names = tuple(c.get("name", "") for c in (() if trace_format is None else trace_format)
                  if _local(c.tag) == "channel")
    if not names:
        return DEFAULT_CHANNELS
    if not {"X", "Y"} <= set(names):
        raise InkMLError(path, f"traceFormat declares channels {names} without X and Y")
    return names


def _carried_channels(declared: tuple[str, ...], width: int, path) -> tuple[str, ...]:
    """The declared channels the points carry: all of them, or the leading ``width`` when
    every point omits the trailing ones (MfrDB files declare an F channel they never give)."""
    carried = declared[:width]
    if width > len(declared):
        raise InkMLError(path, f"points have {width} values but the traceFormat declares "
                               f"only {declared}")
    if not {"X", "Y"} <= set(carried):
        raise InkMLError(path, f"points have {width} values: channels {carried} of {declared}, "
                               f"without X and Y")
    return carried


def _split_points(text: str, path, trace_id) -> list[list[str]]:
    """The values of each point of ``"x y, x y, ..."`` (empty points between commas dropped)."""
    points = [p.split() for p in text.split(",")]
    points = [p for p in points if p]
    if not points:
        raise InkMLError(path, f"trace {trace_id} has no points")
    return points


def _check_widths(points: list[list[str]], width: int, path, trace_id) -> None:
    """Every point has ``width`` values (the channels the file's points carry)."""
    widths = list(map(len, points))
    if min(widths) != width or max(widths) != width:
        bad = next(i for i, n in enumerate(widths) if n != width)
        raise InkMLError(path, f"trace {trace_id} point {bad + 1} of {len(points)} has "
                               f"{widths[bad]} values, not {width} like the file's "
                               f"first point (cut mid-point or ragged)")


def _floats(points: Iterable[list[str]]) -> np.ndarray:
    """The values of ``points``, flat, as float64 (``ValueError`` if one is not a number)."""
    return np.array(list(itertools.chain.from_iterable(points)), dtype=np.float64)


def _values(points: list[list[list[str]]], carried: tuple[str, ...], ids, path) -> np.ndarray:
    """The :data:`COLUMNS` present in ``carried`` of every point of every trace, float64
    ``[points, columns]``; values finite, X and Y within ±:data:`MAX_COORDINATE`."""
    try:
        values = _floats(itertools.chain.from_iterable(points))
    except ValueError:  # name the trace that holds it
        for trace_points, trace_id in zip(points, ids):
            try:
                _floats(trace_points)
            except ValueError as error:
                raise InkMLError(path, f"trace {trace_id} has a non-numeric value "
                                       f"({error})") from None
    columns = [carried.index(name) for name in COLUMNS if name in carried]
    values = values.reshape(-1, len(carried))[:, columns]
    bad = ~np.isfinite(values)
    bad[:, :2] |= np.abs(values[:, :2]) > MAX_COORDINATE
    if bad.any():
        row, column = np.argwhere(bad)[0]
        starts = np.cumsum([0] + [len(p) for p in points])
        trace = int(np.searchsorted(starts, row, side="right")) - 1
        raise InkMLError(path, f"trace {ids[trace]} point {row - starts[trace] + 1} has "
                               f"{carried[columns[column]]} = {values[row, column]:g} "
                               f"(not finite or beyond ±{MAX_COORDINATE:g})")
    return values


def _traces(root, declared: tuple[str, ...], path) -> tuple[tuple, list[np.ndarray], tuple]:
    """The trace ids, the trace arrays and their column names."""
    elements = list(root.iter("{*}trace"))
    if not elements:
        raise InkMLError(path, "no traces (ink missing or truncated)")
    ids = tuple(t.get("id", str(i)) for i, t in enumerate(elements))
    duplicates = sorted(i for i, n in collections.Counter(ids).items() if n > 1)
    if duplicates:
        raise InkMLError(path, f"duplicate trace ids {duplicates}")
    points = [_split_points(t.text or "", path, i) for t, i in zip(elements, ids)]
    carried = _carried_channels(declared, len(points[0][0]), path)
    for trace_points, trace_id in zip(points, ids):
        _check_widths(trace_points, len(carried), path, trace_id)
    values = _values(points, carried, ids, path)
    arrays = np.split(values, np.cumsum([len(p) for p in points])[:-1])
    return ids, arrays, tuple(c for c in COLUMNS if c in carried)


def _groups(root) -> tuple[TraceGroup, ...]:
    groups = []
    for group in root.iter("{*}traceGroup"):
        refs = tuple(v.get("traceDataRef") for v in group if _local(v.tag) == "traceView")
        if not refs:  # the enclosing "Segmentation" group
            continue
        label = next((a.text or "" for a in group if _local(a.tag) == "annotation"), "")
        href = next((a.get("href") for a in group if _local(a.tag) == "annotationXML"), None)
        groups.append(TraceGroup(label.strip(), refs, href))
    return tuple(groups)


_XML_ID = "{http://www.w3.org/XML/1998/namespace}id"


def _mathml(root) -> tuple[MathMLNode, ...]:
    """The elements of the truth MathML (in the first top-level ``<annotationXML>``),
    in document order."""
    truth = next((a for a in root if _local(a.tag) == "annotationXML"), None)
    index, nodes = {}, []
    for element in () if truth is None else truth.iter():
        if element is not truth and _local(element.tag):
            index[element] = len(nodes)
            nodes.append(MathMLNode(_local(element.tag), element.get(_XML_ID),
                                    (element.text or "").strip(), index.get(element.getparent(), -1)))
    return tuple(nodes)


def _annotations(root) -> dict[str, str]:
    """Top-level ``<annotation type=...>`` texts (truth, writer, UI, ...)."""
    return {a.get("type", ""): (a.text or "").strip()
            for a in root if _local(a.tag) == "annotation"}


def read_inkml(path: str | os.PathLike) -> Ink:
    """Reads one InkML file; raises :class:`InkMLError` if its ink is unreadable or invalid."""
    path = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise InkMLError(path, f"cannot open ({error.strerror})") from None
    if not data.strip():
        raise InkMLError(path, "empty file")
    root, warnings = _parse_xml(path, data)
    trace_ids, traces, channels = _traces(root, _declared_channels(root, path), path)
    annotations = _annotations(root)
    return Ink(path, channels, trace_ids, tuple(traces), annotations.get("truth", ""),
               annotations, _groups(root), _mathml(root), warnings)


def inkml_files(folder: str | os.PathLike) -> list[Path]:
    """All ``.inkml`` files under ``folder`` (recursively), sorted."""
    return sorted(Path(folder).rglob("*.inkml"))


def read_folder(folder: str | os.PathLike) -> tuple[list[Ink], list[InkMLError]]:
    """Reads every InkML file under ``folder``; unreadable files are skipped and returned."""
    return read_files(inkml_files(folder))


def read_files(paths: Iterable[str | os.PathLike]) -> tuple[list[Ink], list[InkMLError]]:
    """Reads ``paths``; returns the inks read and the :class:`InkMLError` of each skipped file."""
    inks, errors = [], []
    for path in paths:
        try:
            inks.append(read_inkml(path))
        except InkMLError as error:
            errors.append(error)
    return inks, errors
