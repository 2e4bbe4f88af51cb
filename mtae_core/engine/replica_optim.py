"""Per-replica learning rate and weight decay over stacked parameters (batched replicas,
``mtae_core.engine.replicas``): a learning-rate sweep trains as one model.

torch's fused optimizers update the stacked (K, P) parameters with one scalar learning
rate. When the replicas' learning rates or weight decays differ, ``StackedOptimizer`` makes
the same update as each replica's own Adam, AdamW or SGD would, with a (K, 1) column of
learning rates and weight decays (the formulas of torch's fused kernels, element-wise, so a
replica equals its run alone to float tolerance). Its one parameter group holds a learning
rate *factor* (1.0 at the start): a learning-rate schedule scales it as it would scale a
run's learning rate, and each replica's rate is its own times the factor. The strategies'
parameters (uncertainty's log σ², ...) train in a torch optimizer of the same kind, one
parameter group per replica with that replica's settings, scheduled alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from ..config import OptimizerConfig

KINDS = ("adam", "adamw", "sgd")  # the kinds whose update is written out here


def per_replica(cfgs: list[OptimizerConfig]) -> bool:
    """Whether the replicas' learning rates or weight decays differ (else one fused torch
    optimizer serves them all)."""
    return len({(c.lr, c.weight_decay) for c in cfgs}) > 1


class StackedOptimizer(torch.optim.Optimizer):
    """Adam / AdamW / SGD over ``flat`` (K, P) with per-row learning rates and weight decays."""

    def __init__(self, flat: torch.Tensor, cfgs: list[OptimizerConfig]) -> None:
        cfg = cfgs[0]
        super().__init__([flat], {"lr": 1.0})  # lr: the schedule's factor
        dev, dt = flat.device, flat.dtype
        self.kind = cfg.kind
        self.lrs = torch.tensor([c.lr for c in cfgs], device=dev, dtype=dt).view(-1, 1)
        self.wds = torch.tensor([c.weight_decay for c in cfgs], device=dev, dtype=dt).view(-1, 1)
        self.any_wd = any(c.weight_decay for c in cfgs)
        self.momentum, self.nesterov = cfg.momentum, cfg.nesterov
        self.betas, self.eps = (0.9, 0.999), 1e-8  # torch's defaults, as build_optimizer uses

    def replica_lr(self, k: int) -> float:
        return float(self.param_groups[0]["lr"] * self.lrs[k, 0])

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        p = self.param_groups[0]["params"][0]
        g = p.grad
        if g is None:
            return
        lr = self.lrs * self.param_groups[0]["lr"]  # (K, 1)
        state = self.state[p]
        if self.kind == "sgd":
            if self.any_wd:
                g = g + self.wds * p
            if self.momentum:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = g.clone()
                else:
                    buf.mul_(self.momentum).add_(g)
                g = g + self.momentum * buf if self.nesterov else buf
            p.sub_(lr * g)
            return
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        b1, b2 = self.betas
        state["step"] += 1
        t = state["step"]
        if self.any_wd:
            if self.kind == "adamw":
                p.mul_(1 - lr * self.wds)
            else:
                g = g + self.wds * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        denom = (v.sqrt() / (bc2 ** 0.5)).add_(self.eps)
        p.sub_((lr / bc1) * m / denom)


class ReplicaOptimizers:
    """The stacked optimizer and the strategies' one, stepped, zeroed and scheduled
    together; ``param_groups`` and ``replica_lr`` as a replica's bookkeeping reads them."""

    def __init__(self, flat: torch.Tensor, strategy_params: list[list[torch.nn.Parameter]],
                 cfgs: list[OptimizerConfig], epochs: int) -> None:
        from .training import build_optimizer, build_schedule

        self.stacked = StackedOptimizer(flat, cfgs)
        groups: list[dict[str, Any]] = [{"params": ps, "lr": c.lr, "weight_decay": c.weight_decay}
                  for ps, c in zip(strategy_params, cfgs, strict=True) if ps]
        self.own: torch.optim.Optimizer | None = None
        self.scheds: list[Any] = []
        if groups:
            opt, _ = build_optimizer(cfgs[0], [p for g in groups for p in g["params"]], epochs)
            opt.param_groups.clear()
            for g in groups:
                opt.add_param_group(g)
            self.own = opt
        for o in (self.stacked, self.own):
            if o is not None:
                sched = build_schedule(cfgs[0], o, epochs)
                if sched is not None:
                    self.scheds.append(sched)
        self.schedule = Schedules(self.scheds) if self.scheds else None

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.stacked.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.stacked.zero_grad(set_to_none=set_to_none)
        if self.own is not None:
            self.own.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        self.stacked.step()
        if self.own is not None:
            self.own.step()



class Schedules:
    """The learning-rate schedules of both optimizers, stepped together at an epoch's end."""

    def __init__(self, scheds: list[Any]) -> None:
        self.scheds = scheds

    def step(self) -> None:
        for s in self.scheds:
            s.step()


class ReplicaLR:
    """What a replica's bookkeeping reads of its optimizer: its own learning rate."""

    def __init__(self, opts: ReplicaOptimizers, k: int) -> None:
        self.opts, self.k = opts, k

    @property
    def param_groups(self) -> list[dict[str, float]]:
        return [{"lr": self.opts.stacked.replica_lr(self.k)}]
