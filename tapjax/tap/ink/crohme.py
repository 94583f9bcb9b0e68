"""CROHME dataset assembly: train / valid / test2014 / test2016 / test2013 splits.

=========  =============================  ==========================================
split      source (under the data root)   captions
=========  =============================  ==========================================
train      crohme/TrainINKML minus valid  standard ``tap/train_caption.txt``
valid      seeded ``valid_fraction`` of   standard ``tap/train_caption.txt``
           crohme/TrainINKML
test2014   crohme/TestEM2014GT            standard ``tap/test_caption.txt``
test2016   crohme/TEST2016_INKML_GT       :func:`tapjax.tap.ink.latex.tokenize` of the truth
test2013   crohme/TestINKMLGT_2013        :func:`tapjax.tap.ink.latex.tokenize` of the truth
=========  =============================  ==========================================

The validation split is held out of the training folder (the test sets must
not pick models). :func:`load_path` reads any other folder of InkML files
(captions by tokenize). Each folder is read once (InkML parse, caption,
preprocessing, alignment; ``workers`` processes) and cached as one ``.npz``
(:mod:`tapjax.common.array_cache`). A file that fails at any stage is skipped
and listed in :attr:`Split.skipped` with a reason naming the stage
(``read: ...``, ``tokenize: ...``, ``features: ...``, ``align: ...``), never
aborting the load; a file read despite malformed XML is listed in
:attr:`Split.warnings`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from tapjax.common import array_cache
from tapjax.common.paths import dataset_dir
from tapjax.tap.ink import alignment, inkml, latex, strokes

FOLDERS = {"train": "TrainINKML", "valid": "TrainINKML", "test2014": "TestEM2014GT",
           "test2016": "TEST2016_INKML_GT", "test2013": "TestINKMLGT_2013"}
SPLITS = tuple(FOLDERS)
CAPTIONS = {"TrainINKML": "tap/train_caption.txt", "TestEM2014GT": "tap/test_caption.txt"}
# The modules whose code shapes the cached arrays (part of the cache key).
_CODE = [Path(m.__file__) for m in (inkml, latex, alignment, strokes)] + [Path(__file__)]


@dataclasses.dataclass
class Split:
    """Preprocessed expressions, one entry per expression in every list.

    ``features[i]`` float32 ``[N_i, 8]`` (:func:`tapjax.tap.ink.strokes.point_features`),
    ``point_strokes[i]`` int32 ``[N_i]`` the stroke of each point, ``tokens[i]`` the
    caption (without ``<eol>``), ``token_strokes[i][t]`` the strokes drawn for token
    ``t`` (empty for structure tokens), ``truths[i]`` the InkML truth LaTeX.
    ``skipped`` lists ``(path, reason)`` of the files of the folder that failed,
    ``warnings`` ``(path, message)`` of those read despite a problem (see
    :attr:`tapjax.tap.ink.inkml.Ink.warnings`).
    """

    name: str
    keys: list[str]
    truths: list[str]
    features: list[np.ndarray]
    point_strokes: list[np.ndarray]
    tokens: list[list[str]]
    token_strokes: list[list[list[int]]]
    stroke_count: list[int]
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    warnings: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    def take(self, indices: Sequence[int], name: str | None = None) -> "Split":
        """The expressions at ``indices`` (in that order), same ``skipped`` and ``warnings``."""
        fields = ("keys", "truths", "features", "point_strokes", "tokens", "token_strokes",
                  "stroke_count")
        picked = {f: [getattr(self, f)[int(i)] for i in indices] for f in fields}
        return Split(name or self.name, skipped=list(self.skipped), warnings=list(self.warnings),
                     **picked)


def subset(split: Split, n: int) -> Split:
    """The first ``n`` expressions of ``split`` (tiny overfit sets)."""
    return split.take(range(min(n, len(split))), name=f"{split.name}[:{n}]")


def read_captions(path: Path) -> dict[str, list[str]]:
    """Standard captions: ``key<TAB>tokens separated by spaces`` per line."""
    captions = {}
    for line in path.read_text().splitlines():
        if line.strip():
            key, _, tokens = line.partition("\t")
            captions[key] = tokens.split()
    return captions


@dataclasses.dataclass(frozen=True)
class _Result:
    """What reading one file gave: its Split fields, or the reason it was skipped; its warnings."""

    path: str
    example: tuple | None = None
    skipped: str | None = None
    warnings: tuple[str, ...] = ()


def _caption(ink: inkml.Ink, caption: list[str] | None) -> list[str]:
    """The standard caption if there is one, else the tokenized truth."""
    if caption is not None:
        return caption
    if not ink.truth:
        raise ValueError("no truth annotation")
    return latex.tokenize(ink.truth)


def _describe(error: Exception) -> str:
    """An error as a skip reason: the problem, with the error type unless it is an expected one."""
    if isinstance(error, inkml.InkMLError):
        return error.problem
    return str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"


def _read_example(path: Path, caption: list[str] | None, settings: strokes.Settings) -> _Result:
    """One expression as a tuple of Split fields, or the reason naming the stage that failed."""
    stage, warnings = "read", ()
    try:
        ink = inkml.read_inkml(path)
        stage, warnings = "tokenize", ink.warnings
        tokens = _caption(ink, caption)
        stage = "features"
        features, point_strokes = strokes.preprocess(ink.traces, settings)
        stage = "align"
        token_strokes = alignment.align(tokens, ink)
    except Exception as error:  # any failure skips the file, never the load
        return _Result(str(path), skipped=f"{stage}: {_describe(error)}", warnings=warnings)
    example = (ink.key, ink.truth, features, point_strokes, tokens, token_strokes, len(ink.traces))
    return _Result(str(path), example, warnings=warnings)


def _start_method() -> str:
    """``fork`` (instant) unless JAX is loaded: forking its threads can deadlock, so ``spawn``."""
    safe = "jax" not in sys.modules and "fork" in multiprocessing.get_all_start_methods()
    return "fork" if safe else "spawn"


def _read_all(paths, captions, settings, workers: int) -> list[_Result]:
    jobs = [(p, captions.get(p.name.removesuffix(".inkml")), settings) for p in paths]
    if workers <= 1:
        return [_read_example(*job) for job in jobs]
    context = multiprocessing.get_context(_start_method())
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(_read_example, *zip(*jobs), chunksize=64))


def _to_arrays(split: Split) -> dict[str, np.ndarray]:
    """Flat arrays of a Split (for the cache): ragged lists become concatenations."""
    return {
        "keys": np.array(split.keys, dtype=str), "truths": np.array(split.truths, dtype=str),
        "lengths": np.array([len(f) for f in split.features], dtype=np.int64),
        "features": np.concatenate(split.features or [np.zeros((0, 8), np.float32)]),
        "point_strokes": np.concatenate(split.point_strokes or [np.zeros(0, np.int32)]),
        "tokens": np.array([" ".join(t) for t in split.tokens], dtype=str),
        "token_strokes": np.array([";".join(",".join(map(str, s)) for s in ts)
                                   for ts in split.token_strokes], dtype=str),
        "stroke_count": np.array(split.stroke_count, dtype=np.int32),
        "skipped": np.array([f"{p}\t{r}" for p, r in split.skipped], dtype=str),
        "warnings": np.array([f"{p}\t{w}" for p, w in split.warnings], dtype=str),
    }


def _decode_token_strokes(text: str, count: int) -> list[list[int]]:
    cells = text.split(";") if count else []
    return [[int(s) for s in cell.split(",")] if cell else [] for cell in cells]


def _from_arrays(name: str, a: dict[str, np.ndarray]) -> Split:
    bounds = np.cumsum(a["lengths"])[:-1]
    tokens = [str(t).split() for t in a["tokens"]]
    return Split(
        name, keys=a["keys"].tolist(), truths=a["truths"].tolist(),
        features=np.split(a["features"], bounds),
        point_strokes=np.split(a["point_strokes"], bounds),
        tokens=tokens,
        token_strokes=[_decode_token_strokes(str(s), len(t))
                       for s, t in zip(a["token_strokes"], tokens)],
        stroke_count=a["stroke_count"].tolist(),
        skipped=[tuple(str(s).split("\t", 1)) for s in a["skipped"]],
        warnings=[tuple(str(w).split("\t", 1)) for w in a["warnings"]])


def _assemble(name: str, results: list[_Result]) -> Split:
    """The Split of the files read, with the skipped files and the warnings."""
    examples = [r.example for r in results if r.example is not None]
    return Split(name, *map(list, zip(*examples)) if examples else [[]] * 7,
                 skipped=[(r.path, r.skipped) for r in results if r.skipped is not None],
                 warnings=[(r.path, w) for r in results for w in r.warnings])


def _load(name: str, paths: list[Path], root: Path, caption_file: Path | None, cache_dir,
          settings: strokes.Settings | None, workers: int) -> Split:
    """``paths`` read, or taken from the cache entry keyed by their fingerprint under ``root``."""
    settings = settings or strokes.Settings()
    inputs = paths + ([caption_file] if caption_file else [])
    key = array_cache.cache_key(array_cache.file_fingerprint(inputs, root),
                                dataclasses.asdict(settings), _CODE)
    entry = array_cache.cache_dir(cache_dir) / f"crohme-{name}-{key}.npz"
    if (arrays := array_cache.load(entry)) is not None:
        return _from_arrays(name, arrays)
    captions = read_captions(caption_file) if caption_file else {}
    split = _assemble(name, _read_all(paths, captions, settings, workers))
    array_cache.save(entry, _to_arrays(split))
    return split


def load_folder(folder: str, data_dir=None, cache_dir=None,
                settings: strokes.Settings | None = None, workers: int = 2) -> Split:
    """Every readable expression of ``crohme/<folder>``, from the cache when it is fresh.

    With ``workers`` > 1 the files are read by that many processes, forked, or spawned
    once JAX is imported (forking its threads is unsafe): a script that imports JAX
    before calling this needs the usual ``if __name__ == "__main__":`` guard.
    """
    crohme = dataset_dir("crohme", data_dir)
    caption_file = crohme / CAPTIONS[folder] if folder in CAPTIONS else None
    return _load(folder, inkml.inkml_files(crohme / folder), crohme, caption_file, cache_dir,
                 settings, workers)


def load_path(folder: str | Path, cache_dir=None, settings: strokes.Settings | None = None,
              workers: int = 2) -> Split:
    """Every readable expression of the ``.inkml`` files under any ``folder`` (recursively),
    captions by :func:`tapjax.tap.ink.latex.tokenize` of the truths; cached like :func:`load_folder`
    (whose notes on ``workers`` apply). The Split is named after the folder.
    """
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"InkML folder {folder} not found")
    # Fingerprinted by absolute path: two copies of a folder never share a cache entry.
    return _load(folder.name, inkml.inkml_files(folder), Path(folder.anchor), None, cache_dir,
                 settings, workers)


def valid_indices(n: int, valid_fraction: float, seed: int) -> np.ndarray:
    """The sorted indices of the seeded validation hold-out among ``n`` training expressions."""
    count = int(round(n * valid_fraction))
    return np.sort(np.random.default_rng(seed).permutation(n)[:count])


def load_split(split: str, data_dir=None, cache_dir=None, settings: strokes.Settings | None = None,
               *, valid_fraction: float = 0.05, split_seed: int = 0, workers: int = 2) -> Split:
    """One of :data:`SPLITS` (see the module docstring)."""
    if split not in FOLDERS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    full = load_folder(FOLDERS[split], data_dir, cache_dir, settings, workers)
    if split not in ("train", "valid"):
        return dataclasses.replace(full, name=split)
    held_out = valid_indices(len(full), valid_fraction, split_seed)
    if split == "valid":
        return full.take(held_out, name=split)
    return full.take(np.setdiff1d(np.arange(len(full)), held_out), name=split)
