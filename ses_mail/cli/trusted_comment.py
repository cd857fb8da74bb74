"""The pull request comment, computed by trusted code from the pull request's data only.

The privileged comment job (.github/workflows/pull-request-comment.yml) checks out the DEFAULT
branch, installs it from the hash-locked files and runs this module. From the pull request it
reads, with `git show` at the head commit named by the event, only:

- the `Pulumi.<stack>.yaml` files of the project directory, and
- the roster file each of them names (`ses-mail:roster`, a relative path inside the repository),

each a regular blob of bounded size, validated before use. The roster diff is then computed and
rendered by the default branch's own program, diff and renderer: a pull request that edits
`ses_mail/review/render.py` changes nothing here, because that file is never read from the
pull request. What a roster diff cannot show is said in the comment: a pull request that also
changes the program, the workflows or the dependencies, and roster fields or stack-config keys
the default branch does not know.

    python -m ses_mail.cli.trusted_comment --base BASE_SHA --head HEAD_SHA \
        [--fetch REMOTE REF] [--project-dir DIR] --output comment.md

Exit status as `ses-mail diff`: 0 no changes, 3 changes, 4 a roster or stack file is invalid
(the comment says which), 2 usage (bad commit, the pull request moved on, data out of bounds).
"""
from __future__ import annotations

import argparse
import os
import posixpath
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ses_mail.project import NAMESPACE, PULUMI_FILE, DEFAULT_ROSTER, Project, ProjectError, config_from_texts, find_project

#: Bounds on what is read from the pull request (bytes, counts).
MAX_STACK_FILE = 64 * 1024
MAX_ROSTER_FILE = 4 * 1024 * 1024
MAX_STACKS = 50
MAX_LISTED_FILES = 30
SHA = re.compile(r"^[0-9a-f]{40}$")
#: A roster path a stack file may name: relative, inside the repository, a YAML file.
SAFE_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*(/[A-Za-z0-9_][A-Za-z0-9_.+-]*)*\.ya?ml$")
STACK_FILE = re.compile(r"^Pulumi\.([A-Za-z0-9_.-]{1,100})\.yaml$")

#: What a changed path that is not roster data is, in the comment's words (first match wins).
CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("workflows and CI", re.compile(r"^(\.github/|\.ci/)")),
    ("dependencies", re.compile(r"(^|/)(requirements[^/]*\.(txt|lock|in)|pyproject\.toml|uv\.lock|package(-lock)?\.json"
                                r"|setup\.(py|cfg)|\.pre-commit[^/]*)$")),
    ("program code", re.compile(r"(^|/)(ses_mail/|provider/|__main__\.py$|Pulumi\.yaml$|Makefile$|tools/|policies/)")),
)
OTHER = "other files (docs, tests, examples)"


class Refused(Exception):
    """The pull request's data cannot be used as it is: the message says why (exit 2)."""


@dataclass
class Findings:
    """What the comment says besides the diff."""

    changed: dict[str, list[str]] = field(default_factory=dict)  # category -> paths
    unknown_fields: list[str] = field(default_factory=list)       # "stack: file:line: field ..."
    data_files: list[str] = field(default_factory=list)


# --- git, read-only, on the default branch's clone -------------------------------------------

def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=300)
    if check and done.returncode != 0:
        raise Refused(f"git {' '.join(args[:2])} failed: {done.stderr.decode(errors='replace').strip()}")
    return done


def fetch(repo: Path, remote: str, ref: str, head: str) -> None:
    """Fetch the pull request's head ref and check it is still the event's head commit."""
    if not re.fullmatch(r"refs/[A-Za-z0-9_./-]+", ref) or ".." in ref:
        raise Refused(f"refusing to fetch ref {ref!r}")
    auth: list[str] = []
    token = os.environ.get("GIT_FETCH_TOKEN", "")
    if token:  # private repositories: the job's read token, for this one command, never persisted
        import base64
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        auth = ["-c", f"http.extraheader=AUTHORIZATION: basic {basic}"]
    git(repo, *auth, "fetch", "--no-tags", "--quiet", remote, f"+{ref}:refs/ses-mail/pr-head")
    fetched = git(repo, "rev-parse", "refs/ses-mail/pr-head").stdout.decode().strip()
    if fetched != head:
        raise Refused(f"the pull request's head is now {fetched}, not {head}: a newer run will comment")


