from __future__ import annotations

from typing import Any

import torch

from .base import (
    BatchedLinear,
    Diagram,
    ModelOutput,
    ModelSpec,
    SharingScheme,
    batched_mlp,
    make_heads,
    mid_lane,
)
from .catalog import SoftSharingEntry
from .single_task import per_task_diagram


def pairwise_sq_sum(w: torch.Tensor) -> torch.Tensor:
    """Σ_{t≠s} ‖w_t − w_s‖² over ordered pairs, for stacked w: (n_tasks, ...).
    Equals 2n Σ_t ‖w_t‖² − 2 ‖Σ_t w_t‖²: one pass instead of n² differences."""
    flat = w.reshape(w.shape[0], -1)  # (n_tasks, P)
    n = flat.shape[0]
    return 2 * n * flat.pow(2).sum() - 2 * flat.sum(dim=0).pow(2).sum()


class SoftSharing(SoftSharingEntry, SharingScheme):
    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        self.encoders = batched_mlp(len(spec.tasks), self.encoder_sizes(), spec)
        self.heads = make_heads(spec)

    def layer_params(self) -> list[torch.Tensor]:
        """Stacked per-task weights and biases of the encoder layers: (n_tasks, ...) each."""
        return [p for m in self.encoders if isinstance(m, BatchedLinear)
                for p in (m.weight, m.bias)]

    def penalty(self) -> torch.Tensor:
        total = sum(pairwise_sq_sum(p) for p in self.layer_params())  # ≥ 1 layer: a tensor
        return self.spec.sharing_options.lam * total  # type: ignore[attr-defined,return-value]

    def forward(self, x: torch.Tensor) -> ModelOutput:
        x_in = self.encoder_input(x)  # (batch, input)
        n = len(self.task_names)
        codes = self.encoders(x_in.unsqueeze(0).expand(n, -1, -1))  # (n_tasks, batch, code)
        out = self.finish(codes, x_in)
        out.aux_losses["soft_penalty"] = self.penalty()
        return out

    @torch.no_grad()
    def mean_distance(self) -> float:
        """Mean over task pairs of ‖θ_t − θ_s‖ (all encoder layers' weights together)."""
        flat = torch.cat([p.reshape(p.shape[0], -1) for p in self.layer_params()], dim=1)
        n = flat.shape[0]
        if n < 2:
            return 0.0
        d = torch.cdist(flat, flat)  # (n_tasks, n_tasks)
        return float(d.sum() / (n * (n - 1)))

    def epoch_extras(self) -> dict[str, Any]:
        return {"soft_distance": self.mean_distance()}

    def diagram(self) -> Diagram:
        d = per_task_diagram(self, "Soft sharing: per-task encoders pulled together by ‖θ_t − θ_s‖²")
        n = len(self.task_names)
        d.add("penalty", "λ Σ ‖θ_t − θ_s‖²", "mix", 1, mid_lane(n) if n == 1 else -1,
              [f"enc:{t}" for t in self.task_names])
        return d
