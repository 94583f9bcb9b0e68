"""InkML reader on real CROHME files and on broken ones."""

import pickle

import numpy as np
import pytest

from tapjax.tap.inkml import InkMLError, read_files, read_folder, read_inkml

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
    assert ink.mathml_ids == ("x_1", "+_1")


def test_points_with_fewer_values_than_declared_channels(tmp_path):
    text = GOOD.replace("0 0 1, 1 1 2, 2 0 3", "0 0, 1 1, 2 0").replace("5 5 4, 5 6 5", "5 5, 5 6")
    assert read_inkml(write(tmp_path, "f.inkml", text)).channels == ("X", "Y")


@pytest.mark.parametrize("text, problem", [
    ("", "empty file"),
    (GOOD[:120], "no truth annotation"),  # truncated before the truth
    (GOOD.replace('<annotation type="truth">$x^2$</annotation>', ""), "no truth annotation"),
    (GOOD.split("<trace id")[0] + "</ink>", "no traces"),
    (GOOD.replace('name="X"', 'name="A"'), "without X and Y"),
    (GOOD.replace("0 0 1,", "0 0 1 7 7,"), "values per point"),
    (GOOD.replace("1 1 2", "1 a 2"), "non-numeric"),
    ("<svg>not ink</svg>", "no <ink> root"),
])
def test_broken_files_raise_one_error_type(tmp_path, text, problem):
    path = write(tmp_path, "broken.inkml", text)
    with pytest.raises(InkMLError, match=problem) as info:
        read_inkml(path)
    assert info.value.path == str(path)
    restored = pickle.loads(pickle.dumps(info.value))  # crosses worker processes
    assert (restored.path, restored.problem) == (info.value.path, info.value.problem)


def test_truncated_xml_after_the_truth_is_recovered(tmp_path):
    text = GOOD[:GOOD.index("<traceGroup")]  # no closing tags at all
    assert len(read_inkml(write(tmp_path, "t.inkml", text)).traces) == 2


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
    # 2014 test files carry MathML ids such as "+_1" that a strict parser rejects.
    test = read_inkml(crohme / "TestEM2014GT/18_em_0.inkml")
    assert "+_1" in test.mathml_ids and len(test.groups) == 11
    # MfrDB0104 has a byte that is not valid UTF-8 inside the MathML (ElementTree gives up).
    assert len(read_inkml(crohme / "TrainINKML/MfrDB/MfrDB0104.inkml").groups) > 0
    assert read_inkml(crohme / "TEST2016_INKML_GT/UN_101_em_0.inkml").truth == "$x^{2M}+x^{M-1}$"
    with pytest.raises(InkMLError, match="empty file"):
        read_inkml(crohme / "TrainINKML/MfrDB/MfrDB3088.inkml")
