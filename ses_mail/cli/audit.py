"""Audit credentials: every person's IAM user and access keys against the roster, and drift.

    ses-mail audit [--stack S | --roster FILE] [--region R] [--stale-days N]
                   [--max-key-age-days N] [--days N] [--format text|json]

Read-only; AWS credentials from the standard chain (no Pulumi CLI). Exit status: 0 clean,
1 findings (drift, missing users or keys, stale or old keys), 2 usage, no credentials, or AWS
refused a read.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional

from ses_mail.live.clients import ClientFactory, boto3_factory
from ses_mail.cli.account_run import report_and_exit
from ses_mail.cli.exit_codes import EXIT_USAGE


def _days(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    from ses_mail.live.audit import DEFAULT_MAX_KEY_AGE_DAYS, DEFAULT_METRIC_DAYS, DEFAULT_STALE_DAYS

    parser = argparse.ArgumentParser(prog="ses-mail audit", description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", help="stack whose Pulumi.<stack>.yaml names the roster and settings (default: dev)")
    where.add_argument("--roster", metavar="FILE", help="a roster file alone (region from --region or AWS config)")
    parser.add_argument("--region", help="SES region, for the send policy's identity ARNs (default: the stack's)")
    parser.add_argument("--stale-days", type=_days, default=DEFAULT_STALE_DAYS, metavar="N",
                        help=f"flag active keys unused for N days (default {DEFAULT_STALE_DAYS})")
    parser.add_argument("--max-key-age-days", type=_days, default=DEFAULT_MAX_KEY_AGE_DAYS, metavar="N",
                        help=f"flag keys older than N days: rotation reminder (default {DEFAULT_MAX_KEY_AGE_DAYS})")
    parser.add_argument("--days", type=_days, default=DEFAULT_METRIC_DAYS, metavar="N",
                        help=f"sends, bounces and complaints over the last N days (default {DEFAULT_METRIC_DAYS})")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--project-dir", metavar="DIR", help="the Pulumi project (default: found from the working directory)")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None, *, clients: Optional[ClientFactory] = None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    from ses_mail.cli.console import progress
    from ses_mail.live import audit
    from ses_mail.live.render import console
    from ses_mail.live.target import TargetError, resolve_target

    try:
        target = resolve_target(stack=args.stack, roster=args.roster, region=args.region, project_dir=args.project_dir)
    except TargetError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    factory = clients or boto3_factory(target.region)
    return report_and_exit(
        lambda: audit.run(target, factory, stale_days=args.stale_days, max_age_days=args.max_key_age_days,
                          metric_days=args.days, progress=progress),
        fmt=args.format, render=lambda report: render(report, console()), passed=lambda report: report.clean)


def render(report, out) -> None:
    from ses_mail.live.render import findings_table, summary_line, table

    out.print(f"ses-mail audit: account {report.account_id}, region {report.region}, IAM path {report.iam_path}")
    rows = []
    for p in report.people:
        act = p.activity
        activity = (f"{act['sends']:.0f}/{act['bounces']:.0f}/{act['complaints']:.0f}" if act else "-")
        if not p.exists:
            rows.append([p.address, p.iam_user, p.status, "NO USER", "", "", "", activity])
        for i, k in enumerate(p.keys):
            used = (f"{k['last_used'][:10]} {k['last_used_service'] or ''} {k['last_used_region'] or ''}".strip()
                    if k["last_used"] else "never")
            gen = "" if k["generation"] is None else f"{k['generation']}{' (current)' if k['current'] else ''}"
            rows.append([p.address if i == 0 else "", p.iam_user if i == 0 else "", p.status if i == 0 else "",
                         k["id"], k["status"], gen, f"{k['age_days']}d", used, activity if i == 0 else ""])
        if p.exists and not p.keys:
            rows.append([p.address, p.iam_user, p.status, "no keys", "", "", "", "", activity])
    out.print(table(None, ["ADDRESS", "IAM USER", "ROSTER", "KEY", "STATUS", "GENERATION", "AGE", "LAST USED",
                           f"SENT/BOUNCED/COMPLAINED ({report.metric_days}d)"], rows))
    out.print()
    if report.findings:
        out.print(findings_table(report.findings))
        out.print()
    out.print(summary_line(report.findings, "clean: IAM matches the roster"))


if __name__ == "__main__":
    sys.exit(main())
