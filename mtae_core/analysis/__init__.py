"""What the engine's results mean: latent projections and reconstructions
(``projections``), task relatedness before training (``relatedness``), matched
single-task baselines, the baseline a comparison uses and Δm (``baselines``), and the
method arena's two-task toy with its Pareto set (``arena``). Names are imported on first
use (torch, scipy and scikit-learn are heavy)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

_WHERE = {
    "latent_frame": "projections", "latent_codes": "projections", "project": "projections",
    "load_trained": "projections", "reconstructions": "projections",
    "MissingExtra": "projections", "umap_available": "projections",
    "dataset_report": "relatedness", "label_relatedness": "relatedness",
    "gradient_cosine": "relatedness",
    "BASELINE": "baselines", "baseline_config": "baselines", "differences": "baselines",
    "is_matched_baseline": "baselines",
    "run_method": "arena", "pareto_set": "arena",
}
__all__ = [
    "BASELINE", "MissingExtra", "baseline_config", "dataset_report", "differences",
    "gradient_cosine", "is_matched_baseline", "label_relatedness", "latent_codes",
    "latent_frame", "load_trained", "pareto_set", "project", "reconstructions", "run_method",
    "umap_available",
]
__getattr__ = exports(__name__, _WHERE)

if TYPE_CHECKING:
    from .arena import pareto_set, run_method
    from .baselines import BASELINE, baseline_config, differences, is_matched_baseline
    from .projections import (
        MissingExtra,
        latent_codes,
        latent_frame,
        load_trained,
        project,
        reconstructions,
        umap_available,
    )
    from .relatedness import dataset_report, gradient_cosine, label_relatedness
