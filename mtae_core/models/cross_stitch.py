from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .base import (
    Diagram,
    ModelOutput,
    ModelSpec,
    SharingScheme,
    batched_mlp,
    make_heads,
    mid_lane,
)
from .catalog import CrossStitchEntry


def init_alpha(n: int, off: float) -> torch.Tensor:
    """(n, n) rows summing to one: 1 − off on the diagonal, off / (n − 1) elsewhere."""
    if n == 1:
        return torch.ones(1, 1)
    a = torch.full((n, n), off / (n - 1))
    a.fill_diagonal_(1.0 - off)
    return a


class CrossStitch(CrossStitchEntry, SharingScheme):
    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        n = len(spec.tasks)
        sizes = self.encoder_sizes()
        last = len(sizes) - 2
        # layer i of every task column, batched: (n_tasks, batch, sizes[i]) -> (..., sizes[i+1]).
        # Built layer by layer in the order single_task builds them: same seed, same weights.
        self.columns = nn.ModuleList(
            batched_mlp(n, sizes[i:i + 2], spec, last_plain=i == last) for i in range(last + 1))
        off = spec.sharing_options.off_diagonal  # type: ignore[attr-defined]
        self.alphas = nn.ParameterList(
            nn.Parameter(init_alpha(n, off)) for _ in range(last + 1))  # (n_tasks, n_tasks) each
        self.heads = make_heads(spec)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        x_in = self.encoder_input(x)  # (batch, input)
        n = len(self.task_names)
        h = x_in.unsqueeze(0).expand(n, -1, -1)  # (n_tasks, batch, input)
        for layer, alpha in zip(self.columns, self.alphas, strict=True):
            h = layer(h)  # (n_tasks, batch, width)
            # cross-stitch unit: task t's next input is Σ_s α[t, s] · h_s
            h = (alpha @ h.reshape(n, -1)).reshape(h.shape)
        return self.finish(h, x_in)

    def shared_parameters(self) -> list[nn.Parameter]:
        # α mixes the columns, so every task's loss reaches every column and every α
        # (exactly the encoder, not the heads)
        return [*self.columns.parameters(), *self.alphas]

    def epoch_extras(self) -> dict[str, Any]:
        return {"cross_stitch": {"tasks": list(self.task_names),
                                 "alphas": [a.detach().cpu().tolist() for a in self.alphas]}}

    def diagram(self) -> Diagram:
        n = len(self.task_names)
        d = Diagram("Cross-stitch: task columns mixed by α after every layer")
        src = {t: ["input"] for t in self.task_names}
        d.add("input", "input", "input", 0, mid_lane(n))
        for k in range(len(self.columns)):
            for i, t in enumerate(self.task_names):
                d.add(f"col{k}:{t}", f"layer {k + 1}<br>{t}", "task", 1 + 2 * k, i, src[t])
            mix = d.add(f"alpha{k}", f"α{k + 1}<br>{n}×{n}", "mix", 2 + 2 * k, mid_lane(n),
                        [f"col{k}:{t}" for t in self.task_names])
            src = {t: [mix] for t in self.task_names}
        d.add_heads(self.spec, 1 + 2 * len(self.columns), src)
        return d
