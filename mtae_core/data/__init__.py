"""Data sets: a registry of generators that become ``MultiTaskData`` tensors."""

from . import digits, synthetic  # noqa: F401  (register built-ins)
from .base import (
    Dataset,
    MultiTaskData,
    RawData,
    Split,
    TaskSpec,
    data_sizes,
    datasets,
    load,
    split_sizes,
)

__all__ = ["Dataset", "MultiTaskData", "RawData", "Split", "TaskSpec", "data_sizes", "datasets",
           "load", "split_sizes"]
