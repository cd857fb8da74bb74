"""Rotate one person's SMTP credential now (delivery mode `rotation`): Secrets Manager's RotateSecret.

    ses-mail rotate EMAIL [--stack S | --roster FILE] [--region R] [--project-dir DIR]

A WRITING command, unlike doctor, audit and adopt: it starts a rotation, after which the function
makes a new access key, tests it and makes it current; the previous key keeps working for the grace
period. Run it as a secret admin (the deployers: by default a role or user under /ses-mail-admin/):
the secret's resource policy denies RotateSecret to everyone else, and Secrets Manager also needs the
caller to hold lambda:InvokeFunction on the rotation function. It never reads the value.
Exit status: 0 rotation started, 1 the secret cannot be rotated now (no such secret, rotation not
configured, a rotation in progress), 2 usage, no credentials, or AWS refused.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Optional

from ses_mail.cli.exit_codes import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from ses_mail.live.errors import explain

ClientFactory = Callable[[str], Any]


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ses-mail rotate", description=__doc__.splitlines()[0])
    parser.add_argument("email", help="the person's address, as in the roster")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", help="stack whose Pulumi.<stack>.yaml names the roster and region (default: dev)")
    where.add_argument("--roster", metavar="FILE", help="a roster file alone (region from --region or AWS config)")
    parser.add_argument("--region", help="SES region, where the secret is (default: the stack's)")
    parser.add_argument("--project-dir", metavar="DIR", help="the Pulumi project (default: found from the working directory)")
    return parser.parse_args(argv)


def writing_factory(region: str) -> ClientFactory:
    """boto3 clients from the standard chain, not guarded: this command writes."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=region)
    config = Config(retries={"mode": "standard", "max_attempts": 5}, user_agent_extra="ses-mail-rotate")
    return lambda service: session.client(service, config=config)


def main(argv: Optional[list[str]] = None, *, clients: Optional[ClientFactory] = None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    from ses_mail.live.target import TargetError, resolve_target
    from ses_mail.specs.naming import secret_name

    try:
        target = resolve_target(stack=args.stack, roster=args.roster, region=args.region, project_dir=args.project_dir)
    except TargetError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    email = args.email.strip().lower()
    if email not in {p.email.lower() for p in target.roster.people}:
        print(f"error: {args.email} is not in the roster {target.roster_path}", file=sys.stderr)
        return EXIT_USAGE
    name = secret_name(email)
    try:
        secrets = (clients or writing_factory(target.region))("secretsmanager")
        try:
            meta = secrets.describe_secret(SecretId=name)
        except secrets.exceptions.ResourceNotFoundException:
            print(f"{email}: no secret {name} in {target.region}: is the person's delivery `rotation`, "
                  "and the stack deployed?", file=sys.stderr)
            return EXIT_FINDINGS
        if not meta.get("RotationEnabled"):
            print(f"{email}: secret {name} has no rotation configured (delivery is not `rotation`?)", file=sys.stderr)
            return EXIT_FINDINGS
        pending = [v for v, stages in meta.get("VersionIdsToStages", {}).items()
                   if "AWSPENDING" in stages and "AWSCURRENT" not in stages]
        if pending:
            print(f"{email}: a rotation is in progress (version {pending[0]}): wait for it, or see its failure "
                  f"in the function's log", file=sys.stderr)
            return EXIT_FINDINGS
        started = secrets.rotate_secret(SecretId=name)
    except Exception as err:  # noqa: BLE001 - explain() picks what is the environment's fault
        message = explain(err)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{email}: rotation started, version {started.get('VersionId')} of {name}. The function makes a new key, "
          "tests it and makes it current; the previous key keeps working for the grace period.")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
