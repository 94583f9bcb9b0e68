"""The notebooks run headless on CPU with small parameters, every cell without error.

Each notebook gets its small parameters in a cell tagged ``injected-parameters`` right after
its ``parameters`` cell (as papermill does) and reads its dataset from the data root
(``$TAPJAX_DATA``); a test is skipped only if that dataset is absent.

    python tests/test_notebooks.py [NAME.ipynb ...]

executes the notebooks the same way and saves them with their outputs into notebooks/, with
machine paths replaced by placeholders: the saved outputs are those of a real run.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import nbclient
import nbformat
import pytest

from tapjax.common.paths import data_root

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SMALL = {  # notebook: (dataset folder it needs, parameters for a short CPU run)
    "al_conll_tpu.ipynb": ("conll2003", {"VARIANT": "smoke", "STRATEGIES": ("random", "wbadge"), "ROUNDS": 2}),
    "crohme14_tpu.ipynb": ("crohme", {"VARIANT": "overfit", "TRAIN_LIMIT": 8, "MAX_POINTS": 200, "EPOCHS": 20,
                                      "LOG_EVERY": 1}),
}
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|home|root|usr|opt)/[^\s'\"<>]*")


def inject(nb, parameters: dict) -> None:
    """Puts ``parameters`` in a cell tagged ``injected-parameters`` after the ``parameters`` cell."""
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "# Parameters of the saved (CI) run\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))


def execute(name: str, root: Path, cwd: Path):
    """Runs notebook ``name`` with its small parameters in ``cwd``, the data root ``root``."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    inject(nb, SMALL[name][1])
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # the notebook's own device count
    env.update(TAPJAX_DATA=str(root.resolve()), TQDM_MININTERVAL="30")
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", coalesce_streams=True,
                                     resources={"metadata": {"path": str(cwd)}})
    client.execute(env=env)
    return nb


def _text_fields(nb):
    """``(node, key)`` of every cell source and text output of ``nb``."""
    for cell in nb.cells:
        yield cell, "source"
        for out in cell.get("outputs", []):
            yield from ((out, k) for k in ("text", "traceback") if k in out)
            yield from ((out.data, k) for k in out.get("data", {}) if k.startswith("text/"))


def strip_paths(nb) -> None:
    """Replaces machine paths (``/work/...``, ``/tmp/...``) in sources and text outputs by ``<path>``."""
    for node, key in _text_fields(nb):
        value = node[key]
        if isinstance(value, list):
            node[key] = [MACHINE_PATH.sub("<path>", v) for v in value]
        else:
            node[key] = MACHINE_PATH.sub("<path>", value)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_notebook_runs_headless(name, tmp_path):
    root = data_root()
    if not (root / SMALL[name][0]).is_dir():
        pytest.skip(f"no {SMALL[name][0]} data under {root.resolve()} (set TAPJAX_DATA)")
    nb = execute(name, root, tmp_path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_saved_notebook_is_a_clean_real_run(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "save the notebook from a run: python tests/test_notebooks.py"
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in code)
    texts = [node[key] for node, key in _text_fields(nb)]
    assert not [t for t in texts if MACHINE_PATH.search(t if isinstance(t, str) else "\n".join(t))]


def save(names) -> None:
    """Executes ``names`` and writes them, outputs included and paths stripped, into notebooks/."""
    for name in names:
        with tempfile.TemporaryDirectory() as cwd:
            nb = execute(name, data_root(), Path(cwd))
        strip_paths(nb)
        nbformat.write(nb, NOTEBOOKS / name)
        print(f"saved {NOTEBOOKS / name}")


if __name__ == "__main__":
    save(sys.argv[1:] or sorted(SMALL))
