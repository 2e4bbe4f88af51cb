from __future__ import annotations

import torch
from torch import nn

from ..registry import NoOptions
from .base import ModelOutput, ModelSpec, SharingScheme, batched_mlp, head, sharing


@sharing.register("single_task")
class SingleTask(SharingScheme):
    """Single-task baselines: one independent network per task, trained side by side."""

    Options = NoOptions

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        n = len(spec.tasks)
        code = spec.latent_dim * self.ae.code_multiplier
        # all task encoders in one batched MLP: (n_tasks, batch, ·)
        self.encoders = batched_mlp(n, [spec.input_dim, *spec.hidden, code], spec)
        self.heads = nn.ModuleDict({t.name: head(t, spec) for t in spec.tasks})

    def forward(self, x: torch.Tensor) -> ModelOutput:
        x_in = self.ae.corrupt(x) if self.training else x
        n = len(self.task_names)
        codes = self.encoders(x_in.unsqueeze(0).expand(n, -1, -1))  # (n_tasks, batch, code)
        z, mean, aux = self.ae.bottleneck(codes, x_in)
        outputs = {name: self.heads[name](z[i]) for i, name in enumerate(self.task_names)}
        latents = {name: mean[i] for i, name in enumerate(self.task_names)}
        return ModelOutput(outputs, latents, aux)
