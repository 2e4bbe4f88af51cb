from __future__ import annotations

from pydantic import Field

from ..registry import Options
from .base import sharing
from .experts import GatedExperts


class CGCOptions(Options):
    n_shared: int = Field(2, ge=1, le=8, title="Shared experts", description="experts every task's gate can use")
    n_specific: int = Field(1, ge=1, le=8, title="Experts per task", description="experts of each task's own")


@sharing.register("cgc")
class CGC(GatedExperts):
    """Customized gate control (Tang et al. 2020): shared and task-specific experts, a gate per task."""

    Options = CGCOptions

    def plan(self) -> tuple[int, int, int]:
        o = self.spec.sharing_options
        return o.n_shared, o.n_specific, 1  # type: ignore[attr-defined]
