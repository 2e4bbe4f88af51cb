"""MTAE Studio engine: multi-task learning with autoencoders. Never imports streamlit.

The Python API (``mtae_core.api``): ``train`` a config, ``run_study`` a study, ``load_runs``
from the store, with their results ``Run`` and ``StudyResult``. They are imported on
first use, so ``import mtae_core`` pulls in no torch."""

from __future__ import annotations

from .config import ConfigError, ExperimentConfig
from .lazy import exports

__all__ = ["ConfigError", "ExperimentConfig", "Run", "StudyResult", "load_runs", "run_study",
           "train"]
__version__ = "0.1.0"
__getattr__ = exports(__name__, {name: "api" for name in
                                 ("Run", "StudyResult", "load_runs", "run_study", "train")})


def __dir__() -> list[str]:  # a notebook's completion lists the lazy names too
    return sorted({*globals(), *__all__})

