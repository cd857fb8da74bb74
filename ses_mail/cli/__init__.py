"""`ses-mail`: one command for the roster tools. Each subcommand lives in a module of its own and
is imported only when run, so `ses-mail validate` (the pre-commit hook) never loads the Pulumi SDK."""
from __future__ import annotations

import importlib
import sys

from ses_mail.cli.exit_codes import EXIT_OK, EXIT_USAGE

#: name: (module with a `main(argv) -> int`, one line of help)
COMMANDS: dict[str, tuple[str, str]] = {
    "plan": ("ses_mail.cli.plan", "what `pulumi up` would create for a stack, offline (mock engine)"),
    "diff": ("ses_mail.cli.diff", "what a roster change does, between a git revision (or file) and the working tree"),
    "validate": ("ses_mail.cli.validate", "check roster files, without the Pulumi engine (pre-commit hook)"),
    "schema": ("ses_mail.cli.schema", "print, write or check the roster's JSON Schema"),
    "adopt": ("ses_mail.cli.adopt", "take over domains already in the account: read it (read-only), write a `pulumi import` file"),
    "credentials": ("ses_mail.cli.credentials", "one person's SMTP settings from `pulumi stack output --json --show-secrets`"),
    "doctor": ("ses_mail.cli.doctor", "check the live account: SES identities, public DNS, sandbox, reputation (read-only)"),
    "dmarc": ("ses_mail.cli.dmarc", "read DMARC aggregate reports (dir or S3, read-only): is tightening DMARC safe?"),
    "audit": ("ses_mail.cli.audit", "check IAM users and access keys against the roster, and drift (read-only)"),
    "prove": ("ses_mail.cli.prove", "send as each person through SES to its mailbox simulator and check every promise"),
    "rotate": ("ses_mail.cli.rotate", "rotate one person's SMTP credential now (delivery `rotation`; writes: RotateSecret)"),
}


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: ses-mail <command> [options]   (ses-mail <command> --help for its options)", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        (sys.stdout if args else sys.stderr).write(usage())
        return EXIT_OK if args else EXIT_USAGE
    if args[0] == "--version":
        from importlib.metadata import PackageNotFoundError, version
        try:
            print(f"ses-mail {version('ses-mail-roster')}")
        except PackageNotFoundError:
            print("ses-mail (not installed)")
        return EXIT_OK
    if args[0] not in COMMANDS:
        sys.stderr.write(f"ses-mail: unknown command {args[0]!r}\n\n" + usage())
        return EXIT_USAGE
    module = importlib.import_module(COMMANDS[args[0]][0])
    return int(module.main(args[1:]) or EXIT_OK)


if __name__ == "__main__":
    sys.exit(main())
