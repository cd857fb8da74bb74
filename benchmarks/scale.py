"""Scale benchmark: the program under the mock engine against a floor, at growing roster sizes.

For each size (people; one domain per 50 people) it generates a roster and measures, each in
a fresh child process:

- program: `ses_mail.review.engine.run_program` on that roster (roster loading and validation,
  components, builders, exports: everything the real program does);
- floor: the same number of resources of the same types, with the same names, parents,
  resource options and input values, registered directly with the pulumi_aws classes (bare
  ComponentResources for the components) under the same mocks, monitor and garbage-collector
  setting, with no roster, component or builder code and no exports;
- wired floor: the floor, with each input that a resource it depends on outputs taken from
  that resource's Output (`user=user.name`), as a hand-written program would.

Module imports (the SDKs; for the program also core and components) happen before timing.

It reports wall time, peak memory (peak RSS of the child; Python heap peak under tracemalloc
in a separate child, so tracing does not slow the timed run), resources registered, and the
program/floor time ratio. Not a test: timings depend on the machine.

    python -m benchmarks.scale [--sizes 10,100,1000,5000] [--repeat 3] [--no-heap]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
PEOPLE_PER_DOMAIN = 50
DEFAULT_SIZES = (10, 100, 1000, 5000)
RESULTS = PROJECT_DIR / ".benchmarks" / "results.json"


# --- rosters ------------------------------------------------------------------------------

def roster_text(people: int) -> str:
    """A valid roster: `people` senders spread evenly over one domain per 50 people."""
    domains = max(1, people // PEOPLE_PER_DOMAIN)
    lines = ["domains:"]
    lines += [f"  - name: bench-{d}.example.com" for d in range(domains)]
    lines.append("people:" if people else "people: []")
    for p in range(people):
        lines.append(f"  - email: user{p}@bench-{p % domains}.example.com")
        lines.append(f"    name: Bench User {p}")
    return "\n".join(lines) + "\n"


# --- child: one measured run --------------------------------------------------------------

def _warm_imports(variant: str = "floor") -> None:
    """Import what each variant needs before timing, so neither pays for module imports."""
    import pulumi  # noqa: F401
    import pulumi_aws as aws

    for module in ("iam", "sesv2", "route53", "secretsmanager"):
        getattr(aws, module)
    if variant == "program":
        import ses_mail.program  # noqa: F401  (the program's own modules: core, components)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _plain(value: Any, key: str = "") -> Any:
    """Inputs as the Python SDK takes them: snake_case keys (not inside tag maps), no secret wrappers."""
    from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret

    if is_rpc_secret(value):
        return _plain(unwrap_rpc_secret(value), key)
    if isinstance(value, dict):
        if key in ("tags", "tags_all"):
            return dict(value)
        return {_snake(k): _plain(v, _snake(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _manifest(run: Any) -> list[dict[str, Any]]:
    options = getattr(run, "options", {}) or {}
    out = []
    for r in run.registrations:
        opt = options.get((r.type, r.name))
        out.append({"type": r.type, "name": r.name, "parent": getattr(opt, "parent", ""),
                    "urn": getattr(opt, "urn", ""), "inputs": _plain(r.inputs),
                    "deps": list(getattr(opt, "dependencies", ()) or ()),
                    "options": {"protect": bool(getattr(opt, "protect", False)),
                                "delete_before_replace": bool(getattr(opt, "delete_before_replace", False)),
                                "replacement_trigger": getattr(opt, "replacement_trigger", None)},
                    "outputs": {**_plain(r.outputs), "id": r.id}})
    return out


def _resource_class(type_token: str) -> Any:
    """`aws:iam/user:User` -> pulumi_aws.iam.User."""
    import pulumi_aws as aws

    module = type_token.split(":")[1].split("/")[0]
    return getattr(getattr(aws, module), type_token.split(":")[2])


def _wire(entry: dict[str, Any], created: dict[str, Any], by_urn: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Inputs where each value that a dependency outputs is taken from that dependency's Output."""
    inputs = dict(entry["inputs"])
    for key, value in inputs.items():
        if not isinstance(value, str) or not value:
            continue
        for dep in entry["deps"]:
            source, outputs = created.get(dep), by_urn.get(dep, {}).get("outputs", {})
            attribute = next((k for k in [key, "name", "arn", "id", *outputs] if outputs.get(k) == value), None)
            if source is not None and attribute is not None:
                inputs[key] = getattr(source, _snake(attribute))
                break
    return inputs


def _floor_program(manifest: list[dict[str, Any]], wired: bool = False) -> None:
    import pulumi

    created: dict[str, Any] = {}
    by_urn = {entry["urn"]: entry for entry in manifest}
    for entry in manifest:
        options = {k: v for k, v in entry.get("options", {}).items() if v not in (None, False)}
        opts = pulumi.ResourceOptions(parent=created.get(entry["parent"]), **options)
        if entry["type"].startswith("aws:"):
            inputs = _wire(entry, created, by_urn) if wired else entry["inputs"]
            resource = _resource_class(entry["type"])(entry["name"], opts=opts, **inputs)
        else:
            resource = pulumi.ComponentResource(entry["type"], entry["name"], None, opts)
        created[entry["urn"]] = resource


def _run_floor(manifest: list[dict[str, Any]], stack: str, wired: bool = False) -> Any:
    """Register the manifest under the same runtime setup, mocks and monitor as run_program."""
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from ses_mail.project import NAMESPACE, Project
    from ses_mail.review.emulation import AwsMocks
    from ses_mail.review.engine import collector_paused, install_mocks

    cfg = Project(PROJECT_DIR).stack_config(stack)
    region = cfg.get(f"{NAMESPACE}:region") or cfg.get("aws:region") or "us-east-1"
    mocks = AwsMocks(region=cfg.get("aws:region") or region)
    install_mocks(cfg, stack, mocks)
    with collector_paused():  # as run_program does
        _sync_await(run_pulumi_func(lambda: _floor_program(manifest, wired)))
    return mocks


