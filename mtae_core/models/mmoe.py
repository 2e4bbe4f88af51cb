from __future__ import annotations

from pydantic import Field

from ..registry import Options
from .base import sharing
from .experts import GatedExperts


class MMoEOptions(Options):
    n_experts: int = Field(4, ge=1, le=16, title="Experts", description="number of shared experts")


@sharing.register("mmoe")
class MMoE(GatedExperts):
    """Multi-gate mixture of experts (Ma et al. 2018): shared experts, one softmax gate per task."""

    Options = MMoEOptions

    def plan(self) -> tuple[int, int, int]:
        return self.spec.sharing_options.n_experts, 0, 1  # type: ignore[attr-defined]
