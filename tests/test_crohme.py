"""Dataset assembly and the preprocessing cache."""

import os
import shutil

import numpy as np
import pytest

from tapjax.tap.ink import crohme
from tapjax.tap.ink.latex import tokenize
from tapjax.tap.ink.strokes import Settings

FILES = ["TrainINKML/HAMEX/formulaire001-equation001.inkml",
         "TrainINKML/MfrDB/MfrDB2656.inkml",
         "TrainINKML/MfrDB/MfrDB3088.inkml",           # 0 bytes
         "TrainINKML/MfrDB/MfrDB0104.inkml",           # malformed XML, recovered
         "TrainINKML/KAIST/KME1G3_0_sub_10.inkml",
         "TestINKMLGT_2013/rit_4295_2.inkml",          # truth annotation misspelt: no truth
         "TestINKMLGT_2013/rit_42140_1.inkml"]


@pytest.fixture
def small_root(data_root, tmp_path):
    """A data root with a few real training files and the standard tap/ files."""
    root = tmp_path / "data"
    for name in FILES + ["tap/train_caption.txt", "tap/dictionary.txt"]:
        source = data_root / "crohme" / name
        if source.exists():
            (root / "crohme" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / "crohme" / name)
    return root


def test_load_folder_skips_and_reports(small_root, cache_dir):
    split = crohme.load_folder("TrainINKML", small_root, workers=1)
    assert len(split) == len(split.features) == len(split.token_strokes) >= 2
    assert [(os.path.basename(p), r) for p, r in split.skipped] == [
        ("MfrDB3088.inkml", "read: empty file")]
    assert [os.path.basename(p) for p, _ in split.warnings] == ["MfrDB0104.inkml"]
    assert split.warnings[0][1].startswith("XML was malformed and recovered: Invalid bytes")
    assert "MfrDB0104" in split.keys
    i = split.keys.index("MfrDB2656")
    assert split.tokens[i] == r"\frac { 2 } { 4 }".split()
    assert split.token_strokes[i] == [[1], [], [0], [], [], [2], []]
    assert split.stroke_count[i] == 3
    assert split.features[i].dtype == np.float32 and split.features[i].shape[1] == 8
    assert split.point_strokes[i].dtype == np.int32
    assert set(split.point_strokes[i]) == {0, 1, 2}


def test_cache_reuse_and_invalidation(small_root, cache_dir):
    first = crohme.load_folder("TrainINKML", small_root, workers=1)
    entries = sorted(cache_dir.iterdir())
    assert len(entries) == 1
    again = crohme.load_folder("TrainINKML", small_root, workers=1)
    assert sorted(cache_dir.iterdir()) == entries
    assert again.keys == first.keys and again.token_strokes == first.token_strokes
    assert (again.skipped, again.warnings) == (first.skipped, first.warnings) and again.warnings
    for a, b in zip(again.features, first.features):
        np.testing.assert_array_equal(a, b)

    crohme.load_folder("TrainINKML", small_root, settings=Settings(min_distance=0.1), workers=1)
    assert len(list(cache_dir.iterdir())) == 2          # changed setting -> recomputed

    path = small_root / "crohme" / FILES[0]
    path.write_text(path.read_text().replace("11.7004 15.5288", "11.9 15.9", 1))
    changed = crohme.load_folder("TrainINKML", small_root, workers=1)
    assert len(list(cache_dir.iterdir())) == 3          # changed file -> recomputed
    i = changed.keys.index("formulaire001-equation001")
    assert not np.array_equal(changed.features[i], first.features[i])


def test_parallel_load_equals_serial(small_root, tmp_path):
    serial = crohme.load_folder("TrainINKML", small_root, tmp_path / "a", workers=1)
    parallel = crohme.load_folder("TrainINKML", small_root, tmp_path / "b", workers=2)
    assert serial.keys == parallel.keys and serial.skipped == parallel.skipped
    assert serial.warnings == parallel.warnings
    assert all(np.array_equal(a, b) for a, b in zip(serial.features, parallel.features))


