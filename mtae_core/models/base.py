"""Model building blocks: the two registries (autoencoder variants, sharing schemes),
``ModelOutput``, and layers shared by the schemes (MLPs, batched per-task MLPs, heads)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from ..data.base import TaskSpec
from ..registry import Entry, NoOptions, Options, Registry

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


@dataclass
class ModelOutput:
    """What every model returns, whatever its scheme."""

    outputs: dict[str, torch.Tensor]  # per task: (batch, out_dim) logits / values
    latents: dict[str, torch.Tensor]  # "shared" or per task name: (batch, latent) codes (means)
    aux_losses: dict[str, torch.Tensor] = field(default_factory=dict)  # name -> scalar
    # the representation that every task head reads, when one exists (MGDA-UB)
    shared_repr: torch.Tensor | None = None


@dataclass(frozen=True)
class ModelSpec:
    """Everything a sharing scheme needs to build itself."""

    input_dim: int
    tasks: tuple[TaskSpec, ...]
    hidden: tuple[int, ...] = (128, 64)
    latent_dim: int = 16
    head_hidden: int = 32
    activation: str = "relu"
    dropout: float = 0.0
    batch_norm: bool = False
    autoencoder: str = "plain"
    autoencoder_options: Options = field(default_factory=NoOptions)
    sharing_options: Options = field(default_factory=NoOptions)

    @property
    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]


# ---- autoencoder variants -----------------------------------------------------------


class Autoencoder(Entry, nn.Module):
    """Base of the autoencoder variants. A variant decides what happens to the input on
    the way in (``corrupt``, training only) and at the bottleneck (``bottleneck``); the
    sharing scheme decides how many encoders there are and who reads them."""

    code_multiplier: ClassVar[int] = 1  # encoder emits latent_dim * this (VAE: mean + log-var)

    def __init__(self, latent_dim: int, options: Any) -> None:
        nn.Module.__init__(self)
        self.latent_dim = latent_dim
        self.options = options

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """Input the encoder sees in training. Targets stay the clean input."""
        return x

    def bottleneck(
        self, code: torch.Tensor, x: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """code: (..., batch, latent_dim * code_multiplier) →
        (z fed to the heads, latent mean for projections, auxiliary losses by name)."""
        return code, code, {}


autoencoders: Registry[type[Autoencoder]] = Registry("autoencoder")


# ---- sharing schemes -----------------------------------------------------------------


class SharingScheme(Entry, nn.Module):
    """Base of the sharing schemes: ``forward(x) -> ModelOutput``."""

    def __init__(self, spec: ModelSpec) -> None:
        nn.Module.__init__(self)
        self.spec = spec
        self.task_names = spec.task_names
        self.ae = autoencoders.get(spec.autoencoder)(spec.latent_dim, spec.autoencoder_options)

    def forward(self, x: torch.Tensor) -> ModelOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters that more than one task's loss reaches (empty for single-task)."""
        return []

    def task_parameters(self) -> list[nn.Parameter]:
        shared = {id(p) for p in self.shared_parameters()}
        return [p for p in self.parameters() if id(p) not in shared]

    def epoch_extras(self) -> dict[str, Any]:
        """Learned mixing worth charting per epoch (gates, cross-stitch α, distances)."""
        return {}

    def latent(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Latent means for projections (evaluation mode, no corruption)."""
        return self.forward(x).latents


sharing: Registry[type[SharingScheme]] = Registry("sharing scheme")


def build(cfg: Any, tasks: list[TaskSpec], input_dim: int) -> SharingScheme:
    """Build the model of a ``ModelConfig`` for these tasks."""
    ae_cls = autoencoders.get(cfg.autoencoder)
    sh_cls = sharing.get(cfg.sharing)
    spec = ModelSpec(
        input_dim=input_dim,
        tasks=tuple(tasks),
        hidden=tuple(cfg.hidden),
        latent_dim=cfg.latent_dim,
        head_hidden=cfg.head_hidden,
        activation=cfg.activation,
        dropout=cfg.dropout,
        batch_norm=cfg.batch_norm,
        autoencoder=cfg.autoencoder,
        autoencoder_options=ae_cls.Options.model_validate(cfg.options.get("autoencoder", {})),
        sharing_options=sh_cls.Options.model_validate(cfg.options.get("sharing", {})),
    )
    return sh_cls(spec)


# ---- layers --------------------------------------------------------------------------


def mlp(sizes: list[int], spec: ModelSpec, last_plain: bool = True) -> nn.Sequential:
    """Linear layers between ``sizes``; activation (and batch norm, dropout) after each
    layer but the last when ``last_plain``."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if last_plain and i == len(sizes) - 2:
            break
        if spec.batch_norm:
            layers.append(nn.BatchNorm1d(b))
        layers.append(ACTIVATIONS[spec.activation]())
        if spec.dropout > 0:
            layers.append(nn.Dropout(spec.dropout))
    return nn.Sequential(*layers)


def head(task: TaskSpec, spec: ModelSpec) -> nn.Sequential:
    """A task's head on the latent code. Reconstruction's head is the decoder, the
    encoder's mirror image."""
    if task.kind == "reconstruction":
        return mlp([spec.latent_dim, *reversed(spec.hidden), task.out_dim], spec)
    if spec.head_hidden:
        return mlp([spec.latent_dim, spec.head_hidden, task.out_dim], spec)
    return nn.Sequential(nn.Linear(spec.latent_dim, task.out_dim))


class BatchedLinear(nn.Module):
    """``n`` independent linear layers run as one batched matmul.
    x: (n, batch, in) -> (n, batch, out)."""

    def __init__(self, n: int, d_in: int, d_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n, d_in, d_out))
        self.bias = nn.Parameter(torch.empty(n, 1, d_out))
        bound = 1.0 / math.sqrt(d_in)  # same init as nn.Linear
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class BatchedNorm(nn.Module):
    """Batch norm per network and feature for (n, batch, features) activations."""

    def __init__(self, n: int, d: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(n * d)
        self.n, self.d = n, d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, b, d = x.shape
        return self.bn(x.transpose(0, 1).reshape(b, n * d)).reshape(b, n, d).transpose(0, 1)


def batched_mlp(n: int, sizes: list[int], spec: ModelSpec, last_plain: bool = True) -> nn.Sequential:
    """``n`` independent MLPs with stacked weights: (n, batch, sizes[0]) -> (n, batch, sizes[-1])."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(BatchedLinear(n, a, b))
        if last_plain and i == len(sizes) - 2:
            break
        if spec.batch_norm:
            layers.append(BatchedNorm(n, b))
        layers.append(ACTIVATIONS[spec.activation]())
        if spec.dropout > 0:
            layers.append(nn.Dropout(spec.dropout))
    return nn.Sequential(*layers)


def n_params(module: nn.Module, params: list[nn.Parameter] | None = None) -> int:
    ps = list(module.parameters()) if params is None else params
    return sum(p.numel() for p in ps if p.requires_grad)
