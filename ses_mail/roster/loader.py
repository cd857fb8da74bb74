"""Reading a roster file: YAML with line numbers, every problem reported at once.

`load_roster` reads a YAML file, validates all of it, and either returns a frozen `Roster`
or raises `RosterError` listing every problem with its file, line, field and value. Nothing
is half-accepted: callers register resources only from a roster that passed as a whole.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ses_mail.roster.checks import Parts, cross_check
from ses_mail.roster.errors import NO_VALUE, Problem, RosterError
from ses_mail.roster.identifiers import normalize_domain
from ses_mail.roster.limit_checks import Deployment, check_limits
from ses_mail.roster.model import Defaults, Domain, ItemErrors, Person, Roster
from ses_mail.roster.paths import Path_, field_name
from ses_mail.roster.yaml_source import YamlRefused, read_document


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
        lines = read_document(text)  # the data, with line numbers by data path; bounded in cost
    except YamlRefused as err:
        raise RosterError([Problem(file, p.line, field_name(p.path), NO_VALUE, p.message) for p in err.problems]) from None
    if lines is None:
        raise RosterError([Problem(file, None, "", NO_VALUE, "is empty: a roster needs at least `domains:`")])
    data = lines.data
    if not isinstance(data, dict):
        raise RosterError([Problem(file, 1, "", data, "must be a mapping with `domains:` and `people:`")])

    problems = [Problem(file, line, field_name(path), NO_VALUE, "is given twice") for path, line in lines.duplicates]

    roster: Roster | None = None
    try:
        roster = Roster.model_validate(data)
    except ValidationError as err:
        problems += _field_problems(err, data, file, lines.line)

    # Cross-field rules on every item that is valid on its own, so that one run reports a
    # duplicate address next to a typo elsewhere rather than after it is fixed.
    parts = Parts.of(roster) if roster is not None else _valid_parts(data)
    problems += cross_check(parts, file, lines.line)
    warnings: list[Problem] = []
    if roster is not None:
        # The service limits: they measure the documents the program will send.
        limits = check_limits(roster, file, lines.line, deployment)
        problems += limits.errors
        problems += _report_problems(roster, file, lines.line)
        warnings = list(limits.warnings)
    if problems:
        raise RosterError(sorted(problems, key=lambda p: (p.line or 0, p.field)))
    assert roster is not None
    return Loaded(roster, tuple(warnings))


def _report_problems(roster: Roster, file: str, line_of: Any) -> list[Problem]:
    """The `reports.address` against the roster's domains (ses_mail.specs.report_receiving)."""
    if roster.reports is None:
        return []
    from ses_mail.specs.report_receiving import address_problems

    at = ("reports", "address")
    return [Problem(file, line_of(at), field_name(at), roster.reports.address, message)
            for message in address_problems(roster.reports.address, roster.domains)]


def _field_problems(err: ValidationError, data: Any, file: str, line_of: Any) -> list[Problem]:
    problems: list[Problem] = []
    errors = err.errors()
    seen: set[tuple[Path_, str]] = set()
    for e in errors:
        path = _data_path(e["loc"], data)
        if e["type"] == "too_short" and any(len(o["loc"]) > len(e["loc"]) and tuple(o["loc"][:len(e["loc"])]) == tuple(e["loc"])
                                            for o in errors):
            continue  # a list "too short" only because its items failed: the items say why
        error = (e.get("ctx") or {}).get("error")
        items = error.items if isinstance(error, ItemErrors) else [(None, None)]
        for index, item_message in items:
            at = path if index is None else (*path, index)
            message = item_message or describe(e)
            if (at, message) in seen:
                continue  # one problem per place, however many union members disagreed
            seen.add((at, message))
            value = NO_VALUE if e["type"] in ("missing", "extra_forbidden") else _lookup(data, at)
            problems.append(Problem(file, line_of(at), field_name(at), value, message))
    return problems


def _data_path(loc: tuple, data: Any) -> Path_:
    """pydantic's error location as a path in the data: union member tags (`str`, `bool`,
    `tuple[str, ...]`, `literal['any']`) name no key of the roster, so they are dropped."""
    path: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part not in node and _is_union_tag(part):
            continue
        if isinstance(node, dict) or (isinstance(node, list) and isinstance(part, int)):
            path.append(part)
            node = node[part] if _has(node, part) else None
        # else: below a scalar value, only union tags follow
    return tuple(path)


def _is_union_tag(part: str) -> bool:
    return part in {"str", "bool", "int", "float", "none"} or "[" in part or "'" in part


def _has(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


#: What each pydantic error type means, in the roster's words.
_MESSAGES: dict[str, str] = {
    "missing": "is required",
    "extra_forbidden": "is not a known field (a typo?)",
    "string_type": "should be text",
    "string_too_short": "is empty",
    "int_type": "should be a whole number",
    "int_parsing": "should be a whole number",
    "int_from_float": "should be a whole number",
    "bool_type": "should be true or false",
    "bool_parsing": "should be true or false",
    "tuple_type": "should be a list",
    "list_type": "should be a list",
    "model_type": "should be a mapping of fields (key: value lines)",
    "model_attributes_type": "should be a mapping of fields (key: value lines)",
    "dict_type": "should be a mapping of fields (key: value lines)",
}


def describe(error: dict[str, Any]) -> str:
    """One pydantic error as the roster reports it: in our words, never pydantic's "Input should be"."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "value_error":
        return str(ctx.get("error") or error["msg"]).removeprefix("Value error, ")
    if kind == "literal_error":
        return f"should be {ctx.get('expected')}"
    if kind == "greater_than_equal":
        return f"should be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"should be at most {ctx.get('le')}"
    if kind == "too_short":
        count = ctx.get("min_length", 1)
        return f"needs at least {count} item{'s' if count != 1 else ''}"
    # Anything new from pydantic still reads as a sentence about the value.
    return error["msg"].replace("Input should be", "should be").replace("Value error, ", "")


def _valid_parts(data: dict[str, Any]) -> Parts:
    """Each domain and person validated on its own: the ones that pass, with their indices."""
    def items(key: str) -> list[tuple[int, Any]]:
        value = data.get(key)
        return list(enumerate(value)) if isinstance(value, list) else []

    domains, unchecked = [], set()
    for i, item in items("domains"):
        try:
            domains.append((i, Domain.model_validate(item)))
        except ValidationError:
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str):
                unchecked.add(name.strip().lower().rstrip("."))
                try:
                    unchecked.add(normalize_domain(name))
                except ValueError:
                    pass
    people, other_addresses = [], []
    for i, item in items("people"):
        try:
            people.append((i, Person.model_validate(item)))
        except ValidationError:
            try:  # the address alone, for the duplicate and unlisted-domain rules
                other_addresses.append((i, Person.model_validate({"email": item["email"]}).email))
            except (ValidationError, KeyError, TypeError):
                pass
    try:
        defaults = Defaults.model_validate(data.get("defaults") or {})
    except ValidationError:
        defaults = Defaults()  # its own problems are reported; people are checked against the documented defaults
    return Parts(domains, people, defaults, frozenset(unchecked), other_addresses)


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
