"""Broken and unusual InkML files: reported and skipped, never fatal.

Each bad file is made from one real-looking CROHME template (X Y T channels, a
truth, its MathML, a symbol segmentation); the reader, the folder loader and
``tapjax stats --folder`` must agree on what loads and why the
rest does not.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tapjax.cli import stats
from tapjax.tap.ink import crohme, latex, strokes
from tapjax.tap.ink.inkml import InkMLError, read_inkml

TRUTH = "$x-1$"
# Four strokes: "x" (two), "-", "1"; points as (X, Y, T).
STROKES = [np.stack([np.linspace(x0, x1, 8), np.linspace(y0, y1, 8), np.arange(8) * 10 + t0], 1)
           for x0, y0, x1, y1, t0 in [(10, 10, 30, 40, 0), (30, 10, 10, 40, 200),
                                      (45, 25, 65, 25, 400), (80, 10, 80, 40, 600)]]
SEGMENTATION = """<traceGroup xml:id="10"><annotation type="truth">Segmentation</annotation>
 <traceGroup xml:id="11"><annotation type="truth">x</annotation>
  <traceView traceDataRef="0"/><traceView traceDataRef="1"/><annotationXML href="x_1"/></traceGroup>
 <traceGroup xml:id="12"><annotation type="truth">-</annotation>
  <traceView traceDataRef="2"/><annotationXML href="-_1"/></traceGroup>
 <traceGroup xml:id="13"><annotation type="truth">1</annotation>
  <traceView traceDataRef="3"/><annotationXML href="1_1"/></traceGroup>
</traceGroup>"""


def inkml(truth=TRUTH, channels=("X", "Y", "T"), ids=("0", "1", "2", "3"), extra=0.5) -> str:
    """The template: the four strokes written in ``channels`` order (others get ``extra``);
    ``truth=None`` leaves out the truth annotation."""
    columns = {"X": 0, "Y": 1, "T": 2}

    def point(p):
        return " ".join(f"{p[columns[c]]:g}" if c in columns else f"{extra:g}" for c in channels)

    traces = "\n".join(f'<trace id="{i}">{", ".join(map(point, stroke))}</trace>'
                       for i, stroke in zip(ids, STROKES))
    truth_annotation = f'<annotation type="truth">{truth}</annotation>' if truth is not None else ""
    return f"""<ink xmlns="http://www.w3.org/2003/InkML">
<traceFormat>{"".join(f'<channel name="{c}" type="decimal"/>' for c in channels)}</traceFormat>
{truth_annotation}
<annotation type="writer">w007</annotation>
<annotationXML type="truth" encoding="Content-MathML">
<math xmlns="http://www.w3.org/1998/Math/MathML"><mrow><mi xml:id="x_1">x</mi>
<mrow><mo xml:id="-_1">-</mo><mn xml:id="1_1">1</mn></mrow></mrow></math></annotationXML>
{traces}
{SEGMENTATION}
</ink>
"""


GOOD = inkml()


def edit_point(trace: int, point: int, text: str) -> str:
    """The template with one point's values written as ``text``."""
    old = " ".join(f"{v:g}" for v in STROKES[trace][point])
    assert GOOD.count(old) == 1
    return GOOD.replace(old, text)


