"""Task schedules: registry contracts, full runs, and each schedule's visiting pattern."""

from __future__ import annotations

import re
import sys

import pytest
import torch

from mtae_core import ConfigError, ExperimentConfig
from mtae_core.engine.training import train
from mtae_core.schedules import schedules
from mtae_core.schedules._order import OrderedSchedule
from mtae_core.weighting import weightings

ALL = schedules.names()
TASKS = ["a", "b", "c"]


def make(name: str, steps: int = 4, epochs: int = 10, tasks: list[str] = TASKS, **options: object):
    cls = schedules.get(name)
    return cls(tasks, cls.Options.model_validate(options), steps, epochs)


def visits(s, epochs: int, steps: int) -> list[list[int] | None]:
    out = []
    for e in range(epochs):
        for t in range(steps):
            m = s.active(e, t)
            out.append(None if m is None else m.nonzero().flatten().tolist())
            s.feedback(torch.ones(len(s.task_names)))
    return out


def test_registry():
    assert {"joint", "sequential", "cyclic", "adaptive"} <= set(ALL)
    assert ALL[0] == "joint"


@pytest.mark.parametrize("name", ALL)
def test_contract(name):
    cls = schedules.get(name)
    assert cls.summary()
    for field, info in cls.Options.model_fields.items():
        assert info.description, f"{name}.{field} has no description"
    torch.manual_seed(0)
    a = visits(make(name), 3, 4)
    torch.manual_seed(0)
    b = visits(make(name), 3, 4)
    assert a == b  # seeded
    for m in a:
        assert m is None or (m and all(0 <= i < 3 for i in m))


@pytest.mark.parametrize("name", ALL)
def test_short_run(name):
    cfg = ExperimentConfig.parse({
        "model": {"hidden": [16], "latent_dim": 4, "head_hidden": 0},
        "schedule": {"kind": name},
        "training": {"epochs": 2, "batch_size": 256, "device": "cpu"},
    })
    r = train(cfg)
    assert r.status == "done", r.reason


@pytest.mark.parametrize("strategy", ["equal", "pcgrad", "uncertainty"])
def test_cyclic_with_strategies(strategy):
    assert strategy in weightings
    cfg = ExperimentConfig.parse({
        "model": {"hidden": [16], "latent_dim": 4, "head_hidden": 0},
        "schedule": {"kind": "cyclic"}, "weighting": {"strategy": strategy},
        "training": {"epochs": 1, "batch_size": 256, "device": "cpu"},
    })
    assert train(cfg).status == "done"


def test_joint_trains_everything():
    assert visits(make("joint"), 1, 3) == [None, None, None]


def test_cyclic_visits_in_order_across_epochs():
    assert visits(make("cyclic", steps=4), 2, 4) == [[0], [1], [2], [0], [1], [2], [0], [1]]
    assert visits(make("cyclic", steps=2, order=["c", "a"]), 1, 2) == [[2], [0]]


def test_sequential_task_after_task():
    s = make("sequential", steps=1, epochs=8, epochs_per_task=2, order=["b"])
    assert visits(s, 7, 1) == [[1], [1], [0], [0], [2], [2], None]
    s = make("sequential", steps=1, epochs_per_task=1, after="repeat")
    assert visits(s, 5, 1) == [[0], [1], [2], [0], [1]]
    s = make("sequential", steps=1, epochs_per_task=1, after="last")
    assert visits(s, 5, 1) == [[0], [1], [2], [2], [2]]


def test_order_checked():
    with pytest.raises(ConfigError, match="schedule.options.order"):
        ExperimentConfig.parse({"schedule": {"kind": "cyclic", "options": {"order": ["nope"]}}})
    with pytest.raises(ConfigError, match="listed twice"):
        ExperimentConfig.parse({"schedule": {"kind": "sequential",
                                             "options": {"order": ["digit", "digit"]}}})


def test_adaptive_prefers_the_task_that_improves():
    s = make("adaptive", gamma=0.2, seed=1)
    losses = torch.ones(3)
    picks = []
    for t in range(600):
        m = s.active(0, t)
        i = int(m.nonzero())
        picks.append(i)
        s.feedback(losses.clone())  # the losses of this step, before its update
        if i == 1:  # only training task b lowers its loss (seen at the next step)
            losses = losses.clone()
            losses[1] *= 0.99
    p = s.probabilities()
    assert p.argmax() == 1 and p.sum() == pytest.approx(1.0)
    assert p.min() >= 0.2 / 3 - 1e-12  # exploration keeps every task alive
    assert picks[-200:].count(1) > 100


def test_adaptive_seeded_by_option():
    a = visits(make("adaptive", seed=3), 2, 5)
    b = visits(make("adaptive", seed=3), 2, 5)
    assert a == b


@pytest.mark.parametrize("name", ALL)
def test_an_order_option_is_checked_by_the_shared_base(name):
    # the base checks and resolves it, so no schedule with an order can forget either
    has_order = "order" in schedules.get(name).Options.model_fields
    assert issubclass(schedules.get(name), OrderedSchedule) == has_order


@pytest.mark.parametrize("name", ALL)
def test_module_docstring_names_the_summary_papers(name):
    cls = schedules.get(name)
    doc = sys.modules[cls.__module__].__doc__ or ""
    assert doc.strip(), f"{cls.__module__} has no module docstring"
    # a paper the form's summary cites (adaptive's) is named in the module too
    assert set(re.findall(r"\b(?:19|20)\d\d\b", cls.summary())) <= set(re.findall(r"\b(?:19|20)\d\d\b", doc))
