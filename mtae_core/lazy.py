"""Lazy package exports (PEP 562): a package's ``__init__`` names its public objects
without importing the modules that hold them, so importing one light module of a package
(``engine.preflight``) never pulls in its heavy siblings (torch, scipy)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``where[name]`` (a module of
    the package) when ``name`` is first asked for."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return __getattr__
