"""Check a live account: every roster domain's SES identity and public DNS, and the SES account.

    ses-mail doctor [--stack S | --roster FILE] [--region R] [--resolver HOST[:PORT]]
                    [--wait SECONDS] [--format text|json]

Read-only; AWS credentials from the standard chain (no Pulumi CLI). Exit status: 0 healthy,
1 findings (errors or warnings), 2 usage, no credentials, or AWS refused a read.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional

from ses_mail.live.clients import ClientFactory, boto3_factory
from ses_mail.cli.account_run import report_and_exit
from ses_mail.cli.exit_codes import EXIT_USAGE


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ses-mail doctor", description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", help="stack whose Pulumi.<stack>.yaml names the roster and region (default: dev)")
    where.add_argument("--roster", metavar="FILE", help="a roster file alone (region from --region or AWS config)")
    parser.add_argument("--region", help="SES region (default: the stack's ses-mail:region or aws:region)")
    parser.add_argument("--resolver", metavar="HOST[:PORT]",
                        help="DNS server to ask, also taken as the zones' authority (default: the system resolver)")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                        help="poll until every domain is verified and public, or SECONDS have passed")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--project-dir", metavar="DIR", help="the Pulumi project (default: found from the working directory)")
    args = parser.parse_args(argv)
    if args.wait < 0:
        parser.error("--wait must be 0 or more seconds")
    return args


def main(argv: Optional[list[str]] = None, *, clients: Optional[ClientFactory] = None) -> int:
    """`clients`: where AWS clients come from (tests inject stubbed ones); default boto3's chain."""
    try:
        args = parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    from ses_mail.live import doctor
    from ses_mail.live.dns_check import Resolver
    from ses_mail.live.render import console
    from ses_mail.live.target import TargetError, resolve_target

    try:
        target = resolve_target(stack=args.stack, roster=args.roster, region=args.region, project_dir=args.project_dir)
        resolver = Resolver(args.resolver)
    except (TargetError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    factory = clients or boto3_factory(target.region)
    out = console()
    # Cloudflare zones (their name servers, for the delegation check) with CLOUDFLARE_API_TOKEN, if set.
    from ses_mail.modes.dns import dns_provider
    cloudflare = None
    if any(dns_provider(d.dns).cloudflare_zone for d in target.roster.domains):
        from ses_mail.live.cloudflare import CloudflareAccessError, CloudflareReader
        try:
            cloudflare = CloudflareReader.from_environment()
        except CloudflareAccessError:
            cloudflare = None

    def polling(pending) -> None:
        if args.format == "text":
            print(f"waiting: {len(pending)} findings remain, checking again...", file=sys.stderr)

    def check():
        from ses_mail.cli.console import status
        with status(f"checking {len(target.roster.domains)} domains in {target.region}"):
            return doctor.run(target, factory, resolver, wait=args.wait, on_poll=polling, cloudflare=cloudflare)

    return report_and_exit(check, fmt=args.format, render=lambda report: render(report, out),
                           passed=lambda report: report.healthy)


def render(report, out) -> None:
    from ses_mail.live.render import findings_table, summary_line, table

    out.print(f"ses-mail doctor: region {report.region}, DNS via {report.resolver}")
    for d in report.domains:
        i = d.identity
        state = ("SES identity missing" if not i else
                 f"verified={'yes' if i['verified_for_sending'] else 'NO'} dkim={i['dkim_status']} "
                 f"mail_from={i['mail_from_status']} configuration_set={i['configuration_set'] or '-'}")
        out.print()
        out.print(f"[bold]{d.domain}[/]  {state}")
        out.print(table(None, ["", "NAME", "TYPE", "EXPECTED", "FOUND"],
                        [["ok" if r["ok"] else "!!", r["name"], r["type"], r["value"], " | ".join(r["found"]) or "-"]
                         for r in d.records]))
    a = report.account
    quota = a["send_quota"]
    out.print()

    def pct(v):
        return "-" if v is None else f"{v:.2%}"

    def num(v):
        return "-" if v is None else f"{v:g}"
    out.print(f"[bold]account[/]  production_access={'yes' if a['production_access'] else 'NO (sandbox)'} "
              f"sending={'enabled' if a['sending_enabled'] else 'DISABLED'} enforcement={a['enforcement_status']} "
              f"quota={num(quota['sent_last_24_hours'])}/{num(quota['max_24_hour_send'])} per 24h, "
              f"{num(quota['max_send_rate'])}/s "
              f"bounce={pct(a['bounce_rate'])} (alarm {pct(a['bounce_alarm'])}) "
              f"complaint={pct(a['complaint_rate'])} (alarm {pct(a['complaint_alarm'])})")
    out.print()
    if report.findings:
        out.print(findings_table(report.findings))
        out.print()
    out.print(summary_line(report.findings, "healthy"))


if __name__ == "__main__":
    sys.exit(main())
