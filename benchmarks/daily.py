"""The day-to-day case: one person added to a large roster, as a reviewer meets it.

In a scratch git repository holding only the program files (`__main__.py`, `Pulumi.yaml`), a
stack file and a roster of `--people` people (one domain per 50), it commits the roster, then
commits it again with one person more, and measures, each in a fresh process:

- **evaluation**: the program under the mock engine on the new roster (`run_program`, as the
  scale benchmark's `program`, imports done before the clock starts);
- **diff**: `ses-mail diff --base <first commit> --format json` in that repository, the whole
  command as a reviewer or CI runs it (start-up, imports, both evaluations, the comparison).

It checks that the diff reports exactly the new person's resources as creates and nothing
else. Not a test: timings depend on the machine.

    python -m benchmarks.daily [--people 5000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.scale import PEOPLE_PER_DOMAIN, PROJECT_DIR, roster_text

PROGRAM_FILES = ("__main__.py", "Pulumi.yaml")
STACK = "config:\n  aws:region: eu-west-1\n  ses-mail:roster: config/dev.yaml\n"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
                          cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def scratch_repo(root: Path, people: int) -> tuple[Path, str]:
    """A repository whose HEAD adds one person to a roster of `people`; returns it and the base commit."""
    repo = root / "repo"
    (repo / "config").mkdir(parents=True)
    for name in PROGRAM_FILES:
        shutil.copy(PROJECT_DIR / name, repo / name)
    (repo / "Pulumi.dev.yaml").write_text(STACK, encoding="utf-8")
    roster = repo / "config" / "dev.yaml"
    roster.write_text(roster_text(people), encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD")
    with roster.open("a", encoding="utf-8") as out:  # the new person, on the first domain
        out.write("  - email: newcomer@bench-0.example.com\n    name: New Comer\n")
    _git(repo, "commit", "-q", "-am", "add one person")
    return repo, base


def evaluation(repo: Path) -> float:
    """Seconds of one program run on the head roster, in a fresh process (imports excluded)."""
    code = ("import json, sys, time\n"
            "from benchmarks.scale import _warm_imports\n"
            "_warm_imports('program')\n"
            "from ses_mail.review.engine import run_program\n"
            "from pathlib import Path\nfrom ses_mail.project import Project\n"
            "start = time.perf_counter()\n"
            f"run_program(project=Project(Path({str(repo)!r})), stack='dev')\n"
            "print(json.dumps(time.perf_counter() - start))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)})
    if done.returncode != 0:
        raise RuntimeError(f"evaluation failed:\n{done.stderr[-4000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def diff(repo: Path, base: str) -> tuple[float, dict[str, Any]]:
    """Wall seconds of `ses-mail diff` against the base commit, and its JSON report."""
    command = [str(Path(sys.executable).parent / "ses-mail"), "diff", "--base", base, "--format", "json"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 3:  # 3: changes
        raise RuntimeError(f"ses-mail diff exited {done.returncode}:\n{done.stderr[-4000:]}")
    return seconds, json.loads(done.stdout)


def created_names(report: dict[str, Any]) -> set[tuple[str, str]]:
    """(op, name) of every change the diff reports, over its stacks."""
    stacks = report.get("stacks", [report])
    return {(c["op"], c["name"]) for s in stacks for c in s.get("changes", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.daily", description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ses-mail-daily-") as tmp:
        repo, base = scratch_repo(Path(tmp), args.people)
        evaluations, diffs = [], []
        for _ in range(max(1, args.repeat)):
            evaluations.append(evaluation(repo))
            seconds, report = diff(repo, base)
            diffs.append(seconds)
        changes = created_names(report)
    unexpected = {c for c in changes if c[0] != "create" or not c[1].startswith("newcomer@bench-0.example.com")}
    if not changes or unexpected:
        raise RuntimeError(f"the diff should create only the new person's resources; also got {sorted(unexpected)}")
    print(f"| people | domains | evaluation s | `ses-mail diff` s | changes |\n|---|---|---|---|---|\n"
          f"| {args.people:,} + 1 | {max(1, args.people // PEOPLE_PER_DOMAIN):,} | "
          f"{statistics.median(evaluations):.2f} | {statistics.median(diffs):.2f} | {len(changes)} creates |")
    print(f"evaluation runs {[round(s, 2) for s in evaluations]}, diff runs {[round(s, 2) for s in diffs]}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
