from __future__ import annotations

import torch

from .base import (
    Diagram,
    ModelOutput,
    ModelSpec,
    SharingScheme,
    batched_mlp,
    make_heads,
    mid_lane,
    mlp,
)
from .catalog import HardSharingEntry


class HardSharing(HardSharingEntry, SharingScheme):
    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        sizes = self.encoder_sizes()
        n_layers = len(sizes) - 1
        opt = spec.sharing_options
        depth = getattr(opt, "shared_depth", None)
        self.depth = n_layers if depth is None else min(depth, n_layers)
        # names match the other schemes so that depth L has hard's state dict and depth 0
        # single_task's (same keys, same seeded weights)
        self.encoder = (mlp(sizes[:self.depth + 1], spec, last_plain=self.depth == n_layers)
                        if self.depth > 0 else None)
        self.encoders = (batched_mlp(len(spec.tasks), sizes[self.depth:], spec)
                         if self.depth < n_layers else None)
        self.heads = make_heads(spec)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        x_in = self.encoder_input(x)  # (batch, input)
        h = self.encoder(x_in) if self.encoder is not None else x_in  # (batch, width)
        if self.encoders is None:
            return self.finish(h, x_in)  # h: (batch, code), the code every head reads
        n = len(self.task_names)
        codes = self.encoders(h.unsqueeze(0).expand(n, -1, -1))  # (n_tasks, batch, code)
        return self.finish(codes, x_in, shared_repr=h if self.encoder is not None else None)

    def shared_parameters(self) -> list[torch.nn.Parameter]:
        return list(self.encoder.parameters()) if self.encoder is not None else []

    def diagram(self) -> Diagram:
        n = len(self.task_names)
        L = len(self.spec.hidden) + 1
        d = Diagram(f"Hard sharing: {self.depth} of {L} encoder layers shared")
        d.add("input", "input", "input", 0, mid_lane(n))
        src = ["input"]
        if self.encoder is not None:
            src = [d.add("trunk", f"shared encoder<br>{self.depth} layers", "shared", 1,
                         mid_lane(n), src)]
        if self.encoders is None:
            d.add_heads(self.spec, 2, {t: src for t in self.task_names})
            return d
        for i, t in enumerate(self.task_names):
            d.add(f"enc:{t}", f"branch {t}<br>{L - self.depth} layers", "task", 2, i, src)
        d.add_heads(self.spec, 3, {t: [f"enc:{t}"] for t in self.task_names})
        return d

