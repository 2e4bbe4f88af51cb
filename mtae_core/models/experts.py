"""Shared machinery of the gated mixture-of-experts schemes (MMoE, CGC, PLE): experts and
gates run as batched tensor ops; no loop over tasks or experts."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

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


def split_layers(sizes: list[int], n_levels: int) -> list[list[int]]:
    """Divide the encoder's layers among ``n_levels`` extraction levels (earlier levels
    take the extra layers); at most one level per layer."""
    n_layers = len(sizes) - 1
    n_levels = max(1, min(n_levels, n_layers))
    base, extra = divmod(n_layers, n_levels)
    chunks, start = [], 0
    for i in range(n_levels):
        stop = start + base + (1 if i < extra else 0)
        chunks.append(sizes[start:stop + 1])
        start = stop
    return chunks


class GatedExperts(SharingScheme):
    """Progressive layered extraction in general: levels of shared and task-specific
    experts; each task's gate mixes the shared experts and its own; between levels a
    shared gate mixes all experts into the shared experts' next input. MMoE is one level
    without specific experts, CGC one level, PLE several."""

    task_index: torch.Tensor  # buffer: for each task, the experts its gate mixes

    def plan(self) -> tuple[int, int, int]:
        """(shared experts, specific experts per task, extraction levels)."""
        raise NotImplementedError

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        n_t = len(spec.tasks)
        n_s, n_k, levels = self.plan()
        self.n_shared, self.n_specific = n_s, n_k
        self.chunks = split_layers(self.encoder_sizes(), levels)
        last = len(self.chunks) - 1
        self.shared_experts = nn.ModuleList(
            batched_mlp(n_s, c, spec, last_plain=i == last) for i, c in enumerate(self.chunks))
        self.specific_experts = nn.ModuleList(
            batched_mlp(n_t * n_k, c, spec, last_plain=i == last)
            for i, c in enumerate(self.chunks)) if n_k else None
        # task t's gate: softmax over [shared experts, t's specific experts]
        self.task_gates = nn.ModuleList(BatchedLinear(n_t, c[0], n_s + n_k) for c in self.chunks)
        # shared gates (between levels only): softmax over all experts
        self.shared_gates = nn.ModuleList(
            nn.Linear(c[0], n_s + n_t * n_k) for c in self.chunks[:-1])
        self.heads = make_heads(spec)
        # which experts task t's gate mixes: (n_tasks, n_s + n_k) indices into the stack
        idx = [list(range(n_s)) + [n_s + t * n_k + j for j in range(n_k)] for t in range(n_t)]
        self.register_buffer("task_index", torch.tensor(idx, dtype=torch.long), persistent=False)
        self.last_gates: list[dict[str, torch.Tensor]] = []  # the latest forward's gates
        self._gate_sums: list[dict[str, torch.Tensor]] = []  # running sums over an epoch
        self._gate_count = 0

    def forward(self, x: torch.Tensor) -> ModelOutput:
        x_in = self.encoder_input(x)  # (batch, input)
        n_t, n_s, n_k = len(self.task_names), self.n_shared, self.n_specific
        s = x_in  # input of the shared experts: (batch, d)
        t_in = x_in.unsqueeze(0).expand(n_t, -1, -1)  # inputs of the task parts: (n_tasks, batch, d)
        gates: list[dict[str, torch.Tensor]] = []
        experts = x_in
        for lvl in range(len(self.chunks)):
            outs = [self.shared_experts[lvl](s.unsqueeze(0).expand(n_s, -1, -1))]  # (n_s, batch, d')
            if self.specific_experts is not None:  # task t's experts read t's input
                outs.append(self.specific_experts[lvl](t_in.repeat_interleave(n_k, dim=0)))
            experts = torch.cat(outs, dim=0)  # (n_experts, batch, d')
            g = torch.softmax(self.task_gates[lvl](t_in), dim=-1)  # (n_tasks, batch, n_s + n_k)
            chosen = experts[self.task_index]  # (n_tasks, n_s + n_k, batch, d')
            level = {"tasks": g}
            t_next = torch.einsum("tbe,tebd->tbd", g, chosen)  # (n_tasks, batch, d')
            if lvl < len(self.shared_gates):
                gs = torch.softmax(self.shared_gates[lvl](s), dim=-1)  # (batch, n_experts)
                s = torch.einsum("be,ebd->bd", gs, experts)  # (batch, d')
                level["shared"] = gs
            t_in = t_next
            gates.append(level)
        self.last_gates = [{k: v.detach() for k, v in lv.items()} for lv in gates]
        if self.training:
            self._accumulate(gates)
        # every task reads the last level's experts; with one level that is all the
        # shared parameters reach the losses through (PLE's deeper gates read more)
        shared_repr = experts if len(self.chunks) == 1 else None
        return self.finish(t_in, x_in, shared_repr=shared_repr)

    @torch.no_grad()
    def _accumulate(self, gates: list[dict[str, torch.Tensor]]) -> None:
        means = [{k: v.mean(dim=-2) for k, v in lv.items()} for lv in gates]  # over the batch
        if not self._gate_sums:
            self._gate_sums = means
        else:
            self._gate_sums = [{k: acc[k] + m[k] for k in m}
                               for acc, m in zip(self._gate_sums, means, strict=True)]
        self._gate_count += 1

    def expert_names(self) -> list[str]:
        shared = [f"shared {i + 1}" for i in range(self.n_shared)]
        return shared + [f"{t} {j + 1}" for t in self.task_names for j in range(self.n_specific)]

    def epoch_extras(self) -> dict[str, Any]:
        """Mean gate weights over the epoch's training batches, per level:
        {"gates": {level: {"experts": [names], "rows": {task or "shared": [weights]}}}}."""
        if not self._gate_count:
            return {}
        names = self.expert_names()
        out: dict[str, Any] = {}
        multi = len(self._gate_sums) > 1
        for lvl, sums in enumerate(self._gate_sums):
            task_w = (sums["tasks"] / self._gate_count).cpu().tolist()  # (n_tasks, n_s + n_k)
            idx = self.task_index.tolist()
            # spread each task's weights over the full expert list (0 where it has no gate)
            rows: dict[str, list[float]] = {}
            for t, name in enumerate(self.task_names):
                full = [0.0] * len(names)
                for j, e in enumerate(idx[t]):
                    full[e] = task_w[t][j]
                rows[name] = full
            if "shared" in sums:
                rows["shared"] = (sums["shared"] / self._gate_count).cpu().tolist()
            out[f"level {lvl + 1}" if multi else "gates"] = {"experts": names, "rows": rows}
        self._gate_sums, self._gate_count = [], 0
        return {"gates": out}

    def shared_parameters(self) -> list[nn.Parameter]:
        # shared experts of every level; below the last level the shared gate mixes every
        # expert into what all tasks read next, so those experts and gates are shared too
        ps = list(self.shared_experts.parameters()) + list(self.shared_gates.parameters())
        last = len(self.chunks) - 1
        for lvl in range(last):
            ps += list(self.task_gates[lvl].parameters())
            if self.specific_experts is not None:
                ps += list(self.specific_experts[lvl].parameters())
        return ps

    def diagram(self) -> Diagram:
        n = len(self.task_names)
        d = Diagram(self.summary())
        d.add("input", "input", "input", 0, mid_lane(n))
        shared_src = ["input"]
        task_src = {t: ["input"] for t in self.task_names}
        top = -1.2  # shared experts sit in a lane above the tasks
        for lvl, c in enumerate(self.chunks):
            x = 1 + 2 * lvl
            layers = len(c) - 1
            sh = d.add(f"sx{lvl}", f"{self.n_shared} shared expert{'s' * (self.n_shared > 1)}"
                       f"<br>{layers} layer{'s' * (layers > 1)}", "expert", x, top, shared_src)
            for i, t in enumerate(self.task_names):
                srcs = [sh]
                if self.n_specific:
                    srcs.append(d.add(f"tx{lvl}:{t}", f"{self.n_specific} expert"
                                      f"{'s' * (self.n_specific > 1)} {t}", "expert", x, i,
                                      task_src[t]))
                d.add(f"gate{lvl}:{t}", f"gate {t}", "gate", x + 1, i, srcs)
            new_task_src = {t: [f"gate{lvl}:{t}"] for t in self.task_names}
            if lvl < len(self.chunks) - 1:
                srcs = [sh] + ([f"tx{lvl}:{t}" for t in self.task_names] if self.n_specific else [])
                shared_src = [d.add(f"sgate{lvl}", "shared gate", "gate", x + 1, top, srcs)]
            task_src = new_task_src
        d.add_heads(self.spec, 1 + 2 * len(self.chunks), task_src)
        return d
