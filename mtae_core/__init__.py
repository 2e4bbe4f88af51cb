"""MTAE Studio engine: multi-task learning with autoencoders. Never imports streamlit."""

from .config import ConfigError, ExperimentConfig

__all__ = ["ConfigError", "ExperimentConfig"]
__version__ = "0.1.0"
