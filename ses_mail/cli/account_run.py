"""What the read-only account commands (doctor, audit) share: run the check, turn what is the
environment's fault into one line and exit 2, print the report as JSON or a table, exit 0 or 1."""
from __future__ import annotations

import json
import sys
from typing import Any, Callable

from ses_mail.cli.exit_codes import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from ses_mail.live.errors import explain


def report_and_exit(check: Callable[[], Any], *, fmt: str, render: Callable[[Any], None],
                    passed: Callable[[Any], bool]) -> int:
    try:
        report = check()
    except Exception as err:  # explain() picks what is the environment's fault; the rest re-raises
        message = explain(err)
        if message is None:
            raise  # a bug: the traceback helps more than a line
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE
    if fmt == "json":
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True, default=str))
    else:
        render(report)
    return EXIT_OK if passed(report) else EXIT_FINDINGS
