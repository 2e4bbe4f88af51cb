"""Where the real benchmarks' files live, and what a data set says when they are absent.

The real benchmarks (Census-Income, Adult, MNIST, penguins) are not downloaded at run time:
``make data`` (``python -m mtae_core.data.fetch``) fetches them once, checksum-verified,
into ``$MTAE_HOME/datasets`` (``$MTAE_DATA`` overrides the folder). Until then each is
still listed, with the one command that adds it, and choosing it gives a plain
``ConfigError``, never a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ConfigError
from .base import Dataset

FETCH_COMMAND = "make data"


def data_root() -> Path:
    """The folder of the fetched files: ``$MTAE_DATA``, else ``$MTAE_HOME/datasets``
    (``~/.mtae/datasets``). Read on every call: a test or a process may move it."""
    if os.environ.get("MTAE_DATA"):
        return Path(os.environ["MTAE_DATA"])
    return Path(os.environ.get("MTAE_HOME", Path.home() / ".mtae")) / "datasets"


def dataset_dir(name: str) -> Path:
    return data_root() / name


class FileDataset(Dataset):
    """Base of the data sets read from fetched files: ``files`` (in ``dataset_dir(folder)``)
    must all be there."""

    folder: ClassVar[str] = ""
    files: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def paths(cls) -> list[Path]:
        return [dataset_dir(cls.folder) / f for f in cls.files]

    @classmethod
    def available(cls) -> bool:
        return all(p.is_file() for p in cls.paths())

    @classmethod
    def require(cls) -> None:
        """Raise the plain problem of absent files (the form shows it by the data set)."""
        if not cls.available():
            raise ConfigError([("data.dataset", f"the files of {cls.name} are not on this "
                                f"machine yet: `{FETCH_COMMAND}` adds them (once, about a "
                                f"minute; they go to {dataset_dir(cls.folder)})")])

    @classmethod
    def summary(cls) -> str:
        text = super().summary()
        if not cls.available():
            text += f" Not on this machine yet: `{FETCH_COMMAND}` adds it."
        return text

    @classmethod
    def file(cls, name: str) -> Path:
        cls.require()
        return dataset_dir(cls.folder) / name

    @classmethod
    def n_samples(cls, options: Any) -> int:
        cls.require()
        return len(cls.generate(options, 0).x)
