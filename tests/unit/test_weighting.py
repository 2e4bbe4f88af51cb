"""Weighting strategies: registry contracts, the trainer wiring, and each method's maths."""

from __future__ import annotations

import math
import re
import sys

import numpy as np
import pytest
import torch

from mtae_core import ConfigError, ExperimentConfig
from mtae_core.data import load
from mtae_core.engine.metrics import task_loss
from mtae_core.engine.training import train
from mtae_core.models import build as build_model
from mtae_core.weighting import GradientWeighting, jacobian, task_gradient_cosine, weightings
from mtae_core.weighting.aligned_mtl import alignment
from mtae_core.weighting.gradient_base import UpperBoundWeighting
from mtae_core.weighting.mgda import min_norm
from mtae_core.weighting.nash_mtl import nash_weights
from mtae_core.weighting.upgrad import dual_cone_weights

ALL = weightings.names()
GRADIENT = [n for n in ALL if weightings.get(n).needs_task_grads]
SMALL = {"hidden": [16], "latent_dim": 4, "head_hidden": 0}


def make(name: str, tasks: list[str], **options: object):
    cls = weightings.get(name)
    return cls(tasks, cls.Options.model_validate(options))


@pytest.fixture(scope="module")
def digits():
    cfg = ExperimentConfig.parse({"model": SMALL})
    return cfg, load(cfg.data, 0)


def step(name: str, digits, sharing: str = "hard", active=None, seed: int = 0, steps: int = 1):
    """A few backward passes of ``name`` on a small model; returns (strategy, model, losses)."""
    cfg, data = digits
    torch.manual_seed(seed)
    mcfg = ExperimentConfig.parse({"model": {**SMALL, "sharing": sharing}}).model
    model = build_model(mcfg, data.tasks, data.input_dim)
    strategy = make(name, [s.name for s in data.tasks])
    x = data.train.x[:64]
    for _ in range(steps):
        for p in [*model.parameters(), *strategy.parameters()]:
            p.grad = None
        out = model(x)
        losses = torch.stack([task_loss(s, out.outputs[s.name], x if s.kind == "reconstruction"
                                        else data.train.y[s.name][:64]) for s in data.tasks])
        strategy.backward(losses, torch.zeros(()), model, active, out)
    return strategy, model, losses


# ---- contracts over the registry -------------------------------------------------------


def test_registry_lists_the_field():
    expected = {"equal", "fixed", "curriculum", "uncertainty", "dwa", "gradnorm", "rlw", "gls",
                "imtl_l", "famo", "pcgrad", "gradvac", "mgda", "cagrad", "imtl_g", "nash_mtl",
                "aligned_mtl", "upgrad", "db_mtl"}
    assert expected <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_summary_and_option_descriptions(name):
    cls = weightings.get(name)
    assert cls.summary(), f"{name} has no docstring"
    for field, info in cls.Options.model_fields.items():
        assert info.description, f"{name}.{field} has no description"


@pytest.mark.parametrize("name", ALL)
def test_module_docstring_names_the_paper(name):
    entry, module = weightings.spec(name), sys.modules[weightings.get(name).__module__]
    doc = module.__doc__ or ""
    assert doc.strip(), f"{module.__name__} has no module docstring"
    years = re.findall(r"\b(?:19|20)\d\d\b", doc)
    assert bool(years) == entry.has_paper, f"{module.__name__}: a year names the paper, or has_paper = False"
    # the form's summary cites the same paper as the module
    assert set(re.findall(r"\b(?:19|20)\d\d\b", entry.summary())) <= set(years)


@pytest.mark.parametrize("name", ALL)
def test_weights_finite_and_seeded(name, digits):
    s1, m1, _ = step(name, digits, steps=2)
    s2, m2, _ = step(name, digits, steps=2)
    assert s1.last_weights.shape == (3,)
    assert torch.isfinite(s1.last_weights).all()
    assert len(s1.epoch_weights()) == 3
    for p1, p2 in zip(m1.parameters(), m2.parameters(), strict=True):
        assert (p1.grad is None) == (p2.grad is None)
        if p1.grad is not None:
            assert torch.isfinite(p1.grad).all()
            torch.testing.assert_close(p1.grad, p2.grad)
    torch.testing.assert_close(s1.last_weights, s2.last_weights)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m1.encoder.parameters())


