"""Contract tests over every (autoencoder, sharing) pair, then each scheme's and variant's
defining property against a hand-computed case. CPU, seeded, tiny shapes."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from mtae_core.data.base import TaskSpec
from mtae_core.engine.metrics import task_loss
from mtae_core.models import (
    ModelSpec,
    SharingScheme,
    autoencoders,
    count_parameters,
    sharing,
)
from mtae_core.models.base import BatchedLinear

TASKS = (
    TaskSpec("cls", "classification", 3, 3),
    TaskSpec("reg", "regression", 1),
    TaskSpec("rec", "reconstruction", 6),
)
D_IN, HIDDEN, LATENT, HEAD = 6, (8, 5), 3, 4
PAIRS = list(itertools.product(autoencoders.names(), sharing.names()))


def make(ae: str = "plain", scheme: str = "hard", seed: int = 0, tasks=TASKS,
         ae_opts: dict | None = None, sh_opts: dict | None = None, **common) -> SharingScheme:
    torch.manual_seed(seed)
    spec = ModelSpec(
        input_dim=D_IN, tasks=tuple(tasks), hidden=common.pop("hidden", HIDDEN),
        latent_dim=LATENT, head_hidden=HEAD, autoencoder=ae,
        autoencoder_options=autoencoders.get(ae).Options.model_validate(ae_opts or {}),
        sharing_options=sharing.get(scheme).Options.model_validate(sh_opts or {}), **common)
    return sharing.get(scheme)(spec)


def batch(n: int = 8, seed: int = 1) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, D_IN, generator=g)
    return x, {"cls": torch.randint(0, 3, (n,), generator=g), "reg": torch.randn(n, generator=g),
               "rec": x}


def total_loss(model: SharingScheme, x: torch.Tensor, y: dict[str, torch.Tensor],
               tasks=TASKS) -> torch.Tensor:
    out = model(x)
    loss = sum(task_loss(t, out.outputs[t.name], y[t.name]) for t in tasks)
    return loss + sum(out.aux_losses.values())


# ---- contracts over every pair ---------------------------------------------------------


@pytest.mark.parametrize(("ae", "scheme"), PAIRS)
def test_contract_shapes_finite_gradients(ae, scheme):
    model = make(ae, scheme)
    x, y = batch()
    model.train()
    out = model(x)
    assert {k: tuple(v.shape) for k, v in out.outputs.items()} == {
        "cls": (8, 3), "reg": (8, 1), "rec": (8, 6)}
    assert set(out.latents) in ({"shared"}, {"cls", "reg", "rec"})
    assert all(v.shape == (8, LATENT) for v in out.latents.values())
    for name, v in out.aux_losses.items():
        assert v.dim() == 0 and torch.isfinite(v), name
    loss = sum(task_loss(t, out.outputs[t.name], y[t.name]) for t in TASKS)
    loss = loss + sum(out.aux_losses.values())
    assert torch.isfinite(loss)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"no gradient reaches {name}"
        assert torch.isfinite(p.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())
    # evaluation: deterministic, no corruption, no sampling
    model.eval()
    with torch.no_grad():
        a, b = model(x), model(x)
    for k in a.outputs:
        assert torch.equal(a.outputs[k], b.outputs[k])
    d = model.diagram()
    keys = {blk.key for blk in d.blocks}
    assert {f"head:{t.name}" for t in TASKS} <= keys
    assert all(s in keys and t in keys for s, t in d.edges)


@pytest.mark.parametrize(("ae", "scheme"), PAIRS)
def test_contract_seeded_determinism(ae, scheme):
    x, _ = batch()
    outs = []
    for _ in range(2):
        model = make(ae, scheme, seed=3, dropout=0.2)
        torch.manual_seed(5)  # corruption, dropout and sampling draw from the global RNG
        outs.append(model(x))
    for k in outs[0].outputs:
        assert torch.equal(outs[0].outputs[k], outs[1].outputs[k])
    for k in outs[0].aux_losses:
        assert torch.equal(outs[0].aux_losses[k], outs[1].aux_losses[k])


def lin(a: int, b: int) -> int:
    return a * b + b


def enc(sizes: list[int]) -> int:
    return sum(lin(a, b) for a, b in itertools.pairwise(sizes))


def expected_counts(scheme: str, code: int, opts: dict) -> tuple[int, int]:
    """(total, shared) by formula, for TASKS without batch norm."""
    n = len(TASKS)
    sizes = [D_IN, *HIDDEN, code]
    heads = sum(enc([LATENT, *reversed(HIDDEN), t.out_dim]) if t.kind == "reconstruction"
                else enc([LATENT, HEAD, t.out_dim]) for t in TASKS)
    L = len(sizes) - 1
    if scheme in ("single_task", "soft"):
        return n * enc(sizes) + heads, 0
    if scheme == "hard":
        d = L if opts.get("shared_depth") is None else min(opts["shared_depth"], L)
        shared = enc(sizes[:d + 1])
        return shared + n * enc(sizes[d:]) + heads, shared
    if scheme == "cross_stitch":
        shared = n * enc(sizes) + L * n * n
        return shared + heads, shared
    ns, nk, levels = {"mmoe": (opts.get("n_experts", 4), 0, 1),
                      "cgc": (opts.get("n_shared", 2), opts.get("n_specific", 1), 1),
                      "ple": (opts.get("n_shared", 2), opts.get("n_specific", 1),
                              opts.get("n_levels", 2))}[scheme]
    levels = min(levels, L)
    # three layers: one level takes all; two levels take 2 + 1
    chunks = [sizes[:3], sizes[2:]] if levels == 2 else [sizes]
    total = heads
    shared = 0
    for i, c in enumerate(chunks):
        last = i == len(chunks) - 1
        s_exp, t_exp = ns * enc(c), n * nk * enc(c)
        t_gates = n * lin(c[0], ns + nk)
        s_gate = 0 if last else lin(c[0], ns + n * nk)
        total += s_exp + t_exp + t_gates + s_gate
        shared += s_exp + s_gate + (0 if last else t_exp + t_gates)
    return total, shared


COUNT_CASES = [(s, {}) for s in sharing.names()] + [
    ("hard", {"shared_depth": 0}), ("hard", {"shared_depth": 1}), ("hard", {"shared_depth": 2}),
    ("mmoe", {"n_experts": 2}), ("cgc", {"n_shared": 1, "n_specific": 2}),
    ("ple", {"n_levels": 1}), ("ple", {"n_levels": 2, "n_specific": 2}),
]


@pytest.mark.parametrize("ae", ["plain", "variational"])
@pytest.mark.parametrize(("scheme", "opts"), COUNT_CASES)
def test_parameter_count_matches_formula(ae, scheme, opts):
    model = make(ae, scheme, sh_opts=opts)
    total, shared = expected_counts(scheme, LATENT * autoencoders.get(ae).code_multiplier, opts)
    assert count_parameters(model) == {"total": total, "shared": shared,
                                       "task_specific": total - shared}


@pytest.mark.parametrize("scheme", sharing.names())
def test_common_options_are_honoured(scheme):
    model = make("plain", scheme, activation="gelu", dropout=0.1, batch_norm=True)
    kinds = {type(m).__name__ for m in model.modules()}
    assert {"GELU", "Dropout"} <= kinds and kinds & {"BatchNorm1d"}
    assert "ReLU" not in kinds
    x, y = batch()
    total_loss(model, x, y).backward()


@pytest.mark.parametrize("scheme", sharing.names())
def test_shared_parameters_are_those_several_tasks_reach(scheme):
    """Each task's loss alone: a parameter in shared_parameters() gets a gradient from at
    least two tasks; one outside it never from two (stacked per-task tensors count by slice)."""
    model = make("plain", scheme, sh_opts={"off_diagonal": 0.1} if scheme == "cross_stitch" else {})
    x, y = batch()
    reached: dict[int, int] = {}
    for t in TASKS:
        model.zero_grad()
        task_loss(t, model(x).outputs[t.name], y[t.name]).backward()
        for p in model.parameters():
            if p.grad is not None and p.grad.abs().sum() > 0:
                reached[id(p)] = reached.get(id(p), 0) + 1
    shared = {id(p) for p in model.shared_parameters()}
    stacked = {id(m.weight) for m in model.modules() if isinstance(m, BatchedLinear)} | {
        id(m.bias) for m in model.modules() if isinstance(m, BatchedLinear)}
    for name, p in model.named_parameters():
        if id(p) in shared:
            assert reached.get(id(p), 0) >= 2, name
        elif id(p) not in stacked:
            assert reached.get(id(p), 0) <= 1, name


# ---- defining properties -------------------------------------------------------------


def test_soft_penalty_equals_hand_computed_value_and_a_step_pulls_networks_together():
    lam = 0.5
    model = make("plain", "soft", sh_opts={"lam": lam})
    x, _ = batch()
    expected = 0.0
    layers = model.layer_params()
    for p in layers:
        for t in range(3):
            for s in range(3):
                if t != s:
                    expected += float((p[t] - p[s]).detach().pow(2).sum())
    pen = model(x).aux_losses["soft_penalty"]
    assert math.isclose(float(pen.detach()), lam * expected, rel_tol=1e-5)
    before = model.mean_distance()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    opt.zero_grad()
    model(x).aux_losses["soft_penalty"].backward()
    opt.step()
    after = model.mean_distance()
    assert after < before
    assert model.epoch_extras() == {"soft_distance": pytest.approx(after)}


def test_cross_stitch_with_identity_alpha_is_exactly_independent_networks():
    cs = make("plain", "cross_stitch", seed=4, sh_opts={"off_diagonal": 0.0})
    st = make("plain", "single_task", seed=4)
    # same seed, same construction order: the columns hold single_task's weights
    st_lin = [m for m in st.encoders if isinstance(m, BatchedLinear)]
    cs_lin = [m for col in cs.columns for m in col if isinstance(m, BatchedLinear)]
    for a, b in zip(st_lin, cs_lin, strict=True):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    cs.heads.load_state_dict(st.heads.state_dict())
    x, _ = batch()
    a, b = cs(x), st(x)
    for k in a.outputs:
        assert torch.allclose(a.outputs[k], b.outputs[k], atol=0, rtol=0)
    extras = cs.epoch_extras()["cross_stitch"]
    assert extras["tasks"] == ["cls", "reg", "rec"]
    assert extras["alphas"][0] == torch.eye(3).tolist()
    # the default starts near identity, rows summing to one
    alpha = make("plain", "cross_stitch").alphas[0]
    assert torch.allclose(alpha.sum(dim=1), torch.ones(3))
    assert torch.allclose(alpha.diagonal(), torch.full((3,), 0.9))


@pytest.mark.parametrize(("scheme", "opts"), [("mmoe", {}), ("cgc", {}), ("ple", {"n_levels": 3})])
def test_gates_sum_to_one_per_sample(scheme, opts):
    model = make("plain", scheme, sh_opts=opts)
    x, _ = batch()
    model(x)
    assert model.last_gates
    for level in model.last_gates:
        for g in level.values():
            assert (g >= 0).all()
            assert torch.allclose(g.sum(dim=-1), torch.ones(g.shape[:-1]))
    extras = model.epoch_extras()["gates"]
    for lv in extras.values():
        for row, w in lv["rows"].items():
            assert len(w) == len(lv["experts"]) and sum(w) == pytest.approx(1.0), row
    assert model.epoch_extras() == {}  # the running mean restarts each epoch


@pytest.mark.parametrize("noise", ["gaussian", "masking"])
def test_denoising_corrupts_in_training_only_and_targets_stay_clean(noise):
    model = make("denoising", "hard", ae_opts={"noise": noise, "std": 0.5, "ratio": 0.5})
    seen: list[torch.Tensor] = []
    model.encoder.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach()))
    x, _ = batch(64)
    model.train()
    out = model(x)
    assert not torch.equal(seen[-1], x)
    if noise == "masking":
        zeroed = (seen[-1] == 0).float().mean()
        assert 0.3 < float(zeroed) < 0.7
        assert torch.equal(seen[-1][seen[-1] != 0], x[seen[-1] != 0])
    # the reconstruction loss the trainer computes compares with the clean batch
    rec = next(t for t in TASKS if t.kind == "reconstruction")
    assert torch.equal(task_loss(rec, out.outputs["rec"], x),
                       torch.nn.functional.mse_loss(out.outputs["rec"], x))
    model.eval()
    model(x)
    assert torch.equal(seen[-1], x)


def test_vae_kl_equals_closed_form_on_a_hand_made_case():
    ae = autoencoders.get("variational")(2, autoencoders.get("variational").Options(beta=2.0))
    mean = torch.tensor([[1.0, 0.0], [0.0, -2.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)], [math.log(0.25), 0.0]])
    # per sample: ½ Σ (σ² + μ² − 1 − log σ²)
    s1 = 0.5 * ((1 + 1 - 1 - 0) + (4 + 0 - 1 - math.log(4.0)))
    s2 = 0.5 * ((0.25 + 0 - 1 - math.log(0.25)) + (1 + 4 - 1 - 0))
    z, m, aux = ae.bottleneck(torch.cat([mean, logvar], dim=1))
    assert float(aux["kl"]) == pytest.approx(2.0 * (s1 + s2) / 2, rel=1e-6)
    assert torch.equal(m, mean)
    assert not torch.equal(z, mean)  # a sample in training
    ae.eval()
    z, _, _ = ae.bottleneck(torch.cat([mean, logvar], dim=1))
    assert torch.equal(z, mean)  # the mean at evaluation
    model = make("variational", "single_task")
    assert model.encoders[-1].weight.shape[-1] == 2 * LATENT


def test_sparse_penalties_by_hand():
    sp = autoencoders.get("sparse")
    code = torch.tensor([[1.0, -2.0], [0.0, 3.0]])  # (batch, latent)
    _, _, aux = sp(2, sp.Options(penalty="l1", weight=0.1)).bottleneck(code)
    assert float(aux["sparsity"]) == pytest.approx(0.1 * (3 + 3) / 2)
    _, _, aux = sp(2, sp.Options(penalty="kl", rho=0.1, beta=1.0)).bottleneck(code)
    rho_hat = torch.sigmoid(code).mean(0)
    kl = sum(0.1 * math.log(0.1 / r) + 0.9 * math.log(0.9 / (1 - r)) for r in rho_hat.tolist())
    assert float(aux["sparsity"]) == pytest.approx(kl, rel=1e-5)


def test_contractive_penalty_is_the_jacobian_frobenius_norm():
    model = make("contractive", "hard", ae_opts={"lam": 1.0}, hidden=(5,))
    x, _ = batch(4)
    out = model(x)
    jac = torch.func.vmap(torch.func.jacrev(lambda v: model.encoder(v.unsqueeze(0))[0]))(x)
    expected = jac.pow(2).sum() / 4  # (batch, code, input) → mean over the batch
    assert float(out.aux_losses["contractive"].detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    model.eval()
    assert "contractive" not in model(x).aux_losses


def test_hard_shared_depth_zero_is_single_task_and_full_depth_is_hard():
    x, _ = batch()
    for depth, ref in ((0, make("plain", "single_task", seed=2)),
                       (None, make("plain", "hard", seed=2)),
                       (3, make("plain", "hard", seed=2))):
        model = make("plain", "hard", seed=2, sh_opts={"shared_depth": depth})
        sd, ref_sd = model.state_dict(), ref.state_dict()
        assert sd.keys() == ref_sd.keys()
        assert all(torch.equal(sd[k], ref_sd[k]) for k in sd)
        a, b = model(x), ref(x)
        assert a.latents.keys() == b.latents.keys()
        for k in a.outputs:
            assert torch.equal(a.outputs[k], b.outputs[k])
    partial = make("plain", "hard", sh_opts={"shared_depth": 1})
    out = partial(x)
    assert out.shared_repr is not None and out.shared_repr.shape == (8, HIDDEN[0])
    assert set(out.latents) == {"cls", "reg", "rec"}


# ---- end to end: the trainer, digits, two epochs per scheme --------------------------

E2E = {"single_task": "plain", "hard": "denoising", "soft": "sparse",
       "cross_stitch": "variational", "mmoe": "contractive", "cgc": "variational",
       "ple": "sparse"}


@pytest.mark.parametrize("scheme", sharing.names())
def test_train_two_epochs_on_digits(scheme, tiny_cfg):
    from mtae_core.engine.training import train

    assert scheme in E2E  # a new scheme gets a variant to train with here
    cfg = tiny_cfg.replace(model={"sharing": scheme, "autoencoder": E2E[scheme],
                                  "hidden": [16, 8]})
    res = train(cfg)
    assert res.status == "done" and res.epochs_run == 2
    assert set(res.test_metrics) == {"digit", "parity", "reconstruction"}
    assert all(math.isfinite(m["loss"]) for m in res.test_metrics.values())
    aux = {r[1] for h in res.history for r in h["rows"] if r[1].startswith("aux:")}
    # each penalty is logged as its own curve
    expected = {"sparse": {"aux:sparsity"}, "variational": {"aux:kl"},
                "contractive": {"aux:contractive"}}.get(E2E[scheme], set())
    assert aux == expected | ({"aux:soft_penalty"} if scheme == "soft" else set())


def test_batched_linear_is_independent_linear_layers():
    torch.manual_seed(0)
    layer = BatchedLinear(3, 5, 4)
    x = torch.randn(7, 5)
    shared = layer(x.unsqueeze(0).expand(3, -1, -1))  # every network reads the same input
    assert shared.shape == (3, 7, 4)
    for t in range(3):
        assert torch.allclose(shared[t], x @ layer.weight[t] + layer.bias[t], atol=1e-6)
    own = torch.randn(3, 7, 5)  # each network its own input
    assert torch.allclose(layer(own)[2], own[2] @ layer.weight[2] + layer.bias[2], atol=1e-6)


@pytest.mark.parametrize("scheme", ["hard", "cross_stitch"])
def test_variational_defaults_still_learn_the_tasks(scheme, tiny_cfg):
    """With the default β the KL must not drown the task losses (posterior collapse left
    digit accuracy at chance when β was 1)."""
    from mtae_core.engine.training import train

    cfg = tiny_cfg.replace(model={"sharing": scheme, "autoencoder": "variational",
                                  "hidden": [64], "latent_dim": 16, "head_hidden": 32},
                           training={"epochs": 10, "batch_size": 64})
    res = train(cfg)
    assert res.test_metrics["digit"]["accuracy"] >= 0.8
