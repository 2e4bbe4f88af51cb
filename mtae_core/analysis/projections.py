"""Analysis of finished runs: latent projections (PCA, t-SNE, UMAP when the ``umap``
extra is installed) of the test set, side by side for two runs; the reconstructions of
image data sets next to their originals; a run's weights as a file."""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch

from ..config import ExperimentConfig
from ..data import MultiTaskData
from ..engine.training import build
from ..models import SharingScheme
from ..store.runs import RunStore

Projection = Literal["pca", "tsne", "umap"]
# data sets whose inputs are images: (height, width) of one input
IMAGE_SHAPES: dict[str, tuple[int, int]] = {"digits": (8, 8), "multi_digits": (8, 16)}
UMAP_MISSING = ("UMAP needs the optional umap-learn package, which is not installed here. "
                "Install it with: pip install 'mtae-studio[umap]' — or choose PCA or t-SNE.")


class MissingExtra(RuntimeError):
    """An optional package a feature needs is not installed; the message says how to get it."""


def umap_available() -> bool:
    return importlib.util.find_spec("umap") is not None


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
    if method == "umap":
        try:
            import umap  # the optional extra: heavy (numba), imported only when chosen
        except ImportError:
            raise MissingExtra(UMAP_MISSING) from None
        neighbours = int(min(15, max(2, len(codes) - 1)))
        reducer = umap.UMAP(n_components=2, n_neighbors=neighbours, random_state=seed, n_jobs=1)
        return np.asarray(reducer.fit_transform(codes), dtype=float)
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


def same_axes(frames: Sequence[pd.DataFrame], pad: float = 0.05) -> tuple[tuple[float, float], tuple[float, float]]:
    """One x range and one y range covering every frame's (x, y) points, so projections
    drawn side by side share their axes' scale."""
    xs = np.concatenate([f["x"].to_numpy(float) for f in frames])
    ys = np.concatenate([f["y"].to_numpy(float) for f in frames])
    def span(v: np.ndarray) -> tuple[float, float]:
        lo, hi = float(v.min()), float(v.max())
        m = (hi - lo) * pad or 1.0
        return lo - m, hi + m
    return span(xs), span(ys)


def shared_labels(frames: Sequence[pd.DataFrame]) -> list[str]:
    """The label columns every frame has, in the first frame's order (a colour both
    projections can use)."""
    cols = [c for c in frames[0].columns if c not in ("x", "y")]
    return [c for c in cols if all(c in f.columns for f in frames[1:])]


def weights_file(store: RunStore, run_id: int) -> bytes | None:
    """The run's stored weights as a ``.pt`` file (a state_dict ``torch.load`` reads with
    ``weights_only=True``); None when the run saved none."""
    weights = store.load_weights(run_id)
    if weights is None:
        return None
    buf = io.BytesIO()
    torch.save(weights, buf)
    return buf.getvalue()


# ---- reconstructions of image data ------------------------------------------------------


@dataclass
class Reconstructions:
    """Originals and each run's reconstructions of them, in pixel intensities."""

    dataset: str | None
    shape: tuple[int, int]  # (height, width) of one image
    originals: np.ndarray  # (n, height, width)
    captions: list[str]  # one per original (its labels)
    runs: dict[int, np.ndarray] = field(default_factory=dict)  # run id -> (n, height, width)
    mse: dict[int, float] = field(default_factory=dict)  # run id -> mean squared pixel error
    notes: dict[int, str] = field(default_factory=dict)  # run id -> why it is left out
    caveats: dict[int, str] = field(default_factory=dict)  # run id -> what to keep in mind
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # the data set's rows shown


def _varied(labels: np.ndarray | None, n: int, size: int) -> list[int]:
    """``n`` of ``size`` test positions: with labels, the first of each label before any
    repeat, so the grid shows several classes (the first test images may all be one
    digit); without, the first ``n``."""
    if labels is None:
        return list(range(min(n, size)))
    first = [int(np.flatnonzero(labels == lab)[0]) for lab in dict.fromkeys(labels.tolist())][:n]
    taken = set(first)
    return sorted(first) + [i for i in range(size) if i not in taken][: n - len(first)]


