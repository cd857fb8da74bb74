"""Validate roster files without the Pulumi engine: fast enough for a pre-commit hook.

Uses the same `ses_mail.roster.model.load_roster` as the program, so a file that passes here passes the
program's own validation (hosted zones are looked up only by `pulumi preview`/`up`).

    ses-mail validate [FILE ...]    # default: every stack's configured roster

Exit status: 0 every file is valid, 1 a file is invalid (each problem printed with its
file:line, field and value), 2 usage error.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ses_mail.project import DEFAULT_ROSTER, Project, ProjectNotFound, find_project
from ses_mail.roster.errors import RosterError
from ses_mail.roster import load_roster

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def configured_rosters(project: Project) -> list[Path]:
    """The roster of every stack (its `ses-mail:roster`, else the project default), each once."""
    paths: list[Path] = []
    for stack in project.stacks():
        path = project.roster_path(stack)
        if path not in paths:
            paths.append(path)
    return paths or [project.resolve(DEFAULT_ROSTER)]


def validate(paths: list[Path]) -> list[str]:
    """Error messages, one block per invalid file; empty when every file is valid."""
    errors: list[str] = []
    for path in paths:
        try:
            load_roster(path)
        except RosterError as err:
            errors.append(str(err))
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ses-mail validate", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="roster files (default: every stack's roster)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing for valid files")
    parser.add_argument("--project-dir", metavar="DIR", help="the Pulumi project (default: found from the working directory)")
    args = parser.parse_args(argv)
    if args.files:
        paths = args.files
    else:
        try:
            paths = configured_rosters(find_project(args.project_dir))
        except ProjectNotFound as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_USAGE
    errors = validate(paths)
    for message in errors:
        print(message, file=sys.stderr)
    if not args.quiet:
        valid = len(paths) - len(errors)
        print(f"{valid} of {len(paths)} roster file{'s' if len(paths) != 1 else ''} valid", file=sys.stderr)
    return EXIT_INVALID if errors else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
