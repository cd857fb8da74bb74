"""User-facing roster errors: each problem names file, line, field and value."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    field: str
    value: Any
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        value = "" if self.value is NO_VALUE else f" {self.value!r}"
        return f"{where}:{field}{value} {self.message}"


class _NoValue:
    def __repr__(self) -> str:
        return "<no value>"


#: marks a problem that has no offending value (a missing field, an empty file)
NO_VALUE: Any = _NoValue()


class RosterError(Exception):
    """Every problem found in one roster; raised before any resource is registered."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        count = len(problems)
        head = f"the roster has {count} problem{'s' if count != 1 else ''}:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in problems)]))
