from __future__ import annotations

import torch

from .base import Autoencoder
from .catalog import ContractiveEntry


def jacobian_frobenius(code: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ‖∂code/∂x‖²_F, exact, one backward pass per code unit
    (kept in the graph so the penalty trains). For per-task codes (n_tasks, batch, k)
    the Jacobian stacks every task's code: Σ_t ‖J_t‖²_F. Samples are independent
    except through batch norm's batch statistics, which this ignores."""
    flat = code.movedim(-2, 0).reshape(code.shape[-2], -1)  # (batch, n_codes)
    total = torch.zeros((), device=code.device, dtype=code.dtype)
    for j in range(flat.shape[1]):  # a loop beats is_grads_batched here (measured)
        (g,) = torch.autograd.grad(flat[:, j].sum(), x, create_graph=True, retain_graph=True)
        total = total + g.pow(2).sum()
    return total / flat.shape[0]


class Contractive(ContractiveEntry, Autoencoder):
    needs_input_grad = True  # schemes hand the bottleneck an input that requires grad

    def bottleneck(
        self, code: torch.Tensor, x: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        if self.training and x is not None and x.requires_grad and torch.is_grad_enabled():
            return code, code, {"contractive": self.options.lam * jacobian_frobenius(code, x)}
        return code, code, {}