NESTED_BRACES = "{" * 5000 + "x" + "}" * 5000
NESTED_FRACS = r"\frac{" * 3000 + "1" + "}{2}" * 3000
FRACS_TOKENS = [r"\frac", "{"] * 3000 + ["1"] + ["}", "{", "2", "}"] * 3000
# Bad files that still load: their text, the tokens they load with, their warning (or None).
READABLE = {
    "order_t_x_y": (inkml(channels=("T", "X", "Y")), "x - 1".split(), None),
    "extra_channel": (inkml(channels=("X", "F", "Y", "T")), "x - 1".split(), None),
    "nested_braces": (inkml(truth=NESTED_BRACES), ["x"], None),
    "nested_fracs": (inkml(truth=NESTED_FRACS), FRACS_TOKENS, None),
    "bad_byte": (GOOD.replace("w007", "w\udcff007"), "x - 1".split(),
                 "XML was malformed and recovered: Invalid bytes in character encoding"),
}
# Bad files that are skipped: their text and the start of the reason the loader gives.
SKIPPED = {
    "no_truth": (inkml(truth=None), "tokenize: no truth annotation"),
    "cut_mid_point": (edit_point(3, 7, "80"), "read: trace 3 point 8 of 8 has 1 values, not 3"),
    "ragged": (edit_point(2, 0, "45 400"), "read: trace 2 point 1 of 8 has 2 values, not 3"),
    "nan": (edit_point(1, 7, "10 nan 270"), "read: trace 1 point 8 has Y = nan"),
    "inf": (edit_point(3, 0, "-inf 10 600"), "read: trace 3 point 1 has X = -inf"),
    "absurd": (edit_point(3, 0, "80 3e12 600"), "read: trace 3 point 1 has Y = 3e+12"),
    "duplicate_ids": (inkml(ids=("0", "1", "1", "3")), "read: duplicate trace ids ['1']"),
    "cut_mid_tag": (GOOD[:GOOD.index('<trace id="2"') + 6],
                    "read: XML cut or malformed: no closing </ink>"),
    "lost_trace": (GOOD.replace('<trace id="2">', '<trace id="2" <'),
                   "read: XML cut or malformed: 3 of 4 traces recovered"),
    "empty": ("", "read: empty file"),
    "not_xml": ("PNG\r\n\x1a\n not InkML at all", "read: no <ink> root element"),
    "no_points": (GOOD.replace(GOOD[GOOD.index('<trace id="3">'):GOOD.rindex("</trace>")],
                               '<trace id="3">'), "read: trace 3 has no points"),
}


def write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.inkml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return path


def test_template_reads_as_written(tmp_path):
    ink = read_inkml(write(tmp_path, "good", GOOD))
    assert ink.channels == ("X", "Y", "T") and ink.truth == TRUTH and ink.warnings == ()
    for trace, stroke in zip(ink.traces, STROKES):
        np.testing.assert_allclose(trace, stroke, atol=1e-3)
    assert [g.trace_ids for g in ink.groups] == [("0", "1"), ("2",), ("3",)]


def test_ink_without_truth_reads_and_gives_features(tmp_path):
    ink = read_inkml(write(tmp_path, "mine", inkml(truth=None)))
    assert ink.truth == ""
    features, point_strokes = strokes.preprocess(ink.traces)
    assert features.shape == (32, 8) and np.isfinite(features).all()
    assert set(point_strokes) == {0, 1, 2, 3}


