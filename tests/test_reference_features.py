"""Our point features against the TAP authors' released features of the CROHME 2014 test set."""

import io
import json
import tarfile

import numpy as np

from tapjax.cli import stats
from tapjax.tap.ink import reference_features
from tapjax.tap.ink.strokes import Settings


def test_default_preprocessing_agrees_with_the_authors_features(data_root, capsys):
    """All 986 expressions (about 3 s), through the report's command line."""
    assert stats.main(["--reference_features", "--json", "--data_dir", str(data_root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 986
    assert report["reference_feature_agreement"] >= 0.95
    assert set(report["columns"]) == set(reference_features.COLUMN_NAMES)


def test_another_thinning_threshold_disagrees(data_root):
    """The comparison tells preprocessings apart (every 10th expression)."""
    report = reference_features.agreement(data_root, Settings(min_distance=0.01), step=10)
    assert report["n"] == 99 and report["reference_feature_agreement"] < 0.1
    assert report["settings"] == {"min_distance": 0.01}


def test_reference_read_without_its_seventh_column(tmp_path):
    rows = np.arange(18, dtype=float).reshape(2, 9)
    text = "\n".join(" ".join(f"{v:f}" for v in row) for row in rows).encode()
    path = tmp_path / "features.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        member = tarfile.TarInfo("on-ascii-test/18_em_0.ascii")
        member.size = len(text)
        tar.addfile(member, io.BytesIO(text))
    reference = reference_features.read_reference(path)
    np.testing.assert_array_equal(reference["18_em_0"], rows[:, [0, 1, 2, 3, 4, 5, 7, 8]])


def test_differences_per_feature_or_none_for_other_point_counts():
    reference = np.zeros((3, 8))
    ours = reference.copy()
    ours[1, 2], ours[2, 2], ours[0, 7] = 0.5, -0.7, 1
    np.testing.assert_allclose(reference_features.differences(ours, reference),
                               [0, 0, 0.7, 0, 0, 0, 0, 1])
    assert reference_features.differences(ours[:2], reference) is None
