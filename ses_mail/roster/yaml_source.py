"""A roster's YAML text read with bounded cost, line numbers by data path, and real duplicates.

`read_document` turns text into plain data (dicts, lists, scalars) or raises `YamlRefused`
listing what is wrong, each with a line and a data path. Whatever the text, it costs at most
MAX_DOCUMENT_BYTES of input, MAX_DEPTH levels of nesting and MAX_NODES values after alias
expansion, and nothing escapes but `YamlRefused`:

- the size is checked before parsing;
- the document is composed here, iteratively, from the parser's event stream (libyaml's when
  PyYAML has it), so depth and the alias expansion are checked on each event, before anything
  deeper or bigger is built; PyYAML's own composer and `_Lines`-style walks are recursive;
- anchors and aliases are allowed, and so are merge keys (`<<: *base`) with YAML's semantics:
  keys written in the mapping override merged ones and are not "given twice";
- explicit tags are refused (except `!!str`): what a reviewer reads is what the roster says;
- what libyaml rejects is parsed again with PyYAML's pure-Python parser, for its messages
  (up to PURE_PYTHON_BYTES; a bigger text gets libyaml's message, in bounded time).

Imports only the standard library and PyYAML.
"""
from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import (
    AliasEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

#: Bytes of UTF-8: room for a 5,000-person roster with every optional field and a PGP key for a
#: good share of the people. Parsing cost is bounded by MAX_NODES, not by the bytes.
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024

#: Levels of nested mappings and sequences, counted after alias expansion. A roster needs 5 (the
#: document, domains, a domain, its dmarc, dmarc's rua): 32 is ample, and keeps every recursive
#: consumer of the data (PyYAML's constructor, pydantic, repr of an offending value) far from
#: Python's recursion limit.
MAX_DEPTH = 32

#: Nodes (mappings, sequences, keys and scalar values) after alias expansion: the work that
#: validating the data does, whatever the text. Room for a 5,000-person roster with every
#: optional field (benchmarks/yaml_loader.py measures it), while a text at the bound is still
#: refused quickly.
MAX_NODES = 200_000

#: Up to this size, text libyaml rejects is parsed again by PyYAML's pure-Python parser for its
#: messages, which is slow; above it, libyaml's own message (with its line) is given.
PURE_PYTHON_BYTES = 256 * 1024

Path = tuple[Any, ...]

_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_YAML_TAG_PREFIX = "tag:yaml.org,2002:"


@dataclass(frozen=True)
class SourceProblem:
    """One reason the text was refused: line (1-based, or None), data path, message."""

    line: int | None
    path: Path
    message: str


class YamlRefused(Exception):
    """The text is not a YAML document this loader accepts; `problems` says why, each located."""

    def __init__(self, problems: list[SourceProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"line {p.line}: {p.message}" if p.line else p.message for p in problems))


@dataclass
class Document:
    """The data of one YAML document, with the line of every mapping key and sequence item."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    #: keys written twice in one mapping, at their second occurrence (merged keys do not count)
    duplicates: list[tuple[Path, int]] = field(default_factory=list)

    def line(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest enclosing path that has one: a missing field
        points at its parent, a value inside an alias at the alias."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def read_document(text: str) -> Document | None:
    """The document in `text`, or None if there is none (empty, or only comments)."""
    _check_size(text)
    # Nodes are made by the hundred thousand and all kept: the cyclic garbage collector would
    # scan them again and again to find nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _read(text)
    finally:
        if enabled:
            gc.enable()


def _read(text: str) -> Document | None:
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is None:
        return _read_pure(text)
    try:
        return _Composer(_loader(fast, text), text).read()
    except yaml.MarkedYAMLError as err:
        if "maximum nesting depth" in str(err.problem):  # libyaml's own bound (1,000 levels)
            raise YamlRefused([_too_deep(_line(err.problem_mark), ())]) from None
        if len(text) > PURE_PYTHON_BYTES:
            raise YamlRefused([_syntax_problem(err, text)]) from None
    except yaml.YAMLError as err:
        if len(text) > PURE_PYTHON_BYTES:
            raise YamlRefused([_syntax_problem(err, text)]) from None
    # libyaml rejected the text: read it again with the pure-Python parser, whose messages are
    # PyYAML's own (and which accepts a few things libyaml does not). Its events alone first:
    # a syntax error is found at half the cost of composing along.
    try:
        loader = yaml.SafeLoader(text)  # checks the characters at once
        try:
            while loader.check_event():
                loader.get_event()
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        raise YamlRefused([_syntax_problem(err, text)]) from None
    return _read_pure(text)


def _read_pure(text: str) -> Document | None:
    try:
        return _Composer(_loader(yaml.SafeLoader, text), text).read()
    except yaml.YAMLError as err:
        raise YamlRefused([_syntax_problem(err, text)]) from None


# --- bounds ---------------------------------------------------------------------------------

def _check_size(text: str) -> None:
    if len(text) > MAX_DOCUMENT_BYTES:  # at least one byte per character: no need to encode
        size = len(text)
    else:
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError as err:  # a lone surrogate: not text any file could hold
            line = text.count("\n", 0, err.start) + 1
            raise YamlRefused([SourceProblem(line, (), f"is not valid YAML: character {ord(text[err.start]):#x} "
                                                        "is not Unicode text (a lone surrogate)")]) from None
    if size > MAX_DOCUMENT_BYTES:
        raise YamlRefused([SourceProblem(None, (), f"is {size:,} bytes: a roster may have at most "
                                                   f"{MAX_DOCUMENT_BYTES:,} ({MAX_DOCUMENT_BYTES // 2**20} MiB)")])


def _too_deep(line: int | None, path: Path) -> SourceProblem:
    return SourceProblem(line, path, f"nests mappings and lists more than {MAX_DEPTH} levels deep "
                                     "(counting what aliases bring in): a roster needs 5")


def _too_many(line: int | None, path: Path) -> SourceProblem:
    return SourceProblem(line, path, f"makes the roster more than {MAX_NODES:,} keys and values "
                                     "once aliases (`*name`) are expanded: write the values out, or use fewer aliases")


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG_PREFIX):] if tag.startswith(_YAML_TAG_PREFIX) else tag


def _syntax_problem(err: yaml.YAMLError, text: str) -> SourceProblem:
    if isinstance(err, yaml.reader.ReaderError):
        line = text.count("\n", 0, err.position) + 1 if isinstance(err.position, int) else None
        character = f"#x{err.character:04x}" if isinstance(err.character, int) else repr(err.character)
        return SourceProblem(line, (), f"is not valid YAML: unacceptable character {character}: {err.reason}")
    mark = getattr(err, "problem_mark", None)
    reason = getattr(err, "problem", None) or str(err)
    return SourceProblem(_line(mark), (), f"is not valid YAML: {reason}")


# --- loading --------------------------------------------------------------------------------

class _GuardedConstructor:
    """SafeConstructor's conversions, with a value they cannot convert (an implicit timestamp
    such as 2024-13-45, an int such as 0x_) reported as a ConstructorError at its line rather
    than escaping as ValueError."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)  # type: ignore[misc]
        except yaml.YAMLError:
            raise
        except Exception as err:  # noqa: BLE001 - any conversion failure of one value
            raise ConstructorError(None, None, f"{node.value!r} reads as a {_short_tag(node.tag)[2:]} but is not a valid "
                                   f"one ({err}): quote it to make it text", node.start_mark) from None


