from __future__ import annotations

import torch

from .base import Diagram, ModelOutput, ModelSpec, SharingScheme, batched_mlp, make_heads
from .catalog import SingleTaskEntry


class SingleTask(SingleTaskEntry, SharingScheme):
    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        # all task encoders in one batched MLP: (n_tasks, batch, ·)
        self.encoders = batched_mlp(len(spec.tasks), self.encoder_sizes(), spec)
        self.heads = make_heads(spec)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        x_in = self.encoder_input(x)  # (batch, input)
        n = len(self.task_names)
        codes = self.encoders(x_in.unsqueeze(0).expand(n, -1, -1))  # (n_tasks, batch, code)
        return self.finish(codes, x_in)

    def diagram(self) -> Diagram:
        return per_task_diagram(self, "Single-task baselines: one encoder per task")


def per_task_diagram(model: SharingScheme, title: str) -> Diagram:
    """Input, one encoder per task lane, one head per task."""
    d = Diagram(title)
    n = len(model.task_names)
    d.add("input", "input", "input", 0, (n - 1) / 2)
    layers = len(model.spec.hidden) + 1
    for i, t in enumerate(model.task_names):
        d.add(f"enc:{t}", f"encoder {t}<br>{layers} layers", "task", 1, i, ["input"])
    d.add_heads(model.spec, 2, {t: [f"enc:{t}"] for t in model.task_names})
    return d
