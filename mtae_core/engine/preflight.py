"""Checks before training: what a valid config may still not run on this data or machine.

Cheap (the data's size comes from ``data_sizes``, without generating the data), so a
form may call ``preflight`` on every change and show each message next to its field;
``training.train`` calls it first and ends the run ``failed`` with the message, and
``mtae train`` exits 2 with it.
"""

from __future__ import annotations

from ..config import ConfigError, ExperimentConfig
from ..data import MultiTaskData
from ..data import base as data_mod

__all__ = ["mps_available", "preflight"]


def mps_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _cuda_available() -> bool:
    import torch  # only for a config that asks for CUDA: the form's default needs no torch

    return bool(torch.cuda.is_available())


def preflight(cfg: ExperimentConfig, data: MultiTaskData | None = None) -> None:
    """Raise ``ConfigError`` (plain words, by field) for what a valid config may still not
    run: a device this machine lacks, a split left empty, a batch larger than the training
    set or of one sample with batch normalisation. Cheap: the data's size is known without
    generating it (``data_sizes``), so a form may call it on every change."""
    problems: list[tuple[str, str]] = []
    device = cfg.training.device
    if device == "cuda" and not _cuda_available():
        problems.append(("training.device", "this machine has no CUDA GPU; choose device auto or cpu"))
    if device == "mps" and not mps_available():
        problems.append(("training.device", "this machine has no Apple MPS GPU; choose device auto or cpu"))
    if data is not None:
        sizes = {"train": len(data.train), "val": len(data.val), "test": len(data.test)}
        sizes["total"] = sum(sizes.values())
    else:
        sizes = data_mod.data_sizes(cfg.data)
    name, total = cfg.data.dataset, sizes["total"]
    for split, path, label in (("val", "data.val_fraction", "Validation share"),
                               ("test", "data.test_fraction", "Test share")):
        if sizes[split] == 0:
            share = getattr(cfg.data, path.split(".")[1])
            problems.append((path, f"{label} {share:g} leaves no {'validation' if split == 'val' else 'test'} "
                             f"samples of the {total:,} in {name}; choose at least {1 / max(total, 1):.2g}"))
    bs, n_train = cfg.training.batch_size, sizes["train"]
    # batch normalisation cannot normalise one sample (torch raises). Checked here, not in
    # the config, so the configs of runs stored before this rule still load.
    if cfg.model.batch_norm and bs < 2:
        problems.append(("training.batch_size",
                         "Batch size must be at least 2 when batch normalisation is on"))
    if bs > n_train:
        problems.append(("training.batch_size", f"Batch size {bs:,} is larger than the {n_train:,} "
                         f"training samples of {name}; choose at most {n_train:,}"))
    if problems:
        raise ConfigError(problems)
