"""The active-learning loop (W-BADGE paper §5.3): rounds, budgets, resume, outputs.

Per seed: a random start set (round 0, shared by every strategy), then ``al.rounds`` rounds per
strategy, each adding the sentences the strategy picks with the previous round's model, the model
retrained from scratch. The seeds of a round train together (``train.replicas``: ``"vmap"``,
one vmapped program, or ``"sequential"``; the same models up to float rounding).

Budget (§5.3: the same number of labels each round; Figs. 2-3 count % of words): with
``al.budget = "words"`` the start set holds ``al.initial_fraction`` of the training words and
each round adds ``al.query_fraction`` of them, sentences taken in the strategy's order until
their words meet the budget (only the last one overshoots); with ``"sentences"`` the fractions
count sentences. A strategy is asked for :func:`tapjax.al.selection.most_needed` picks and cut
by :func:`tapjax.al.selection.within_budget`; the batch strategies stop picking at the budget.

Every finished round is kept (:class:`RoundStore`: orbax checkpoint ``r`` of the parameters,
then ``round{r}.json`` written atomically, under ``workdir/state/seed{s}[/{strategy}]``), so an
interrupted run resumes after its last finished round without changing earlier selections; a
corrupt round checkpoint is trained again from its recorded sentences, with a warning. Outputs:
``metrics.jsonl`` and TensorBoard (split ``{strategy}/seed{s}``, step = round),
``results.jsonl``, ``summary.json`` (:func:`summarise`) and ``curves.png``. The config is
checked first (:func:`validate`) and kept in ``workdir/config.json``; a resume may change only
the fields of :data:`MAY_CHANGE`.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import sys
from pathlib import Path

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from tqdm.auto import tqdm

from tapjax.al import corpora, curves, selection, strategies
from tapjax.al.learner import build_model, init_params, train, train_replicas, vocabularies
from tapjax.common import run_config, sharding
from tapjax.common.checkpoint import CorruptCheckpointError, Series, abstract
from tapjax.common.errors import InputError, warn
from tapjax.common.metric_writer import MetricWriter

LOGGED = ("val_f1", "test_f1", "sentences", "words")  # per-round scalars of the metric writer
# What may change when a run resumes (module docstring); everything else defines the run.
MAY_CHANGE = ("al.seeds", "al.strategies", "al.rounds", "al.full_data_reference", "al.grid_step", "train.replicas",
              "train.score_tokens", "data.root")
REPLICAS = ("vmap", "sequential")  # how the seeds of a round train (config.train.replicas)


def validate(config) -> None:
    """Raises :class:`InputError` for an unknown strategy in ``al.strategies``, unit in
    ``al.budget`` or mode in ``train.replicas``, a fraction outside (0, 1], more rounds than the
    training set can fill or a ``al.grid_step`` that is not positive (the data are checked when
    :class:`Experiment` loads them)."""
    al = config.al
    for name in al.strategies:
        if name not in strategies.STRATEGIES:
            raise InputError("al.strategies", f"unknown strategy {name!r}; known: {', '.join(strategies.STRATEGIES)}")
    if al.budget not in selection.COSTS:
        raise InputError("al.budget", f"unknown budget {al.budget!r}; known: {', '.join(selection.COSTS)}")
    if config.train.replicas not in REPLICAS:
        raise InputError("train.replicas", f"unknown mode {config.train.replicas!r}; known: {', '.join(REPLICAS)}")
    for field in ("initial_fraction", "query_fraction"):
        if not 0 < al[field] <= 1:
            raise InputError(f"al.{field}", f"{al[field]} is not a fraction in (0, 1]")
    total = al.initial_fraction + al.rounds * al.query_fraction
    if total > 1 + 1e-9:
        raise InputError("al.rounds", f"{al.rounds} rounds of al.query_fraction after al.initial_fraction would "
                                      f"annotate {total:.0%} of the training {al.budget}")
    if not al.grid_step > 0:
        raise InputError("al.grid_step", f"{al.grid_step} is not a positive % of words")


def load_splits(data) -> dict[str, corpora.Tagged]:
    """The dataset's splits (the first ``data.limit`` sentences of each, if set); an unknown,
    missing or unreadable dataset is an :class:`InputError`."""
    try:
        splits = corpora.load(data.name, data.root or None)
    except (ValueError, OSError) as error:
        raise InputError("data", str(error)) from None
    return {k: v.subset(range(min(data.limit, len(v)))) if data.limit else v for k, v in splits.items()}


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class RoundStore:
    """The rounds of one folder: ``round{r}.json`` and checkpoint ``r`` of the series ``params/``.

    A round's parameters are saved before its JSON, so a round is finished once its JSON exists.
    """

    def __init__(self, folder: Path):
        self.folder = folder

    @functools.cached_property
    def params(self) -> Series:
        return Series(self.folder / "params")

    def _json(self, r: int) -> Path:
        return self.folder / f"round{r}.json"

    def finished(self, r: int) -> bool:
        return self._json(r).exists()

    def record(self, r: int) -> dict:
        return json.loads(self._json(r).read_text())

    def save(self, r: int, record: dict, params) -> None:
        self.params.save(r, params)
        _atomic_write(self._json(r), json.dumps(record).encode())

    def close(self) -> None:
        if "params" in vars(self):  # opened (the cached property was read)
            self.params.close()


class Experiment:
    """The data, vocabularies, training, round stores and metric writer of one AL run (``config``, ``workdir``)."""

    def __init__(self, config, workdir):
        self.config, self.workdir = config, Path(workdir)
        self.splits = load_splits(config.data)
        self.train_set = self.splits["train"]
        self.lengths = np.asarray([len(w) for w in self.train_set.words])  # words per training sentence
        self.words_total = int(self.lengths.sum())
        self.mesh = sharding.data_mesh()
        self.vocabs = vocabularies(self.splits, config.model_cfg)  # the run's: the pool's and validation words
        self._stores: dict[Path, RoundStore] = {}

    @functools.cached_property
    def writer(self) -> MetricWriter:
        return MetricWriter(self.workdir)

    def rounds(self, seed: int, strategy: str = "") -> RoundStore:
        """The store of a seed's start round (no ``strategy``) or of its ``strategy``'s rounds."""
        folder = self.workdir / "state" / f"seed{seed}" / strategy
        return self._stores.setdefault(folder, RoundStore(folder))

    def fit(self, labeled_sets, seeds, desc: str, config=None) -> list[tuple]:
        """Trains a model on each of ``labeled_sets`` with its seed (with ``config``, default the
        run's): all at once (``train.replicas = "vmap"``) or one after another (``"sequential"``);
        returns the ``(params, results)`` of each."""
        config = config or self.config
        enc = {k: self.vocabs.encode(v) for k, v in self.splits.items()}
        if config.train.replicas == "vmap":
            return train_replicas(config, enc["train"], labeled_sets, enc["validation"], enc["test"], self.vocabs,
                                  seeds, self.mesh, desc)[1]
        return [train(config, enc["train"], labeled, enc["validation"], enc["test"], self.vocabs, seed, self.mesh,
                      desc)[1:] for labeled, seed in zip(labeled_sets, seeds)]

    def record(self, strategy: str, seed: int, r: int, labeled, res: dict) -> dict:
        words = int(self.lengths[labeled].sum())
        return {"strategy": strategy, "seed": seed, "round": r, "sentences": len(labeled), "words": words,
                "words_pct": 100.0 * words / self.words_total, **res, "labeled": [int(i) for i in labeled]}

    def fit_rounds(self, r: int, strategy: str, seeds, labeled_sets, desc: str) -> None:
        """Trains round ``r`` of ``strategy`` (``"start"``: round 0) of each of ``seeds`` on its
        ``labeled_sets`` entry, all together (:meth:`fit`), then saves each to its store and logs
        its scalars."""
        if not seeds:  # every seed has finished the round
            return
        fitted = self.fit(labeled_sets, [_round_seed(seed, r) for seed in seeds], desc)
        for seed, labeled, (params, res) in zip(seeds, labeled_sets, fitted):
            record = self.record(strategy, seed, r, labeled, res)
            self.rounds(seed, strategy if r else "").save(r, record, params)
            self.writer.write(r, f"{strategy}/seed{seed}", {k: record[k] for k in LOGGED})

    def restore(self, store: RoundStore, r: int):
        """Loads a finished round: its record and the model it trained (for the next selection);
        a corrupt checkpoint of it is replaced by the round trained again (with a warning)."""
        record = store.record(r)
        model = build_model(self.config, self.vocabs)
        enc = self.vocabs.encode(self.train_set)
        like = abstract(lambda: init_params(model, enc, self.config.train, jax.random.key(0)),
                        NamedSharding(self.mesh, P()))  # replicated
        try:
            params = store.params.restore(like, r)
        except CorruptCheckpointError as error:
            warn(f"{error}; training round {r} again on its {len(record['labeled'])} labeled sentences")
            [(params, _)] = self.fit([record["labeled"]], [_round_seed(record["seed"], r)],
                                     f"{record['strategy']} seed {record['seed']} round {r} again")
            store.params.save(r, params)
        return record, model, params, enc

    def close(self) -> None:
        if "writer" in vars(self):  # opened (the cached property was read)
            self.writer.close()
        for store in self._stores.values():
            store.close()


def _round_seed(seed: int, r: int) -> int:
    return seed * 1000 + r


def start_set(costs: np.ndarray, budget: int, seed: int) -> np.ndarray:
    """Round 0 (module doc): random training sentences until their ``costs`` meet ``budget``, sorted."""
    order = np.random.default_rng(seed).choice(len(costs), selection.most_needed(costs, budget), replace=False)
    return np.sort(selection.within_budget(order, costs, budget))


def query(strategy: str, pool: strategies.Pool, key) -> np.ndarray:
    """The sentences ``strategy`` adds to ``pool`` (module doc): its picks, in order, until their
    costs (``pool.costs``, per training sentence) meet ``pool.budget``."""
    picked = strategies.choose(strategy, pool, selection.most_needed(pool.costs[pool.unlabeled], pool.budget), key)
    return selection.within_budget(picked, pool.costs, pool.budget)


def start_rounds(exp: Experiment) -> None:
    """Round 0 of every seed that has not finished it: a random start set each (:func:`start_set`)."""
    al = exp.config.al
    costs = selection.COSTS[al.budget](exp.lengths)
    seeds = [seed for seed in al.seeds if not exp.rounds(seed).finished(0)]
    exp.fit_rounds(0, "start", seeds, [start_set(costs, selection.budget_size(al.initial_fraction, costs), seed)
                                       for seed in seeds], "start")


def selected(exp: Experiment, strategy: str, seed: int, r: int, costs: np.ndarray) -> np.ndarray:
    """The labeled sentences of ``seed``'s round ``r``: those of its round ``r - 1`` and what
    ``strategy`` adds to them (:func:`query`) with that round's model."""
    al = exp.config.al
    record, model, params, enc = exp.restore(exp.rounds(seed, strategy if r > 1 else ""), r - 1)
    labeled = np.asarray(record["labeled"])
    pool = strategies.Pool(model, params, enc, labeled, np.setdiff1d(np.arange(len(exp.train_set)), labeled),
                           exp.config.train, exp.mesh, al, costs, selection.budget_size(al.query_fraction, costs))
    return np.concatenate([labeled, query(strategy, pool, jax.random.fold_in(jax.random.key(seed), r))])


def run_strategy(exp: Experiment, strategy: str, bar) -> None:
    """The rounds of ``strategy``: each round, every seed that has not finished it selects, then
    they train together."""
    al = exp.config.al
    costs = selection.COSTS[al.budget](exp.lengths)
    for r in range(1, al.rounds + 1):
        seeds = [seed for seed in al.seeds if not exp.rounds(seed, strategy).finished(r)]
        exp.fit_rounds(r, strategy, seeds, [selected(exp, strategy, seed, r, costs) for seed in seeds],
                       f"{strategy} round {r}")
        bar.update(len(al.seeds))


def full_data_config(config):
    """The config of the full-data reference: ``config`` trained for ``al.full_data_epochs`` epochs
    (0: ``train.epochs``), validated from no later than its last."""
    config = config.copy_and_resolve_references()
    config.train.epochs = config.al.full_data_epochs or config.train.epochs
    config.train.eval_from_epoch = min(config.train.eval_from_epoch, config.train.epochs)
    return config


def full_data_reference(exp: Experiment) -> dict:
    """Test F1 of the model trained on the whole training set (:func:`full_data_config`), cached on disk."""
    path = exp.workdir / "state" / "full_data.json"
    if not path.exists():
        config = full_data_config(exp.config)
        [(_, res)] = exp.fit([np.arange(len(exp.train_set))], [0], "full data", config)
        _atomic_write(path, json.dumps({**res, "epochs": config.train.epochs}).encode())
        exp.writer.write(0, "full_data", {k: res[k] for k in ("val_f1", "test_f1")})
    return json.loads(path.read_text())


def collect(exp: Experiment) -> list[dict]:
    """Every finished round as a results line (labeled indices left out), start rounds per strategy."""
    lines = []
    for seed in exp.config.al.seeds:
        if not exp.rounds(seed).finished(0):
            continue
        start = exp.rounds(seed).record(0)
        for strategy in exp.config.al.strategies:
            store = exp.rounds(seed, strategy)
            rounds = [start] + [store.record(r) for r in range(1, exp.config.al.rounds + 1) if store.finished(r)]
            lines += [{**{k: v for k, v in rec.items() if k != "labeled"}, "strategy": strategy} for rec in rounds]
    return lines


def _round_summary(r: int, recs: list[dict]) -> dict:
    """Round ``r`` over the seeds of ``recs``: mean ± sample std and standard error of test F1
    (:func:`tapjax.al.curves.mean_sem`; 0 for one seed), mean sentences, words and % words
    annotated."""
    f1 = curves.mean_sem([l["test_f1"] for l in recs])
    return {"round": r, "seeds": len(recs), "sentences": float(np.mean([l["sentences"] for l in recs])),
            "words": float(np.mean([l["words"] for l in recs])),
            "words_pct": float(np.mean([l["words_pct"] for l in recs])),
            "test_f1_mean": float(f1["mean"]), "test_f1_std": float(np.nan_to_num(f1["std"])),
            "test_f1_sem": float(np.nan_to_num(f1["sem"])),
            "val_f1_mean": float(np.mean([l["val_f1"] for l in recs]))}


def _runs(lines: list[dict]) -> dict[int, curves.Run]:
    """One strategy's ``lines`` as a run per seed: (% words, test F1) of its rounds in order."""
    points: dict[int, list] = {}
    for l in sorted(lines, key=lambda l: l["round"]):
        points.setdefault(l["seed"], []).append((l["words_pct"], l["test_f1"]))
    return {seed: tuple(np.asarray(p).T) for seed, p in points.items()}


def summarise(lines: list[dict], full: dict | None, config) -> dict:
    """``summary.json``: the run (``dataset``, ``model``, the numbers of ``seeds`` and ``rounds``
    asked for); :func:`tapjax.al.curves.compare` on % words (``grid_pct``, ``shared_span_pct``,
    ``vs_wbadge``; per strategy its ``grid`` and ``auc``, with ``auc_mean_f1`` its mean over
    seeds: an area over the span all runs share, so comparable between strategies); per strategy
    and round the mean ± std over seeds (``rounds``); the full-data reference; the ``config``
    and the ``command`` that wrote it."""
    al = config.al
    compared = curves.compare({s: _runs([l for l in lines if l["strategy"] == s]) for s in al.strategies},
                              al.grid_step)
    by_strategy = compared.pop("strategies")
    out = {"dataset": config.data.name, "model": config.model, "seeds": len(al.seeds), "rounds": al.rounds,
           **compared, "strategies": {}}
    for strategy in al.strategies:
        recs = [[l for l in lines if l["strategy"] == strategy and l["round"] == r] for r in range(al.rounds + 1)]
        out["strategies"][strategy] = {"rounds": [_round_summary(r, rr) for r, rr in enumerate(recs) if rr],
                                       "auc_mean_f1": by_strategy[strategy]["auc"]["mean"], **by_strategy[strategy]}
    if full is not None:
        out["full_data"] = {**full, "note": f"trained on all sentences with this config ({full['epochs']} epochs)"}
    return {**out, "config": run_config.as_json(config), "command": shlex.join(["python", *sys.orig_argv[1:]])}


def write_outputs(exp: Experiment, full: dict | None) -> dict:
    lines = collect(exp)
    _atomic_write(exp.workdir / "results.jsonl", "".join(json.dumps(l) + "\n" for l in lines).encode())
    summary = summarise(lines, full, exp.config)
    _atomic_write(exp.workdir / "summary.json", json.dumps(summary, indent=1).encode())
    curves.plot_curves(summary, exp.workdir / "curves.png", title=f"{exp.config.data.name} ({exp.config.model})")
    return summary


def run(config, workdir) -> dict:
    """Runs (or resumes) every strategy × seed × round of ``config`` and writes the outputs;
    an unusable config or workdir (module docstring) is an :class:`InputError` before any write."""
    validate(config)
    run_config.check_resume(workdir, config, MAY_CHANGE)
    exp = Experiment(config, workdir)
    al = config.al
    try:
        run_config.save(workdir, config)
        with tqdm(total=len(al.seeds) * len(al.strategies) * al.rounds, desc="AL rounds") as bar:
            start_rounds(exp)
            for strategy in al.strategies:
                run_strategy(exp, strategy, bar)
                write_outputs(exp, None)
        full = full_data_reference(exp) if al.full_data_reference else None
        return write_outputs(exp, full)
    finally:
        exp.close()
