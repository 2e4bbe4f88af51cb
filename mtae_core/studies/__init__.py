"""Studies: the unit of comparison. A ``StudySpec`` (base config, axes over dotted config
paths, seeds) expands into cells × seeds plus matched single-task baselines; ``start``
queues them, ``summarize`` aggregates them over seeds (scipy for the statistics)."""

from .fields import AxisField, axis_fields
from .planning import (
    INTERRUPTED,
    PlannedRun,
    Unfinished,
    cancel,
    default_workers,
    estimate_seconds,
    plan,
    retry,
    start,
    unfinished,
)
from .spec import MAX_RUNS, Cell, StudySpec, apply_setting, max_runs
from .summary import CellSummary, StudySummary, describe, overlap, paired_p, summarize

__all__ = [
    "INTERRUPTED", "MAX_RUNS", "AxisField", "Cell", "CellSummary", "PlannedRun", "StudySpec",
    "StudySummary", "Unfinished", "unfinished",
    "apply_setting", "axis_fields", "cancel", "default_workers", "describe",
    "estimate_seconds", "max_runs", "overlap", "paired_p", "plan", "retry", "start",
    "summarize",
]
