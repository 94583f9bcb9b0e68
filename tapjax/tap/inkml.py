"""InkML reader for CROHME files (lxml, recovering parser).

An InkML file holds the ink (``<trace>`` elements, one per pen stroke, whose
points list the channels declared by ``<traceFormat>``), annotations (the truth
LaTeX, writer, ...) and the symbol segmentation (nested ``<traceGroup>``
elements with a truth label and ``<traceView traceDataRef=...>`` references).

Real CROHME files are not all well-formed XML (the 2014 test files carry MathML
ids such as ``xml:id="+_1"``), so the parser recovers what it can. A file whose
ink or truth cannot be read raises :class:`InkMLError`, the one error type of
this module; :func:`read_folder` collects those errors instead of aborting.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterable

import numpy as np
from lxml import etree

DEFAULT_CHANNELS = ("X", "Y")


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


@dataclasses.dataclass(frozen=True)
class Ink:
    """The content of one InkML file.

    ``traces[i]`` is a float64 array ``[points, len(channels)]`` for the stroke
    with id ``trace_ids[i]``; strokes are in file order, which is the stroke
    order used by the alignment (:mod:`tapjax.tap.alignment`). ``mathml_ids``
    lists the ``xml:id`` of the truth MathML elements in document order (the
    targets of the trace groups' hrefs).
    """

    path: str
    channels: tuple[str, ...]
    trace_ids: tuple[str, ...]
    traces: tuple[np.ndarray, ...]
    truth: str
    annotations: dict[str, str]
    groups: tuple[TraceGroup, ...]
    mathml_ids: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The file name without ``.inkml``: the key of the standard captions."""
        return Path(self.path).name.removesuffix(".inkml")

    def channel(self, name: str) -> list[np.ndarray]:
        """The values of channel ``name`` for every stroke."""
        column = self.channels.index(name)
        return [trace[:, column] for trace in self.traces]


_PARSER = etree.XMLParser(recover=True, huge_tree=True, resolve_entities=False)


def _local(tag) -> str:
    """The tag without its namespace ("" for comments and processing instructions)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _parse_points(text: str, channels: tuple[str, ...], path, trace_id) -> tuple[np.ndarray, tuple]:
    """Parses ``"x y, x y, ..."``; keeps the declared channels the points really carry."""
    points = [p for p in text.split(",") if p.strip()]
    if not points:
        raise InkMLError(path, f"trace {trace_id} has no points")
    widths = [len(p.split()) for p in points]
    width = min(widths)
    if max(widths) > len(channels):
        raise InkMLError(path, f"trace {trace_id} has {max(widths)} values per point but the "
                               f"traceFormat declares only {channels}")
    try:
        if width == max(widths):
            values = np.array(" ".join(points).split(), dtype=np.float64)
        else:  # ragged points: keep the channels every point has
            values = np.array([v for p in points for v in p.split()[:width]], dtype=np.float64)
    except ValueError as error:
        raise InkMLError(path, f"trace {trace_id} has a non-numeric value ({error})") from None
    return values.reshape(len(points), width), channels[:width]


def _declared_channels(root, path) -> tuple[str, ...]:
    names = tuple(c.get("name", "") for c in root.iter("{*}channel"))
    if not names:
        return DEFAULT_CHANNELS
    if not {"X", "Y"} <= set(names):
        raise InkMLError(path, f"traceFormat declares channels {names} without X and Y")
    return names


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


def _mathml_ids(root) -> tuple[str, ...]:
    """The ``xml:id`` of the elements of the truth MathML, in document order."""
    truth = next((a for a in root if _local(a.tag) == "annotationXML"), None)
    if truth is None:
        return ()
    return tuple(e.get(_XML_ID) for e in truth.iter() if e.get(_XML_ID) is not None)


def _annotations(root) -> dict[str, str]:
    """Top-level ``<annotation type=...>`` texts (truth, writer, UI, ...)."""
    return {a.get("type", ""): (a.text or "").strip()
            for a in root if _local(a.tag) == "annotation"}


def read_inkml(path: str | os.PathLike) -> Ink:
    """Reads one InkML file; raises :class:`InkMLError` if its ink or truth is unreadable."""
    path = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise InkMLError(path, f"cannot open ({error.strerror})") from None
    if not data.strip():
        raise InkMLError(path, "empty file")
    root = etree.fromstring(data, _PARSER)
    if root is None or _local(root.tag) != "ink":
        raise InkMLError(path, "no <ink> root element (not InkML or unreadable XML)")
    channels = _declared_channels(root, path)
    annotations = _annotations(root)
    truth = annotations.get("truth", "")
    if not truth:
        raise InkMLError(path, "no truth annotation")
    trace_ids, traces, kept = [], [], channels
    for trace in root.iter("{*}trace"):
        trace_id = trace.get("id", str(len(trace_ids)))
        points, kept_here = _parse_points(trace.text or "", channels, path, trace_id)
        trace_ids.append(trace_id)
        traces.append(points)
        kept = kept_here if len(kept_here) < len(kept) else kept
    if not traces:
        raise InkMLError(path, "no traces (ink missing or truncated)")
    traces = [t[:, :len(kept)] for t in traces]
    return Ink(path, kept, tuple(trace_ids), tuple(traces), truth, annotations, _groups(root),
               _mathml_ids(root))


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
