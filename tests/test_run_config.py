"""A workdir's config.json: differing fields by dotted path; resuming refused unless only fields that
may change differ; a run of another config version refused; a workdir that is a file refused."""

import json

import ml_collections
import pytest

from tapjax.common import run_config
from tapjax.common.errors import InputError


def _config(**train):
    return ml_collections.ConfigDict({"version": run_config.VERSION, "model": {"hidden": 4, "sizes": (1, 2)},
                                      "model_cfg": {"dropout": 0.5}, "train": {"epochs": 1, "seed": 0, **train},
                                      "eval": {"beam": 1}})


def test_differences_by_dotted_path():
    old = {"model": {"hidden": 4, "sizes": [1, 2]}, "train": {"epochs": 1}}
    new = {"model": {"hidden": 8, "sizes": [1, 2], "extra": True}, "train": 3}
    assert list(run_config.differences(old, new)) == [
        ("model.extra", run_config.ABSENT, True), ("model.hidden", 4, 8), ("train", {"epochs": 1}, 3)]


def test_a_run_of_another_config_is_refused_naming_the_fields(tmp_path):
    run_config.save(tmp_path, _config())
    stored = (tmp_path / "config.json").read_bytes()
    changed = _config(seed=1)
    changed.model.hidden = 8
    with pytest.raises(InputError) as error:
        run_config.check_resume(tmp_path, changed, may_change=("eval", "train.epochs", "model_cfg"))
    assert "model.hidden (run: 4, now: 8), train.seed (run: 0, now: 1)" in str(error.value)
    assert (tmp_path / "config.json").read_bytes() == stored


def test_fields_that_may_change_resume(tmp_path):
    run_config.save(tmp_path, _config())
    changed = _config(epochs=5)
    changed.eval.beam = 10
    changed.model_cfg.dropout = 0.1  # "model" covers model.*, not model_cfg.*
    run_config.check_resume(tmp_path, changed, may_change=("eval", "train.epochs", "model_cfg"))
    with pytest.raises(InputError, match="model_cfg.dropout"):
        run_config.check_resume(tmp_path, changed, may_change=("eval", "train.epochs", "model"))


@pytest.mark.parametrize("version, shown", [(None, "absent"), (run_config.VERSION + 1, run_config.VERSION + 1)])
def test_a_run_of_another_config_version_is_refused_in_one_line(tmp_path, version, shown):
    stored = {k: v for k, v in run_config.as_json(_config()).items() if k != "version"}
    if version is not None:
        stored["version"] = version
    (tmp_path / "config.json").write_text(json.dumps(stored))
    with pytest.raises(InputError) as error:
        run_config.check_resume(tmp_path, _config(), may_change=("version",), hint="start it again")
    assert str(error.value) == (f"{tmp_path / 'config.json'}: a run of config version {shown}, but this tapjax "
                                f"reads config version {run_config.VERSION}; start it again")


def test_new_workdir_and_tuples_pass(tmp_path):
    run_config.check_resume(tmp_path / "new", _config(), may_change=())
    run_config.save(tmp_path, _config())
    assert json.loads((tmp_path / "config.json").read_text())["model"]["sizes"] == [1, 2]
    run_config.check_resume(tmp_path, _config(), may_change=())  # the tuple read back as a list is equal


def test_a_file_is_not_a_workdir(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        run_config.check_resume(path, _config(), may_change=())
    with pytest.raises(InputError, match="cannot write"):
        run_config.save(path / "run", _config())
