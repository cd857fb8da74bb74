"""What changes between two runs of the program: pure functions over plain registration data.

`diff_resources(base, head)` pairs resources by URN (falling back to type and name), or by an
alias URN computed as the engine computes it (`alias_urns`: a resource's own aliases and those
it inherits from its parents), and decides, per resource, create / delete / update / replace the way `pulumi up` with
pulumi-aws 7.x would: an input change replaces the resource when the provider marks that
property ForceNew (`ses_mail.resource_types`), otherwise it updates in place. Nothing here imports
Pulumi; `ses_mail.cli.diff` turns program runs into `Resource` lists and renders the result.

Secrets never leave this module as values: inputs the program marked secret (and inputs whose
names say they are secrets) become `Secret`, which compares by digest and prints as
`[secret]`.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence
from pathlib import Path

from ses_mail.resource_types import (ACCESS_KEY, CLOUDFLARE_RECORD, IDENTITY, MAIL_FROM, RECORD, TYPES, USER, USER_POLICY,
                                     describe)
from ses_mail.roster.identifiers import both_forms

#: Pseudo-property under which a changed `replacement_trigger` resource option is reported.
TRIGGER = "(replacement trigger)"

#: Component types and what a reviewer calls them; their children are grouped under them.
COMPONENT_KINDS: dict[str, str] = {
    "ses-mail:index:Deliverability": "deliverability",
    "ses-mail:index:ReportReceiving": "dmarc-reports",
    "ses-mail:index:SendingDomain": "domain",
    "ses-mail:index:SmtpSender": "person",
}

#: Components that hold a whole roster: grouped under their own name only when nothing
#: narrower (a domain or person) holds a resource.
ROSTER_COMPONENTS: dict[str, str] = {"ses-mail:index:SesMail": "roster"}

#: Type-token prefixes of resources that exist only in Pulumi (components, the stack).
LOCAL_PACKAGES = ("ses-mail:", "pulumi:")

#: Input names (lowercased, without `_`/`-`) that hold secrets even when the program forgot to
#: mark them: `secret`, and names ending in these (`smtpPassword`, `secretString`, ...), but not
#: references to secrets such as `secretArn` or `secretId`.
SECRET_NAME_ENDINGS = ("password", "privatekey", "secretstring", "secretbinary", "secretstringwo")
#: What the Pulumi SDK wraps secret values in when it serialises them.
_SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

CREATE, DELETE, UPDATE, REPLACE = "create", "delete", "update", "replace"
#: What a delete of a `retain_on_delete` resource does (adopted domains): nothing in AWS.
RELEASED = "released, not deleted: it leaves the stack and stays in AWS as it is (retain_on_delete)"


# --- data -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Secret:
    """A secret value: equal when the values are equal, never printed."""

    digest: str

    def __repr__(self) -> str:
        return "[secret]"

    @classmethod
    def of(cls, value: Any) -> "Secret":
        text = json.dumps(value, sort_keys=True, default=str)
        return cls(hashlib.sha256(("ses-mail-secret\x00" + text).encode("utf-8")).hexdigest())


@dataclass(frozen=True)
class AliasSpec:
    """An alias as a program gives it to the engine (`pulumi.Alias`): each field empty means
    "as the resource is now"; `no_parent` means "registered at the stack root"."""

    name: str = ""
    type: str = ""
    parent_urn: str = ""
    no_parent: bool = False
    stack: str = ""
    project: str = ""


@dataclass(frozen=True)
class Resource:
    """One registered resource, as plain data. `aliases` holds alias URNs and `AliasSpec`s."""

    type: str
    name: str
    inputs: Mapping[str, Any]
    urn: str = ""
    parent: str = ""
    protect: bool = False
    # `retain_on_delete`: deleting it only releases it from the stack (adopted resources).
    retain_on_delete: bool = False
    aliases: tuple[str | AliasSpec, ...] = ()
    # Resource options that make Pulumi replace a resource whatever the provider says.
    replace_on_changes: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()
    replacement_trigger: Any = None
    delete_before_replace: bool = False

    @property
    def key(self) -> str:
        return self.urn or f"{self.type}::{self.name}"

    @property
    def custom(self) -> bool:
        """A cloud resource, as opposed to a component of this program or an engine resource."""
        return not self.type.startswith(LOCAL_PACKAGES)


@dataclass(frozen=True)
class PropertyChange:
    path: str            # e.g. `policy`, `tags["ses-mail:name"]`
    top: str             # the top-level input it belongs to
    before: Any
    after: Any
    forces_replace: bool


@dataclass(frozen=True)
class Group:
    kind: str            # domain, person, stack, or a component's short type name
    name: str

    @property
    def label(self) -> str:
        if self.kind == "domain" and self.name:
            return f"{self.kind} {both_forms(self.name)}"  # an IDN in both forms
        return f"{self.kind} {self.name}" if self.name else self.kind


@dataclass
class Change:
    op: str
    type: str
    name: str
    group: Group
    before: Resource | None
    after: Resource | None
    properties: list[PropertyChange] = field(default_factory=list)
    renamed_from: str = ""

    @property
    def resource(self) -> Resource:
        return self.after or self.before  # type: ignore[return-value]

    @property
    def short_type(self) -> str:
        return short_type(self.type)

    @property
    def custom(self) -> bool:
        return self.resource.custom

    @property
    def released(self) -> bool:
        """A delete that `retain_on_delete` turns into a release: the resource leaves the stack
        and stays in AWS as it is (adopted resources)."""
        return self.op == DELETE and self.before is not None and self.before.retain_on_delete

    @property
    def destructive(self) -> bool:
        return self.custom and self.op in (DELETE, REPLACE) and not self.released

    @property
    def blocked_by_protect(self) -> bool:
        """`pulumi up` refuses to delete (or replace) a protected resource."""
        return self.op in (DELETE, REPLACE) and self.before is not None and self.before.protect

    @property
    def protect_changed(self) -> bool:
        return self.before is not None and self.after is not None and self.before.protect != self.after.protect

    @property
    def retain_changed(self) -> bool:
        return (self.before is not None and self.after is not None
                and self.before.retain_on_delete != self.after.retain_on_delete)

    @property
    def consequence(self) -> str:
        described = describe(self.type)
        if self.released:
            return described.consequences.get("release", RELEASED) if described is not None else RELEASED
        if described is not None:
            return described.consequence(self.op)
        return f"{self.short_type} {'deleted' if self.op == DELETE else 'replaced'}"

    @property
    def attention(self) -> str:
        """What a non-destructive change still stops (a suspended credential), else ""."""
        described = describe(self.type)
        if (described is None or described.attention is None or self.op != UPDATE
                or self.before is None or self.after is None):
            return ""
        return described.attention({p.top: self.before.inputs.get(p.top) for p in self.properties},
                                   {p.top: self.after.inputs.get(p.top) for p in self.properties})

    @property
    def replace_reasons(self) -> list[str]:
        return sorted({p.top for p in self.properties if p.forces_replace})

    @property
    def replacement_rules_known(self) -> bool:
        return self.type in TYPES or not self.custom


@dataclass
class StackDiff:
    changes: list[Change]
    unchanged: int
    outputs_changed: list[str]
    #: (person, what a key rotation does): which generation becomes current, which still works.
    rotations: list[tuple[Group, str]] = field(default_factory=list)

    def count(self, op: str) -> int:
        """Custom resources with this operation; deletes exclude releases (`released()`)."""
        return sum(1 for c in self.changes if c.op == op and c.custom and not c.released)

    def released(self) -> int:
        return sum(1 for c in self.changes if c.released and c.custom)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes) or bool(self.outputs_changed)

    @property
    def destructive(self) -> list[Change]:
        return sorted((c for c in self.changes if c.destructive), key=lambda c: (_group_order(c.group), _change_order(c)))

    def destructive_by_group(self) -> list[tuple[Group, list[Change]]]:
        out: dict[Group, list[Change]] = {}
        for change in self.destructive:
            out.setdefault(change.group, []).append(change)
        return list(out.items())

    @property
    def attention(self) -> list[Change]:
        return [c for c in self.changes if c.attention]

    @property
    def unknown_types(self) -> list[str]:
        return sorted({c.type for c in self.changes if not c.replacement_rules_known and c.op == UPDATE})

    def groups(self) -> list[tuple[Group, list[Change]]]:
        """Changes grouped by domain, then person, then anything else; sorted for reading."""
        by: dict[Group, list[Change]] = {}
        for change in self.changes:
            by.setdefault(change.group, []).append(change)
        return [(g, sorted(cs, key=_change_order)) for g, cs in sorted(by.items(), key=lambda kv: _group_order(kv[0]))]


def _group_order(group: Group) -> tuple[int, str, str]:
    return {"deliverability": 0, "domain": 1, "person": 2}.get(group.kind, 3), group.kind, group.name


# --- pure functions ---------------------------------------------------------------------

def short_type(token: str) -> str:
    return token.split(":")[-1]


def is_wrapped_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(_SECRET_SIG_KEY) == _SECRET_SIG


def looks_secret(name: str) -> bool:
    lowered = name.lower().replace("-", "").replace("_", "")
    return lowered == "secret" or lowered.endswith(SECRET_NAME_ENDINGS)


def _asset(value: Any) -> Any:
    """A Pulumi asset or archive (the rotation function's code) as plain data: file names and
    content digests, so a code change reads as a change and the same code as none."""
    assets = getattr(value, "assets", None)
    if isinstance(assets, Mapping):
        return {"archive": {str(k): _asset(v) for k, v in assets.items()}}
    path = getattr(value, "path", None)
    if isinstance(path, str):
        try:
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            digest = "unreadable"
        return {"file": Path(path).name, "sha256": digest}
    return repr(value)


def scrub(value: Any, name: str = "") -> Any:
    """Plain data with every secret replaced by a `Secret` digest (recursively)."""
    if type(value).__name__ in ("AssetArchive", "FileAsset", "FileArchive", "StringAsset"):
        return _asset(value)
    if is_wrapped_secret(value):
        return Secret.of(scrub(value.get("value")))
    if name and looks_secret(name) and value not in (None, "", [], {}):
        return Secret.of(value)
    if isinstance(value, Mapping):
        return {str(k): scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire format turns every number into a float
    return value


def _leaf_changes(before: Any, after: Any, path: str) -> list[tuple[str, Any, Any]]:
    if before == after:
        return []
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(before) | set(after)):
            sub = f'{path}["{key}"]' if not str(key).isidentifier() else f"{path}.{key}"
            out += _leaf_changes(before.get(key, _ABSENT), after.get(key, _ABSENT), sub)
        return out
    return [(path, before, after)]


class _Absent:
    def __repr__(self) -> str:
        return "(unset)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Absent)

    def __hash__(self) -> int:
        return 0


_ABSENT: Any = _Absent()
ABSENT = _ABSENT


def property_changes(resource_type: str, before: Mapping[str, Any], after: Mapping[str, Any],
                     replace_on_changes: Iterable[str] = (), ignore_changes: Iterable[str] = ()) -> list[PropertyChange]:
    """Every changed input, leaf by leaf, each marked when it forces a replacement.

    `replace_on_changes` and `ignore_changes` are the resource's options of those names
    (top-level property names, `*` for all).
    """
    described = describe(resource_type)
    forcing = set(described.replace_on if described else ()) | {p.split(".")[0].split("[")[0] for p in replace_on_changes}
    ignored = {p.split(".")[0].split("[")[0] for p in ignore_changes}
    out: list[PropertyChange] = []
    for top in sorted(set(before) | set(after)):
        old, new = before.get(top, _ABSENT), after.get(top, _ABSENT)
        if old == new or top in ignored or "*" in ignored:
            continue
        if top in ("policy",) or isinstance(old, Secret) or isinstance(new, Secret):
            leaves = [(top, old, new)]  # shown whole: a policy document, a secret
        else:
            leaves = _leaf_changes(old, new, top)
        replaces = top in forcing or "*" in forcing
        out += [PropertyChange(path, top, o, n, replaces) for path, o, n in leaves]
    return out


def resource_changes(old: Resource, new: Resource) -> list[PropertyChange]:
    """Input changes plus a changed replacement trigger, which always replaces."""
    props = property_changes(new.type, old.inputs, new.inputs, new.replace_on_changes, new.ignore_changes)
    if old.replacement_trigger != new.replacement_trigger and new.replacement_trigger is not None:
        props.append(PropertyChange(TRIGGER, TRIGGER, old.replacement_trigger, new.replacement_trigger, True))
    return props


def group_of(resource: Resource, by_urn: Mapping[str, Resource]) -> Group:
    """The domain or person a resource belongs to (itself when it is one); else the outermost
    component holding it (a roster component, for itself)."""
    node: Resource | None = resource
    top: Resource | None = None
    seen: set[str] = set()
    while node is not None and node.key not in seen:
        seen.add(node.key)
        if node.type in COMPONENT_KINDS:
            return Group(COMPONENT_KINDS[node.type], node.name)
        if not node.custom:
            top = node
        node = by_urn.get(node.parent) if node.parent else None
    if top is not None and not top.type.startswith("pulumi:"):
        kind = ROSTER_COMPONENTS.get(top.type) or COMPONENT_KINDS.get(top.type) or short_type(top.type).lower()
        return Group(kind, top.name)
    # No parent information: fall back to the naming convention `<component>-<role>`.
    owners = sorted((r for r in by_urn.values() if r.type in COMPONENT_KINDS), key=lambda r: -len(r.name))
    for owner in owners:
        if resource.name.startswith(owner.name + "-"):
            return Group(COMPONENT_KINDS[owner.type], owner.name)
    return Group("stack", "")


# --- aliases, as the engine resolves them ---------------------------------------------------

_URN_PREFIX = "urn:pulumi:"


def make_urn(stack: str, project: str, type_: str, name: str, parent_urn: str = "") -> str:
    """A resource's URN: its type qualified by its parent's (none for the stack root)."""
    qualified = type_
    if parent_urn and not _urn_type(parent_urn).endswith("pulumi:pulumi:Stack"):
        qualified = f"{_urn_type(parent_urn)}${type_}"
    return f"{_URN_PREFIX}{stack}::{project}::{qualified}::{name}"


def _urn_parts(urn: str) -> list[str]:
    return urn[len(_URN_PREFIX):].split("::", 3) if urn.startswith(_URN_PREFIX) else ["", "", "", ""]


def _urn_type(urn: str) -> str:
    return _urn_parts(urn)[2]


def _urn_name(urn: str) -> str:
    return _urn_parts(urn)[3]


_STACK_QUALIFIER = "pulumi:pulumi:Stack$"


def engine_urn(urn: str) -> str:
    """A URN as the engine writes it. The SDK's own mock monitor qualifies the types of resources
    at the stack root with the stack's type, and URNs recorded by it may still be compared; the
    engine never qualifies them."""
    parts = _urn_parts(urn)
    if not parts[2].startswith(_STACK_QUALIFIER):
        return urn
    return f"{_URN_PREFIX}{parts[0]}::{parts[1]}::{parts[2][len(_STACK_QUALIFIER):]}::{parts[3]}"


def _spec_urn(resource: Resource, spec: AliasSpec, parent_urn: str) -> str:
    """An alias spec as a URN, for a resource currently under `parent_urn` (engine semantics:
    an empty field is the resource's own; `no_parent` is the stack root)."""
    stack, project = _urn_parts(resource.urn)[:2]
    parent = "" if spec.no_parent else (spec.parent_urn or parent_urn)
    return make_urn(spec.stack or stack, spec.project or project, spec.type or resource.type,
                    spec.name or resource.name, parent)


def alias_urns(resource: Resource, by_urn: Mapping[str, Resource],
               _memo: dict[str, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """Every URN the engine treats as this resource's earlier identity: its own aliases, and for
    each alias of its parent the same resource under that parent (the child renamed when its
    name starts with the parent's, as the engine does), and its own aliases under that parent.

    With N own aliases and M parent aliases that is N + M * (1 + N) URNs, as in the Pulumi
    engine's step generator and the Python SDK's `all_aliases`.
    """
    memo = _memo if _memo is not None else {}
    if resource.key in memo:
        return memo[resource.key]
    memo[resource.key] = ()  # a cycle in bad data ends here
    own_parent = resource.parent
    out: list[str] = []

    def add(urn: str) -> None:
        if urn and urn != resource.urn and urn not in out:
            out.append(urn)

    def own(parent_urn: str) -> list[str]:
        return [a if isinstance(a, str) else _spec_urn(resource, a, parent_urn) for a in resource.aliases]

    for urn in own(own_parent):
        add(urn)
    parent = by_urn.get(own_parent) if own_parent else None
    if parent is not None:
        for parent_alias in alias_urns(parent, by_urn, memo):
            name = resource.name
            if name.startswith(parent.name):
                name = _urn_name(parent_alias) + name[len(parent.name):]
            stack, project = _urn_parts(parent_alias)[:2]
            add(make_urn(stack, project, resource.type, name, parent_alias))
            for spec in resource.aliases:
                if isinstance(spec, AliasSpec) and not spec.no_parent and not spec.parent_urn:
                    add(_spec_urn(resource, spec, parent_alias))
    memo[resource.key] = tuple(out)
    return memo[resource.key]


def diff_resources(base: Sequence[Resource], head: Sequence[Resource]) -> tuple[list[Change], int]:
    """(changes, number unchanged) from base to head.

    A head resource one of whose alias URNs (`alias_urns`) is a base resource's URN is that
    resource: moved under another parent with the same name and inputs it is unchanged (as
    `pulumi up` does nothing to it); renamed, it is an update that says so.
    """
    base_by = {r.key: r for r in base}
    head_by = {r.key: r for r in head}
    renamed: dict[str, str] = {}
    memo: dict[str, tuple[str, ...]] = {}
    for r in head:
        if r.key not in base_by:
            alias = next((a for a in alias_urns(r, head_by, memo) if a in base_by and a not in head_by), None)
            if alias:
                renamed[r.key] = alias

    changes: list[Change] = []
    unchanged = 0
    matched_base = set(renamed.values())
    for r in head:
        old_key = renamed.get(r.key, r.key)
        old = base_by.get(old_key)
        group = group_of(r, head_by)
        if old is None:
            changes.append(Change(CREATE, r.type, r.name, group, None, r))
            continue
        matched_base.add(old_key)
        props = resource_changes(old, r)
        if (not props and old.protect == r.protect and old.retain_on_delete == r.retain_on_delete
                and (old_key == r.key or old.name == r.name)):
            unchanged += r.custom  # the same, or only moved under another parent by an alias
            continue
        op = REPLACE if any(p.forces_replace for p in props) else UPDATE
        changes.append(Change(op, r.type, r.name, group, old, r, props,
                              renamed_from=old.name if old_key != r.key else ""))
    for r in base:
        if r.key not in head_by and r.key not in matched_base:
            changes.append(Change(DELETE, r.type, r.name, group_of(r, base_by), r, None))
    return changes, unchanged


def _canonical(value: Any) -> Any:
    """Order-free form of an output: a list that only changed order (roster order) is the same."""
    if isinstance(value, Mapping):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=repr))
    return value


def diff_outputs(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[str]:
    """Stack outputs whose content changes (reordering a list is not a change)."""
    return sorted(k for k in set(base) | set(head)
                  if _canonical(base.get(k, _ABSENT)) != _canonical(head.get(k, _ABSENT)))


def key_generations(resources_: Sequence[Resource]) -> dict[Group, set[int]]:
    """Each person's access key generations (an access key's replacement trigger)."""
    by_urn = {r.key: r for r in resources_}
    out: dict[Group, set[int]] = {}
    for r in resources_:
        if r.type == ACCESS_KEY and isinstance(r.replacement_trigger, int):
            out.setdefault(group_of(r, by_urn), set()).add(r.replacement_trigger)
    return out


def key_rotations(base: Sequence[Resource], head: Sequence[Resource]) -> list[tuple[Group, str]]:
    """What changes in who holds which key generation, per person present on both sides."""
    before, after = key_generations(base), key_generations(head)
    out = []
    for group in sorted(set(before) & set(after), key=_group_order):
        old, new = before[group], after[group]
        if old == new:
            continue
        current, was = max(new), max(old)
        if current > was:
            text = f"key generation {current} becomes current; "
            text += (f"generation {current - 1} keeps working until previous_key is removed"
                     if current - 1 in new else
                     f"generation {was} stops working at this `pulumi up` (no previous_key)")
        else:
            gone = ", ".join(str(g) for g in sorted(old - new))
            text = f"key generation {gone} retired (previous_key removed); generation {current} stays current"
        out.append((group, text))
    return out


def diff_stack(base: Sequence[Resource], head: Sequence[Resource],
               base_outputs: Mapping[str, Any] | None = None,
               head_outputs: Mapping[str, Any] | None = None) -> StackDiff:
    changes, unchanged = diff_resources(base, head)
    return StackDiff(changes, unchanged, diff_outputs(base_outputs or {}, head_outputs or {}),
                     key_rotations(base, head))


#: Reading order within a group: components, then what a domain or person is made of.
_TYPE_ORDER = [
    "ses-mail:index:SesMail", "ses-mail:index:SendingDomain", "ses-mail:index:SmtpSender",
    IDENTITY, MAIL_FROM, RECORD, CLOUDFLARE_RECORD, USER, USER_POLICY, ACCESS_KEY,
]


def _change_order(change: Change) -> tuple[int, str]:
    rank = _TYPE_ORDER.index(change.type) if change.type in _TYPE_ORDER else len(_TYPE_ORDER)
    return rank, change.name


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def resources(items: Iterable[tuple[str, str, Mapping[str, Any], Any]]) -> list[Resource]:
    """Build `Resource`s from (type, name, inputs, options-or-None), scrubbing secrets."""
    out = []
    for type_, name, inputs, options in items:
        aliases = tuple(engine_urn(a) if isinstance(a, str) else a for a in getattr(options, "aliases", ()) or ())
        out.append(Resource(
            type=type_, name=name, inputs=scrub(dict(inputs)),
            urn=engine_urn(getattr(options, "urn", "") or ""),
            parent=engine_urn(getattr(options, "parent", "") or ""),
            protect=bool(getattr(options, "protect", False)),
            retain_on_delete=bool(getattr(options, "retain_on_delete", False)),
            aliases=aliases,
            replace_on_changes=tuple(getattr(options, "replace_on_changes", ()) or ()),
            ignore_changes=tuple(getattr(options, "ignore_changes", ()) or ()),
            replacement_trigger=scrub(_number(getattr(options, "replacement_trigger", None))),
            delete_before_replace=bool(getattr(options, "delete_before_replace", False)),
        ))
    return out
