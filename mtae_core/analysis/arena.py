"""Method arena: the weighting strategies on a two-task toy with a 2-D parameter space.

The toy is the one of the CAGrad (Liu et al. 2021) and Nash-MTL (Navon et al. 2022)
papers: two objectives of θ = (x, y) whose minima conflict, so a method's path shows how
it trades one task for the other and where on the Pareto set it ends. The strategies are
the registry's own classes (``weighting.weightings``), driven through the same call the
trainer makes each step (``Weighting.backward(losses, extra, model, active, out)``) on a
"model" whose only shared parameter is θ. Each step is a full-batch epoch, so
``on_epoch_end`` (DWA, curriculum) follows every step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import torch
from pydantic import ValidationError
from torch import nn

from ..config import OptimizerConfig, WeightingConfig
from ..config import plain_problems as config_problems  # pydantic's errors in plain words
from ..engine.training import build_optimizer
from ..models.base import ModelOutput, SharingScheme
from ..weighting import GradientWeighting, weightings
from .pareto import pareto_mask

__all__ = ["BOUNDS", "ArenaError", "STARTS", "TASKS", "Toy", "Trajectory", "loss_grid", "pareto_set",
           "run_method", "toy_gradients"]

TASKS = ["task 1", "task 2"]
BOUNDS = (-10.0, 10.0)  # the square the papers draw, both axes
# the start points of the CAGrad paper's figure (its toy.py), by where they lie
STARTS: dict[str, tuple[float, float]] = {
    "top left": (-8.5, 7.5),
    "centre": (0.0, 0.0),
    "top right": (9.0, 9.0),
    "left": (-7.5, -0.5),
    "right": (9.0, -1.0),
}
LOWER = 5e-6  # the toy's floor inside its logarithms (as in the papers' code)
# the papers' losses reach −20; shifted up so both stay positive, as the loss-based
# methods assume (uncertainty's log σ², DWA's ratios, GLS's geometric mean). A constant
# changes no gradient.
SHIFT = 21.0
Optimizer = Literal["adam", "sgd"]
MAX_STEPS = 5000


class ArenaError(ValueError):
    """A setting of the arena out of range; the message is a sentence for people."""


@dataclass(frozen=True)
class Toy:
    """The two losses; ``scales`` multiply them (Nash-MTL's figure uses (0.1, 1) to show
    methods that follow the larger loss)."""

    scales: tuple[float, float] = (1.0, 1.0)

    def losses(self, theta: torch.Tensor) -> torch.Tensor:
        """theta: (..., 2) → losses (..., 2), differentiable."""
        x, y = theta[..., 0], theta[..., 1]
        f1 = torch.log(torch.clamp((0.5 * (-x - 7) - torch.tanh(-y)).abs(), min=LOWER)) + 6
        f2 = torch.log(torch.clamp((0.5 * (-x + 3) + torch.tanh(-y) + 2).abs(), min=LOWER)) + 6
        c1 = torch.clamp(torch.tanh(y * 0.5), min=0)
        f1_sq = ((-x + 7) ** 2 + 0.1 * (-y - 8) ** 2) / 10 - 20
        f2_sq = ((-x - 7) ** 2 + 0.1 * (-y - 8) ** 2) / 10 - 20
        c2 = torch.clamp(torch.tanh(-y * 0.5), min=0)
        l1 = (f1 * c1 + f1_sq * c2 + SHIFT) * self.scales[0]
        l2 = (f2 * c1 + f2_sq * c2 + SHIFT) * self.scales[1]
        return torch.stack([l1, l2], dim=-1)


class ToyModel(nn.Module):
    """θ as the one shared parameter, shaped (1, 2) so that GradNorm finds a weight
    matrix as its "last shared layer"; there are no task-specific parameters."""

    def __init__(self, start: Sequence[float]) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([list(start)], dtype=torch.float32))  # (1, 2)

    def shared_parameters(self) -> list[nn.Parameter]:
        return [self.theta]

    def forward(self) -> ModelOutput:
        # nothing here reads a representation: MGDA-UB-style options fall back to the
        # exact gradients of θ, which is what the toy has
        return ModelOutput(outputs={}, latents={}, shared_repr=None)


@dataclass
class Trajectory:
    """One method's path from one start point."""

    method: str
    start: tuple[float, float]
    points: np.ndarray  # (steps + 1, 2) θ after each step, the start first
    losses: np.ndarray  # (steps + 1, 2) both losses at each point
    directions: np.ndarray  # (steps, 2) the update direction (θ's gradient) each step took
    weights: np.ndarray  # (steps, 2) the task weights the strategy reported each step
    error: str | None = None  # why it stopped early (non-finite values), in plain words
    options: Mapping[str, Any] = field(default_factory=dict)


def _strategy(method: str, options: Mapping[str, Any] | None) -> Any:
    """The registry's strategy with ``options`` validated as a config's weighting is:
    problems come back in the config's plain words ("Alpha must be at least 0")."""
    if method not in weightings:
        raise ArenaError(f"Method {method!r} is not a weighting strategy; the choices are "
                         + ", ".join(weightings.names()))
    cls = weightings.get(method)
    try:
        checked = WeightingConfig.model_validate({"strategy": method, "options": dict(options or {})})
        opts = cls.Options.model_validate(checked.options)
        cls.check(opts, TASKS)
    except ValidationError as e:
        problems = "; ".join(p.message for p in config_problems(e))
        raise ArenaError(f"{method}: {problems}") from None
    except ValueError as e:  # the strategy's own cross-checks speak plain words already
        raise ArenaError(f"{method}: {e}") from None
    return cls(TASKS, opts)


