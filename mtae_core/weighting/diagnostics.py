"""Per-epoch diagnostics shared by every strategy."""

from __future__ import annotations

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
