from __future__ import annotations

from pydantic import Field

from ..registry import Options
from .base import sharing
from .experts import GatedExperts


class PLEOptions(Options):
    n_shared: int = Field(2, ge=1, le=8, title="Shared experts", description="shared experts per extraction level")
    n_specific: int = Field(1, ge=1, le=8, title="Experts per task", description="experts of each task's own, per level")
    n_levels: int = Field(
        2, ge=1, le=7, title="Extraction levels",
        description="extraction levels; the encoder's layers are divided among them "
                    "(at most one level per layer)")


@sharing.register("ple")
class PLE(GatedExperts):
    """Progressive layered extraction (Tang et al. 2020): stacked CGC levels with shared gates between."""

    Options = PLEOptions

    def plan(self) -> tuple[int, int, int]:
        o = self.spec.sharing_options
        return o.n_shared, o.n_specific, o.n_levels  # type: ignore[attr-defined]