def blob(repo: Path, commit: str, path: str, limit: int) -> str | None:
    """A regular file's text at `commit`, at most `limit` bytes; None if absent. Symlinks,
    submodules and directories are refused: only a file's own bytes are data."""
    listed = git(repo, "ls-tree", "-z", commit, "--", path).stdout.decode(errors="replace")
    if not listed:
        return None
    meta, _, _name = listed.rstrip("\0").partition("\t")
    mode, kind, oid = meta.split()
    if kind != "blob" or mode not in ("100644", "100755"):
        raise Refused(f"{path} at {commit[:12]} is not a regular file (mode {mode})")
    size = int(git(repo, "cat-file", "-s", oid).stdout.decode().strip())
    if size > limit:
        raise Refused(f"{path} at {commit[:12]} is {size} bytes, more than the {limit} read")
    data = git(repo, "cat-file", "blob", oid).stdout
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(f"{path} at {commit[:12]} is not UTF-8 text") from None


def clean(text: str) -> str:
    """A name from the pull request, safe inside a Markdown code span."""
    return re.sub(r"[^A-Za-z0-9_./@:+-]", "?", text)[:200]


# --- the pull request's data -----------------------------------------------------------------

def roster_relpath(config: dict[str, str], prefix: str, stack: str) -> str:
    value = config.get(f"{NAMESPACE}:roster") or DEFAULT_ROSTER
    normal = posixpath.normpath(value) if value else ""
    if not SAFE_PATH.match(value) or normal != value or normal.startswith("../"):
        raise Refused(f"Pulumi.{clean(stack)}.yaml: ses-mail:roster {clean(value)!r} must be a relative path "
                      "to a .yaml file inside the repository")
    return prefix + value


def head_stacks(repo: Path, head: str, prefix: str) -> list[str]:
    listed = git(repo, "ls-tree", "-z", "--name-only", f"{head}:{prefix}" if prefix else f"{head}:").stdout
    names = [n for n in listed.decode(errors="replace").split("\0") if n]
    stacks = [m[1] for n in names if (m := STACK_FILE.match(n)) and n != PULUMI_FILE]
    if len(stacks) > MAX_STACKS:
        raise Refused(f"the pull request has {len(stacks)} stack files, more than the {MAX_STACKS} read")
    return sorted(stacks)


def unknown_roster_fields(text: str, label: str) -> list[str]:
    """Problems of the default branch's model that name a field it does not know."""
    from ses_mail.roster import parse_roster
    from ses_mail.roster.errors import RosterError

    try:
        parse_roster(text, label)
    except RosterError as err:
        return [line for line in str(err).splitlines() if "is not a known field" in line]
    return []


def categorise(paths: list[str], data: set[str]) -> dict[str, list[str]]:
    changed: dict[str, list[str]] = {}
    for path in paths:
        if path in data:
            continue
        category = next((name for name, pattern in CATEGORIES if pattern.search(path)), OTHER)
        changed.setdefault(category, []).append(path)
    return changed


def build(repo: Path, project: Project, base: str, head: str) -> tuple[list, Findings]:
    """The reports of every stack, and what the comment must say besides them."""
    from ses_mail.cli import diff as plandiff
    from ses_mail.review.render import Report

    prefix = plandiff.project_prefix(project)
    trusted_pulumi = (project.dir / PULUMI_FILE).read_text(encoding="utf-8")
    declared = set(config_from_texts(trusted_pulumi, "", sources=(PULUMI_FILE, "-")))
    findings = Findings()
    reports: list[Report] = []
    stacks = head_stacks(repo, head, prefix)
    at_base = plandiff.stacks_at(project, base)
    data: set[str] = set()
    for stack in sorted(set(stacks) | set(at_base)):
        stack_path = f"{prefix}Pulumi.{stack}.yaml"
        data.add(stack_path)
        if stack not in stacks:
            reports.append(plandiff.removed_stack(base[:12], stack))
            continue
        head_label = f"{head[:12]}:{stack_path}"
        stack_text = blob(repo, head, stack_path, MAX_STACK_FILE)
        try:
            config = config_from_texts(trusted_pulumi, stack_text, sources=(PULUMI_FILE, head_label))
        except ProjectError as err:
            reports.append(Report(stack=stack, base=base[:12], head=head_label, error=str(err), error_side="head"))
            continue
        extra = sorted(k for k in config if k.startswith(f"{NAMESPACE}:") and k not in declared)
        findings.unknown_fields += [f"{head_label}: config key `{clean(k)}`" for k in extra]
        relpath = roster_relpath(config, prefix, stack)
        data.add(relpath)
        text = blob(repo, head, relpath, MAX_ROSTER_FILE)
        head_side = plandiff.Side(f"{head[:12]}:{relpath}", text, config, repo / relpath)
        if text is not None:
            findings.unknown_fields += [f"{line}" for line in unknown_roster_fields(text, head_side.label)]
        try:
            base_side = plandiff.base_side_from_git(project, base, stack, None)
        except (ProjectError, plandiff.UsageError) as err:
            reports.append(Report(stack=stack, base=base[:12], head=head_side.label, error=str(err), error_side="base"))
            continue
        if base_side.path is not None:
            data.add(plandiff.repo_relative(project, base_side.path))
        reports.append(plandiff.diff_sides(project, stack, base_side, head_side))
    findings.data_files = sorted(data)
    merge_base = git(repo, "merge-base", base, head).stdout.decode().strip()
    names = git(repo, "diff", "--name-only", "-z", "--no-renames", merge_base, head).stdout.decode(errors="replace")
    findings.changed = categorise([n for n in names.split("\0") if n], data)
    return reports, findings


