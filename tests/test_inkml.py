"""InkML reader on real CROHME files and on broken ones."""

import pickle

import numpy as np
import pytest

from tapjax.tap.ink.inkml import InkMLError, read_files, read_folder, read_inkml

HEADER = '<ink xmlns="http://www.w3.org/2003/InkML">'
GOOD = HEADER + """
<traceFormat><channel name="X" type="decimal"/><channel name="Y" type="decimal"/>
<channel name="T" type="decimal"/></traceFormat>
<annotation type="truth">$x^2$</annotation>
<annotation type="writer">w1</annotation>
<annotationXML type="truth"><math><msup><mi xml:id="x_1">x</mi><mn xml:id="+_1">2</mn></msup></math></annotationXML>
<trace id="0">0 0 1, 1 1 2, 2 0 3</trace>
<trace id="1">5 5 4, 5 6 5</trace>
<traceGroup xml:id="9"><annotation type="truth">Segmentation</annotation>
 <traceGroup xml:id="10"><annotation type="truth">x</annotation><traceView traceDataRef="0"/>
  <annotationXML href="x_1"/></traceGroup>
 <traceGroup xml:id="11"><annotation type="truth">2</annotation><traceView traceDataRef="1"/>
  <annotationXML href="2_1"/></traceGroup>
</traceGroup></ink>"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_channels_truth_annotations_and_groups(tmp_path):
    ink = read_inkml(write(tmp_path, "a.inkml", GOOD))
    assert ink.key == "a"
    assert ink.channels == ("X", "Y", "T")
    assert ink.truth == "$x^2$"
    assert ink.annotations["writer"] == "w1"
    assert ink.trace_ids == ("0", "1")
    np.testing.assert_array_equal(ink.traces[0], [[0, 0, 1], [1, 1, 2], [2, 0, 3]])
    np.testing.assert_array_equal(ink.channel("T")[1], [4, 5])
    assert [(g.label, g.trace_ids, g.href) for g in ink.groups] == [
        ("x", ("0",), "x_1"), ("2", ("1",), "2_1")]
    assert [(n.tag, n.xml_id, n.text, n.parent) for n in ink.mathml] == [
        ("math", None, "", -1), ("msup", None, "", 0), ("mi", "x_1", "x", 1), ("mn", "+_1", "2", 1)]
    assert ink.warnings == ()  # ids such as "+_1" are not NCNames, yet well-formed XML


def test_ink_without_truth_reads_with_an_empty_truth(tmp_path):
    text = GOOD.replace('<annotation type="truth">$x^2$</annotation>', "")
    ink = read_inkml(write(tmp_path, "mine.inkml", text))
    assert ink.truth == "" and "truth" not in ink.annotations
    assert len(ink.traces) == 2


def test_trailing_channels_omitted_by_every_point(tmp_path):
    """MfrDB files declare X Y F and give X Y: the omitted trailing channels are dropped."""
    text = GOOD.replace("0 0 1, 1 1 2, 2 0 3", "0 0, 1 1, 2 0").replace("5 5 4, 5 6 5", "5 5, 5 6")
    ink = read_inkml(write(tmp_path, "f.inkml", text))
    assert ink.channels == ("X", "Y")
    np.testing.assert_array_equal(ink.traces[1], [[5, 5], [5, 6]])


@pytest.mark.parametrize("text, problem", [
    ("", "empty file"),
    (GOOD[:120], "XML cut or malformed: no closing </ink>, 0 traces"),  # cut before the truth
    (GOOD.split("<trace id")[0] + "</ink>", "no traces"),
    (GOOD.replace('name="X"', 'name="A"'), "without X and Y"),
    (GOOD.replace("0 0 1,", "0 0 1 7 7,"), "points have 5 values but the traceFormat declares"),
    (GOOD.replace("1 1 2", "1 a 2"), "trace 0 has a non-numeric value"),
    (GOOD.replace("5 5 4, 5 6 5", "5 5 4, 5 6"), "trace 1 point 2 of 2 has 2 values, not 3"),
    (GOOD.replace('<trace id="1">', '<trace id="0">'), r"duplicate trace ids \['0'\]"),
    (GOOD.replace('<channel name="X" type="decimal"/><channel name="Y" type="decimal"/>',
                  '<channel name="T" type="decimal"/><channel name="X" type="decimal"/>'
                  '<channel name="Y" type="decimal"/>').replace("5 5 4, 5 6 5", "5 5, 5 6")
     .replace("0 0 1, 1 1 2, 2 0 3", "0 0, 1 1, 2 0"), r"channels \('T', 'X'\) .* without X and Y"),
    (GOOD.replace("1 1 2", "1 1e9 2"), "trace 0 point 2 has Y = 1e\\+09"),
    (GOOD.replace("5 6 5", "5 6 nan"), "trace 1 point 2 has T = nan"),
    ("<svg>not ink</svg>", "no <ink> root"),
])
def test_broken_files_raise_one_error_type(tmp_path, text, problem):
    path = write(tmp_path, "broken.inkml", text)
    with pytest.raises(InkMLError, match=problem) as info:
        read_inkml(path)
    assert info.value.path == str(path)
    restored = pickle.loads(pickle.dumps(info.value))  # crosses worker processes
    assert (restored.path, restored.problem) == (info.value.path, info.value.problem)


def test_malformed_xml_is_recovered_with_a_warning_unless_ink_is_lost(tmp_path):
    bad_byte = GOOD.encode().replace(b"w1", b"w\xff1")  # not UTF-8, as in MfrDB0104
    (tmp_path / "b.inkml").write_bytes(bad_byte)
    ink = read_inkml(tmp_path / "b.inkml")
    assert len(ink.traces) == 2 and ink.truth == "$x^2$"
    assert len(ink.warnings) == 1
    assert ink.warnings[0].startswith("XML was malformed and recovered: Invalid bytes")
    cut = GOOD[:GOOD.index("<traceGroup")]  # the ink is all there, no closing tags
    with pytest.raises(InkMLError, match="XML cut or malformed: no closing </ink>, 2 traces"):
        read_inkml(write(tmp_path, "t.inkml", cut))
    lost = GOOD.replace('<trace id="0">', '<trace id="0" <')  # the parser drops the trace
    with pytest.raises(InkMLError, match="XML cut or malformed: 1 of 2 traces recovered"):
        read_inkml(write(tmp_path, "l.inkml", lost))


def test_folder_loader_collects_errors_and_goes_on(tmp_path):
    write(tmp_path, "good.inkml", GOOD)
    (tmp_path / "sub").mkdir()
    write(tmp_path, "sub/empty.inkml", "")
    inks, errors = read_folder(tmp_path)
    assert [i.key for i in inks] == ["good"]
    assert [e.problem for e in errors] == ["empty file"]
    assert read_files([tmp_path / "missing.inkml"])[1][0].problem.startswith("cannot open")


def test_real_files_of_every_folder(data_root):
    crohme = data_root / "crohme"
    ink = read_inkml(crohme / "TrainINKML/HAMEX/formulaire004-equation047.inkml")
    assert ink.truth.startswith("$f(x)=\\sum")
    assert len(ink.traces) == 20 and ink.channels == ("X", "Y")
    # 2014 test files carry MathML ids such as "+_1" (not NCNames, still well-formed).
    test = read_inkml(crohme / "TestEM2014GT/18_em_0.inkml")
    assert "+_1" in {n.xml_id for n in test.mathml} and len(test.groups) == 11 and test.warnings == ()
    # MfrDB0104 has a byte that is not valid UTF-8 inside the MathML: recovered.
    recovered = read_inkml(crohme / "TrainINKML/MfrDB/MfrDB0104.inkml")
    assert len(recovered.groups) > 0 and "Invalid bytes" in recovered.warnings[0]
    # MfrDB files declare X Y F and give X Y.
    assert read_inkml(crohme / "TrainINKML/MfrDB/MfrDB0026.inkml").channels == ("X", "Y")
    assert read_inkml(crohme / "TrainINKML/MfrDB/MfrDB0002.inkml").channels == ("X", "Y", "T")
    # A CROHME 2013 test file whose truth annotation is misspelt ("typx") has no truth.
    assert read_inkml(crohme / "TestINKMLGT_2013/rit_4295_2.inkml").truth == ""
    assert read_inkml(crohme / "TEST2016_INKML_GT/UN_101_em_0.inkml").truth == "$x^{2M}+x^{M-1}$"
    with pytest.raises(InkMLError, match="empty file"):
        read_inkml(crohme / "TrainINKML/MfrDB/MfrDB3088.inkml")
