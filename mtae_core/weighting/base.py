"""Loss-weighting strategies: one registered class per strategy.

A strategy owns the backward pass of a step, so the trainer never branches on which
one it runs: loss-based strategies combine the task losses into one scalar;
gradient-based ones (``needs_task_grads``) turn per-task gradients into an update.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..models.base import ModelOutput, SharingScheme
from .catalog import WeightingEntry


class Weighting(WeightingEntry, nn.Module):
    """Base of every weighting strategy. Learnable state (e.g. uncertainty's s_t) lives
    in parameters, which the trainer hands to the optimizer."""

    last_weights: torch.Tensor  # (n_tasks,) buffer: the weights of the last step

    def __init__(self, task_names: list[str], options: Any) -> None:
        nn.Module.__init__(self)
        self.task_names = list(task_names)
        self.options = options
        n = len(task_names)
        # the weights used by the latest step, for the charts: (n_tasks,)
        self.register_buffer("last_weights", torch.full((n,), 1.0 / n), persistent=False)

    def combine(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        """losses: (n_tasks,) → scalar. ``active``: (n_tasks,) bool mask or None (all)."""
        raise NotImplementedError

    @classmethod
    def combine_replicas(cls, strategies: list[Weighting], losses: torch.Tensor,
                         cache: dict[str, Any]) -> torch.Tensor | None:
        """``combine`` of K replicas' strategies of this class at once, every task active:
        losses (K, n_tasks) → (K,), each row what its strategy's ``combine`` gives (batched
        replicas, ``mtae_core.engine.replicas``); None: combine them one by one.
        ``cache``: kept by the caller across steps for this group of strategies."""
        return None

    def backward(self, losses: torch.Tensor, extra: torch.Tensor, model: SharingScheme,
                 active: torch.Tensor | None, out: ModelOutput) -> None:
        """Set ``.grad`` of the model's parameters for this step.
        losses: (n_tasks,); extra: scalar of auxiliary losses and penalties;
        out: the step's model output (``out.shared_repr`` for MGDA-UB-style methods)."""
        (self.combine(losses, active) + extra).backward()

    def on_epoch_end(self, epoch: int, train_losses: torch.Tensor) -> None:
        """train_losses: (n_tasks,) mean training loss of the finished epoch."""

    def epoch_weights(self) -> list[float]:
        return [float(v) for v in self.last_weights.tolist()]

    def epoch_extras(self) -> dict[str, Any]:
        """Anything else worth charting per epoch (e.g. gradient cosine similarities)."""
        return {}


def masked(losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
    """Zero the losses of tasks the schedule left out this step (no gradient from them)."""
    return losses if active is None else torch.where(active, losses, torch.zeros_like(losses))
