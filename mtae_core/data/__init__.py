"""Data sets: a registry of generators that become ``MultiTaskData`` tensors. Built-ins
come from scikit-learn or generators; users' tables live in the run store (``user``)."""

# isort: off
# registration order is the order the Train form lists them: the classics first
from . import digits, synthetic  # noqa: F401
from . import multi_digits, wine, breast_cancer, diabetes, iris, linnerud  # noqa: F401
# the real benchmarks, read from the files `make data` fetches (files.py)
from . import census, adult, mnist, penguins  # noqa: F401
# isort: on
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
from .tabular import TableDataset

__all__ = ["Dataset", "MultiTaskData", "RawData", "Split", "TableDataset", "TaskSpec",
           "data_sizes", "datasets", "load", "split_sizes"]
