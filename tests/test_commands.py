"""Every command keeps the contract of :mod:`tapjax.cli.contract`: ``--help`` prints its usage and
exits 0; an unknown flag or a missing data root is one ``error:`` line on stderr and exit status 2;
``--json`` prints exactly one JSON object on stdout. The tests run over the dispatcher's table
(:data:`tapjax.cli.__main__.COMMANDS`), so a command is covered as soon as ``tapjax`` lists it;
its ``--json`` case is below (:data:`JSON_CASES`, small real runs on real data).
The commands run in-process through their ``main(argv)``; one subprocess runs the console script."""

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from conftest import OVERFIT_OVERRIDES
from tapjax.cli.__main__ import COMMANDS
from tapjax.cli.__main__ import main as tapjax
from tapjax.tap.ink.crohme import FOLDERS
from tapjax.tap.read import exported

REPO = Path(__file__).resolve().parents[1]
SHIPPED = str(exported.shipped())


@pytest.fixture(autouse=True)
def in_the_repository(monkeypatch):
    """The commands' default config files are paths relative to the repository."""
    monkeypatch.chdir(REPO)


def command(name: str):
    return importlib.import_module(f"tapjax.cli.{name}")


def error_line(capsys) -> str:
    """The one ``error:`` line the command printed on stderr, and nothing on stdout."""
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    [line] = err.splitlines()
    assert line.startswith("error: ")
    return line


def usage(name: str, capsys) -> str:
    assert command(name).main(["--help"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("name", COMMANDS)
def test_help_prints_the_usage(name, capsys):
    text = usage(name, capsys)
    assert text.startswith(f"usage: tapjax {name}") and "--json" in text


@pytest.mark.parametrize("name", COMMANDS)
def test_an_unknown_flag_is_one_error_line(name, capsys):
    assert command(name).main(["--no_such_flag"]) == 2
    error_line(capsys)


READS_NO_DATA = {"draw", "al_report"}  # their inputs are the files named on the command line


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - READS_NO_DATA))
def test_a_missing_data_root_is_one_error_line(name, capsys):
    assert command(name).main(["--data_dir", "/nonexistent"]) == 2
    assert "/nonexistent: no such folder" in error_line(capsys)


@pytest.mark.parametrize("name", COMMANDS)
def test_data_dir_is_a_flag_of_every_command_that_reads_data(name, capsys):
    assert ("--data_dir" in usage(name, capsys)) == (name not in READS_NO_DATA)


def test_the_dispatcher_runs_a_command_and_refuses_an_unknown_one(capsys):
    assert tapjax(["draw", "--help"]) == 0 and capsys.readouterr().out.startswith("usage: tapjax draw")
    assert tapjax(["drawing"]) == 2
    assert "unknown command 'drawing'" in error_line(capsys)
    assert tapjax([]) == 2
    assert "no command given" in error_line(capsys)


def test_the_console_script_lists_every_command():
    script = shutil.which("tapjax", path=str(Path(sys.executable).parent))
    assert script, "no tapjax script beside the Python: pip install -e . installs it (pyproject.toml)"
    done = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    assert all(f"  {name} " in done.stdout for name in COMMANDS)


class Given(NamedTuple):
    """What a ``--json`` case may use: the real data root, CROHME in miniature (``tiny_crohme``),
    a folder for outputs, the session's trained overfit run."""

    root: Path
    tiny: Path
    tmp: Path
    overfit: Path

    def ink(self, n: int = 2) -> list[str]:
        """The first ``n`` InkML files of CROHME 2014 test."""
        return [str(p) for p in sorted((self.root / "crohme" / FOLDERS["test2014"]).glob("*.inkml"))[:n]]


def _stats(given: Given) -> list[str]:
    folder = given.tmp / "ink"
    folder.mkdir()
    for path in given.ink():
        shutil.copy(path, folder)
    return ["--folder", str(folder), "--cache_dir", str(given.tmp / "cache")]


def _train(given: Given) -> list[str]:
    """The session's overfit run (tests/conftest.py), copied and resumed by the command: it trains
    on to its end and tests, printing progress on the way."""
    workdir = shutil.copytree(given.overfit, given.tmp / "run")
    return ["--workdir", str(workdir), "--config", "experiments/configs/crohme14.py:overfit",
            "--data_dir", str(given.root), *OVERFIT_OVERRIDES]


def _export(given: Given) -> list[str]:
    """The overfit run exported, its card scored on the whole CROHME 2014 and 2016 test sets at beam 1."""
    return ["--checkpoint", str(given.overfit), "--out", str(given.tmp / "model"), "--command", "test",
            "--machine", "test", "--beam", "1"]


def _active_learning(given: Given) -> list[str]:
    """The smoke protocol's start round on real CoNLL-2003: one random seed, one model trained."""
    return ["--workdir", str(given.tmp / "al"), "--config", "experiments/configs/al_conll.py:smoke",
            "--data_dir", str(given.root), "--config.al.rounds=0", "--config.al.strategies=('random',)"]


# name -> the argv of a small run (Given -> argv), its output one JSON object with --json.
JSON_CASES = {
    "recognize": lambda given: [*given.ink(), "--beam", "1"],
    "evaluate": lambda given: ["--split", "test2014", "--limit", "2", "--beam", "1"],
    "tune": lambda given: ["--checkpoint", SHIPPED, "--grid", "1", "--limit", "2", "--beam", "1",
                           "--out", str(given.tmp / "weights.json")],
    "export": _export,
    "train": _train,
    "active_learning": _active_learning,
    "stats": _stats,
    "draw": lambda given: [*given.ink(), "--out", str(given.tmp / "ink.png")],
    "al_report": lambda given: [str(REPO / "docs" / "results" / "atis_tagger" / "summary.json")],
    "lm": lambda given: ["--workdir", str(given.tmp / "lm"), "--data_dir", str(given.tiny), "--config.train.epochs=1",
                         "--config.model.hidden=4", "--config.model.embed_dim=2"],
}



def test_every_command_has_a_json_case():
    assert set(JSON_CASES) == set(COMMANDS)


@pytest.mark.parametrize("name", JSON_CASES)
def test_json_is_one_object(name, data_root, tiny_crohme, overfit_run, tmp_path, capsys):
    argv = JSON_CASES[name](Given(data_root, tiny_crohme, tmp_path, overfit_run[0]))
    assert command(name).main([*argv, "--json"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), dict)
