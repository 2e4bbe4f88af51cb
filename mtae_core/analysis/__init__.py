"""What the engine's results mean: latent projections and reconstructions
(``projections``), task relatedness before training (``relatedness``), matched
single-task baselines (``baselines``), the baseline a comparison uses and Δm
(``comparison``), the gains sharing measured on a data set (``gains``), Pareto fronts of
two objectives (``pareto``), and the method arena's two-task toy with its Pareto set
(``arena``). Names are imported on first
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
    "Baseline": "comparison", "baselines_of": "comparison", "delta_m_column": "comparison",
    "find_baseline": "comparison", "headline_metrics": "comparison",
    "higher_is_better": "comparison", "metric_columns": "comparison",
    "task_delta_frame": "comparison",
    "measured_gains": "gains",
    "pareto_mask": "pareto",
    "run_method": "arena", "pareto_set": "arena",
}
__all__ = [
    "BASELINE", "Baseline", "MissingExtra", "baseline_config", "baselines_of", "dataset_report",
    "delta_m_column", "differences", "find_baseline", "gradient_cosine", "headline_metrics",
    "higher_is_better", "is_matched_baseline", "label_relatedness", "latent_codes",
    "latent_frame", "load_trained", "measured_gains", "metric_columns", "pareto_mask",
    "pareto_set", "project", "reconstructions", "run_method", "task_delta_frame",
    "umap_available",
]
__getattr__ = exports(__name__, _WHERE)

if TYPE_CHECKING:
    from .arena import pareto_set, run_method
    from .baselines import BASELINE, baseline_config, differences, is_matched_baseline
    from .comparison import (
        Baseline,
        baselines_of,
        delta_m_column,
        find_baseline,
        headline_metrics,
        higher_is_better,
        metric_columns,
        task_delta_frame,
    )
    from .gains import measured_gains
    from .pareto import pareto_mask
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
