"""Matched single-task baselines and run identity.

A multi-task run is compared with the ``single_task`` run that differs from it in the
model's sharing scheme (and, as single-task networks have nothing to weigh or schedule
against each other, in the weighting and the schedule) and in nothing else: same data
set, data options, tasks, split, autoencoder, sizes, training budget, optimizer and
seeds. (A run's identity, ``config.run_key``, is a hash of its normalised config.)
"""

from __future__ import annotations

from typing import Any

from ..config import ExperimentConfig

BASELINE = "single_task"

# sections and keys that a matched baseline may differ in: what "single-task" means
_BASELINE_FREE = {("model", "sharing"), ("model", "options", "sharing"), ("weighting",),
                  ("schedule",), ("name",)}


def baseline_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """The matched single-task baseline of ``cfg``: same everything, but one separate
    network per task, equal weights and a joint schedule."""
    d = cfg.to_dict()
    d["model"]["sharing"] = BASELINE
    d["model"]["options"] = {"autoencoder": d["model"]["options"]["autoencoder"]}
    d["weighting"] = {"strategy": "equal"}
    d["schedule"] = {"kind": "joint"}
    d["name"] = _baseline_name(cfg)
    return ExperimentConfig.parse(d)


def _baseline_name(cfg: ExperimentConfig) -> str:
    base = f"{cfg.data.dataset} single-task baseline (seed {cfg.seed})"
    return base[:120]


def _flatten(d: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(d, dict) and d:
        out: dict[tuple[str, ...], Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, (*prefix, str(k))))
        return out
    return {prefix: d}


def differences(a: ExperimentConfig, b: ExperimentConfig,
                ignore_baseline_free: bool = False) -> list[str]:
    """Dotted config paths whose values differ between ``a`` and ``b`` (sorted), e.g.
    ``["data.options.correlation", "training.epochs"]``. With ``ignore_baseline_free``
    the fields a matched baseline may differ in are left out."""
    fa, fb = _flatten(a.to_dict()), _flatten(b.to_dict())
    out = []
    for key in sorted(set(fa) | set(fb)):
        if fa.get(key) == fb.get(key):
            continue
        if ignore_baseline_free and any(key[:len(p)] == p for p in _BASELINE_FREE):
            continue
        out.append(".".join(key))
    return out


def is_matched_baseline(baseline: ExperimentConfig, cfg: ExperimentConfig) -> bool:
    """True when ``baseline`` is a single-task run that differs from ``cfg`` only in what a
    baseline may differ in."""
    return (baseline.model.sharing == BASELINE
            and not differences(baseline, cfg, ignore_baseline_free=True))