@pytest.mark.parametrize("name", ALL)
def test_inactive_tasks_get_no_gradient(name, digits):
    active = torch.tensor([True, False, False])
    strategy, model, _ = step(name, digits, active=active)
    for t in ("parity", "reconstruction"):
        for p in model.heads[t].parameters():
            assert p.grad is None or p.grad.abs().max() == 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.heads["digit"].parameters())
    if weightings.spec(name).per_step_weights:
        assert strategy.last_weights[1:].abs().max() == 0
    else:  # weights standing for the epoch or the run: the step leaves them as they were
        torch.testing.assert_close(strategy.last_weights, make(name, strategy.task_names).last_weights)


@pytest.mark.parametrize("name", GRADIENT)
def test_gradient_strategies_train_single_task_models(name, digits):
    strategy, model, _ = step(name, digits, sharing="single_task")
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", GRADIENT)
def test_direction_is_the_weighted_sum(name):
    """Every gradient method's update is a combination of the task gradients, d = wᵀG."""
    torch.manual_seed(0)
    G = torch.randn(3, 20, dtype=torch.float64)
    G[1] = -0.5 * G[0] + 0.3 * G[1]  # a conflict
    strategy = make(name, ["a", "b", "c"])
    strategy.active_idx = [0, 1, 2]
    d, w = strategy.direction(G, torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64))
    assert d.shape == (20,) and w.shape == (3,)
    torch.testing.assert_close(d, w.to(G.dtype) @ G, rtol=1e-5, atol=1e-6)