def child(variant: str, roster: Path, manifest_path: Path, heap: bool, stack: str) -> dict[str, Any]:
    import resource
    import tracemalloc

    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    _warm_imports(variant)
    manifest = json.loads(manifest_path.read_text()) if variant != "program" else None
    if heap:
        tracemalloc.start()
    start = time.perf_counter()
    if variant == "program":
        from ses_mail.review.engine import run_program

        run = run_program(stack=stack, roster=roster)
        registered = len(run.registrations)
    else:
        registered = len(_run_floor(manifest, stack, wired=variant == "wired").registrations)
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {"variant": variant, "seconds": seconds, "registered": registered,
                              "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if heap:
        result["heap_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    if variant == "program" and not manifest_path.exists():
        manifest_path.write_text(json.dumps(_manifest(run)))
    return result


# --- parent: sizes, repeats, report -------------------------------------------------------

def _spawn(variant: str, roster: Path, manifest: Path, heap: bool, stack: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.scale", "--child", variant, "--roster", str(roster),
               "--manifest", str(manifest), "--stack", stack] + (["--heap"] if heap else [])
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)})
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child {variant} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(people: int, repeat: int, heap: bool, stack: str = "dev") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ses-mail-bench-") as tmp:
        roster = Path(tmp) / "roster.yaml"
        roster.write_text(roster_text(people), encoding="utf-8")
        manifest = Path(tmp) / "manifest.json"
        runs: dict[str, list[dict[str, Any]]] = {"program": [], "floor": [], "wired": []}
        for _ in range(repeat):  # interleaved, so drift in machine load hits all alike
            for variant in runs:
                runs[variant].append(_spawn(variant, roster, manifest, False, stack))
        heaps = {v: _spawn(v, roster, manifest, True, stack)["heap_peak_mib"] for v in ("program", "floor")} if heap else {}

    def summary(variant: str) -> dict[str, Any]:
        rs = runs[variant]
        return {"seconds": statistics.median(r["seconds"] for r in rs),
                "seconds_all": [round(r["seconds"], 4) for r in rs],
                "registered": rs[0]["registered"],
                "peak_rss_mib": max(r["peak_rss_mib"] for r in rs),
                **({"heap_peak_mib": heaps[variant]} if variant in heaps else {})}

    program, floor, wired = summary("program"), summary("floor"), summary("wired")
    if not program["registered"] == floor["registered"] == wired["registered"]:
        raise RuntimeError(f"floors registered {floor['registered']}/{wired['registered']} resources, "
                           f"program {program['registered']}")
    return {"people": people, "domains": max(1, people // PEOPLE_PER_DOMAIN),
            "program": program, "floor": floor, "wired": wired,
            "ratio": program["seconds"] / floor["seconds"],
            "ratio_wired": program["seconds"] / wired["seconds"],
            "program_ms_per_person": 1000 * program["seconds"] / max(people, 1)}


def report(rows: list[dict[str, Any]]) -> str:
    heap = all("heap_peak_mib" in r["program"] for r in rows)
    head = ["people", "domains", "resources", "program s", "floor s", "ratio", "wired floor s", "ratio to wired",
            "ms/person", "program RSS MiB", "floor RSS MiB"] + (["program heap MiB", "floor heap MiB"] if heap else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        p, f, w = r["program"], r["floor"], r["wired"]
        cells = [f"{r['people']:,}", f"{r['domains']:,}", f"{p['registered']:,}", f"{p['seconds']:.3f}",
                 f"{f['seconds']:.3f}", f"{r['ratio']:.2f}", f"{w['seconds']:.3f}", f"{r['ratio_wired']:.2f}",
                 f"{r['program_ms_per_person']:.2f}", f"{p['peak_rss_mib']:.0f}", f"{f['peak_rss_mib']:.0f}"]
        if heap:
            cells += [f"{p['heap_peak_mib']:.1f}", f"{f['heap_peak_mib']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) >= 2 and rows[-2]["people"]:
        a, b = rows[-2], rows[-1]
        growth = b["program"]["seconds"] / a["program"]["seconds"]
        lines.append("")
        lines.append(f"Time from {a['people']:,} to {b['people']:,} people: x{growth:.2f} "
                     f"for x{b['people'] / a['people']:.1f} people (linear would be x{b['people'] / a['people']:.1f}).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="people per roster, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per variant and size (median reported)")
    parser.add_argument("--no-heap", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write raw results (default {RESULTS.relative_to(PROJECT_DIR)})")
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--child", choices=("program", "floor", "wired"), help=argparse.SUPPRESS)
    parser.add_argument("--roster", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--manifest", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--heap", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(child(args.child, args.roster, args.manifest, args.heap, args.stack)))
        return 0

    rows = []
    for people in (int(s) for s in args.sizes.split(",") if s.strip()):
        row = measure(people, max(1, args.repeat), not args.no_heap, args.stack)
        rows.append(row)
        print(f"{people:>6,} people: {row['program']['registered']:>6,} resources, program "
              f"{row['program']['seconds']:.3f}s, floor {row['floor']['seconds']:.3f}s (ratio {row['ratio']:.2f}), "
              f"wired floor {row['wired']['seconds']:.3f}s (ratio {row['ratio_wired']:.2f})", file=sys.stderr, flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"python": sys.version.split()[0], "cpus": os.cpu_count(), "rows": rows},
                                    indent=2) + "\n")
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
