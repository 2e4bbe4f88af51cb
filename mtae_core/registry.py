"""One explicit registry per extension point (data sets, autoencoders, sharing schemes,
weighting strategies, schedules). The UI, the CLI and the contract tests all iterate these.

An entry is registered by one decorator on a light class (no torch): its name, its
summary (the docstring's first line), its ``Options`` and its cross-checks (``check``).
That is all the Train form and the config need, so they import no torch and the first
page shows at once. An entry whose working class needs torch (models, weightings)
names it with ``impl="module:Class"`` (relative to the registry's package): ``get``
imports it the first time it is asked for; it subclasses the light class, so it has
the same name, options, summary and checks. ``spec`` gives the light class.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Generic

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypeVar


class Options(BaseModel):
    """Base of every entry's options: frozen, unknown keys rejected, bounds on the fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoOptions(Options):
    pass


class Entry:
    """What every registered class carries: its name, its options model and a summary."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[Options]] = NoOptions

    @classmethod
    def summary(cls) -> str:
        """The first line of the class's docstring, or of the nearest base's that has one
        (a lazy entry's working class keeps its light class's summary)."""
        for c in cls.__mro__:
            doc = (c.__dict__.get("__doc__") or "").strip()
            if doc:
                return doc.splitlines()[0]
        return ""

    @classmethod
    def check(cls, options: Any, tasks: list[str]) -> None:
        """Cross-checks against the chosen tasks; raise ValueError with a plain message."""


T = TypeVar("T", bound=type)
S = TypeVar("S", bound=type, default=T)  # the light class ``spec`` returns


class Registry(Generic[T, S]):
    """``Registry[type[Heavy], type[Light]]``: ``get`` gives the working class (``T``),
    ``spec`` the light one (``S``, by default the same)."""

    def __init__(self, kind: str, package: str | None = None) -> None:
        self.kind = kind
        self.package = package  # where the ``impl`` paths of lazy entries are found
        self._entries: dict[str, Any] = {}  # name -> the registered (light) class
        self._impl_paths: dict[str, str] = {}  # name -> "module:Class" of its working class
        self._impls: dict[str, Any] = {}  # name -> the working class, once imported

    def register(self, name: str, impl: str | None = None) -> Callable[[S], S]:
        def deco(cls: S) -> S:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            cls.name = name  # type: ignore[attr-defined]
            self._entries[name] = cls
            if impl is None:
                self._impls[name] = cls
            else:
                self._impl_paths[name] = impl
            return cls

        return deco

    def _unknown(self, name: object) -> KeyError:
        return KeyError(f"unknown {self.kind} {name!r}; allowed: {', '.join(self.names())}")

    def spec(self, name: str) -> S:
        """The light class of ``name``: name, summary, ``Options``, ``check``; no torch."""
        try:
            return self._entries[name]  # type: ignore[no-any-return]
        except KeyError:
            raise self._unknown(name) from None

    def get(self, name: str) -> T:
        """The working class of ``name`` (imported now if it is lazy)."""
        try:
            return self._impls[name]  # type: ignore[no-any-return]
        except KeyError:
            if name not in self._entries:
                raise self._unknown(name) from None
        module, _, attr = self._impl_paths[name].partition(":")
        cls = getattr(importlib.import_module(module, self.package), attr)
        light = self._entries[name]
        if not (isinstance(cls, type) and issubclass(cls, light)):
            raise TypeError(f"{self.kind} {name!r}: {self._impl_paths[name]} must subclass "
                            f"{light.__name__}")
        self._impls[name] = cls
        return cls  # type: ignore[return-value]

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """Every entry's working class (imports the lazy ones)."""
        return [(n, self.get(n)) for n in self._entries]

    def describe(self) -> list[tuple[str, str]]:
        return [(n, c.summary()) for n, c in self._entries.items()]
