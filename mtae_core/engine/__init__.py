"""The engine: the training loop (``training``), seeds and cells trained as one batched
model (``replicas``, with its stacked parameters in ``replica_stack`` and per-replica
random draws in ``replica_noise``), the checks before a run (``preflight``) and per-task
metrics with Δm (``metrics``). Names are imported on first use (torch is heavy)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

_WHERE = {
    "train": "training", "build": "training", "build_optimizer": "training",
    "evaluate": "training", "resolve_device": "training", "describe_device": "training",
    "NullSink": "training", "Sink": "training", "TrainResult": "training",
    "train_replicas": "replicas", "NotBatchable": "replicas", "batch_reason": "replicas",
    "group_key": "replicas",
    "preflight": "preflight", "mps_available": "preflight",
    "METRIC_DIRECTION": "metrics", "delta_m": "metrics", "task_deltas": "metrics",
    "task_loss": "metrics", "task_metrics": "metrics", "headline": "metrics",
}
__all__ = [
    "METRIC_DIRECTION", "NotBatchable", "NullSink", "Sink", "TrainResult", "batch_reason",
    "build", "build_optimizer", "delta_m", "describe_device", "evaluate", "group_key",
    "headline", "mps_available", "preflight", "resolve_device", "task_deltas", "task_loss",
    "task_metrics", "train", "train_replicas",
]
__getattr__ = exports(__name__, _WHERE)

if TYPE_CHECKING:
    from .metrics import (
        METRIC_DIRECTION,
        delta_m,
        headline,
        task_deltas,
        task_loss,
        task_metrics,
    )
    from .preflight import mps_available, preflight
    from .replicas import NotBatchable, batch_reason, group_key, train_replicas
    from .training import (
        NullSink,
        Sink,
        TrainResult,
        build,
        build_optimizer,
        describe_device,
        evaluate,
        resolve_device,
        train,
    )
