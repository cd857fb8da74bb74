"""Reading a roster file: YAML with line numbers, every problem reported at once.

`load_roster` reads a YAML file, validates all of it, and either returns a frozen `Roster`
or raises `RosterError` listing every problem with its file, line, field and value. Nothing
is half-accepted: callers register resources only from a roster that passed as a whole.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ses_mail.roster.checks import cross_check
from ses_mail.roster.errors import NO_VALUE, Problem, RosterError
from ses_mail.roster.limit_checks import Deployment, check_limits
from ses_mail.roster.model import ItemError, Roster
from ses_mail.roster.paths import Path_, field_name


#: libyaml's loader, when PyYAML was built with it: about ten times faster than the pure-Python one.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(text: str, loader_class: type) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its value, parsed once."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return node, loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def _load_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """As `_read_yaml`, with libyaml; a document it rejects is read again with the pure-Python
    loader, so that errors keep PyYAML's own messages and positions."""
    try:
        return _read_yaml(text, _FAST_LOADER)
    except yaml.YAMLError:
        return _read_yaml(text, yaml.SafeLoader)


class _Lines:
    """Line numbers (1-based) of every mapping key and sequence item, by data path."""

    def __init__(self) -> None:
        self.lines: dict[Path_, int] = {}
        self.duplicates: list[tuple[Path_, int]] = []

    def walk(self, node: yaml.Node, path: Path_ = ()) -> None:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                child = (*path, key)
                if key in seen:
                    self.duplicates.append((child, key_node.start_mark.line + 1))
                seen.add(key)
                self.lines[child] = key_node.start_mark.line + 1
                self.walk(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, (*path, index))

    def line(self, path: Path_) -> int | None:
        # The nearest enclosing node that exists: a missing field points at its parent.
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


def _lookup(data: Any, path: Path_) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return NO_VALUE
    return data


@dataclass(frozen=True)
class Loaded:
    """A roster that passed as a whole, and what may still fail at deploy time (warnings:
    limits that depend on what the AWS account already holds, or on what is known only then)."""

    roster: Roster
    warnings: tuple[Problem, ...] = ()


def parse_roster(text: str, file: str = "<roster>", deployment: Deployment = Deployment()) -> Roster:
    """Validate roster text as a whole; raise RosterError naming every problem."""
    return parse_roster_checked(text, file, deployment).roster


def parse_roster_checked(text: str, file: str = "<roster>", deployment: Deployment = Deployment()) -> Loaded:
    """As `parse_roster`, with the warnings. `deployment` says what is known of the region and
    the stack's secret admins; what is not is bounded (ses_mail.roster.limit_checks)."""
    try:
        node, data = _load_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(err, "problem", None) or str(err)
        raise RosterError([Problem(file, line, "", NO_VALUE, f"is not valid YAML: {reason}")]) from None
    if node is None:
        raise RosterError([Problem(file, None, "", NO_VALUE, "is empty: a roster needs at least `domains:`")])
    if not isinstance(data, dict):
        raise RosterError([Problem(file, 1, "", data, "must be a mapping with `domains:` and `people:`")])

    lines = _Lines()
    lines.walk(node)
    problems = [Problem(file, line, field_name(path), NO_VALUE, "is given twice") for path, line in lines.duplicates]

    try:
        roster = Roster.model_validate(data)
    except ValidationError as err:
        errors = err.errors()
        for e in errors:
            path = tuple(e["loc"])
            if e["type"] == "too_short" and any(len(o["loc"]) > len(path) and tuple(o["loc"][:len(path)]) == path
                                                for o in errors):
                continue  # a list "too short" only because its items failed: the items say why
            error = (e.get("ctx") or {}).get("error")
            if isinstance(error, ItemError):
                path = (*path, error.index)
            value = _lookup(data, path)
            message = e["msg"].removeprefix("Value error, ").replace("valid tuple", "list").replace("Tuple", "List")
            if e["type"] == "missing":
                message, value = "is required", NO_VALUE
            elif e["type"] == "extra_forbidden":
                message = "is not a known field (a typo?)"
                value = NO_VALUE
            problems.append(Problem(file, lines.line(path), field_name(path), value, message))
        raise RosterError(problems) from None

    problems += cross_check(roster, file, lines.line)
    # The service limits last: they measure the documents the program will send.
    limits = check_limits(roster, file, lines.line, deployment)
    problems += limits.errors
    if problems:
        raise RosterError(problems)
    return Loaded(roster, tuple(limits.warnings))


def load_roster(path: str | Path, deployment: Deployment = Deployment()) -> Roster:
    """Read and validate a roster file; raise RosterError for anything wrong with it."""
    return load_roster_checked(path, deployment).roster


def load_roster_checked(path: str | Path, deployment: Deployment = Deployment()) -> Loaded:
    """As `load_roster`, with the warnings."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RosterError([Problem(file, None, "", NO_VALUE, "does not exist (check the stack's `roster` config)")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise RosterError([Problem(file, None, "", NO_VALUE, f"cannot be read: {err}")]) from None
    return parse_roster_checked(text, file, deployment)
