"""DB-MTL (Lin, Jiang, Ye, Zhang, Chen, Chen, Liu & Kwok 2023, "Dual-Balancing for
Multi-Task Learning", arXiv)."""

from __future__ import annotations

from typing import Any

import torch

from .catalog import DBMTLEntry
from .gradient_base import GradientWeighting


class DBMTL(DBMTLEntry, GradientWeighting):
    def __init__(self, task_names: list[str], options: Any) -> None:
        super().__init__(task_names, options)
        self.active_idx = list(range(len(task_names)))
        self.buffer: torch.Tensor | None = None  # (n_tasks, P) moving average of ∇ log L_t
        self.seen = torch.zeros(len(task_names), dtype=torch.bool)
        self.t = 0

    def direction(self, G: torch.Tensor, losses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k = G.shape[0]
        idx = self.active_idx if len(self.active_idx) == k else list(range(k))
        L = losses.clamp(min=1e-8)
        g_log = G / L[:, None]  # ∇ log L_t = ∇L_t / L_t
        if self.buffer is None or self.buffer.shape[1] != G.shape[1]:
            self.buffer = torch.zeros(len(self.task_names), G.shape[1], device=G.device, dtype=G.dtype)
            self.seen.zero_()
        self.t += 1
        beta_t = self.options.beta / self.t ** self.options.beta_sigma
        sel = torch.tensor(idx, device=G.device)
        seen = self.seen[idx].to(G.device)[:, None]
        old = self.buffer[sel]
        new = torch.where(seen, beta_t * old + (1 - beta_t) * g_log, g_log)  # (k, P)
        self.buffer[sel] = new
        self.seen[idx] = True
        norms = new.norm(dim=1).clamp(min=1e-12)
        alpha = norms.max() / norms  # every task's gradient rescaled to the largest norm
        d = alpha @ new
        return d, alpha / L  # charted: the scale each task's raw gradient gets this step

    def head_weights(self, w: torch.Tensor, losses: torch.Tensor) -> torch.Tensor:
        # the task-specific parameters train on the log-losses, as in the paper
        return 1.0 / losses.clamp(min=1e-8)
