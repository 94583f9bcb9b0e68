"""The active-learning loop (W-BADGE paper §5.3): rounds, repeats, resume, outputs.

For each seed: a random initial labeled set (``config.al.initial_fraction`` of the training
sentences), then for each strategy ``config.al.rounds`` rounds, each adding the same number
of sentences chosen by the strategy using the previous round's model, the model retrained
from scratch every round. Round 0 (the random start) is shared by all strategies of a seed.

Every finished round is persisted atomically (temp file, then ``os.replace``) under
``workdir/state/seed{s}/{strategy}/round{r}.json`` (labeled indices + results) with its
parameters next to it, so an interrupted run resumes after its last finished round without
redoing or changing earlier selections. ``workdir/results.jsonl`` (one line per strategy ×
seed × round), ``summary.json`` and ``curves.png`` are rewritten from those files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jax
import numpy as np
from flax import serialization
from tqdm.auto import tqdm

from tapjax.al import strategies
from tapjax.al.train import Vocabs, build_model, init_params, train
from tapjax.data import conll, wordvocab
from tapjax.train import sharding
from tapjax.viz.curves import plot_curves


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class Round:
    """One finished round on disk: ``{stem}.json`` (labeled, results) and ``{stem}.params``."""

    def __init__(self, folder: Path, r: int):
        self.json, self.params = folder / f"round{r}.json", folder / f"round{r}.params"

    def exists(self) -> bool:
        return self.json.exists() and self.params.exists()

    def save(self, record: dict, params) -> None:
        _atomic_write(self.params, serialization.to_bytes(params))
        _atomic_write(self.json, json.dumps(record).encode())


class Experiment:
    """The data, vocabularies and training of one AL run (``config``, ``workdir``)."""

    def __init__(self, config, workdir):
        self.config, self.workdir = config, Path(workdir)
        splits = conll.load(config.dataset, config.data_dir or None)
        limit = config.get("limit", 0)  # smoke runs: only the first `limit` sentences of each split
        self.splits = {k: v.subset(range(min(limit, len(v)))) if limit else v for k, v in splits.items()}
        self.train_set = self.splits["train"]
        self.words_total = self.train_set.num_words
        self.mesh = sharding.data_mesh()
        self.capacity = wordvocab.capacity(self.train_set.words)

    def vocabs(self, labeled) -> Vocabs:
        c = self.config.model_cfg
        return Vocabs.build(self.train_set.subset(labeled), self.train_set.tags, c.min_count, c.chars)

    def fit(self, labeled, seed: int, desc: str, config=None):
        """Trains on ``labeled`` (with ``config``, default the run's); returns
        ``(model, params, vocabs, encoded train, results)``."""
        vocabs = self.vocabs(labeled)
        enc = {k: vocabs.encode(v) for k, v in self.splits.items()}
        model, params, res = train(config or self.config, enc["train"], labeled, enc["validation"], enc["test"],
                                   vocabs, self.capacity, seed, self.mesh, desc)
        return model, params, vocabs, enc["train"], res

    def record(self, strategy: str, seed: int, r: int, labeled, res: dict) -> dict:
        words = sum(len(self.train_set.words[i]) for i in labeled)
        return {"strategy": strategy, "seed": seed, "round": r, "sentences": len(labeled), "words": words,
                "words_pct": 100.0 * words / self.words_total, **res, "labeled": [int(i) for i in labeled]}

    def restore(self, rnd: Round, seed: int):
        """Loads a finished round: its record and the model it trained (for the next selection)."""
        record = json.loads(rnd.json.read_text())
        vocabs = self.vocabs(record["labeled"])
        model = build_model(self.config, vocabs, self.capacity)
        enc = vocabs.encode(self.train_set)
        params = serialization.from_bytes(init_params(model, enc, self.config.train, jax.random.key(seed)),
                                          rnd.params.read_bytes())
        return record, model, params, enc


def _round_seed(seed: int, r: int) -> int:
    return seed * 1000 + r


def run_strategy(exp: Experiment, strategy: str, seed: int, bar) -> None:
    al = exp.config.al
    folder = exp.workdir / "state" / f"seed{seed}"
    n = len(exp.train_set)
    budget = max(1, round(al.initial_fraction * n))
    start = Round(folder, 0)
    if not start.exists():
        labeled = np.sort(np.random.default_rng(seed).choice(n, budget, replace=False))
        model, params, _, _, res = exp.fit(labeled, _round_seed(seed, 0), f"seed {seed} start")
        start.save(exp.record("start", seed, 0, labeled, res), params)
    prev = start
    for r in range(1, al.rounds + 1):
        rnd = Round(folder / strategy, r)
        if not rnd.exists():
            record, model, params, enc = exp.restore(prev, _round_seed(seed, r - 1))
            labeled = np.asarray(record["labeled"])
            pool = strategies.Pool(model, params, enc, labeled, np.setdiff1d(np.arange(n), labeled),
                                   exp.config.train, exp.mesh, al.bald_passes,
                                   al.bald_encoder_dropout)
            key = jax.random.fold_in(jax.random.key(seed), r)
            picked = strategies.choose(strategy, pool, budget, key)
            labeled = np.concatenate([labeled, picked])
            _, params, _, _, res = exp.fit(labeled, _round_seed(seed, r), f"{strategy} seed {seed} round {r}")
            rnd.save(exp.record(strategy, seed, r, labeled, res), params)
        prev = rnd
        bar.update()


def full_data_reference(exp: Experiment) -> dict:
    """Test F1 of the model trained on the whole training set (same config except
    ``al.full_data_epochs`` epochs when set), cached on disk."""
    path = exp.workdir / "state" / "full_data.json"
    if not path.exists():
        config = exp.config.copy_and_resolve_references()
        config.train.epochs = exp.config.al.get("full_data_epochs", 0) or config.train.epochs
        config.train.eval_from_epoch = min(config.train.eval_from_epoch, config.train.epochs)
        _, _, _, _, res = exp.fit(np.arange(len(exp.train_set)), 0, "full data", config)
        _atomic_write(path, json.dumps({**res, "epochs": config.train.epochs}).encode())
    return json.loads(path.read_text())


def collect(exp: Experiment) -> list[dict]:
    """Every finished round as a results line (labeled indices left out), start rounds per strategy."""
    lines = []
    for seed in exp.config.al.seeds:
        folder = exp.workdir / "state" / f"seed{seed}"
        if not Round(folder, 0).exists():
            continue
        start = json.loads(Round(folder, 0).json.read_text())
        for strategy in exp.config.al.strategies:
            rounds = [start] + [json.loads(Round(folder / strategy, r).json.read_text())
                                for r in range(1, exp.config.al.rounds + 1) if Round(folder / strategy, r).exists()]
            lines += [{**{k: v for k, v in rec.items() if k != "labeled"}, "strategy": strategy} for rec in rounds]
    return lines


def summarise(lines: list[dict], full: dict | None, config) -> dict:
    """Per strategy and round: mean ± std (over seeds) of test F1 and % words; the area under
    the mean-F1-vs-%words curve (trapezoid, divided by the %words span, so it is a mean F1);
    and the full-data reference."""
    out = {"dataset": config.dataset, "model": config.model, "strategies": {}}
    for strategy in config.al.strategies:
        rounds = []
        for r in range(config.al.rounds + 1):
            recs = [l for l in lines if l["strategy"] == strategy and l["round"] == r]
            if recs:
                f1 = np.asarray([l["test_f1"] for l in recs])
                rounds.append({"round": r, "seeds": len(recs), "sentences": float(np.mean([l["sentences"] for l in recs])),
                               "words_pct": float(np.mean([l["words_pct"] for l in recs])),
                               "test_f1_mean": float(f1.mean()), "test_f1_std": float(f1.std()),
                               "test_f1_sem": float(f1.std(ddof=1) / np.sqrt(len(f1))) if len(f1) > 1 else 0.0,
                               "val_f1_mean": float(np.mean([l["val_f1"] for l in recs]))})
        x = np.asarray([r["words_pct"] for r in rounds])
        y = np.asarray([r["test_f1_mean"] for r in rounds])
        auc = float(np.trapezoid(y, x) / (x[-1] - x[0])) if len(x) > 1 else None
        out["strategies"][strategy] = {"rounds": rounds, "auc_mean_f1": auc}
    if full is not None:
        out["full_data"] = {**full, "note": f"trained on all sentences with this config ({full['epochs']} epochs)"}
    return out


def write_outputs(exp: Experiment, full: dict | None) -> dict:
    lines = collect(exp)
    _atomic_write(exp.workdir / "results.jsonl", "".join(json.dumps(l) + "\n" for l in lines).encode())
    summary = summarise(lines, full, exp.config)
    _atomic_write(exp.workdir / "summary.json", json.dumps(summary, indent=1).encode())
    plot_curves(summary, exp.workdir / "curves.png", title=f"{exp.config.dataset} ({exp.config.model})")
    return summary


def run(config, workdir) -> dict:
    """Runs (or resumes) every strategy × seed × round of ``config`` and writes the outputs."""
    exp = Experiment(config, workdir)
    al = config.al
    with tqdm(total=len(al.seeds) * len(al.strategies) * al.rounds, desc="AL rounds") as bar:
        for seed in al.seeds:
            for strategy in al.strategies:
                run_strategy(exp, strategy, seed, bar)
                write_outputs(exp, None)
    full = full_data_reference(exp) if al.full_data_reference else None
    return write_outputs(exp, full)
