"""A registry of mode classes by name: one instance of each, registered by a class decorator."""
from __future__ import annotations

from typing import Generic, Optional, TypeVar

M = TypeVar("M")


class Registry(Generic[M]):
    def __init__(self, kind: str, default: Optional[str] = None) -> None:
        self.kind = kind
        self.default = default
        self._modes: dict[str, M] = {}

    def register(self, cls: type[M]) -> type[M]:
        name = cls.name  # type: ignore[attr-defined]
        if name in self._modes:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._modes[name] = cls()
        return cls

    def get(self, name: Optional[str]) -> M:
        key = self.default if name is None else name
        try:
            return self._modes[key]  # type: ignore[index]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r} (known: {', '.join(self._modes)})") from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._modes)

    def all(self) -> tuple[M, ...]:
        return tuple(self._modes.values())
