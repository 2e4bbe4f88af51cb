"""Loss-weighting strategies (registry ``weightings``), one module per strategy.

Loss-based: equal, fixed, curriculum, uncertainty, dwa, gradnorm, rlw, gls, imtl_l, famo.
Gradient-based (``GradientWeighting``): pcgrad, gradvac, mgda, cagrad, imtl_g, nash_mtl,
aligned_mtl, upgrad, db_mtl.

``catalog`` registers them (names, summaries, options: no torch, so the Train form needs
none); each strategy's ``nn.Module`` is imported when ``weightings.get`` first asks for it,
and the names below when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .catalog import weightings

if TYPE_CHECKING:
    from .base import Weighting, masked
    from .diagnostics import task_gradient_cosine
    from .gradient_base import GradientWeighting, jacobian

__all__ = ["GradientWeighting", "Weighting", "jacobian", "masked", "task_gradient_cosine",
           "weightings"]
_HOME = {"Weighting": "base", "masked": "base", "task_gradient_cosine": "diagnostics",
         "GradientWeighting": "gradient_base", "jacobian": "gradient_base"}


def __getattr__(name: str) -> Any:
    # the torch-backed names load on first use (PEP 562): importing the registry is cheap
    if name in _HOME:
        import importlib

        return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
