from __future__ import annotations

import math

import pytest

from mtae_core.engine.metrics import delta_m, task_deltas


def test_task_deltas_and_delta_m_by_hand():
    mtl = {"a · accuracy": 0.9, "b · mse": 0.5}
    base = {"a · accuracy": 0.8, "b · mse": 0.4}
    higher = {"a · accuracy": True, "b · mse": False}
    d = task_deltas(mtl, base, higher)
    # accuracy up from 0.8 to 0.9: +12.5 %; mse up from 0.4 to 0.5 is worse: −25 %
    assert d == pytest.approx({"a · accuracy": 12.5, "b · mse": -25.0})
    assert delta_m(mtl, base, higher) == pytest.approx((12.5 - 25.0) / 2)


def test_task_deltas_skip_missing_and_zero_baselines():
    d = task_deltas({"a": 1.0}, {"a": 0.0, "b": 2.0}, {"a": True, "b": True})
    assert d == {}
    assert math.isnan(delta_m({"a": 1.0}, {"a": 0.0}, {"a": True}))
