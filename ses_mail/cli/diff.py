"""Offline plan diff: what `pulumi up` would change between a base roster and the head roster.

Both sides run through the real `__main__.py` under the mock engine (ses_mail.review.engine), so the
diff shows what the program does, not a second implementation of it. Resources are paired by
URN and classified as created, updated, replaced or deleted using the provider's replacement
rules (ses_mail.resource_types); destructive changes are listed first.

    ses-mail diff --base origin/main                  # roster and stack config at a git revision
    ses-mail diff --base-roster old.yaml --roster new.yaml
    ses-mail diff --all-stacks --base origin/main --format markdown

Exit status (docs/exit-codes.md): 0 no changes, 3 changes, 4 a roster (or the stack config) is
invalid on either side, 2 usage error (bad option, unknown revision or stack), 1 internal error.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ses_mail.roster.errors import RosterError
from ses_mail.roster import parse_roster

from ses_mail.cli.console import counting, progress
from ses_mail.cli.exit_codes import EXIT_CHANGES, EXIT_INVALID, EXIT_OK, EXIT_USAGE, UsageError
from ses_mail.project import PULUMI_FILE, Project, ProjectError, config_from_texts, find_project, read_text
from ses_mail.review.changes import Resource, Secret, diff_stack, resources, scrub
from ses_mail.review.render import REMOVED_STACK, Report, render_json, render_markdown, render_text


class InvalidSide(Exception):
    """A side's roster or stack config was rejected; the message is for people."""

    def __init__(self, side: str, message: str):
        super().__init__(message)
        self.side = side


@dataclass
class Side:
    """One side of the diff: roster text (None: nothing deployed) and the stack config it runs with.

    `config` is always the side's own full stack config (from the working tree or from git), and
    the roster text is always passed to the program explicitly, so neither side can fall back
    on the other's files.
    """

    label: str
    text: str | None
    config: dict[str, str]
    path: Path | None = None   # where the roster lives (on disk for the head, in git for a base)


@dataclass
class Snapshot:
    resources: list[Resource]
    outputs: dict[str, Any]


# --- reading the two sides ----------------------------------------------------------------

def _git(project: Project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(project.dir), *args], capture_output=True, text=True)


def git_file(project: Project, rev: str, path: str) -> str | None:
    """A file's text at a revision; None when the file does not exist there."""
    if _git(project, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").returncode != 0:
        raise UsageError(f"unknown git revision {rev!r} (in CI, fetch it first: git fetch origin <branch>)")
    shown = _git(project, "show", f"{rev}:{path}")
    return shown.stdout if shown.returncode == 0 else None


def project_prefix(project: Project) -> str:
    """The project directory's path in its git repository, "" or ending in `/`."""
    prefix = repo_relative(project, project.dir)
    return "" if prefix == "." else prefix + "/"


def stacks_at(project: Project, rev: str) -> list[str]:
    """The stacks with a Pulumi.<stack>.yaml at `rev`."""
    git_file(project, rev, PULUMI_FILE)  # checks the revision
    listed = _git(project, "ls-tree", "--name-only", f"{rev}:{project_prefix(project)}")
    names = listed.stdout.splitlines() if listed.returncode == 0 else []
    return sorted(n[len("Pulumi."):-len(".yaml")] for n in names
                  if n.startswith("Pulumi.") and n.endswith(".yaml") and n != PULUMI_FILE)


def repo_relative(project: Project, path: Path) -> str:
    top = _git(project, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise UsageError(f"{project.dir} is not in a git repository: use --base-roster FILE instead of --base")
    return os.path.relpath(path.resolve(), Path(top.stdout.strip()).resolve()).replace(os.sep, "/")


def head_side(project: Project, stack: str, roster: str | None) -> Side:
    """The working tree: its stack config and roster (`--roster` is relative to where you are)."""
    config = project.stack_config(stack)
    path = Path(roster).resolve() if roster else project.roster_of(config)
    return Side(_display(path), read_text(path), config, path)


def base_side_from_file(project: Project, stack: str, roster: str) -> Side:
    path = Path(roster).resolve()
    if not path.exists():
        raise UsageError(f"base roster {roster} does not exist")
    return Side(_display(path), read_text(path), project.stack_config(stack), path)


def base_side_from_git(project: Project, rev: str, stack: str, roster: str | None) -> Side:
    """The stack config and roster exactly as they were at `rev`: the stack file, Pulumi.yaml and
    the roster that stack file named then, all read from git, never from the working tree."""
    prefix = project_prefix(project)
    stack_text = git_file(project, rev, f"{prefix}Pulumi.{stack}.yaml")
    if stack_text is None:  # the stack is new in the head: nothing of it was deployed
        return Side(f"{rev}: no Pulumi.{stack}.yaml (new stack: nothing deployed)", None, {})
    config = config_from_texts(git_file(project, rev, f"{prefix}Pulumi.yaml"), stack_text,
                               sources=(f"{rev}:{prefix}Pulumi.yaml", f"{rev}:{prefix}Pulumi.{stack}.yaml"))
    path = Path(roster).resolve() if roster else project.roster_of(config)
    relative = repo_relative(project, path)
    if relative.startswith("../"):
        raise UsageError(f"{path} is outside the git repository, so it has no version at {rev}: "
                         "use --base-roster FILE")
    text = git_file(project, rev, relative)
    label = f"{rev}:{relative}" + ("" if text is not None else " (absent: nothing deployed)")
    return Side(label, text, config, path)


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), Path.cwd())
    except ValueError:
        return str(path)


