"""Token-to-stroke alignment: MathML references, the fallback pass, full alignment, real files."""

import pytest

from tapjax.tap.ink import alignment
from tapjax.tap.ink.crohme import read_captions
from tapjax.tap.ink.inkml import Ink, TraceGroup, read_inkml


def ink(groups, strokes=4):
    """An Ink built in memory: no file, so no MathML (only the fallback pass applies)."""
    return Ink(path="k.inkml", channels=("X", "Y"), trace_ids=tuple(map(str, range(strokes))),
               traces=(), truth="", annotations={}, groups=tuple(groups))


def inkml_file(tmp_path, mathml: str, symbols) -> Ink:
    """Writes and reads a CROHME-like file: the truth MathML, then one trace group
    per ``(label, href)`` of ``symbols``, drawn with one stroke each, in that order."""
    traces = "".join(f'<trace id="{i}">0 0, 1 1</trace>' for i in range(len(symbols)))
    groups = "".join(
        f'<traceGroup xml:id="g{i}"><annotation type="truth">{label}</annotation>'
        f'<traceView traceDataRef="{i}"/><annotationXML href="{href}"/></traceGroup>'
        for i, (label, href) in enumerate(symbols))
    path = tmp_path / "f.inkml"
    path.write_text(
        '<ink xmlns="http://www.w3.org/2003/InkML"><annotation type="truth">t</annotation>'
        '<annotationXML type="truth" encoding="Content-MathML">'
        f'<math xmlns="http://www.w3.org/1998/Math/MathML">{mathml}</math></annotationXML>'
        f'{traces}<traceGroup xml:id="s"><annotation type="truth">Segmentation</annotation>'
        f'{groups}</traceGroup></ink>', encoding="utf-8")
    return read_inkml(path)


def strokes_of(caption: str, drawn: str) -> list[list[int]]:
    """The expected alignment: ``drawn`` gives the stroke of each drawn token, in
    order (all but ``{ } ^ _`` and brackets, which in these cases are root-index ones)."""
    strokes = iter(int(s) for s in drawn.split())
    return [[] if token in "{}^_[]" else [next(strokes)] for token in caption.split()]


# Older naming scheme: ids shared between kinds, or numbered out of document order.
# Each case: caption, MathML, groups (label, href) in drawing order, strokes of the drawn tokens.
SHARED_IDS = {
    # KAIST: fraction bars and minus signs share "-_k"; roots are "_k".
    "minus and fraction bar share -_k": (
        r"- \frac { \sqrt { a } } { b } - c",
        '<mrow><mo xml:id="-_1">-</mo><mfrac xml:id="-_2"><msqrt xml:id="_1"><mi xml:id="a_1">a'
        '</mi></msqrt><mi xml:id="b_1">b</mi></mfrac><mo xml:id="-_3">-</mo>'
        '<mi xml:id="c_1">c</mi></mrow>',
        [("-", "-_1"), (r"\sqrt", "_1"), ("a", "a_1"), ("-", "-_2"), ("b", "b_1"), ("-", "-_3"),
         ("c", "c_1")],
        "0 3 1 2 4 5 6"),
    # expressmatch, HAMEX, CROHME 2013-2016 tests: fractions and roots share "_k".
    "fractions and roots share _k": (
        r"\frac { \sqrt { a } } { b } + \sqrt [ 3 ] { c }",
        '<mrow><mfrac xml:id="_1"><msqrt xml:id="_2"><mi xml:id="a_1">a</mi></msqrt>'
        '<mi xml:id="b_1">b</mi></mfrac><mo xml:id="+_1">+</mo><mroot xml:id="_3">'
        '<mi xml:id="c_1">c</mi><mn xml:id="3_1">3</mn></mroot></mrow>',
        [(r"\sqrt", "_2"), ("a", "a_1"), ("-", "_1"), ("b", "b_1"), ("+", "+_1"),
         (r"\sqrt", "_3"), ("3", "3_1"), ("c", "c_1")],
        "2 0 1 3 4 5 6 7"),
    # MfrDB: the inner bracket numbered first.
    "ids numbered inside out": (
        "f ( g ( x ) )",
        '<mrow><mi xml:id="f_1">f</mi><mo xml:id="(_2">(</mo><mi xml:id="g_1">g</mi>'
        '<mo xml:id="(_1">(</mo><mi xml:id="x_1">x</mi><mo xml:id=")_1">)</mo>'
        '<mo xml:id=")_2">)</mo></mrow>',
        [("f", "f_1"), ("(", "(_2"), ("g", "g_1"), ("(", "(_1"), ("x", "x_1"), (")", ")_1"),
         (")", ")_2")],
        "0 1 2 3 4 5 6"),
}


@pytest.mark.parametrize("case", SHARED_IDS)
def test_shared_ids_keep_strokes_on_their_symbols(tmp_path, case):
    caption, mathml, groups, drawn = SHARED_IDS[case]
    got = alignment.align(caption.split(), inkml_file(tmp_path, mathml, groups))
    assert got == strokes_of(caption, drawn)


@pytest.mark.parametrize("caption, mathml, groups, drawn", [
    # MathML order is (base, index); the caption spells the index first.
    (r"\sqrt [ n ] { n }",
     '<mroot xml:id="_1"><mi xml:id="n_1">n</mi><mi xml:id="n_2">n</mi></mroot>',
     [(r"\sqrt", "_1"), ("n", "n_2"), ("n", "n_1")], "0 1 2"),
    # Some MfrDB files put the index first: the caption's index (one 5) tells.
    (r"\sqrt [ 5 ] { 5 5 }",
     '<mroot xml:id="\\sqrt_1"><mrow><mn xml:id="5_1">5</mn></mrow><mrow><mn xml:id="5_2">5</mn>'
     '<mn xml:id="5_3">5</mn></mrow></mroot>',
     [(r"\sqrt", r"\sqrt_1"), ("5", "5_1"), ("5", "5_2"), ("5", "5_3")], "0 1 2 3"),
])
def test_root_index_in_caption_order(tmp_path, caption, mathml, groups, drawn):
    got = alignment.align(caption.split(), inkml_file(tmp_path, mathml, groups))
    assert got == strokes_of(caption, drawn)


