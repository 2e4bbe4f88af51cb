"""The epoch's gradient-conflict diagnostic: how much the tasks' gradients on the shared
layers agree, measured after each epoch on the first batch (drawn on the Train page)."""

from __future__ import annotations

from typing import Any

import torch

from ..models.base import SharingScheme
from ..weighting.diagnostics import task_gradient_cosine
from .metrics import task_loss


def epoch_grad_cosine(model: SharingScheme, split: Any, specs: list[Any],
                      batch_size: int) -> list[list[float]] | None:
    """The cosines on the first ``batch_size`` rows of ``split``, in eval mode (no dropout, noise or batch-norm updates, so
    the diagnostic leaves the training run unchanged). None when nothing is shared."""
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