# --- running one side ---------------------------------------------------------------------

def snapshot(project: Project, side: Side, which: str, stack: str) -> Snapshot:
    """Validate the side's roster, then run the real program on it under the mock engine."""
    if side.text is None:
        if which == "head":
            raise InvalidSide(which, f"{side.label}: does not exist")
        return Snapshot([], {})  # no roster at base: nothing was deployed
    try:
        parse_roster(side.text, side.label)
    except RosterError as err:
        raise InvalidSide(which, str(err)) from None

    import pulumi  # only now: validation above needs no engine

    from ses_mail.review.engine import run_program

    # The side's text in a file of its own, passed explicitly: the program must read this
    # side's roster, whatever either side's stack config names.
    with tempfile.TemporaryDirectory(prefix="ses-mail-diff-") as tmp:
        roster_file = Path(tmp) / (side.path.name if side.path else "roster.yaml")
        roster_file.write_text(side.text, encoding="utf-8")
        try:
            with counting(f"stack {stack}, {which} ({side.label})") as tick:
                run = run_program(project=project, stack=stack, roster=roster_file, stack_config=side.config,
                                  on_register=tick)
        except pulumi.RunError as err:
            raise InvalidSide(which, str(err).replace(str(roster_file), side.label)) from None

    items = [(r.type, r.name, r.inputs, run.options.get((r.type, r.name))) for r in run.registrations]
    outputs = {k: (Secret.of(v) if k in run.secret_outputs else scrub(v)) for k, v in run.outputs.items()}
    return Snapshot(resources(items), outputs)


def diff_sides(project: Project, stack: str, base: Side, head: Side) -> Report:
    report = Report(stack=stack, base=base.label, head=head.label)
    try:
        before = snapshot(project, base, "base", stack)
        after = snapshot(project, head, "head", stack)
    except InvalidSide as err:
        report.error, report.error_side = str(err), err.side
        return report
    report.diff = diff_stack(before.resources, after.resources, before.outputs, after.outputs)
    return report


def removed_stack(rev: str, stack: str) -> Report:
    """A stack whose file the head deletes: the offline diff plans nothing for it, and says so
    rather than skip it (deleting the file destroys nothing; deploys of the stack just stop)."""
    return Report(stack=stack, base=f"{rev}:Pulumi.{stack}.yaml", head=f"no Pulumi.{stack}.yaml (deleted)",
                  removed=True)


