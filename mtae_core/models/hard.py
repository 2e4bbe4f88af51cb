from __future__ import annotations

import torch
from torch import nn

from ..registry import NoOptions
from .base import ModelOutput, ModelSpec, SharingScheme, head, mlp, sharing


@sharing.register("hard")
class HardSharing(SharingScheme):
    """Hard parameter sharing (Caruana 1997): one shared encoder, one head per task."""

    Options = NoOptions

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        code = spec.latent_dim * self.ae.code_multiplier
        self.encoder = mlp([spec.input_dim, *spec.hidden, code], spec)
        self.heads = nn.ModuleDict({t.name: head(t, spec) for t in spec.tasks})

    def forward(self, x: torch.Tensor) -> ModelOutput:
        x_in = self.ae.corrupt(x) if self.training else x
        z, mean, aux = self.ae.bottleneck(self.encoder(x_in), x_in)  # (batch, latent)
        outputs = {name: h(z) for name, h in self.heads.items()}
        return ModelOutput(outputs, {"shared": mean}, aux, shared_repr=z)

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())