def test_train_valid_split_is_seeded_and_disjoint(small_root, cache_dir):
    train = crohme.load_split("train", small_root, valid_fraction=0.34, workers=1)
    valid = crohme.load_split("valid", small_root, valid_fraction=0.34, workers=1)
    assert not set(train.keys) & set(valid.keys)
    assert len(train) + len(valid) == len(crohme.load_folder("TrainINKML", small_root))
    assert len(valid) == 1
    np.testing.assert_array_equal(crohme.valid_indices(100, 0.05, 0), crohme.valid_indices(100, 0.05, 0))
    assert len(crohme.valid_indices(8835, 0.05, 0)) == 442


def test_take_and_subset(small_root, cache_dir):
    split = crohme.load_folder("TrainINKML", small_root, workers=1)
    assert crohme.subset(split, 2).keys == split.keys[:2]
    taken = split.take([1, 0])
    assert taken.keys == [split.keys[1], split.keys[0]]
    assert (taken.skipped, taken.warnings) == (split.skipped, split.warnings)
    with pytest.raises(ValueError, match="unknown split"):
        crohme.load_split("dev", small_root)


def test_test2013_split_tokenizes_truths_and_skips_files_without(small_root, cache_dir):
    assert "test2013" in crohme.SPLITS
    split = crohme.load_split("test2013", small_root, workers=1)
    assert split.name == "test2013" and split.keys == ["rit_42140_1"]
    assert split.tokens[0] == tokenize(split.truths[0]) and split.tokens[0]
    assert [(os.path.basename(p), r) for p, r in split.skipped] == [
        ("rit_4295_2.inkml", "tokenize: no truth annotation")]


def test_load_path_reads_any_folder_and_caches_each_copy_apart(small_root, tmp_path, cache_dir):
    first = crohme.load_path(small_root / "crohme/TrainINKML", workers=1)
    copy = tmp_path / "copy/TrainINKML"
    shutil.copytree(small_root / "crohme/TrainINKML", copy)  # same names, sizes and times
    second = crohme.load_path(copy, workers=1)
    assert first.name == second.name == "TrainINKML"
    assert len(list(cache_dir.iterdir())) == 2
    assert sorted(second.keys) == sorted(first.keys) == sorted(
        crohme.load_folder("TrainINKML", small_root, workers=1).keys)
    assert second.skipped[0][0] == str(copy / "MfrDB/MfrDB3088.inkml")
    assert second.warnings[0][0] == str(copy / "MfrDB/MfrDB0104.inkml")
    with pytest.raises(FileNotFoundError, match="missing"):
        crohme.load_path(tmp_path / "missing")


@pytest.mark.slow
def test_stats_report_on_real_data(data_root):
    """The full report (uses the default cache: about 30 s cold, a few seconds warm)."""
    from tapjax.tap.ink.data_report import report
    stats = report(data_root)
    folders = stats["folders"]
    assert [folders[f]["loaded"] for f in ("train2014", "test2014", "test2016", "test2013")] == [
        8835, 986, 1147, 668]
    assert [os.path.basename(p) for p, _ in folders["train2014"]["skipped"]] == ["MfrDB3088.inkml"]
    assert [os.path.basename(p) for p, _ in folders["train2014"]["warnings"]] == ["MfrDB0104.inkml"]
    assert sorted((os.path.basename(p), r) for p, r in folders["test2013"]["skipped"]) == [
        (name, "tokenize: no truth annotation")
        for name in ("rit_4295_2.inkml", "rit_4295_3.inkml", "ritm_426_0.inkml")]
    assert not any(folders[f]["skipped"] + folders[f]["warnings"] for f in ("test2014", "test2016"))
    assert stats["caption_agreement"]["train"]["agreement"] >= 0.97
    assert stats["caption_agreement"]["test"]["agreement"] >= 0.97
    assert stats["alignment_agreement"]["agreement_where_reference_full"] >= 0.97
    assert all(f["full_alignment"]["rate"] >= 0.98 for f in stats["folders"].values())
    assert stats["oov"] == {"train2014": {}, "test2014": {}, "test2016": {},
                            "test2013": {r"\vtop": 1}}