def exit_code(reports: list[Report]) -> int:
    if any(r.invalid for r in reports):
        return EXIT_INVALID
    if any(r.removed or (r.diff is not None and r.diff.has_changes) for r in reports):
        return EXIT_CHANGES
    return EXIT_OK


def use_color(choice: str, stream: Any = None) -> bool:
    stream = stream or sys.stdout
    if choice == "always":
        return True
    if choice == "never":
        return False
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


# --- command line -------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ses-mail diff", description="Offline plan diff between a base and the head roster.",
        epilog="Exit status: 0 no changes, 3 changes, 4 invalid roster or stack config, 2 usage error.")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--base", metavar="REV", help="git revision whose roster (and stack config) is the base")
    which.add_argument("--base-roster", metavar="FILE", help="roster file that is the base")
    parser.add_argument("--roster", metavar="FILE", help="head roster (default: the stack's configured roster)")
    stacks = parser.add_mutually_exclusive_group()
    stacks.add_argument("--stack", action="append", help="stack to diff (repeatable; default: dev)")
    stacks.add_argument("--all-stacks", action="store_true", help="every stack with a Pulumi.<stack>.yaml")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour text output (auto: when stdout is a terminal and NO_COLOR is unset)")
    parser.add_argument("--output", metavar="FILE", help="write the diff to FILE instead of stdout")
    parser.add_argument("--project-dir", metavar="DIR", help="the Pulumi project (default: found from the working directory)")
    args = parser.parse_args(argv)

    try:
        project = find_project(args.project_dir)
        names = project.stacks() if args.all_stacks else (args.stack or ["dev"])
        # Stacks whose file the head deletes: reported, never silently left out.
        at_base = stacks_at(project, args.base) if args.base else []
        if args.all_stacks:
            names = sorted(set(names) | set(at_base))
        if not names:
            raise UsageError("no Pulumi.<stack>.yaml in the project")
        for name in names:
            if not project.stack_file(name).exists() and name not in at_base:
                raise UsageError(f"no stack {name!r}: Pulumi.{name}.yaml does not exist")
        reports = []
        for name in progress(names, "stacks"):
            if not project.stack_file(name).exists():
                reports.append(removed_stack(args.base, name))
                continue
            # A stack file that cannot be read is that side's problem (exit 4), as an invalid roster is.
            try:
                head = head_side(project, name, args.roster)
            except ProjectError as err:
                reports.append(Report(stack=name, base=args.base or args.base_roster, head="working tree",
                                      error=str(err), error_side="head"))
                continue
            try:
                base = (base_side_from_git(project, args.base, name, args.roster) if args.base
                        else base_side_from_file(project, name, args.base_roster))
            except ProjectError as err:
                reports.append(Report(stack=name, base=args.base or args.base_roster, head=head.label,
                                      error=str(err), error_side="base"))
                continue
            reports.append(diff_sides(project, name, base, head))
    except ProjectError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE

    for report in reports:
        if report.removed:
            print(f"note: stack {report.stack}: {REMOVED_STACK}", file=sys.stderr)
        if report.invalid:
            print(f"error: stack {report.stack}: invalid {report.error_side} roster ({report.base if report.error_side == 'base' else report.head}):\n"
                  f"{report.error}", file=sys.stderr)

    stream = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        if args.format == "json":
            stream.write(render_json(reports))
        elif args.format == "markdown":
            stream.write(render_markdown(reports))
        elif not all(r.invalid for r in reports):
            shown = [r for r in reports if not r.invalid]
            stream.write(render_text(shown, color=use_color(args.color, stream)))
    finally:
        if args.output:
            stream.close()
    return exit_code(reports)


if __name__ == "__main__":
    sys.exit(main())
