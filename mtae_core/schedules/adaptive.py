"""Adaptive schedule: a bandit picks each step's task (EXP3: Auer, Cesa-Bianchi, Freund &
Schapire 2002, "The Nonstochastic Multiarmed Bandit Problem", SIAM J. Computing; the
learning-progress reward of Graves, Bellemare, Menick, Munos & Kavukcuoglu 2017,
"Automated Curriculum Learning for Neural Networks", ICML)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from ..registry import Options
from .base import Schedule, schedules

if TYPE_CHECKING:  # torch is imported when a schedule runs, not when the form lists it
    import torch


class AdaptiveOptions(Options):
    gamma: float = Field(0.1, gt=0.0, le=1.0, description="γ: share of purely random picks (exploration)")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="seed of the picks; empty = the run's seed")


@schedules.register("adaptive")
class Adaptive(Schedule):
    """Adaptive (EXP3 bandit, Auer et al. 2002; as in Graves et al. 2017): each step trains the task whose loss has lately fallen fastest, with some exploration."""

    Options = AdaptiveOptions

    def __init__(self, task_names: list[str], options: Any, steps_per_epoch: int,
                 epochs: int, device: torch.device | str = "cpu") -> None:
        super().__init__(task_names, options, steps_per_epoch, epochs, device)
        import torch

        seed = options.seed if options.seed is not None else torch.initial_seed()
        self.rng = np.random.default_rng(seed)
        self.log_w = np.zeros(len(self.task_names))  # EXP3 log-weights
        self.chosen: int | None = None  # the task trained by the latest step
        self.before: float | None = None  # its loss at that step (before the update)
        self.prev_task: int | None = None  # the task whose reward is pending
        self.recent: list[float] = []  # recent raw rewards, for their percentiles

    def probabilities(self) -> np.ndarray:
        k = len(self.task_names)
        w = np.exp(self.log_w - self.log_w.max())
        return (1 - self.options.gamma) * w / w.sum() + self.options.gamma / k

    def reward(self, before: float, after: float) -> float:
        """Relative loss decrease of the trained task, rescaled into [0, 1] by the 20th and
        80th percentiles of the recent decreases (Graves et al. 2017, section 3)."""
        if not (math.isfinite(before) and math.isfinite(after)) or before <= 0:
            return 0.5
        raw = (before - after) / before
        self.recent.append(raw)
        if len(self.recent) > 200:
            self.recent.pop(0)
        lo, hi = np.percentile(self.recent, [20, 80])
        if hi <= lo:
            return 0.5
        return float(np.clip((raw - lo) / (hi - lo), 0.0, 1.0))

    def active(self, epoch: int, step: int) -> torch.Tensor | None:
        p = self.probabilities()
        self.chosen = int(self.rng.choice(len(p), p=p))
        return self.mask((self.chosen,))

    def feedback(self, losses: torch.Tensor) -> None:
        vals = losses.tolist()  # one small host read per step
        if self.prev_task is not None and self.before is not None:
            # the previous step trained prev_task: reward its loss decrease since then
            k = len(self.task_names)
            r = self.reward(self.before, vals[self.prev_task])
            p = self.probabilities()[self.prev_task]
            self.log_w[self.prev_task] += self.options.gamma * (r / p) / k
        if self.chosen is not None:
            self.prev_task, self.before = self.chosen, vals[self.chosen]
