"""One explicit registry per extension point (data sets, autoencoders, sharing schemes,
weighting strategies, schedules). The UI, the CLI and the contract tests all iterate these."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict


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
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


T = TypeVar("T", bound=type)


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(cls: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            cls.name = name  # type: ignore[attr-defined]
            self._entries[name] = cls
            return cls

        return deco

    def get(self, name: str) -> T:
        try:
            return self._entries[name]  # type: ignore[no-any-return]
        except KeyError:
            raise KeyError(
                f"unknown {self.kind} {name!r}; allowed: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def describe(self) -> list[tuple[str, str]]:
        return [(n, c.summary()) for n, c in self._entries.items()]
