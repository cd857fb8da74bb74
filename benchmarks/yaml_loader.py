"""By-hand timing of the roster YAML loader (not a test): the previous loader (libyaml compose +
construct, then a recursive walk for line numbers) against ses_mail/roster/yaml_source.py.

    venv/bin/python tools/yaml_source_timing.py [--people 5000] [--repeat 7]
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ses_mail.roster.yaml_source import read_document

# --- the previous loader, as it was in core/roster.py before ses_mail.roster.yaml_source (kept here only to compare) ---

_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(text: str, loader_class: type) -> tuple[Any, Any]:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return node, loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def _load_yaml(text: str) -> tuple[Any, Any]:
    try:
        return _read_yaml(text, _FAST_LOADER)
    except yaml.YAMLError:
        return _read_yaml(text, yaml.SafeLoader)


class _Lines:
    def __init__(self) -> None:
        self.lines: dict[tuple, int] = {}
        self.duplicates: list[tuple[tuple, int]] = []

    def walk(self, node: Any, path: tuple = ()) -> None:
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


def old(text: str) -> Any:
    node, data = _load_yaml(text)
    lines = _Lines()
    lines.walk(node)
    return data, lines


def old_gc_paused(text: str) -> Any:
    """The previous loader with the garbage collector paused as read_document does: the
    comparison of the loaders alone."""
    gc.disable()
    try:
        return old(text)
    finally:
        gc.enable()


def new(text: str) -> Any:
    document = read_document(text)
    return document.data, document


# --- rosters ---------------------------------------------------------------------------------

def terse(people: int) -> str:
    """As offline/benchmark.py: email and name per person, one domain per 50 people."""
    domains = max(1, people // 50)
    lines = ["domains:", *(f"  - name: bench-{d}.example.com" for d in range(domains)), "people:"]
    for p in range(people):
        lines += [f"  - email: user{p}@bench-{p % domains}.example.com", f"    name: Bench User {p}"]
    return "\n".join(lines) + "\n"


def full(people: int) -> str:
    """Every optional field of a person filled in (no pgp_key), DMARC reports per domain."""
    domains = max(1, people // 50)
    lines = ["domains:"]
    for d in range(domains):
        lines += [f"  - name: bench-{d}.example.com", f"    zone: bench-{d}.example.com", "    mail_from: mail",
                  "    ttl: 600", "    dmarc:", "      policy: quarantine", f"      rua: [dmarc@bench-{d}.example.com]"]
    lines += ["defaults:", "  allowed_ips: [203.0.113.0/24]", "  display_name: false", "people:"]
    for p in range(people):
        lines += [f"  - email: user{p}@bench-{p % domains}.example.com", f"    name: Bench User {p}",
                  "    status: active", "    key: 2", "    previous_key: 1", "    display_name: true",
                  "    allowed_ips: [203.0.113.0/24, 198.51.100.7/32]",
                  f"    recipients: ['*@bench-{p % domains}.example.com', '*@example.org']", "    delivery: output"]
    return "\n".join(lines) + "\n"


def merged(people: int) -> str:
    """As `full`, with each person's shared settings merged from one anchored mapping."""
    domains = max(1, people // 50)
    lines = ["domains:", *(f"  - name: bench-{d}.example.com" for d in range(domains))]
    lines += ["x-person: &person", "  status: active", "  allowed_ips: [203.0.113.0/24, 198.51.100.7/32]",
              "  recipients: ['*@example.org']", "  delivery: output", "people:"]
    for p in range(people):
        lines += ["  - <<: *person", f"    email: user{p}@bench-{p % domains}.example.com", f"    name: Bench User {p}"]
    return "\n".join(lines) + "\n"


def nodes(text: str) -> int:
    return sum(1 for e in yaml.parse(text, Loader=_FAST_LOADER)
               if isinstance(e, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)))


def best(fn: Any, text: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(text)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak(fn: Any, text: str) -> float:
    tracemalloc.start()
    fn(text)
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    for name, make in (("terse", terse), ("full", full), ("merged", merged)):
        text = make(args.people)
        if name != "merged":
            assert old(text)[0] == new(text)[0]
            assert old(text)[1].lines == new(text)[1].lines
        t_old, t_paused, t_new = (best(f, text, args.repeat) for f in (old, old_gc_paused, new))
        print(f"{name:6} {args.people:,} people, {len(text.encode()) / 1e6:.2f} MB, {nodes(text):,} nodes: "
              f"old {t_old * 1000:.0f} ms (gc paused {t_paused * 1000:.0f} ms), new {t_new * 1000:.0f} ms, "
              f"ratio {t_new / t_old:.2f} (to gc-paused old {t_new / t_paused:.2f}); "
              f"heap peak old {peak(old, text):.1f} MiB, new {peak(new, text):.1f} MiB")


if __name__ == "__main__":
    main()