def test_backward_writes_direction_and_weighted_heads(digits):
    cfg, data = digits
    torch.manual_seed(0)
    model = build_model(cfg.model, data.tasks, data.input_dim)
    strategy = make("mgda", [s.name for s in data.tasks])
    x = data.train.x[:32]
    out = model(x)
    losses = torch.stack([task_loss(s, out.outputs[s.name], x if s.kind == "reconstruction"
                                    else data.train.y[s.name][:32]) for s in data.tasks])
    shared = model.shared_parameters()
    G = jacobian(losses, shared)
    d, w = strategy.direction(G, losses.detach())
    penalty = 0.01 * sum(p.pow(2).sum() for p in model.parameters())
    head = model.heads["digit"][0].weight
    (ref,) = torch.autograd.grad(w[0] * losses[0] + penalty, head, retain_graph=True)
    strategy.backward(losses, penalty, model, None, out)
    got = torch.cat([p.grad.flatten() for p in shared])
    pen_g = torch.cat([0.02 * p.detach().flatten() for p in shared])
    torch.testing.assert_close(got, d + pen_g, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(head.grad, ref, rtol=1e-4, atol=1e-6)


# ---- full runs ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dataset", ["digits", "synthetic_correlated"])
def test_short_training_run(name, dataset):
    data = {"dataset": dataset, "options": {"n": 1000, "d": 20} if dataset != "digits" else {}}
    cfg = ExperimentConfig.parse({"data": data, "model": SMALL, "weighting": {"strategy": name},
                                  "training": {"epochs": 2, "batch_size": 256, "device": "cpu"}})
    r = train(cfg)
    assert r.status == "done", r.reason
    assert r.epochs_run == 2
    for h in r.history:
        w = h["extras"]["weights"]
        assert list(w) == list(cfg.data.tasks)
        assert all(math.isfinite(v) for v in w.values())
        cos = h["extras"]["grad_cosine"]
        assert len(cos) == len(cfg.data.tasks) and all(abs(c) <= 1 + 1e-6 for row in cos for c in row)


# ---- gradient cosine diagnostic ------------------------------------------------------------


def test_task_gradient_cosine(digits):
    cfg, data = digits
    torch.manual_seed(0)
    model = build_model(cfg.model, data.tasks, data.input_dim)
    x = data.train.x[:32]
    out = model(x)
    losses = torch.stack([task_loss(s, out.outputs[s.name], x if s.kind == "reconstruction"
                                    else data.train.y[s.name][:32]) for s in data.tasks])
    cos = np.array(task_gradient_cosine(model, losses))
    gs = []
    for i in range(3):
        g = torch.autograd.grad(losses[i], model.shared_parameters(), retain_graph=True, allow_unused=True)
        gs.append(torch.cat([gi.flatten() for gi in g]))
    ref = torch.nn.functional.cosine_similarity(gs[0], gs[2], dim=0)
    assert cos.shape == (3, 3)
    np.testing.assert_allclose(np.diag(cos), 1.0, atol=1e-5)
    np.testing.assert_allclose(cos, cos.T, atol=1e-6)
    assert cos[0, 2] == pytest.approx(float(ref), abs=1e-5)


def test_no_grad_cosine_without_shared_parameters():
    cfg = ExperimentConfig.parse({"model": {**SMALL, "sharing": "single_task"},
                                  "training": {"epochs": 1, "batch_size": 512, "device": "cpu"}})
    r = train(cfg)
    assert "grad_cosine" not in r.history[0]["extras"]


# ---- each method's maths against a hand-computed case --------------------------------------


def test_pcgrad_projects_conflicts_only():
    from mtae_core.weighting.pcgrad import PCGrad

    G = np.array([[1.0, 0.0], [-1.0, 1.0]])
    C = PCGrad.surgery(G @ G.T)
    np.testing.assert_allclose(C @ G, [[0.5, 0.5], [0.0, 1.0]])
    G2 = np.array([[1.0, 0.0], [1.0, 1.0]])  # no conflict: unchanged, summed
    np.testing.assert_allclose(make("pcgrad", ["a", "b"]).weights_from_gram(G2 @ G2.T, np.ones(2)), [1, 1])


def test_gradvac_meets_the_cosine_target():
    G = np.array([[1.0, 0.2, 0.0], [-0.8, 1.0, 0.3]])
    s = make("gradvac", ["a", "b"], beta=0.01)
    s.active_idx = [0, 1]
    C = s.surgery(G @ G.T)  # targets start at 0: conflicting pairs are made orthogonal
    g = C @ G
    assert g[0] @ G[1] == pytest.approx(0.0, abs=1e-9)
    assert g[1] @ G[0] == pytest.approx(0.0, abs=1e-9)
    phi = G[0] @ G[1] / np.linalg.norm(G[0]) / np.linalg.norm(G[1])
    assert s.target[0, 1] == pytest.approx(0.01 * phi)


def test_mgda_min_norm_point_of_segment():
    G = np.array([[1.0, 0.0], [0.0, 2.0]])
    a = min_norm(G @ G.T)
    np.testing.assert_allclose(a @ G, [0.8, 0.4], atol=1e-9)
    rng = np.random.default_rng(0)
    G3 = rng.standard_normal((4, 6))
    M = G3 @ G3.T
    a = min_norm(M, iters=5000)
    assert a.min() >= 0 and a.sum() == pytest.approx(1.0)
    # optimality on the simplex: (Mα)_i ≥ αᵀMα, with equality where α_i > 0
    grad, val = M @ a, a @ M @ a
    assert (grad >= val - 1e-4).all()
    assert np.allclose(grad[a > 1e-3], val, atol=1e-3)


def test_mgda_upper_bound_trains(digits):
    cfg, data = digits
    torch.manual_seed(0)
    model = build_model(cfg.model, data.tasks, data.input_dim)
    s = make("mgda", [t.name for t in data.tasks], upper_bound=True)
    x = data.train.x[:32]
    out = model(x)
    losses = torch.stack([task_loss(t, out.outputs[t.name], x if t.kind == "reconstruction"
                                    else data.train.y[t.name][:32]) for t in data.tasks])
    s.backward(losses, torch.zeros(()), model, None, out)
    assert s.last_weights.sum() == pytest.approx(1.0, abs=1e-5)
    assert all(p.grad is not None for p in model.encoder.parameters())


@pytest.mark.parametrize("name", [n for n in ALL if "upper_bound" in weightings.get(n).Options.model_fields])
def test_upper_bound_weights_come_from_the_shared_representation(name, digits):
    cfg, data = digits
    torch.manual_seed(0)
    model = build_model(cfg.model, data.tasks, data.input_dim)
    s = make(name, [t.name for t in data.tasks], upper_bound=True)
    assert isinstance(s, UpperBoundWeighting)
    x = data.train.x[:32]
    out = model(x)
    losses = torch.stack([task_loss(t, out.outputs[t.name], x if t.kind == "reconstruction"
                                    else data.train.y[t.name][:32]) for t in data.tasks])
    _, ref = make(name, [t.name for t in data.tasks]).direction(
        jacobian(losses, [out.shared_repr]), losses.detach())
    s.backward(losses, torch.zeros(()), model, None, out)
    torch.testing.assert_close(s.last_weights, ref.to(s.last_weights.dtype))
    assert all(p.grad is not None for p in model.encoder.parameters())


def test_cagrad():
    rng = np.random.default_rng(1)
    G = rng.standard_normal((3, 5))
    G[1] = -G[0] + 0.2 * G[1]
    M = G @ G.T
    w = make("cagrad", ["a", "b", "c"], c=0.0).weights_from_gram(M, np.ones(3))
    np.testing.assert_allclose(w @ G, G.mean(axis=0))
    c = 0.5
    d = make("cagrad", ["a", "b", "c"], c=c, rescale=False).weights_from_gram(M, np.ones(3)) @ G
    g0 = G.mean(axis=0)
    # d maximises the worst task's improvement min_i g_i·d over the ball ‖d − g₀‖ ≤ c‖g₀‖
    assert np.linalg.norm(d - g0) <= c * np.linalg.norm(g0) * (1 + 1e-6)
    u = rng.standard_normal((500, 5))
    cand = g0 + c * np.linalg.norm(g0) * u / np.linalg.norm(u, axis=1, keepdims=True)
    assert (G @ d).min() >= (cand @ G.T).min(axis=1).max() - 1e-4
    # the next step starts from this step's solution and still finds the fresh optimum
    strategy = make("cagrad", ["a", "b", "c"], c=c)
    strategy.weights_from_gram(M, np.ones(3))
    M2 = M + np.diag([0.3, 0.0, 0.1])
    np.testing.assert_allclose(strategy.weights_from_gram(M2, np.ones(3)),
                               make("cagrad", ["a", "b", "c"], c=c).weights_from_gram(M2, np.ones(3)),
                               atol=1e-5)


def test_imtl_g_equal_projections():
    rng = np.random.default_rng(2)
    G = rng.standard_normal((4, 7))
    w = make("imtl_g", list("abcd")).weights_from_gram(G @ G.T, np.ones(4))
    d = w @ G
    proj = (G / np.linalg.norm(G, axis=1, keepdims=True)) @ d
    np.testing.assert_allclose(proj, proj[0], rtol=1e-8)
    assert w.sum() == pytest.approx(1.0)


def test_nash_mtl_bargaining_solution():
    rng = np.random.default_rng(3)
    G = rng.standard_normal((3, 8))
    M = G @ G.T
    a = nash_weights(M)
    assert (a > 0).all()
    np.testing.assert_allclose(M @ a, 1.0 / a, rtol=1e-6)
    # warm-started from the previous step's solution, the next Gram matrix's solution
    # is the same as from scratch, whether the start is close or far off
    M2 = M + 0.05 * np.eye(3)
    for start in (a, a * 100.0, np.full(3, 1e-6)):
        b = nash_weights(M2, start=start)
        np.testing.assert_allclose(M2 @ b, 1.0 / b, rtol=1e-6)
        np.testing.assert_allclose(b, nash_weights(M2), rtol=1e-6)


def test_aligned_mtl_orthogonal_equal_norms():
    rng = np.random.default_rng(4)
    G = rng.standard_normal((3, 6))
    M = G @ G.T
    B = alignment(M)
    A = B @ G
    smin = np.linalg.svd(G, compute_uv=False).min()
    np.testing.assert_allclose(A @ A.T, smin**2 * np.eye(3), atol=1e-9)
    np.testing.assert_allclose(make("aligned_mtl", list("abc")).weights_from_gram(M, np.ones(3)),
                               B.sum(axis=0))


def test_upgrad_never_conflicts():
    G = np.array([[1.0, 0.0, 0.0], [-0.9, 1.0, 0.0], [0.1, -1.0, 0.5]])
    W = dual_cone_weights(G @ G.T)
    for i in range(3):  # each projection lies in the dual cone and is the nearest point to g_i
        p = W[:, i] @ G
        assert (G @ p >= -1e-9).all()
        assert (W[:, i] >= np.eye(3)[i] - 1e-12).all()
    d = make("upgrad", list("abc")).weights_from_gram(G @ G.T, np.ones(3)) @ G
    assert (G @ d >= -1e-9).all()
    G2 = np.array([[1.0, 0.0], [1.0, 1.0]])  # no conflict: the mean
    np.testing.assert_allclose(make("upgrad", ["a", "b"]).weights_from_gram(G2 @ G2.T, np.ones(2)), [0.5, 0.5])


def test_db_mtl_balances_log_gradient_norms():
    G = torch.tensor([[3.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    L = torch.tensor([1.0, 2.0], dtype=torch.float64)
    s = make("db_mtl", ["a", "b"])
    s.active_idx = [0, 1]
    d, w = s.direction(G, L)
    # ∇log L = (3, 0) and (0, 0.5): both rescaled to the larger norm 3
    torch.testing.assert_close(d, torch.tensor([3.0, 3.0], dtype=torch.float64))
    torch.testing.assert_close(s.head_weights(w, L), 1 / L)


def test_uncertainty_formula_and_optimum():
    s = make("uncertainty", ["a", "b"])
    with torch.no_grad():
        s.log_var.copy_(torch.tensor([0.5, -1.0]))
    L = torch.tensor([2.0, 3.0])
    expected = sum(L[i] / (2 * math.exp(v)) + v / 2 for i, v in enumerate([0.5, -1.0]))
    assert float(s.combine(L, None).detach()) == pytest.approx(float(expected), rel=1e-6)
    opt = torch.optim.SGD(s.parameters(), lr=0.5)
    for _ in range(300):
        opt.zero_grad()
        s.combine(L, None).backward()
        opt.step()
    torch.testing.assert_close(s.log_var.detach(), torch.log(L), atol=1e-3, rtol=0)


def test_imtl_l_scales_losses_to_one():
    s = make("imtl_l", ["a", "b"])
    L = torch.tensor([0.5, 4.0])
    opt = torch.optim.SGD(s.parameters(), lr=0.2)
    for _ in range(500):
        opt.zero_grad()
        s.combine(L, None).backward()
        opt.step()
    torch.testing.assert_close(torch.exp(s.scale.detach()) * L, torch.ones(2), atol=1e-3, rtol=0)


def test_dwa_formula_after_two_epochs():
    s = make("dwa", ["a", "b", "c"], temperature=2.0)
    assert s.epoch_weights() == [1.0, 1.0, 1.0]
    e0, e1 = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([0.5, 1.8, 4.0])
    s.on_epoch_end(0, e0)
    assert s.epoch_weights() == [1.0, 1.0, 1.0]
    s.on_epoch_end(1, e1)
    r = np.array([0.5, 0.9, 1.0])
    ref = 3 * np.exp(r / 2) / np.exp(r / 2).sum()
    np.testing.assert_allclose(s.epoch_weights(), ref, rtol=1e-6)
    assert float(s.combine(torch.ones(3), None)) == pytest.approx(3.0)


def test_gradnorm_pulls_towards_equal_training_rates():
    s = make("gradnorm", ["a", "b"], alpha=1.5)
    w = torch.ones(2, requires_grad=True)
    # equal training rates: the task with the larger gradient norm loses weight
    (g,) = torch.autograd.grad(s.gradnorm_loss(w, torch.tensor([1.0, 3.0]), torch.ones(2)), w)
    assert g[0] < 0 < g[1]
    # equal norms: the task that trains slower (higher relative loss) gains weight
    (g,) = torch.autograd.grad(s.gradnorm_loss(w, torch.ones(2), torch.tensor([1.2, 0.8])), w)
    assert g[0] < 0 < g[1]


def test_gradnorm_weights_learn_and_renormalise(digits):
    s, _, _ = step("gradnorm", digits, steps=1)
    assert s.w.grad is not None and s.w.grad.abs().sum() > 0
    with torch.no_grad():
        s.w.add_(torch.tensor([0.5, 0.0, 0.1]))
    s.renormalise()
    assert float(s.w.detach().sum()) == pytest.approx(3.0)


def test_curriculum_ramp():
    s = make("curriculum", ["a", "b", "c"], order=["b", "a"], start_epochs=[0, 2], ramp_epochs=2)
    table = [s.weights_at(e).tolist() for e in range(4)]
    # c is not listed: there from the start
    assert table == [[0.0, 0.5, 0.5], [0.0, 1.0, 1.0], [0.5, 1.0, 1.0], [1.0, 1.0, 1.0]]
    s.on_epoch_end(1, torch.ones(3))
    assert s.epoch_weights() == [0.5, 1.0, 1.0]


def test_curriculum_checks_task_names():
    with pytest.raises(ConfigError, match="weighting.options.order"):
        ExperimentConfig.parse({"weighting": {"strategy": "curriculum", "options": {"order": ["nope"]}}})
    with pytest.raises(ConfigError, match="start_epochs"):
        ExperimentConfig.parse({"weighting": {"strategy": "curriculum",
                                              "options": {"order": ["digit"], "start_epochs": [0, 1]}}})


def test_rlw_weights_on_simplex_and_seeded():
    s = make("rlw", ["a", "b", "c"])
    torch.manual_seed(5)
    s.combine(torch.ones(3), None)
    w1 = s.last_weights.clone()
    torch.manual_seed(5)
    s.combine(torch.ones(3), None)
    torch.testing.assert_close(w1, s.last_weights)
    assert float(w1.sum()) == pytest.approx(1.0) and (w1 > 0).all()


def test_gls_geometric_mean_and_weights():
    s = make("gls", ["a", "b"])
    L = torch.tensor([2.0, 8.0], requires_grad=True)
    total = s.combine(L, None)
    assert float(total.detach()) == pytest.approx(4.0)
    (g,) = torch.autograd.grad(total, L)
    torch.testing.assert_close(g, s.last_weights)


def test_famo_slows_fast_tasks():
    s = make("famo", ["a", "b"])
    g = s.xi_gradient(torch.zeros(2), torch.tensor([0.5, 0.1]))  # task a improved faster
    assert g[0] > 0 > g[1]  # gradient descent lowers a's logit
    L = torch.tensor([1.0, 3.0], requires_grad=True)
    total = s.combine(L, None)
    (grad,) = torch.autograd.grad(total, L)
    torch.testing.assert_close(grad, s.last_weights)
    assert float(s.last_weights.sum()) == pytest.approx(1.0)
    s.combine(torch.tensor([0.5, 2.9]), None)  # a fell faster: its logit goes down
    assert s.xi[0] < s.xi[1]


def test_gradient_base_is_shared():
    for name in GRADIENT:
        assert issubclass(weightings.get(name), GradientWeighting)