def run_method(method: str, start: Sequence[float], steps: int = 600, lr: float = 0.05,
               optimizer: Optimizer = "adam", options: Mapping[str, Any] | None = None,
               toy: Toy | None = None, seed: int = 0) -> Trajectory:
    """Train θ from ``start`` for ``steps`` steps with the registry's ``method`` (its
    options, defaults where left out), the way ``training._step`` does: losses → the
    strategy's ``backward`` → optimizer step → ``on_epoch_end``. Raises ``ArenaError``
    for settings out of range."""
    if not 1 <= steps <= MAX_STEPS:
        raise ArenaError(f"Steps must be between 1 and {MAX_STEPS:,}")
    if not (0 < lr <= 10):
        raise ArenaError("Learning rate must be above 0 and at most 10")
    if optimizer not in ("adam", "sgd"):
        raise ArenaError("Optimizer must be Adam or SGD")
    if not all(np.isfinite(v) for v in start) or len(start) != 2:
        raise ArenaError("A start point needs two finite numbers, x and y")
    opt_cfg = OptimizerConfig(kind=optimizer, lr=lr, momentum=0.0)
    toy = toy or Toy()
    with torch.random.fork_rng(devices=[]):  # RLW draws from the global generator
        torch.manual_seed(seed)
        strategy = _strategy(method, options)
        model = ToyModel(start)
        params = list(model.parameters()) + list(strategy.parameters())
        opt, _ = build_optimizer(opt_cfg, params, steps)
        extra = torch.zeros(())  # no auxiliary losses or penalties on the toy
        points, losses, dirs, weights = [], [], [], []
        error = None
        for step in range(steps):
            theta = model.theta
            out = model()
            task_losses = toy.losses(theta[0])  # (2,)
            points.append(theta.detach()[0].clone())
            losses.append(task_losses.detach().clone())
            opt.zero_grad(set_to_none=True)
            cast(Any, strategy).backward(task_losses, extra, cast(SharingScheme, model), None, out)
            grad = theta.grad
            d = torch.zeros(2) if grad is None else grad.detach()[0].clone()
            if not torch.isfinite(d).all():
                error = f"the update became NaN or infinite at step {step + 1}"
                break
            dirs.append(d)
            weights.append(strategy.last_weights.detach().clone())
            opt.step()
            strategy.on_epoch_end(step, task_losses.detach())
        else:
            with torch.no_grad():
                points.append(model.theta.detach()[0].clone())
                losses.append(toy.losses(model.theta[0]).detach().clone())
    def stack(rows: list[torch.Tensor]) -> np.ndarray:
        return torch.stack(rows).double().numpy() if rows else np.zeros((0, 2))
    return Trajectory(method, (float(start[0]), float(start[1])), stack(points), stack(losses),
                      stack(dirs), stack(weights), error, dict(options or {}))


def toy_gradients(point: Sequence[float], toy: Toy | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """(losses (2,), per-task gradient matrix G (2, 2): row t = ∇θ L_t) at ``point``."""
    toy = toy or Toy()
    theta = torch.tensor(list(point), dtype=torch.float32)
    G = torch.autograd.functional.jacobian(toy.losses, theta)  # (2 tasks, 2 coordinates)
    return toy.losses(theta).detach(), G


def is_gradient_based(method: str) -> bool:
    return issubclass(weightings.get(method), GradientWeighting)


def loss_grid(toy: Toy | None = None, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs (n,), ys (n,), losses (2, n, n) indexed [task, y, x]) over ``BOUNDS``."""
    toy = toy or Toy()
    xs = np.linspace(*BOUNDS, n)
    ys = np.linspace(*BOUNDS, n)
    X, Y = np.meshgrid(xs, ys)  # (n, n): rows are y
    with torch.no_grad():
        L = toy.losses(torch.tensor(np.stack([X, Y], axis=-1)))  # (n, n, 2)
    return xs, ys, L.numpy().transpose(2, 0, 1)


def pareto_set(toy: Toy | None = None, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """The Pareto set, approximated by the non-dominated points of an n × n grid:
    (points (m, 2), their losses (m, 2)), ordered by the first loss; of grid points with
    equal losses, the first one only."""
    xs, ys, L = loss_grid(toy, n)
    X, Y = np.meshgrid(xs, ys)
    pts = np.column_stack([X.ravel(), Y.ravel()])  # (n², 2)
    f = np.column_stack([L[0].ravel(), L[1].ravel()])  # (n², 2): both losses, lower is better
    on = pareto_mask(f[:, 0], f[:, 1], higher_a=False, higher_b=False)
    order = np.lexsort((f[:, 1], f[:, 0]))  # by L1, ties by L2 (stable: grid order next)
    idx = order[on[order]]
    # equal losses are one point of the front, drawn once
    first = np.r_[True, np.any(f[idx][1:] != f[idx][:-1], axis=1)]
    idx = idx[first]
    return pts[idx], f[idx]
