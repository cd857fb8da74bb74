"""Exit statuses of every `ses-mail` command, in one table (documented in docs/exit-codes.md).

A code means the same kind of outcome in every command that uses it; `STATUSES` says, per
command, what exactly. Scripts and workflows rely on them (the pull-request workflow and
`make diff` on diff's 3 and 4), so a code never changes meaning without those and the page.
No imports: the pre-commit hook (`ses-mail validate`) loads this without Pulumi or boto3.
"""
from __future__ import annotations

#: Success: nothing to report.
EXIT_OK = 0
#: The check ran and found problems (validate, doctor, audit, adopt, schema --check). Python
#: also exits 1 on an internal error (a bug), with a traceback.
EXIT_FINDINGS = 1
#: Could not run: bad options, no project or stack, unreadable input, no AWS credentials or access.
EXIT_USAGE = 2
#: diff: the roster change changes the stack (a success for CI).
EXIT_CHANGES = 3
#: credentials: the person is suspended, so there is no usable password.
EXIT_SUSPENDED = 3
#: diff: a roster or stack config is invalid on the base or head side (the diff is still written).
EXIT_INVALID = 4
#: prove: interrupted (Ctrl-C or SIGTERM) after its temporary resources were cleaned up; 128 + SIGINT, as shells report it.
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad arguments or environment (unknown revision, missing stack, no region): exit EXIT_USAGE."""


#: command -> (code, what it means for that command), for every code the command can return.
STATUSES: dict[str, tuple[tuple[int, str], ...]] = {
    "ses-mail": (
        (EXIT_OK, "help or version printed"),
        (EXIT_USAGE, "no command, or an unknown one"),
    ),
    "validate": (
        (EXIT_OK, "every roster is valid (warnings, printed to stderr, do not fail)"),
        (EXIT_FINDINGS, "a roster is invalid or missing: each problem printed as `file:line: field: value message`"),
        (EXIT_USAGE, "bad option, no project (without FILE arguments), or `--region` is not a region code"),
    ),
    "plan": (
        (EXIT_OK, "the plan is printed"),
        (EXIT_USAGE, "no project or stack, or the program refuses the roster or the stack config"),
    ),
    "diff": (
        (EXIT_OK, "no changes"),
        (EXIT_FINDINGS, "internal error (a bug; Python prints a traceback)"),
        (EXIT_USAGE, "bad option, unknown git revision or stack, no git repository"),
        (EXIT_CHANGES, "changes (the diff is printed or written)"),
        (EXIT_INVALID, "a roster or stack config is invalid on the base or head side (the diff says which)"),
    ),
    "schema": (
        (EXIT_OK, "printed, written, or up to date (`--check`)"),
        (EXIT_FINDINGS, "`--check`: the project's roster.schema.json is out of date"),
        (EXIT_USAGE, "bad option, or no project for `--write`/`--check`"),
    ),
    "credentials": (
        (EXIT_OK, "the person's settings are printed"),
        (EXIT_USAGE, "the input is not `pulumi stack output --json --show-secrets`, the address is not in it, "
                     "or `--out` cannot be written (it exists already, or its directory is missing)"),
        (EXIT_SUSPENDED, "the person is suspended: no password is printed"),
    ),
    "doctor": (
        (EXIT_OK, "no errors or warnings (info findings do not fail)"),
        (EXIT_FINDINGS, "errors or warnings"),
        (EXIT_USAGE, "could not check: bad option, no stack or roster, no AWS credentials, access denied"),
    ),
    "audit": (
        (EXIT_OK, "no errors or warnings (info findings do not fail)"),
        (EXIT_FINDINGS, "errors or warnings"),
        (EXIT_USAGE, "could not check: bad option, no stack or roster, no AWS credentials, access denied"),
    ),
    "prove": (
        (EXIT_OK, "every expectation holds for every tested person"),
        (EXIT_FINDINGS, "an expectation does not hold (the table names the person and the case)"),
        (EXIT_USAGE, "bad option, no stack or roster, missing or unreadable credentials, no AWS credentials for "
                     "--feedback/--from-secrets/--receiver, --receiver without the `prove` extra"),
        (EXIT_INTERRUPTED, "interrupted; the temporary queue and subscription of --feedback were deleted first"),
    ),
    "rotate": (
        (EXIT_OK, "the rotation started (RotateSecret accepted)"),
        (EXIT_FINDINGS, "not rotated: the person has no rotating secret, or a rotation is already in progress"),
        (EXIT_USAGE, "bad option, no stack or roster, the address is not in the roster, no AWS credentials or access"),
    ),
    "dmarc": (
        (EXIT_OK, "every domain's current policy is supported by its reports (or no domain has reports)"),
        (EXIT_FINDINGS, "a domain's current policy is stricter than its reports support (the recommendation says what to step back to)"),
        (EXIT_USAGE, "bad option, unreadable directory, no stack or roster, no AWS credentials or access to the bucket"),
    ),
    "adopt": (
        (EXIT_OK, "the import file is written, or there is nothing to adopt"),
        (EXIT_FINDINGS, "findings: something cannot be adopted safely; no file is written"),
        (EXIT_USAGE, "bad option, no stack or region, an invalid roster or stack config, no AWS credentials"),
    ),
}
