"""One Output for a whole nested structure of plain values and Outputs, built cheaply.

`pulumi.Output.from_input({...})` wraps every plain leaf of a structure in an Output of its own
and gathers every dict and list level separately; for a stack output holding a dict per person
that is dozens of Outputs and tasks per person. `gather` awaits only the structure's Output
leaves, in one `Output.all`, and fills them in with a single apply: same value, secretness
and dependencies, a fraction of the cost (see docs/review-and-ci.md, Benchmark).

`secret=True` marks the result secret. `Output.secret(gather(...))` would do the same, but
`Output.secret` first unwraps its whole value again with `Output.from_input`: several Outputs
per person for a stack output with a dict per person.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import pulumi


class _Leaf:
    """Where the index-th Output leaf goes back in."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def gather(tree: Any, then: Optional[Callable[[Any], Any]] = None, *, secret: bool = False) -> pulumi.Output:
    """`tree` (dicts, lists, tuples, plain values and Outputs) as one Output; `then` maps the result.

    With `secret`, the result is a secret Output, known or not.
    """
    leaves: list[pulumi.Output] = []

    def template(node: Any) -> Any:
        if isinstance(node, pulumi.Output):
            leaves.append(node)
            return _Leaf(len(leaves) - 1)
        if isinstance(node, dict):
            return {key: template(value) for key, value in node.items()}
        if isinstance(node, (list, tuple)):
            return [template(value) for value in node]
        return node

    shape = template(tree)
    if secret:
        # Output.all is secret when any of its inputs is: one more, secret, input (never filled
        # in) marks the whole result.
        leaves.append(pulumi.Output.secret(None))

    def fill(node: Any, values: list[Any]) -> Any:
        if isinstance(node, _Leaf):
            return values[node.index]
        if isinstance(node, dict):
            return {key: fill(value, values) for key, value in node.items()}
        if isinstance(node, list):
            return [fill(value, values) for value in node]
        return node

    def build(values: list[Any]) -> Any:
        result = fill(shape, list(values))
        return then(result) if then is not None else result

    return pulumi.Output.all(*leaves).apply(build)
