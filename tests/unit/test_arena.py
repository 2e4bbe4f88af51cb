"""The method arena drives the registry's own strategies: its first step is what each
strategy computes when called directly on the toy's gradients at the start point."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtae_core.analysis import arena
from mtae_core.weighting import GradientWeighting, weightings

START = arena.STARTS["top left"]
CONFLICT = (2.0, -4.0)  # the two tasks' gradients point apart here (cosine about −0.6)
LR = 0.1


def direct_direction(method: str, point: tuple[float, float], seed: int = 0) -> np.ndarray:
    """The update direction the strategy gives for the toy's losses and gradients at
    ``point``, computed here without the arena: gradient methods get the per-task
    gradient matrix G; loss-based ones combine the losses, whose weights ∂C/∂L_t scale
    the rows of G."""
    losses, G = arena.toy_gradients(point)  # (2,), (2 tasks, 2 coordinates)
    torch.manual_seed(seed)
    cls = weightings.get(method)
    strategy = cls(arena.TASKS, cls.Options())
    if isinstance(strategy, GradientWeighting):
        d, _ = strategy.direction(G, losses)
        return d.detach().double().numpy()
    leaf = losses.clone().requires_grad_(True)
    (w,) = torch.autograd.grad(strategy.combine(leaf, None), leaf)  # (2,) task weights
    return (w @ G).detach().double().numpy()


@pytest.mark.parametrize("start", [START, CONFLICT])
@pytest.mark.parametrize("method", weightings.names())
def test_first_step_is_the_strategys_own_output_on_the_toys_gradients(method, start):
    t = arena.run_method(method, start, steps=1, lr=LR, optimizer="sgd")
    expected = direct_direction(method, start)
    assert t.error is None
    assert np.isfinite(expected).all() and np.linalg.norm(expected) > 0
    np.testing.assert_allclose(t.directions[0], expected, rtol=1e-4, atol=1e-6)
    # plain SGD: θ₁ = θ₀ − lr · d
    np.testing.assert_allclose(t.points[1], np.array(start) - LR * expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(t.points[0], start)


def test_methods_disagree_where_the_gradients_conflict():
    """A check that the comparison above can fail: at the start the task gradients
    conflict, and the methods' directions differ."""
    _, G = arena.toy_gradients(CONFLICT)
    assert float(G[0] @ G[1]) < 0
    dirs = {m: direct_direction(m, CONFLICT) for m in ("equal", "pcgrad", "mgda")}
    unit = {m: d / np.linalg.norm(d) for m, d in dirs.items()}
    assert unit["equal"] @ unit["pcgrad"] < 0.99
    assert unit["equal"] @ unit["mgda"] < 0.99
    # PCGrad's projections: its direction no longer opposes either task's gradient
    assert (G.double().numpy() @ dirs["pcgrad"] >= -1e-9).all()


def test_equal_weighting_is_gradient_descent_on_the_mean_over_many_steps():
    t = arena.run_method("equal", START, steps=50, lr=0.05, optimizer="sgd")
    theta = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    toy = arena.Toy()
    for k in range(50):
        np.testing.assert_allclose(t.points[k], theta.detach().numpy(), atol=1e-3)
        (g,) = torch.autograd.grad(toy.losses(theta).mean(), theta)
        theta = (theta - 0.05 * g).detach().requires_grad_(True)
    assert t.points.shape == (51, 2) and t.losses.shape == (51, 2)
    np.testing.assert_allclose(t.losses[-1], toy.losses(torch.tensor(t.points[-1])).numpy(),
                               rtol=1e-4)


def test_loss_scales_multiply_the_losses():
    p = torch.tensor([1.0, -3.0])
    np.testing.assert_allclose(arena.Toy((0.1, 1.0)).losses(p).numpy(),
                               arena.Toy().losses(p).numpy() * [0.1, 1.0], rtol=1e-6)


def test_both_losses_stay_positive_on_the_drawn_square():
    _, _, L = arena.loss_grid(n=120)
    assert L.shape == (2, 120, 120) and L.min() > 0


def test_pareto_set_is_non_dominated_and_lies_between_the_two_minima():
    pts, f = arena.pareto_set(n=200)
    _, _, L = arena.loss_grid(n=200)
    grid = np.column_stack([L[0].ravel(), L[1].ravel()])
    for fi in f[:: max(1, len(f) // 40)]:  # no grid point is better on both losses
        assert not ((grid[:, 0] < fi[0] - 1e-9) & (grid[:, 1] < fi[1] - 1e-9)).any()
    # the papers' Pareto set: the segment from (−7, −8) to (7, −8)
    assert pts[:, 0].min() < -6.5 and pts[:, 0].max() > 6.5
    assert np.all(np.abs(pts[:, 1] + 8) < 1.0)
    assert np.all(np.diff(f[:, 0]) >= 0) and np.all(np.diff(f[:, 1]) <= 0)  # a front


def test_rlw_is_seeded_and_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = arena.run_method("rlw", START, steps=5, seed=3)
    assert torch.rand(1) == before
    b = arena.run_method("rlw", START, steps=5, seed=3)
    c = arena.run_method("rlw", START, steps=5, seed=4)
    np.testing.assert_array_equal(a.points, b.points)
    assert not np.array_equal(a.points, c.points)


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"steps": 0}, "Steps must be between 1 and"),
    ({"lr": 0.0}, "Learning rate must be above 0"),
    ({"method": "nope"}, "Method 'nope' is not a weighting strategy"),
    ({"options": {"alpha": -1.0}, "method": "gradnorm"}, "gradnorm: Alpha must be at least 0"),
    ({"options": {"weights": {"task 1": -1.0}}, "method": "fixed"}, "fixed: weights.task 1: must be"),
    ({"options": {"speed": 2}, "method": "cagrad"}, "cagrad: .*is not an option of cagrad"),
    ({"start": (float("nan"), 0.0)}, "A start point needs two finite numbers"),
])
def test_bad_settings_are_explained(kwargs, says):
    args = {"method": "equal", "start": START} | kwargs
    with pytest.raises(arena.ArenaError, match=says):
        arena.run_method(**args)