@pytest.mark.parametrize("name", ["order_t_x_y", "extra_channel"])
def test_channels_are_taken_by_name(tmp_path, name):
    good = read_inkml(write(tmp_path, "good", GOOD))
    other = read_inkml(write(tmp_path, name, READABLE[name][0]))
    assert other.channels == ("X", "Y", "T")
    for a, b in zip(good.traces, other.traces):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(strokes.preprocess(good.traces), strokes.preprocess(other.traces)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", [n for n in SKIPPED if SKIPPED[n][1].startswith("read: ")])
def test_unreadable_files_raise_an_error_naming_file_and_problem(tmp_path, name):
    text, reason = SKIPPED[name]
    path = write(tmp_path, name, text)
    with pytest.raises(InkMLError) as info:
        read_inkml(path)
    assert info.value.path == str(path)
    assert info.value.problem.startswith(reason.removeprefix("read: "))


@pytest.mark.parametrize("truth, tokens", [
    (NESTED_BRACES, ["x"]),
    (NESTED_FRACS, FRACS_TOKENS),
    ("{" * 100_000, []),
    ("x^{" * 20_000 + "y" + "}" * 20_000, ["x", "^", "{"] * 20_000 + ["y"] + ["}"] * 20_000),
])
def test_deep_nesting_tokenizes_without_recursion_error(truth, tokens):
    assert latex.tokenize(truth) == tokens


@pytest.mark.parametrize("target, error, reason", [
    ("tapjax.tap.ink.strokes.preprocess", ValueError("2,000,000 points: too many"),
     "features: 2,000,000 points: too many"),
    ("tapjax.tap.ink.alignment.align", KeyError("7"), "align: KeyError: '7'"),
    ("tapjax.tap.ink.latex.tokenize", RuntimeError("boom"), "tokenize: RuntimeError: boom"),
])
def test_a_failure_at_any_stage_skips_the_file_naming_the_stage(tmp_path, monkeypatch, target,
                                                                 error, reason):
    def fail(*args, **kwargs):
        raise error

    write(tmp_path / "ink", "good", GOOD)
    write(tmp_path / "ink", "other", inkml(channels=("T", "X", "Y")))
    monkeypatch.setattr(target, fail)
    split = crohme.load_path(tmp_path / "ink", tmp_path / "cache", workers=1)
    assert len(split) == 0
    assert by_name(split.skipped) == {"good": reason, "other": reason}


def test_an_expression_over_the_point_cap_is_skipped_with_the_cap_named(tmp_path, monkeypatch):
    monkeypatch.setattr(strokes, "MAX_POINTS", 31)  # the template has 32 points
    write(tmp_path / "ink", "long", GOOD)
    split = crohme.load_path(tmp_path / "ink", tmp_path / "cache", workers=1)
    assert len(split) == 0
    assert by_name(split.skipped) == {"long": "features: 32 points: more than the 31 points per expression "
                                               "tapjax preprocesses (tapjax.tap.ink.strokes.MAX_POINTS)"}


REAL = ["18_em_0", "32_em_203", "504_em_40", "516_em_388", "RIT_2014_301"]


@pytest.fixture
def mixed_folder(data_root, tmp_path):
    """Five real CROHME 2014 test files and every bad file, in one folder."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    for key in REAL:
        shutil.copy(data_root / "crohme/TestEM2014GT" / f"{key}.inkml", folder)
    for name, (text, *_) in {**READABLE, **SKIPPED}.items():
        write(folder, name, text)
    return folder


def by_name(pairs) -> dict[str, str]:
    """``(path, text)`` pairs keyed by file name without ``.inkml``."""
    return {Path(path).stem: text for path, text in pairs}


def check_report(keys, tokens, skipped, warnings) -> None:
    """The load of :func:`mixed_folder`: real and readable files loaded, every other one skipped
    with its reason, the recovered one warned about."""
    assert sorted(keys) == sorted(REAL + list(READABLE))
    assert {k: t for k, t in zip(keys, tokens) if k in READABLE} == {
        name: expected for name, (_, expected, _) in READABLE.items()}
    reasons = by_name(skipped)
    assert reasons.keys() == SKIPPED.keys()
    for name, (_, expected) in SKIPPED.items():
        assert reasons[name].startswith(expected), (name, reasons[name])
    expected_warnings = {name: w for name, (_, _, w) in READABLE.items() if w}
    messages = by_name(warnings)
    assert messages.keys() == expected_warnings.keys()
    assert all(messages[name].startswith(w) for name, w in expected_warnings.items())


@pytest.mark.parametrize("workers", [1, 2])
def test_folder_load_keeps_the_good_and_reports_the_bad(mixed_folder, tmp_path, workers):
    split = crohme.load_path(mixed_folder, tmp_path / f"cache{workers}", workers=workers)
    check_report(split.keys, split.tokens, split.skipped, split.warnings)
    assert all(f.shape[1] == 8 and np.isfinite(f).all() for f in split.features)
    cached = crohme.load_path(mixed_folder, tmp_path / f"cache{workers}", workers=workers)
    assert cached.keys == split.keys
    assert (cached.skipped, cached.warnings) == (split.skipped, split.warnings)


def test_stats_folder_report_agrees(mixed_folder, tmp_path, capsys):
    argv = ["--folder", str(mixed_folder), "--cache_dir", str(tmp_path / "cache")]
    assert stats.main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["folders"][str(mixed_folder)]
    split = crohme.load_path(mixed_folder, tmp_path / "cache", workers=1)
    assert report["loaded"] == len(split) == len(REAL) + len(READABLE)
    check_report(split.keys, split.tokens, report["skipped"], report["warnings"])
    assert [tuple(s) for s in report["skipped"]] == split.skipped
    assert stats.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"  skipped {mixed_folder}/empty.inkml: read: empty file" in out
    assert any(line.startswith(f"  warning {mixed_folder}/bad_byte.inkml: XML was malformed")
               for line in out)