def _scaler(cfg: ExperimentConfig, raw_x: np.ndarray, train: np.ndarray) -> Any:
    """The scaler the run's data was scaled with: the same scikit-learn scaler, fitted on
    the same training rows (``data.base`` does this when it loads the data)."""
    from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler

    if cfg.data.scaling == "none":
        return FunctionTransformer().fit(raw_x[train])
    cls = StandardScaler if cfg.data.scaling == "standard" else MinMaxScaler
    return cls().fit(raw_x[train].astype(np.float64))


def _raw_inputs(cfg: ExperimentConfig, data: MultiTaskData) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """(the unscaled inputs of the rows the run kept (N, D), their labels' source rows,
    the run's split indices into them)."""
    from ..data.base import datasets

    ds = datasets.get(cfg.data.dataset)
    raw = ds.generate(ds.Options.model_validate(cfg.data.options), cfg.data.seed)
    kept = np.asarray(data.extras["rows_kept"])
    return np.asarray(raw.x, dtype=np.float64)[kept], kept, data.extras["split_indices"]


def _why_not(cfg: ExperimentConfig, run_id: int) -> str | None:
    if cfg.data.dataset not in IMAGE_SHAPES:
        return (f"run #{run_id} is on {cfg.data.dataset}, which is not image data: "
                "reconstructions are drawn for " + " and ".join(IMAGE_SHAPES))
    if "reconstruction" not in cfg.data.tasks:
        return (f"run #{run_id} has no reconstruction task: it was trained without "
                "rebuilding its input")
    return None


@torch.no_grad()
def reconstructions(store: RunStore, run_ids: Sequence[int], n: int = 8) -> Reconstructions:
    """The first ``n`` test images of the first run that can show any (image data, a
    reconstruction task, saved weights) and every run's reconstruction of those same
    images, side by side. Each run scales the images as its own data was scaled, and its
    output is scaled back to pixels. Runs that cannot show any are listed in ``notes``
    with the reason."""
    out = Reconstructions(None, (0, 0), np.zeros((0, 0, 0)), [])
    ref: tuple[ExperimentConfig, np.ndarray, np.ndarray] | None = None  # cfg, images, rows
    for run_id in run_ids:
        run = store.get_run(run_id)
        if run is None:
            out.notes[run_id] = f"run #{run_id} no longer exists"
            continue
        why = _why_not(run.config, run_id)
        if why is None and ref is not None and run.config.data.dataset != out.dataset:
            why = (f"run #{run_id} is on {run.config.data.dataset}, the images here come "
                   f"from {out.dataset}: pick runs on one data set")
        if why is None and store.load_weights(run_id) is None:
            why = f"run #{run_id} saved no weights (it is {run.status})"
        if why is not None:
            out.notes[run_id] = why
            continue
        cfg, data, model = load_trained(store, run_id)
        raw_x, kept, split = _raw_inputs(cfg, data)
        scaler = _scaler(cfg, raw_x, split[0])
        if ref is None:
            labels = [s.name for s in data.tasks if s.kind == "classification"]
            picked = _varied(data.test.y[labels[0]].numpy() if labels else None, n, len(data.test))
            rows = np.asarray(split[2])[picked]  # test images of this run
            out.dataset, out.shape = cfg.data.dataset, IMAGE_SHAPES[cfg.data.dataset]
            images = raw_x[rows]
            out.originals = images.reshape(len(rows), *out.shape)
            out.captions = [", ".join(f"{t} {int(data.test.y[t][i])}" for t in labels)
                            for i in picked]
            out.rows = kept[rows]
            ref = (cfg, images, rows)
        else:
            if cfg.data != ref[0].data:
                out.caveats[run_id] = ("its data set settings or seed differ from the first "
                                       "run's: some of these images may be in its training set")
        x = torch.as_tensor(scaler.transform(ref[1]), dtype=torch.float32)
        rec = model(x).outputs["reconstruction"].cpu().numpy().astype(np.float64)
        pixels = scaler.inverse_transform(rec)
        out.runs[run_id] = pixels.reshape(len(pixels), *out.shape)
        out.mse[run_id] = float(np.mean((pixels - ref[1]) ** 2))
    return out
