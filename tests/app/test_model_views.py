"""The pictures of a model (ui.train.model_views): the network diagram of every sharing scheme,
and the learned mixing of a trained run (gates, cross-stitch units, soft-sharing
distance) drawn from the extras its training stored."""

from __future__ import annotations

import pytest

from mtae_core.engine.training import train
from mtae_core.models import sharing
from ui.train.model_views import architecture_figure, mixing_figures

# a variant to train each scheme with (any will do: the pictures are the scheme's)
VARIANT = {"single_task": "plain", "hard": "denoising", "soft": "sparse",
           "cross_stitch": "variational", "mmoe": "contractive", "cgc": "variational",
           "ple": "sparse"}
MIXING = ("soft", "cross_stitch", "mmoe", "cgc", "ple")  # schemes that learn how to mix


@pytest.mark.parametrize("scheme", sharing.names())
def test_a_trained_run_of_every_scheme_has_its_diagram_and_mixing(scheme, tiny_cfg):
    assert scheme in VARIANT  # a new scheme gets a variant to train with here
    cfg = tiny_cfg.replace(model={"sharing": scheme, "autoencoder": VARIANT[scheme],
                                  "hidden": [16, 8]})
    res = train(cfg)
    assert res.status == "done"
    figs = mixing_figures([h["extras"] for h in res.history])
    assert len(figs) == (1 if scheme in MIXING else 0)
    fig, counts = architecture_figure(cfg)
    assert fig.layout.shapes and fig.data
    assert counts["total"] == counts["shared"] + counts["task_specific"] > 0


def test_mixing_figures_from_hand_made_extras():
    from ui.train.model_views import mixing_figures

    hist = [
        {"soft_distance": 2.0},
        {"soft_distance": 1.5,
         "cross_stitch": {"tasks": ["a", "b"], "alphas": [[[0.9, 0.1], [0.1, 0.9]]] * 2},
         "gates": {"gates": {"experts": ["shared 1", "shared 2"],
                             "rows": {"a": [0.3, 0.7], "b": [0.5, 0.5]}}}},
    ]
    gates, alphas, dist = mixing_figures(hist)
    assert gates.data[0].type == "heatmap" and list(gates.data[0].y) == ["a", "b"]
    assert len(alphas.data) == 2
    assert list(dist.data[0].y) == [2.0, 1.5]
    assert mixing_figures([{}, {"lr": 0.1}]) == []
