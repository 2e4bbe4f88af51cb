"""Analysis of finished runs: latent projections (PCA, t-SNE) of the test set."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import torch

from .config import ExperimentConfig
from .data import MultiTaskData
from .models import SharingScheme
from .store import RunStore
from .training import build

Projection = Literal["pca", "tsne"]


def load_trained(store: RunStore, run_id: int) -> tuple[ExperimentConfig, MultiTaskData, SharingScheme]:
    """Rebuild a stored run's data and model and load its weights (``weights_only=True``)."""
    run = store.get_run(run_id)
    if run is None:
        raise KeyError(f"no run with id {run_id}")
    weights = store.load_weights(run_id)
    if weights is None:
        raise ValueError(f"run {run_id} has no saved weights (status: {run.status})")
    data, model = build(run.config)
    model.load_state_dict(weights)
    model.eval()
    return run.config, data, model


@torch.no_grad()
def latent_codes(model: SharingScheme, data: MultiTaskData, split: str = "test") -> dict[str, np.ndarray]:
    """Latent means of a split: "shared", or one entry per task for per-task networks."""
    model.eval()
    x = getattr(data, split).x
    return {k: v.cpu().numpy() for k, v in model.latent(x).items()}


def project(codes: np.ndarray, method: Projection = "pca", seed: int = 0) -> np.ndarray:
    """(n, latent) → (n, 2) with scikit-learn."""
    if codes.shape[1] == 1:
        return np.column_stack([codes[:, 0], np.zeros(len(codes))])
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(5, len(codes) // 4)))
        return TSNE(2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(codes)
    from sklearn.decomposition import PCA

    return PCA(2, random_state=seed).fit_transform(codes)


def latent_frame(store: RunStore, run_id: int, latent: str | None = None,
                 method: Projection = "pca") -> tuple[pd.DataFrame, list[str]]:
    """The 2-D projection of a run's test-set latent codes with one column per task
    label; returns the frame and the latent keys available ("shared" or task names)."""
    cfg, data, model = load_trained(store, run_id)
    codes = latent_codes(model, data)
    keys = list(codes)
    xy = project(codes[latent or keys[0]], method, cfg.seed)
    df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})
    for spec in data.tasks:
        if spec.kind == "classification":
            df[spec.name] = data.test.y[spec.name].numpy().astype(str)
        elif spec.kind == "regression":
            df[spec.name] = data.test.y[spec.name].numpy()
    return df, keys
