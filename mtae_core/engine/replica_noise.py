"""Training noise for replicas trained as one batched model (``mtae_core.engine.replicas``).

A single run draws its training noise (denoising corruption, dropout masks, the VAE's
reparameterisation sample) from torch's global generator, seeded with the run's seed.
Under ``vmap`` one draw would serve all replicas and no replica would see the numbers its
own seed gives. So each replica keeps its own copy of the global generator's state; before
a step the draws the model will make are taken, replica by replica and in the model's
order, from that state, and the model's random calls are answered from them (a torch
function mode). The draws equal those of the single run, so the replicas' curves do too.

What the model draws is learnt once per batch size from one forward pass of a copy of
the model, with the generator state put back afterwards. A random call this module does
not know makes the config unbatchable (``Probe.unknown``): it then trains as separate
runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

# what the model may call, and how a draw is made again from a replica's generator state
_LIKE = {torch.randn_like: "randn", torch.rand_like: "rand"}
_DROPOUT = (F.dropout,)
# other random functions: seen in a probe, they make the config unbatchable
_OTHER_RANDOM = {torch.randn, torch.rand, torch.randint, torch.randint_like, torch.bernoulli,
                 torch.normal, torch.multinomial, torch.randperm, torch.poisson,
                 F.alpha_dropout, F.feature_alpha_dropout, F.dropout1d, F.dropout2d,
                 F.dropout3d, torch.Tensor.normal_, torch.Tensor.uniform_,
                 torch.Tensor.bernoulli_, torch.Tensor.random_, torch.Tensor.exponential_}


@dataclass(frozen=True)
class Draw:
    kind: str  # "randn", "rand" or "dropout"
    shape: tuple[int, ...]
    # the layout torch.empty_like gives the input: random kernels fill memory in order,
    # so a permuted layout (batch norm's transposes) changes which value lands where
    stride: tuple[int, ...]
    dtype: torch.dtype
    p: float = 0.0  # dropout probability


def _dropout_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[torch.Tensor, float, bool]:
    names = ("input", "p", "training", "inplace")
    vals = dict(zip(names, args, strict=False)) | kwargs
    return vals["input"], float(vals.get("p", 0.5)), bool(vals.get("training", True))


class Probe(TorchFunctionMode):
    """Records the random draws of one forward pass (run it on a copy of the model)."""

    def __init__(self) -> None:
        super().__init__()
        self.draws: list[Draw] = []
        self.unknown: list[str] = []

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        if func in _LIKE:
            x = args[0]
            self.draws.append(Draw(_LIKE[func], tuple(x.shape), torch.empty_like(x).stride(),
                                   kwargs.get("dtype") or x.dtype))
        elif func in _DROPOUT:
            x, p, training = _dropout_args(args, kwargs)
            if training and p > 0:
                self.draws.append(Draw("dropout", tuple(x.shape), torch.empty_like(x).stride(),
                                       x.dtype, p))
        elif func in _OTHER_RANDOM:
            self.unknown.append(getattr(func, "__name__", str(func)))
        return func(*args, **kwargs)


class Feed(TorchFunctionMode):
    """Answers the model's random calls, in order, from tensors drawn beforehand.
    Inside ``vmap`` each of them is one replica's slice."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: list[torch.Tensor] = []

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        if func in _LIKE:
            return self.queue.pop(0)
        if func in _DROPOUT:
            x, p, training = _dropout_args(args, kwargs)
            if training and p > 0:
                return x * self.queue.pop(0)  # the single run's input * (mask / (1 - p))
        return func(*args, **kwargs)


class ReplicaRng:
    """One replica's copy of torch's global generator (CPU, and CUDA when training there).
    ``use`` runs a function with the global generator set to the replica's state, and keeps
    the state it leaves: so strategies that draw (random loss weighting) draw as alone."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.device = device
        self.cpu_state = torch.get_rng_state()
        self.cuda_state = torch.cuda.get_rng_state(device) if self.cuda else None

    def _enter(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        saved = (torch.get_rng_state(),
                 torch.cuda.get_rng_state(self.device) if self.cuda else None)
        torch.set_rng_state(self.cpu_state)
        if self.cuda_state is not None:
            torch.cuda.set_rng_state(self.cuda_state, self.device)
        return saved

    def _leave(self, saved: tuple[torch.Tensor, torch.Tensor | None]) -> None:
        self.cpu_state = torch.get_rng_state()
        torch.set_rng_state(saved[0])
        if self.cuda:
            self.cuda_state = torch.cuda.get_rng_state(self.device)
            if saved[1] is not None:
                torch.cuda.set_rng_state(saved[1], self.device)

    def use(self, fn: Any, *args: Any) -> Any:
        saved = self._enter()
        try:
            return fn(*args)
        finally:
            self._leave(saved)

    def draw(self, draws: list[Draw]) -> list[torch.Tensor]:
        """The tensors a single run's forward pass would draw now, in order."""
        return self.use(_make, draws, self.device)


def _make(draws: list[Draw], device: torch.device) -> list[torch.Tensor]:
    out = []
    for d in draws:
        like = torch.empty_strided(d.shape, d.stride, dtype=d.dtype, device=device)
        if d.kind == "randn":
            out.append(torch.randn_like(like))
        elif d.kind == "rand":
            out.append(torch.rand_like(like))
        else:  # dropout of ones: the same kernel, stream and layout as the single run's
            out.append(F.dropout(like.fill_(1.0), d.p, True))
    return out


def stack_draws(rngs: list[ReplicaRng], draws: list[Draw]) -> list[torch.Tensor]:
    """Each draw for every replica: a list of (K, *shape) tensors."""
    per = [r.draw(draws) for r in rngs]
    return [torch.stack([p[i] for p in per]) for i in range(len(draws))]