def _loader(base: type, text: str) -> Any:
    cls = _LOADERS.get(base)
    if cls is None:
        cls = _LOADERS[base] = type(f"Guarded{base.__name__}", (_GuardedConstructor, base), {})
    return cls(text)


_LOADERS: dict[type, type] = {}

#: a key not yet read in a mapping frame
_NO_KEY = object()


class _Frame:
    """A mapping or sequence being composed."""

    __slots__ = ("node", "path", "anchor", "size", "height", "index", "is_map", "key_node", "child", "merge_line",
                 "seen", "merges")

    def __init__(self, node: yaml.Node, path: Path, anchor: str | None, is_map: bool) -> None:
        self.node = node
        self.path = path
        self.anchor = anchor
        self.size = 1          # nodes after expansion, itself included
        self.height = 0        # levels of collections below it, after expansion
        self.index = 0         # next sequence index
        self.is_map = is_map
        self.key_node: Any = _NO_KEY  # the key whose value comes next, in a mapping
        self.child: Path = ()  # that key's data path
        self.merge_line = 0    # the key's line if it is a merge key `<<`, else 0
        self.seen: set[Any] = set()
        self.merges: list[tuple[int, Path, yaml.Node]] = []


class _Composer:
    """Builds PyYAML's node tree from events, without recursion, checking bounds on each event
    and recording line numbers and duplicate keys by data path as it goes."""

    def __init__(self, loader: Any, text: str) -> None:
        self.loader = loader
        self.text = text
        self.lines: dict[Path, int] = {}
        self.duplicates: list[tuple[Path, int]] = []
        self.problems: list[SourceProblem] = []
        #: anchor -> (node, nodes after expansion, height, line); anchors of finished nodes only
        self.anchors: dict[str, tuple[yaml.Node, int, int, int]] = {}
        self.open_anchors: dict[str, int] = {}  # anchors of collections still being composed
        self.merge_sources: dict[int, list[yaml.Node]] = {}  # id(mapping) -> mappings merged into it
        self.merge_depth: dict[int, int] = {}
        self.merged_keys: dict[int, list[Any]] = {}

    def read(self) -> Document | None:
        loader = self.loader
        try:
            get = loader.get_event
            get()  # StreamStartEvent
            event = get()
            if type(event) is StreamEndEvent:
                return None
            start = event  # DocumentStartEvent
            root = self._compose()
            get()  # DocumentEndEvent (the parser guarantees it)
            event = get()
            if type(event) is not StreamEndEvent:
                self.problems.append(SourceProblem(
                    _line(event.start_mark), (), "is not valid YAML: expected a single document, but found another "
                    f"document (the first starts on line {_line(start.start_mark)}): a roster is one document"))
            if self.problems:
                raise YamlRefused(self.problems)
            try:
                data = loader.construct_document(root)
            except yaml.YAMLError as err:  # not retried with the pure-Python parser: same result
                raise YamlRefused([_syntax_problem(err, self.text)]) from None
            return Document(data, self.lines, self.duplicates)
        finally:
            loader.dispose()

    def _refuse(self, problem: SourceProblem) -> None:
        raise YamlRefused([*self.problems, problem])

    def _compose(self) -> yaml.Node:
        # One loop over the events, with the common case (a plain scalar) kept short: this runs
        # once per key and value of the roster.
        get = self.loader.get_event
        resolve = self.loader.resolve
        lines = self.lines
        duplicates = self.duplicates
        anchors = self.anchors
        open_anchors = self.open_anchors
        stack: list[_Frame] = []
        parent: _Frame | None = None  # stack[-1]
        total = 0
        while True:
            event = get()
            kind = type(event)
            if kind is ScalarEvent or kind is AliasEvent:
                line = event.start_mark.line + 1
                if parent is None:
                    path: Path = ()
                    lines[path] = line
                elif parent.is_map:
                    path = parent.child if parent.key_node is not _NO_KEY else (
                        (*parent.path, event.value) if kind is ScalarEvent else (*parent.path, None))
                else:
                    path = (*parent.path, parent.index)
                    lines[path] = line
                if kind is ScalarEvent:
                    total += 1
                    if total > MAX_NODES:
                        self._refuse(_too_many(line, path))
                    value = event.value
                    tag = event.tag
                    if tag is not None and tag != _STR_TAG:
                        self._tag_problem(tag, line, path)
                        tag = None
                    if tag is None:
                        tag = resolve(ScalarNode, value, event.implicit)
                    node = ScalarNode(tag, value, event.start_mark, event.end_mark, style=event.style)
                    size = 1
                    height = 0
                    anchor = event.anchor
                    if anchor is not None:
                        self._anchor(anchor, line, path)
                        anchors[anchor] = (node, 1, 0, line)
                else:
                    node, size, height = self._alias(event, path, line, len(stack), total)
                    total += size
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                line = event.start_mark.line + 1
                if parent is None:
                    path = ()
                    lines[path] = line
                elif parent.is_map:
                    if parent.key_node is _NO_KEY:
                        self._refuse(SourceProblem(line, parent.path, "has a mapping or list as a key: keys are plain text"))
                    path = parent.child
                else:
                    path = (*parent.path, parent.index)
                    lines[path] = line
                total += 1
                if total > MAX_NODES:
                    self._refuse(_too_many(line, path))
                if len(stack) >= MAX_DEPTH:
                    self._refuse(_too_deep(line, path))
                tag = event.tag
                if tag is not None:
                    self._tag_problem(tag, line, path)
                is_map = kind is MappingStartEvent
                node_class = MappingNode if is_map else SequenceNode
                node = node_class(resolve(node_class, None, event.implicit), [], event.start_mark, None,
                                  flow_style=event.flow_style)
                anchor = event.anchor
                if anchor is not None:
                    self._anchor(anchor, line, path)
                    open_anchors[anchor] = line
                parent = _Frame(node, path, anchor, is_map)
                stack.append(parent)
                continue
            else:  # MappingEndEvent or SequenceEndEvent: the parser pairs them with their starts
                frame = stack.pop()
                parent = stack[-1] if stack else None
                node = frame.node
                node.end_mark = event.end_mark
                if frame.merges:
                    self._merge(frame)
                size = frame.size
                height = frame.height + 1
                if frame.anchor is not None:
                    anchors[frame.anchor] = (node, size, height, _line(node.start_mark))
                    del open_anchors[frame.anchor]
            # A node is complete: attach it to its parent.
            if parent is None:
                return node
            parent.size += size
            if height > parent.height:
                parent.height = height
            if not parent.is_map:
                parent.node.value.append(node)
                parent.index += 1
            elif parent.key_node is not _NO_KEY:
                parent.node.value.append((parent.key_node, node))
                if parent.merge_line:
                    parent.merges.append((parent.merge_line, parent.child, node))
                parent.key_node = _NO_KEY
            else:  # a key: a scalar, or an alias (`line` is the alias's, not its anchor's)
                if type(node) is not ScalarNode:
                    self._refuse(SourceProblem(line, parent.path, "has a mapping or list as a key: keys are plain text"))
                key = node.value
                if kind is AliasEvent:
                    path = (*parent.path, key)
                lines[path] = line
                if key in parent.seen:
                    duplicates.append((path, line))
                parent.seen.add(key)
                parent.key_node = node
                parent.child = path
                parent.merge_line = line if node.tag == _MERGE_TAG else 0

    def _tag_problem(self, tag: str, line: int, path: Path) -> None:
        self.problems.append(SourceProblem(
            line, path, f"has the YAML tag {_short_tag(tag)}: a roster takes plain values only, which a reviewer "
            "reads as written (remove the tag; quote a value to make it text)"))

    def _anchor(self, anchor: str, line: int, path: Path) -> None:
        if anchor in self.anchors or anchor in self.open_anchors:
            first = self.anchors[anchor][3] if anchor in self.anchors else self.open_anchors[anchor]
            self.problems.append(SourceProblem(line, path, f"defines the anchor &{anchor} again (first on line "
                                                           f"{first}): give each anchor its own name"))

    def _alias(self, event: Any, path: Path, line: int, depth: int, total: int) -> tuple[yaml.Node, int, int]:
        name = event.anchor
        if name in self.anchors:
            node, size, height, _ = self.anchors[name]
            if depth + height > MAX_DEPTH:
                self._refuse(_too_deep(line, path))
            if total + size > MAX_NODES:
                self._refuse(_too_many(line, path))
            return node, size, height
        if name in self.open_anchors:
            message = (f"refers with *{name} to the node that contains it (line {self.open_anchors[name]}): "
                       "a roster cannot contain itself")
        else:
            message = f"refers to the anchor &{name}, which is not defined before it"
        self.problems.append(SourceProblem(line, path, message))
        return ScalarNode(_NULL_TAG, "", event.start_mark, event.end_mark), 1, 0

    def _merge(self, frame: _Frame) -> None:
        """Merge keys of a finished mapping: check what they merge, and give the merged keys
        the line of their `<<` unless the mapping writes them itself (which then overrides)."""
        sources: list[yaml.Node] = []
        for line, path, value in frame.merges:
            items = [value] if type(value) is MappingNode else value.value if type(value) is SequenceNode else None
            if items is None or any(type(item) is not MappingNode for item in items):
                self.problems.append(SourceProblem(line, path, "merges (`<<`) something that is not a mapping: write "
                                                               "`<<: *name` or `<<: [*a, *b]` with anchored mappings"))
                continue
            for item in items:
                for key in self._keys(item):
                    self.lines.setdefault((*frame.path, key), line)
            sources += items
        if not sources:
            return
        depth = 1 + max(self.merge_depth.get(id(s), 0) for s in sources)
        if depth > MAX_DEPTH:
            self._refuse(SourceProblem(frame.merges[0][0], frame.path,
                                       f"merges (`<<`) mappings that merge others, more than {MAX_DEPTH} levels deep"))
        self.merge_depth[id(frame.node)] = depth
        self.merge_sources[id(frame.node)] = sources

    def _keys(self, node: yaml.Node) -> list[Any]:
        """The keys a mapping has once its own merges are applied (recursion bounded by
        MAX_DEPTH levels of merges)."""
        keys = self.merged_keys.get(id(node))
        if keys is None:
            keys = [k.value for k, _ in node.value if type(k) is ScalarNode and k.tag != _MERGE_TAG]
            for source in self.merge_sources.get(id(node), ()):
                keys += self._keys(source)
            self.merged_keys[id(node)] = keys
        return keys
