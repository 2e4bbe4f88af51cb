from __future__ import annotations

from .catalog import PLEEntry
from .experts import GatedExperts


class PLE(PLEEntry, GatedExperts):
    def plan(self) -> tuple[int, int, int]:
        o = self.spec.sharing_options
        return o.n_shared, o.n_specific, o.n_levels  # type: ignore[attr-defined]
