"""Token-to-stroke alignment against the reference on-align files."""

import pytest

from tapjax.tap.alignment import align, read_align_tar
from tapjax.tap.crohme import read_captions
from tapjax.tap.inkml import Ink, TraceGroup, read_inkml


def ink(groups, mathml_ids=(), strokes=4):
    return Ink("k.inkml", ("X", "Y"), tuple(str(i) for i in range(strokes)), (), "", {},
               tuple(groups), tuple(mathml_ids))


def test_structure_tokens_get_no_strokes_and_hrefs_count_occurrences():
    groups = [TraceGroup("x", ("2",), "x_2"), TraceGroup("x", ("0", "1"), "x_1"),
              TraceGroup("2", ("3",), "2_1")]
    tokens = "x ^ { 2 } x".split()
    assert align(tokens, ink(groups)) == [[0, 1], [], [], [3], [], [2]]


def test_fraction_bar_and_aliases():
    groups = [TraceGroup("-", ("0",), r"\frac_1"), TraceGroup("\\leq", ("1", "2"), "le_1"),
              TraceGroup("-", ("3",), "-_1")]
    tokens = r"\frac { a } { b } \leq -".split()
    assert align(tokens, ink(groups)) == [[0], [], [], [], [], [], [], [1, 2], [3]]


def test_stroke_list_hrefs_fall_back_to_labels_in_mathml_order():
    groups = [TraceGroup("a", ("2",), "2:"), TraceGroup("a", ("0", "1"), "0:1:")]
    assert align(["a", "a"], ink(groups, ["0:1:", "2:"])) == [[0, 1], [2]]


@pytest.mark.slow
def test_agreement_with_reference_on_real_files(data_root):
    crohme = data_root / "crohme"
    reference = read_align_tar(crohme / "tap/on-align-train.tar.gz")
    assert len(reference) == 8835
    captions = read_captions(crohme / "tap/train_caption.txt")
    paths = sorted((crohme / "TrainINKML").glob("*/*.inkml"))[::200]
    agree = 0
    for path in paths:
        key = path.stem
        if key not in captions:
            continue
        assert reference[key][0] == captions[key]
        agree += align(captions[key], read_inkml(path)) == reference[key][1]
    assert agree >= 0.9 * len(paths)
