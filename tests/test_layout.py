"""The package's layout rules, read from the source with `ast` (nothing is imported to check them).

- ses_mail/roster and ses_mail/specs are the pure core: plain data and functions, no Pulumi SDK
  or provider, so that validation, the CLI tools and the benchmarks run without an engine.
- Outside ses_mail/review/ (whose emulation drives the SDK's mock engine and uses its internals
  on purpose), the program uses the Pulumi SDK through its public API: no module or name that is
  private (a segment starting with `_`) or a submodule of `pulumi.runtime` that the SDK does not
  export. The few places where no public API exists are listed, each with its reason.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pulumi.runtime

PACKAGE = Path(__file__).resolve().parent.parent / "ses_mail"
PURE = ("roster", "specs", "modes", "stack_settings.py")

#: Private SDK uses with no public equivalent: (file, dotted name) -> why.
KNOWN_PRIVATE = {
    ("components/ses_mail.py", "pulumi.runtime.settings.monitor_supports_feature"):
        "asks the engine whether it supports the replacementTrigger resource option before key "
        "generations above 2 rely on it; the SDK has no public feature query "
        "(require_pulumi_version checks the CLI's version, not the engine's features)",
    ("components/ses_mail.py", "pulumi.runtime.proto.resource_pb2.RESOURCE_MONITOR_FEATURE_REPLACEMENT_TRIGGER"):
        "the feature's identifier for the query above; the protobuf module is not re-exported",
}


def _sources(*parts: str) -> list[Path]:
    path = PACKAGE.joinpath(*parts)
    return [path] if path.is_file() else sorted(path.rglob("*.py"))


def _imported_modules(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _pulumi_names(tree: ast.AST) -> set[str]:
    """Every `pulumi...` name the module uses: imported (`from pulumi.x import y` is `pulumi.x.y`),
    or reached by attribute (`pulumi.runtime.is_dry_run`), and what names imported from
    pulumi modules are then reached through (`resource_pb2.FEATURE` is `pulumi.runtime.proto.resource_pb2.FEATURE`)."""
    names: set[str] = set()
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "pulumi" or alias.name.startswith("pulumi."):
                    names.add(alias.name)
                    if alias.asname:
                        aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module == "pulumi" or node.module.startswith("pulumi.")):
            for alias in node.names:
                names.add(f"{node.module}.{alias.name}")
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and not isinstance(getattr(node, "parent", None), ast.Attribute):
            dotted = _dotted(node)
            if dotted is None:
                continue
            head, _, rest = dotted.partition(".")
            if head == "pulumi":
                names.add(dotted)
            elif head in aliases:
                names.add(f"{aliases[head]}.{rest}")
    return names


def _private(name: str) -> bool:
    parts = name.split(".")
    if any(p.startswith("_") for p in parts):
        return True
    # pulumi.runtime's public surface is its __all__ (its submodule `rpc` included).
    return parts[:2] == ["pulumi", "runtime"] and len(parts) > 2 and parts[2] not in pulumi.runtime.__all__


def test_pure_core_imports_no_pulumi():
    offenders = []
    for path in [p for part in PURE for p in _sources(part)]:
        for module in _imported_modules(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if module.split(".")[0] == "pulumi" or module.startswith("pulumi_"):
                offenders.append(f"{path.relative_to(PACKAGE)}: {module}")
    assert offenders == [], f"the pure core ({PURE}) must not import Pulumi"


def test_program_uses_only_the_public_pulumi_sdk_outside_the_review_engine():
    used: set[tuple[str, str]] = set()
    for path in _sources():
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("review/"):
            continue  # the mock engine's emulation: SDK internals on purpose
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        _link_parents(tree)
        used |= {(relative, name) for name in _pulumi_names(tree) if _private(name)}

    def known(file: str, name: str) -> bool:  # the listed name, or the import it comes from
        return any(file == k_file and (k_name == name or k_name.startswith(name + "."))
                   for k_file, k_name in KNOWN_PRIVATE)

    assert sorted(u for u in used if not known(*u)) == [], (
        "private Pulumi SDK use outside ses_mail/review/: use the public API, or list it in "
        "KNOWN_PRIVATE with the reason no public API serves")
    assert set(KNOWN_PRIVATE) <= used, "KNOWN_PRIVATE lists a use that is gone: remove it"


def _link_parents(tree: ast.AST) -> None:
    """Mark each node's parent, so that an attribute chain is taken whole, not link by link."""
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child.parent = node  # type: ignore[attr-defined]


def test_the_checks_see_what_they_look_for():
    tree = ast.parse("import pulumi\nfrom pulumi.runtime.settings import x as y\n"
                     "from pulumi.runtime import rpc\nz = pulumi.runtime.is_dry_run() or y\n")
    _link_parents(tree)
    names = _pulumi_names(tree)
    assert {"pulumi", "pulumi.runtime.settings.x", "pulumi.runtime.rpc", "pulumi.runtime.is_dry_run"} <= names
    assert [n for n in sorted(names) if _private(n)] == ["pulumi.runtime.settings.x"]
    assert _imported_modules(ast.parse("from pulumi_aws import ses\nimport yaml")) == {"pulumi_aws", "yaml"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere (top level, in functions, and under
    TYPE_CHECKING: a typing-only import is still a dependency a reader has to follow)."""
    modules = {_module_name(p): p for p in _sources()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                assert node.level == 0, f"{path}: relative import"
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """ses_mail.<package> -> the other ses_mail packages (or top-level modules) it imports."""
    top = lambda m: ".".join(m.split(".")[:2])  # noqa: E731
    out: dict[str, set[str]] = {}
    for module, deps in graph.items():
        out.setdefault(top(module), set()).update(top(d) for d in deps if top(d) != top(module))
    return out


def test_no_import_cycle_between_modules_or_packages():
    graph = _import_graph()
    assert _cycles(graph) == [], "modules importing each other (directly or round a loop)"
    assert _cycles(_packages(graph)) == [], "packages importing each other: the pure core is specs <- modes <- roster"


def test_the_cycle_check_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert _packages({"ses_mail.x.m": {"ses_mail.y.n"}, "ses_mail.y.n": {"ses_mail.x.k"}}) == {
        "ses_mail.x": {"ses_mail.y"}, "ses_mail.y": {"ses_mail.x"}}
