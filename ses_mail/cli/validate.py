"""Validate roster files without the Pulumi engine: fast enough for a pre-commit hook.

Uses the same loader as the program (`ses_mail.roster.load_roster_checked`), so a file that passes here passes the
program's own validation (hosted zones are looked up only by `pulumi preview`/`up`).

    ses-mail validate [FILE ...]    # default: every stack's configured roster
    ses-mail validate --region eu-west-1 FILE

Service limits that depend on the SES region (the identity ARN in each send policy) are
measured for `--region`, else for each stack's region when checking the configured rosters,
else bounded over every region. Warnings (limits that depend on what the AWS account already
holds, or on what is known only at `pulumi up`) are printed to stderr and do not fail.

Exit status (docs/exit-codes.md): 0 every file is valid, 1 a file is invalid (each problem
printed with its file:line, field and value), 2 usage error.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
import sys
from pathlib import Path

from ses_mail.cli.exit_codes import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from ses_mail.project import DEFAULT_ROSTER, Project, ProjectError, find_project
from ses_mail.roster.errors import RosterError
from ses_mail.roster.identifiers import is_aws_region
from ses_mail.roster import Deployment, load_roster_checked
from ses_mail.stack_settings import SettingsError, from_config



def configured_rosters(project: Project) -> list[Path]:
    """The roster of every stack (its `ses-mail:roster`, else the project default), each once."""
    paths: list[Path] = []
    for stack in project.stacks():
        path = project.roster_path(stack)
        if path not in paths:
            paths.append(path)
    return paths or [project.resolve(DEFAULT_ROSTER)]


def stack_deployments(project: Project) -> dict[Path, Deployment]:
    """What each roster is deployed with, from the stacks that use it: the first one's SES region
    (ses-mail:region, else aws:region) and the longest configuration set name among them (the
    send policies name the set), so limits are measured as `pulumi up` will send them. A stack
    config `pulumi up` would refuse is a ProjectError naming the stack file and key."""
    found: dict[Path, Deployment] = {}
    for stack in project.stacks():
        config = project.stack_config(stack)
        path = project.roster_of(config)
        try:
            settings = from_config(config, stack=stack, source=str(project.stack_file(stack)))
        except SettingsError as err:
            raise ProjectError(str(err)) from None
        region = settings.region
        name = settings.configuration_set_name or ""
        before = found.get(path)
        if before is not None:
            region = before.region or region
            name = max(before.configuration_set or "", name, key=len)
        found[path] = Deployment(region=region, configuration_set=name)
    return found


def validate(paths: list[Path], deployments: dict[Path, Deployment] | None = None,
             warnings: list[str] | None = None) -> list[str]:
    """Error messages, one block per invalid file; empty when every file is valid. Warnings
    of valid files are appended to `warnings` when given."""
    errors: list[str] = []
    for path in paths:
        try:
            loaded = load_roster_checked(path, (deployments or {}).get(path, Deployment()))
        except RosterError as err:
            errors.append(str(err))
            continue
        if warnings is not None:
            warnings.extend(f"warning: {w}" for w in loaded.warnings)
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ses-mail validate", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="roster files (default: every stack's roster)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing for valid files")
    parser.add_argument("--project-dir", metavar="DIR", help="the Pulumi project (default: found from the working directory)")
    parser.add_argument("--region", help="the SES region to measure limits for (default: each stack's, else every region's bounds)")
    args = parser.parse_args(argv)
    if args.region is not None and not is_aws_region(args.region):
        print(f"error: --region {args.region!r} is not an AWS region code such as eu-west-1", file=sys.stderr)
        return EXIT_USAGE
    deployments: dict[Path, Deployment] = {}
    if args.files:
        paths = args.files
    else:
        try:
            project = find_project(args.project_dir)
            paths = configured_rosters(project)
            deployments = stack_deployments(project)
        except ProjectError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_USAGE
    if args.region:
        deployments = {path: replace(deployments.get(path, Deployment()), region=args.region) for path in paths}
    warnings: list[str] = []
    errors = validate(paths, deployments, warnings)
    for message in [*errors, *warnings]:
        print(message, file=sys.stderr)
    if not args.quiet:
        valid = len(paths) - len(errors)
        print(f"{valid} of {len(paths)} roster file{'s' if len(paths) != 1 else ''} valid", file=sys.stderr)
    return EXIT_FINDINGS if errors else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
