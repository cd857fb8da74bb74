"""The Pulumi bulk import file, derived from what the program registers.

`pulumi import --file FILE` reads `{"nameTable": {name: URN}, "resources": [...]}`; each
resource has `type`, `name` (how other entries refer to it as `parent`), `id` (the provider's
import id) and `parent`, and a component resource is an entry with `component: true` and no
id, which the engine creates empty (Pulumi 3.94+; `logicalName` is the resource's own name when
`name` had to be made unique within the file). Types, names and parents are taken from a run of
the real program under the mock engine, never written down here, so a renamed or re-parented
resource changes the file with it. How each type is imported (its id) is the type's `import_id`
in `ses_mail.resource_types`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ses_mail.review.changes import LOCAL_PACKAGES

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Node:
    """A registered resource: what the import file needs of it."""

    type: str
    name: str
    urn: str
    parent: str               # parent URN ("" for none)
    inputs: Mapping[str, Any]

    @property
    def component(self) -> bool:
        """A component (this program's types), as the plan diff tells them from cloud resources."""
        return self.type.startswith(LOCAL_PACKAGES) and self.type != STACK_TYPE


@dataclass(frozen=True)
class Entry:
    type: str
    name: str
    id: str = ""
    parent: str = ""          # the `name` of another entry
    component: bool = False
    logical_name: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "name": self.name}
        if self.logical_name:
            out["logicalName"] = self.logical_name
        if self.component:
            out["component"] = True
        else:
            out["id"] = self.id
        if self.parent:
            out["parent"] = self.parent
        return out


def nodes_of(run: Any) -> list[Node]:
    """Every registration of a `ProgramRun` with its URN and parent URN (engine options)."""
    out = []
    for (type_, name), options in run.options.items():
        registration = next((r for r in run.registrations if r.type == type_ and r.name == name), None)
        out.append(Node(type_, name, options.urn, options.parent,
                        dict(registration.inputs) if registration else {}))
    return out


def ancestry(node: Node, by_urn: Mapping[str, Node]) -> list[Node]:
    """`node`'s ancestors below the stack, outermost first. Only components can be ancestors
    of an imported resource; anything else raises."""
    chain: list[Node] = []
    seen = {node.urn}
    parent = by_urn.get(node.parent) if node.parent else None
    while parent is not None and parent.type != STACK_TYPE:
        if parent.urn in seen:
            raise ValueError(f"parent cycle at {parent.urn}")
        if not parent.component:
            raise ValueError(f"{node.type} {node.name} has a custom resource as parent ({parent.urn}); "
                             "an import file can only create component parents")
        seen.add(parent.urn)
        chain.append(parent)
        parent = by_urn.get(parent.parent) if parent.parent else None
    return list(reversed(chain))


def build(nodes: Iterable[Node], chosen: Iterable[tuple[Node, str]]) -> dict[str, Any]:
    """The import file for `chosen` (node, import id) pairs, with a component entry for every
    ancestor component, parents first. `nodes` is every registration (for the parent chain)."""
    by_urn = {n.urn: n for n in nodes}
    ordered: list[tuple[Node, str]] = []
    placed: set[str] = set()
    for node, import_id in chosen:
        for ancestor in ancestry(node, by_urn):
            if ancestor.urn not in placed:
                placed.add(ancestor.urn)
                ordered.append((ancestor, ""))
        if node.urn not in placed:
            placed.add(node.urn)
            ordered.append((node, import_id))

    # `name` keys parent references, so it must be unique in the file; the resource's own
    # name goes to `logicalName` where it is not.
    counts: dict[str, int] = {}
    for node, _ in ordered:
        counts[node.name] = counts.get(node.name, 0) + 1
    key = {node.urn: (node.name if counts[node.name] == 1 else f"{node.name} ({node.type})") for node, _ in ordered}

    entries = [Entry(type=node.type, name=key[node.urn], id=import_id,
                     parent=key.get(node.parent, ""), component=node.component,
                     logical_name=node.name if key[node.urn] != node.name else "")
               for node, import_id in ordered]
    return {"nameTable": {}, "resources": [e.as_json() for e in entries]}


def parent_chain(document: Mapping[str, Any], name: str) -> list[tuple[str, str]]:
    """(type, resource name) of an entry's ancestors in an import file, outermost first."""
    by_name = {e["name"]: e for e in document["resources"]}
    chain: list[tuple[str, str]] = []
    entry = by_name[name]
    while entry.get("parent"):
        entry = by_name[entry["parent"]]
        chain.append((entry["type"], entry.get("logicalName") or entry["name"]))
    return list(reversed(chain))
