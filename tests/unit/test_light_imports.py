"""The registries' light entries agree with the working classes they load lazily (that
the Train form's path imports no torch: tests/app/test_first_page_imports.py)."""

from __future__ import annotations

import pytest

from mtae_core.data import datasets
from mtae_core.models import autoencoders, sharing
from mtae_core.registry import Registry
from mtae_core.schedules import schedules
from mtae_core.weighting import weightings

LAZY: list[tuple[str, Registry]] = [("autoencoders", autoencoders), ("sharing", sharing),
                                    ("weightings", weightings)]


@pytest.mark.parametrize("registry", [r for _, r in LAZY], ids=[n for n, _ in LAZY])
def test_each_lazy_entry_loads_a_working_class_that_keeps_its_entry(registry: Registry) -> None:
    for name in registry.names():
        entry, working = registry.spec(name), registry.get(name)
        assert issubclass(working, entry) and working is not entry
        assert working.name == name
        assert working.Options is entry.Options
        assert working.summary() == entry.summary() != ""
        assert working.check.__func__ is entry.check.__func__  # type: ignore[attr-defined]
        if registry is weightings:  # the trainer asks the working class, the UI the entry
            assert working.needs_task_grads == entry.needs_task_grads


def test_light_registries_have_no_separate_working_class() -> None:
    for registry in (datasets, schedules):
        for name in (datasets.builtin_names() if registry is datasets else registry.names()):
            assert registry.get(name) is registry.spec(name)


def test_an_unknown_name_says_what_is_allowed() -> None:
    with pytest.raises(KeyError, match="unknown weighting strategy 'nope'; allowed: equal"):
        weightings.spec("nope")
    with pytest.raises(KeyError, match="unknown sharing scheme 'nope'"):
        sharing.get("nope")
