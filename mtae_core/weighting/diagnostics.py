"""Per-epoch diagnostics shared by every strategy."""

from __future__ import annotations

from typing import Any

import torch

from ..models.base import SharingScheme
from .gradient_base import jacobian


def task_gradient_cosine(model: SharingScheme, losses: torch.Tensor) -> list[list[float]]:
    """Pairwise cosine similarity of the task gradients on the shared parameters:
    (n_tasks, n_tasks) as nested lists; [] when nothing is shared. ``losses``: (n_tasks,)
    with a graph. A task with a zero gradient has cosine 0 with the others."""
    shared = [p for p in model.shared_parameters() if p.requires_grad]
    if not shared:
        return []
    G = jacobian(losses, shared)  # (n_tasks, P)
    unit = G / G.norm(dim=1, keepdim=True).clamp(min=1e-12)
    return (unit @ unit.T).clamp(-1.0, 1.0).tolist()


def epoch_grad_cosine(model: SharingScheme, split: Any, specs: list[Any],
                      batch_size: int) -> list[list[float]] | None:
    """The cosines on the first ``batch_size`` rows of ``split``, in eval mode (no dropout, noise or batch-norm updates, so
    the diagnostic leaves the training run unchanged). None when nothing is shared."""
    from ..engine.metrics import task_loss

    if not model.shared_parameters():
        return None
    was = model.training
    model.eval()
    try:
        x = split.x[:batch_size]
        out = model(x)
        # reconstruction's target is the input itself
        losses = torch.stack([task_loss(s, out.outputs[s.name], x if s.kind == "reconstruction"
                                        else split.y[s.name][:batch_size]) for s in specs])
        return task_gradient_cosine(model, losses)
    finally:
        model.train(was)
