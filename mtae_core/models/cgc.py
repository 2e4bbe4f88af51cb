from __future__ import annotations

from .catalog import CGCEntry
from .experts import GatedExperts


class CGC(CGCEntry, GatedExperts):
    def plan(self) -> tuple[int, int, int]:
        o = self.spec.sharing_options
        return o.n_shared, o.n_specific, 1  # type: ignore[attr-defined]
