"""Model building blocks: the two registries (autoencoder variants, sharing schemes),
``ModelOutput``, and layers shared by the schemes (MLPs, batched per-task MLPs, heads)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from ..data.base import TaskSpec
from ..registry import NoOptions, Options
from .catalog import AutoencoderEntry, SharingEntry, autoencoders, sharing

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


class Autoencoder(AutoencoderEntry, nn.Module):
    """Base of the autoencoder variants. A variant decides what happens to the input on
    the way in (``corrupt``, training only) and at the bottleneck (``bottleneck``); the
    sharing scheme decides how many encoders there are and who reads them."""

    code_multiplier: ClassVar[int] = 1  # encoder emits latent_dim * this (VAE: mean + log-var)
    # True when ``bottleneck`` differentiates the code w.r.t. the encoder input (contractive):
    # schemes then hand it an input that requires grad (see ``SharingScheme.encoder_input``)
    needs_input_grad: ClassVar[bool] = False

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




# ---- sharing schemes -----------------------------------------------------------------

BlockKind = Literal["input", "shared", "task", "expert", "gate", "mix", "head"]


@dataclass(frozen=True)
class Block:
    """One box of an architecture diagram, at stage ``x`` (left to right), lane ``y``."""

    key: str
    label: str
    kind: BlockKind
    x: float
    y: float


@dataclass
class Diagram:
    """Boxes and arrows of a scheme, drawn by ``ui.train.model_views.architecture_figure``."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def add(self, key: str, label: str, kind: BlockKind, x: float, y: float,
            sources: list[str] | tuple[str, ...] = ()) -> str:
        self.blocks.append(Block(key, label, kind, x, y))
        self.edges.extend((s, key) for s in sources)
        return key

    def add_heads(self, spec: ModelSpec, x: float, sources: dict[str, list[str]]) -> None:
        """One head per task in lane ``i``; ``sources``: task -> the keys it reads."""
        for i, t in enumerate(spec.tasks):
            what = "decoder" if t.kind == "reconstruction" else f"{t.kind} head"
            self.add(f"head:{t.name}", f"{t.name}<br>{what}", "head", x, i, sources[t.name])



class SharingScheme(SharingEntry, nn.Module):
    """Base of the sharing schemes: ``forward(x) -> ModelOutput``."""

    heads: nn.ModuleDict  # one head per task, by name (set by each scheme)

    def __init__(self, spec: ModelSpec) -> None:
        nn.Module.__init__(self)
        self.spec = spec
        self.task_names = spec.task_names
        self.ae = autoencoders.get(spec.autoencoder)(spec.latent_dim, spec.autoencoder_options)

    def forward(self, x: torch.Tensor) -> ModelOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- helpers every scheme uses, so each honours every variant the same way ----------
    def code_dim(self) -> int:
        return self.spec.latent_dim * self.ae.code_multiplier

    def encoder_sizes(self) -> list[int]:
        """Widths of the encoder: input, hidden layers, code."""
        return [self.spec.input_dim, *self.spec.hidden, self.code_dim()]

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder(s) read: corrupted in training only; a leaf that requires grad
        when the variant differentiates its code w.r.t. the input (contractive)."""
        x_in = self.ae.corrupt(x) if self.training else x
        if (self.ae.needs_input_grad and self.training and torch.is_grad_enabled()
                and not x_in.requires_grad):
            x_in = x_in.detach().requires_grad_(True)
        return x_in

    def finish(self, code: torch.Tensor, x_in: torch.Tensor,
               shared_repr: torch.Tensor | None = None) -> ModelOutput:
        """Bottleneck and heads. code: (batch, code) read by every task, or
        (n_tasks, batch, code) one per task, in ``task_names`` order. A code every task
        reads makes the bottleneck's z the shared representation."""
        z, mean, aux = self.ae.bottleneck(code, x_in)
        heads = self.heads
        if code.dim() == 2:
            outputs = {name: heads[name](z) for name in self.task_names}
            latents = {"shared": mean}
            shared_repr = z if shared_repr is None else shared_repr
        else:
            outputs = {name: heads[name](z[i]) for i, name in enumerate(self.task_names)}
            latents = {name: mean[i] for i, name in enumerate(self.task_names)}
        return ModelOutput(outputs, latents, aux, shared_repr=shared_repr)

    def diagram(self) -> Diagram:  # pragma: no cover - abstract
        """A small block description of the architecture, for the UI."""
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
        # one baddbmm also when every network reads the same input (an expand): measured
        # against one wide GEMM on side-by-side weights, it is faster forward + backward
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


def make_heads(spec: ModelSpec) -> nn.ModuleDict:
    return nn.ModuleDict({t.name: head(t, spec) for t in spec.tasks})


def n_params(module: nn.Module, params: list[nn.Parameter] | None = None) -> int:
    ps = list(module.parameters()) if params is None else params
    return sum(p.numel() for p in ps if p.requires_grad)


def count_parameters(model: SharingScheme) -> dict[str, int]:
    """Trainable parameters: all, shared by more than one task, and task-specific."""
    total = n_params(model)
    shared = n_params(model, model.shared_parameters())
    return {"total": total, "shared": shared, "task_specific": total - shared}


def mid_lane(n: int) -> float:
    """The lane in the middle of ``n`` task lanes (where shared blocks sit)."""
    return (n - 1) / 2