def test_element_kinds_survive_garbled_texts_and_missing_fractions(tmp_path):
    """A text ``im`` for ``\\lim`` (the label says), a unicode text under a garbled
    label, a fraction written as ``<mo>-</mo>``, stroke-list ids (MathBrush)."""
    mathml = ('<mrow><mo xml:id="0:1:">im</mo><mi xml:id="2:">x</mi>'
              '<mo xml:id="3:">\u2264</mo><mrow><mn xml:id="4:">1</mn><mo xml:id="5:">-</mo>'
              '<mn xml:id="6:">2</mn></mrow></mrow>')
    groups = [(r"\lim", "0:1:"), ("x", "2:"), ("?", "3:"), ("1", "4:"), ("-", "5:"), ("2", "6:")]
    caption = r"\lim x \leq \frac { 1 } { 2 }"
    got = alignment.align(caption.split(), inkml_file(tmp_path, mathml, groups))
    assert got == strokes_of(caption, "0 1 2 4 3 5")


def test_token_kinds_merge_synonyms_entities_and_unicode():
    kind = alignment.token_kind
    assert kind("le") == kind(r"\le") == kind("\u2264") == kind(r"\leq") == r"\leq"
    assert kind("\u2212") == kind("minus") == "-"
    assert kind("sin") == kind(r"\sin") == r"\sin"
    assert kind(r"\{") == r"\{" and kind("x") == "x" and kind("ctdot") == r"\cdots"


def test_root_index_brackets_are_not_drawn():
    tokens = r"\sqrt [ 3 ] { x } + [ a ]".split()
    assert alignment.root_indices(tokens) == [(1, 3)]
    assert alignment.ink_tokens(tokens) == [True, False, True, False, False, True, False,
                                            True, True, True, True]


def test_fallback_hrefs_count_occurrences_and_structure_gets_nothing():
    groups = [TraceGroup("x", ("2",), "x_2"), TraceGroup("x", ("0", "1"), "x_1"),
              TraceGroup("2", ("3",), "2_1")]
    tokens = "x ^ { 2 } x".split()
    assert alignment.align(tokens, ink(groups)) == [[0, 1], [], [], [3], [], [2]]


def test_fallback_shared_names_and_aliases():
    groups = [TraceGroup("-", ("0",), r"\frac_1"), TraceGroup(r"\leq", ("1", "2"), "le_1"),
              TraceGroup("-", ("3",), "-_1")]
    tokens = r"\frac { a } { b } \leq -".split()
    assert alignment.align(tokens, ink(groups)) == [[0], [], [], [], [], [], [], [1, 2], [3]]


def test_fallback_labels_in_file_order_for_unnamed_groups():
    groups = [TraceGroup("a", ("2",), "2:"), TraceGroup("b", ("3",)), TraceGroup("a", ("0", "1"))]
    assert alignment.align(["a", "b", "a"], ink(groups)) == [[2], [3], [0, 1]]


@pytest.mark.parametrize("tokens, strokes, count, full", [
    (r"\frac { a } { b }", [[2], [], [0], [], [], [1], []], 3, True),
    (r"\frac { a } { b }", [[2], [], [0], [], [], [1], []], 4, True),  # stroke 3 unused
    (r"\frac { a } { b }", [[], [], [0], [], [], [1], []], 3, False),  # \frac has none
    (r"\frac { a } { b }", [[1], [], [0], [], [], [1], []], 3, False),  # stroke 1 twice
    (r"\frac { a } { b }", [[2], [3], [0], [], [], [1], []], 4, False),  # "{" drawn
    (r"\frac { a } { b }", [[2], [], [0], [], [], [3], []], 3, False),  # no stroke 3
    (r"\sqrt [ 3 ] { x }", [[0], [], [1], [], [], [2], []], 3, True),
    (r"\sqrt [ 3 ] { x }", [[0], [3], [1], [], [], [2], []], 4, False),  # index bracket drawn
    ("a b", [[0]], 1, False),  # a row short
])
def test_fully_aligned(tokens, strokes, count, full):
    assert alignment.fully_aligned(tokens.split(), strokes, count) is full


@pytest.mark.slow
def test_full_and_agreeing_with_reference_on_real_files(data_root):
    """The reference alignments match hrefs by name, so they go wrong where ids
    are shared; they are compared only where they are themselves full."""
    crohme = data_root / "crohme"
    reference = alignment.read_align_tar(crohme / "tap/on-align-train.tar.gz")
    assert len(reference) == 8835
    captions = read_captions(crohme / "tap/train_caption.txt")
    paths = [p for p in sorted((crohme / "TrainINKML").glob("*/*.inkml"))[::200]
             if p.stem in captions]
    full = trusted = agree = 0
    for path in paths:
        tokens, ref = reference[path.stem]
        assert tokens == captions[path.stem]
        ink = read_inkml(path)
        ours = alignment.align(tokens, ink)
        full += alignment.fully_aligned(tokens, ours, len(ink.traces))
        if alignment.fully_aligned(tokens, ref, len(ink.traces)):
            trusted += 1
            agree += ours == ref
    assert full >= 0.97 * len(paths)
    assert agree >= 0.95 * trusted
