"""Where a value sits in the roster: a path of keys and list indices, and its field name."""
from __future__ import annotations

from typing import Any

Path_ = tuple[Any, ...]


def field_name(path: Path_) -> str:
    """`people[2].email` for ("people", 2, "email")."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
