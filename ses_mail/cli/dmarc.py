"""Read DMARC aggregate reports and say, per domain, whether tightening DMARC is safe.

    ses-mail dmarc [--stack S | --bucket B | --dir DIR] [--roster FILE] [--since DAYS]
                   [--format text|json] [--min-days N] [--min-messages N]
                   [--min-aligned-share F] [--max-failing-source-share F]

Reports come from a local directory of .xml/.gz/.zip/.eml files, from an S3 bucket (read-only),
or from a stack's report bucket (the roster's `reports.bucket`, or the name
ses_mail.specs.report_receiving.bucket_name gives). The current policy of a domain is the
roster's with --stack or --roster, else the one the latest report says receivers saw.
Exit status: 0, or 1 when a domain's current policy is stricter than the evidence supports,
2 on usage errors, missing credentials or an AWS error. docs/dmarc.md documents the output.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

from ses_mail.cli.exit_codes import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE

DEFAULT_SINCE_DAYS = 30


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ses-mail dmarc", description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--dir", metavar="DIR", help="a directory of report files (.xml, .gz, .zip, .eml)")
    where.add_argument("--bucket", metavar="B", help="an S3 bucket of reports (read-only)")
    where.add_argument("--stack", metavar="S", help="the stack whose report bucket and roster are read")
    parser.add_argument("--roster", metavar="FILE", help="take the current policies from this roster (not with --stack)")
    parser.add_argument("--prefix", default=None,
                        help="with --bucket/--stack: only keys under this prefix (default: all with --bucket; "
                             "the report rule's dmarc/ with --stack, never prove's test messages)")
    parser.add_argument("--region", help="AWS region (default: the stack's, else the AWS configuration's)")
    parser.add_argument("--since", type=int, default=DEFAULT_SINCE_DAYS, metavar="DAYS",
                        help=f"only reports whose period ends in the last DAYS days, 0 for all (default {DEFAULT_SINCE_DAYS})")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--project-dir", metavar="DIR", help="the Pulumi project (default: found from the working directory)")
    from ses_mail.dmarc.analysis import Thresholds
    d = Thresholds()
    parser.add_argument("--min-days", type=int, default=d.min_days)
    parser.add_argument("--min-messages", type=int, default=d.min_messages)
    parser.add_argument("--min-aligned-share", type=float, default=d.min_aligned_share)
    parser.add_argument("--max-failing-source-share", type=float, default=d.max_failing_source_share)
    args = parser.parse_args(argv)
    if args.since < 0:
        parser.error("--since must be 0 (all) or more days")
    if args.stack and args.roster:
        parser.error("--roster goes with --dir or --bucket; --stack reads the stack's own roster")
    try:
        args.thresholds = Thresholds(args.min_days, args.min_messages, args.min_aligned_share,
                                     args.max_failing_source_share)
    except ValueError as err:
        parser.error(str(err))
    return args


def main(argv: Optional[list[str]] = None, *, clients: Any = None, now: Optional[datetime] = None) -> int:
    """`clients`: a factory of AWS clients (tests pass moto's); `now`: the clock (tests fix it)."""
    try:
        args = parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    from ses_mail.dmarc import analysis
    from ses_mail.dmarc.reports import read_directory
    from ses_mail.live.errors import explain

    now = now or datetime.now(timezone.utc)
    since = args.since or None
    roster_policies = None
    try:
        if args.dir:
            directory = Path(args.dir)
            if not directory.is_dir():
                print(f"error: {directory} is not a directory", file=sys.stderr)
                return EXIT_USAGE
            read = read_directory(directory)
        else:
            bucket, roster_policies, factory = _bucket_source(args, clients)
            # A stack's bucket also holds prove's test messages (under prove/): only the report rule's prefix.
            from ses_mail.specs.report_receiving import DEFAULT_OBJECT_PREFIX
            prefix = args.prefix if args.prefix is not None else "" if args.bucket else DEFAULT_OBJECT_PREFIX
            from ses_mail.dmarc.bucket import read_bucket
            read = read_bucket(factory("s3"), bucket, prefix=prefix,
                               since=now - timedelta(days=since) if since else None)
        if args.roster:
            roster_policies = _roster_policies(_load(args.roster))
    except _Usage as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:  # explain() picks what is the environment's fault
        message = explain(err)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE

    window = analysis.in_window(read.reports, since, now)
    summaries = analysis.summarise(window, thresholds=args.thresholds, roster_policies=roster_policies)
    _, duplicates = analysis.deduplicate(window)
    document = {
        "files": read.files, "reports": len(window) - duplicates, "duplicates": duplicates,
        "outside_window": len(read.reports) - len(window), "since_days": since,
        "thresholds": dataclasses.asdict(args.thresholds),
        "findings": [{"source": f.subject, "message": f.message} for f in read.findings],
        "domains": [s.as_dict() for s in summaries],
    }
    if args.format == "json":
        print(json.dumps(document, indent=2, sort_keys=True))
    else:
        _render(document)
    return EXIT_FINDINGS if analysis.exit_status(summaries) else EXIT_OK


class _Usage(Exception):
    pass


def _load(path: str):
    from ses_mail.roster import RosterError, load_roster
    try:
        return load_roster(path)
    except RosterError as err:
        raise _Usage(str(err)) from None


def _roster_policies(roster) -> dict[str, tuple[str, bool]]:
    return {d.name: (d.dmarc.policy, d.dmarc.testing) for d in roster.domains if d.dmarc.enabled}


def _bucket_source(args: argparse.Namespace, clients: Any):
    from ses_mail.live.clients import boto3_factory
    from ses_mail.live.target import TargetError, resolve_target

    if args.bucket:
        return args.bucket, None, clients or boto3_factory(args.region)
    try:
        target = resolve_target(stack=args.stack, roster=None, region=args.region, project_dir=args.project_dir)
    except TargetError as err:
        raise _Usage(str(err)) from None
    factory = clients or boto3_factory(target.region)
    reports = getattr(target.roster, "reports", None)
    if reports is None:
        raise _Usage(f"stack {args.stack!r}: its roster has no `reports:` section, so it receives no reports "
                     "(docs/dmarc.md); give --bucket or --dir")
    bucket = reports.bucket
    if not bucket:
        from ses_mail.specs.report_receiving import bucket_name
        account = factory("sts").get_caller_identity()["Account"]
        bucket = bucket_name(args.stack, account, target.region)
    return bucket, _roster_policies(target.roster), factory


def _render(doc: dict[str, Any]) -> None:
    def pct(v):
        return "-" if v is None else f"{v * 100:.1f}%"

    print(f"{doc['reports']} reports from {doc['files']} files ({doc['duplicates']} duplicates counted once, "
          f"{doc['outside_window']} outside the window)")
    for d in doc["domains"]:
        print(f"\n{d['domain']}: {d['reports']} reports, {d['days']} days ({d['first_day']} to {d['last_day']}), "
              f"{d['messages']} messages")
        print(f"  DMARC pass {pct(d['dmarc_pass_share'])}, aligned DKIM {pct(d['dkim_aligned_share'])}, "
              f"aligned SPF {pct(d['spf_aligned_share'])}; legitimate mail passing {pct(d['legitimate_pass_share'])}")
        print(f"  policy now: {d['current_policy']} (from the {d['current_policy_from']})")
        print(f"  recommendation: {d['recommendation'].upper()}: {d['reason']}")
        print("  sources:")
        for s in d["sources"]:
            print(f"    {s['ip']:<39} {s['messages']:>8} msgs {pct(s['share']):>7}  DKIM aligned {s['dkim_aligned']}"
                  f"  SPF aligned {s['spf_aligned']}  failing {s['failing']} ({s['kind']})  by {', '.join(s['reporting_orgs'])}")
        if d["failing_sources"]:
            print("  failing, largest first: " + ", ".join(f"{s['ip']} ({s['failing']}, {s['kind']})" for s in d["failing_sources"]))
    if doc["findings"]:
        print(f"\n{len(doc['findings'])} files not read:")
        for f in doc["findings"]:
            print(f"  {f['source']}: {f['message']}")