# --- the comment ------------------------------------------------------------------------------

def render(reports: list, findings: Findings, base: str, head: str, trusted: str) -> str:
    from ses_mail.review.render import MARKER, render_markdown

    notes = ["> [!IMPORTANT]",
             f"> Computed by the default branch's code (`{trusted[:12]}`) from this pull request's roster and "
             f"stack files at `{head[:12]}` only (base `{base[:12]}`). No code from the pull request ran.", ""]
    if findings.changed:
        notes += ["> [!CAUTION]", "> **This pull request also changes files that a roster diff cannot show.** "
                  "Review them yourself: the plan below is what the default branch's program does with the new "
                  "roster, not what the pull request's code would do."]
        for category in [name for name, _ in CATEGORIES] + [OTHER]:
            paths = findings.changed.get(category, [])
            if not paths:
                continue
            shown = ", ".join(f"`{clean(p)}`" for p in paths[:MAX_LISTED_FILES])
            more = f" and {len(paths) - MAX_LISTED_FILES} more" if len(paths) > MAX_LISTED_FILES else ""
            notes.append(f"> - **{category}** ({len(paths)}): {shown}{more}")
        notes.append("")
    if findings.unknown_fields:
        notes += ["> [!WARNING]", "> **The pull request's data uses fields the default branch's code does not "
                  "know**; the plan below cannot show what they would do:"]
        notes += [f"> - {clean_line(line)}" for line in findings.unknown_fields[:MAX_LISTED_FILES]]
        notes.append("")
    body = render_markdown(reports)
    assert body.startswith(MARKER + "\n")
    first, rest = body.split("\n", 1)
    heading, rest = rest.split("\n", 1)
    return "\n".join([first, heading, "", *notes]) + rest


def clean_line(line: str) -> str:
    return line.replace("`", "'").replace("<", "&lt;").replace(">", "&gt;")[:300]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ses_mail.cli.trusted_comment", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the pull request's base commit (from the event)")
    parser.add_argument("--head", required=True, help="the pull request's head commit (from the event)")
    parser.add_argument("--fetch", nargs=2, metavar=("REMOTE", "REF"), help="fetch REF (refs/pull/N/head) first")
    parser.add_argument("--project-dir", metavar="DIR", help="the Pulumi project (default: found from here)")
    parser.add_argument("--output", required=True, metavar="FILE")
    args = parser.parse_args(argv)
    from ses_mail.cli import diff as plandiff

    try:
        for name, sha in (("--base", args.base), ("--head", args.head)):
            if not SHA.match(sha):
                raise Refused(f"{name} must be a 40-hex commit id")
        project = find_project(args.project_dir)
        repo = Path(git(project.dir, "rev-parse", "--show-toplevel").stdout.decode().strip())
        if args.fetch:
            fetch(repo, args.fetch[0], args.fetch[1], args.head)
        for sha in (args.base, args.head):
            git(repo, "cat-file", "-e", f"{sha}^{{commit}}")
        trusted = git(repo, "rev-parse", "HEAD").stdout.decode().strip()
        reports, findings = build(repo, project, args.base, args.head)
    except (Refused, ProjectError, plandiff.UsageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return plandiff.EXIT_USAGE
    Path(args.output).write_text(render(reports, findings, args.base, args.head, trusted), encoding="utf-8")
    return plandiff.exit_code(reports)


if __name__ == "__main__":
    sys.exit(main())
