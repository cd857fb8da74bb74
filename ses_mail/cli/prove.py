"""Prove every promise on the real account: send as each person through SES's SMTP interface.

    ses-mail prove (--stack S | --roster FILE [--region R]) [--person EMAIL ...]
                   [--credentials FILE | --from-secrets] [--endpoint HOST:PORT] [--ca-file PEM]
                   [--server-name NAME] [--feedback] [--receiver [--resolver HOST[:PORT]]]
                   [--format text|json]

Sends only to SES's mailbox simulator, and with --receiver one message per domain to the stack's
own receiving address. Without --feedback, --from-secrets or --receiver it makes no AWS API call:
the roster and the credentials (`pulumi stack output --show-secrets --json smtp_credentials`,
`-` for standard input) are all it needs. --feedback creates a temporary SQS queue subscribed to
the stack's feedback topic and deletes both before it exits; --receiver reads the report bucket
(docs/prove.md).
Exit status: 0 every expectation holds, 1 one does not (or nothing could be tested), 2 usage,
missing credentials or libraries, or the endpoint or AWS could not be reached.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Optional

from ses_mail.cli.exit_codes import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

#: Exit status after Ctrl-C or SIGTERM (128 + SIGINT), once the feedback check has cleaned up.

ClientFactory = Callable[[str], Any]


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ses-mail prove", description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", help="stack whose Pulumi.<stack>.yaml names the roster and region (default: dev)")
    where.add_argument("--roster", metavar="FILE", help="a roster file alone (region from --region or AWS config)")
    parser.add_argument("--region", help="SES region (default: the stack's ses-mail:region or aws:region)")
    parser.add_argument("--person", action="append", metavar="EMAIL", default=[],
                        help="prove only this person (repeatable; default: everyone in the roster)")
    creds = parser.add_mutually_exclusive_group()
    creds.add_argument("--credentials", metavar="FILE",
                       help="`pulumi stack output --show-secrets --json smtp_credentials` saved to FILE, or - (stdin)")
    creds.add_argument("--from-secrets", action="store_true",
                       help="read people's credentials from Secrets Manager (delivery secrets_manager)")
    parser.add_argument("--endpoint", metavar="HOST:PORT",
                        help="SMTP endpoint (default: email-smtp.<region>.amazonaws.com:587), e.g. a VPC endpoint")
    parser.add_argument("--ca-file", metavar="PEM", help="an extra trust anchor for the endpoint's certificate")
    parser.add_argument("--server-name", metavar="NAME", help="the name to verify in the endpoint's certificate")
    parser.add_argument("--feedback", action="store_true",
                        help="also prove the feedback loop (creates and deletes a temporary SQS queue)")
    parser.add_argument("--feedback-timeout", type=float, default=None, metavar="SECONDS", help=argparse.SUPPRESS)
    parser.add_argument("--receiver", action="store_true",
                        help="also the receiver's view: one message per domain to the stack's receiving subdomain, "
                             "read back from the report bucket and judged (S3 reads; the `prove` extra)")
    parser.add_argument("--resolver", metavar="HOST[:PORT]",
                        help="with --receiver: the DNS server its SPF, DKIM and DMARC checks ask (default: the system's)")
    parser.add_argument("--receiver-timeout", type=float, default=None, metavar="SECONDS", help=argparse.SUPPRESS)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--project-dir", metavar="DIR", help="the Pulumi project (default: found from the working directory)")
    args = parser.parse_args(argv)
    if not args.credentials and not args.from_secrets:
        parser.error("give --credentials FILE (or -) or --from-secrets: prove sends with each person's own credential")
    if args.resolver and not args.receiver:
        parser.error("--resolver goes with --receiver")
    return args


def _endpoint(args: argparse.Namespace, region: str):
    from ses_mail.live.prove import Endpoint
    from ses_mail.specs.smtp_password import SMTP_PORT, smtp_endpoint

    if not args.endpoint:
        return Endpoint(smtp_endpoint(region), SMTP_PORT, args.server_name, args.ca_file)
    host, sep, port = args.endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--endpoint {args.endpoint!r} is not HOST:PORT")
    return Endpoint(host.strip("[]"), int(port), args.server_name, args.ca_file)


def writer_factory(region: str) -> ClientFactory:
    """boto3 clients from the standard chain; unlike the read-only commands' clients, not guarded:
    --feedback creates and deletes its queue and subscription."""
    import boto3

    session = boto3.session.Session(region_name=region)
    cache: dict[str, Any] = {}

    def factory(service: str) -> Any:
        if service not in cache:
            cache[service] = session.client(service)
        return cache[service]

    return factory


def main(argv: Optional[list[str]] = None, *, clients: Optional[ClientFactory] = None,
         stdin=None, stdout=None) -> int:
    """`clients`: where AWS clients come from (tests pass moto's); used only by --feedback and
    --from-secrets."""
    try:
        args = parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    from ses_mail.live import prove
    from ses_mail.live.receiver import MissingLibraries
    from ses_mail.live.target import TargetError, resolve_target

    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    try:
        target = resolve_target(stack=args.stack, roster=args.roster, region=args.region, project_dir=args.project_dir)
        endpoint = _endpoint(args, target.region)
        if args.feedback and not target.configuration_set:
            raise TargetError("--feedback needs the stack's configuration set: give --stack "
                              "(and keep deliverability.configuration_set on)")
        if args.receiver:
            _check_receiver(target)
        everyone = prove.people_of(target.roster)
        chosen = _choose(everyone, args.person)
        factory = clients or (writer_factory(target.region) if args.feedback or args.from_secrets else None)
        credentials = _credentials(args, chosen, stdin, factory)
    except (TargetError, ValueError, prove.CredentialsError, MissingLibraries) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE

    send = prove.smtp_sender(endpoint)
    report = prove.Report(target.region, f"{endpoint.host}:{endpoint.port}")
    domains = [d.name for d in target.roster.domains]
    try:
        for person in chosen:
            credential, why_not = credentials[person.address]
            report.rows += prove.prove_person(person, credential, why_not, everyone, domains, send)
        if args.feedback:
            report.feedback = _feedback(args, target, chosen, credentials, report, factory, send)
        if args.receiver:
            report.receiver = _receiver(args, target, chosen, credentials, report, clients, send)
        elif target.roster.reports is not None:
            report.receiver = {"skipped": "not asked: --receiver also sends one message per domain to the stack's "
                                          "receiving subdomain and judges it (it reads the report bucket)"}
    except prove.EndpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: the feedback check's queue and subscription were deleted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        from ses_mail.live.errors import explain
        from ses_mail.live.feedback import FeedbackSetupError

        message = str(err) if isinstance(err, FeedbackSetupError) else explain(err)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE

    feedback_ok = report.feedback is None or report.feedback.get("holds") is True
    if args.format == "json":
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True), file=stdout)
    else:
        render(report, stdout)
    return EXIT_OK if report.passed and feedback_ok else EXIT_FINDINGS


def _choose(everyone, wanted: list[str]):
    if not wanted:
        return everyone
    by_address = {p.address.lower(): p for p in everyone}
    unknown = [w for w in wanted if w.strip().lower() not in by_address]
    if unknown:
        raise ValueError(f"not in the roster: {', '.join(unknown)}")
    return [by_address[w.strip().lower()] for w in dict.fromkeys(wanted)]


def _credentials(args, chosen, stdin, factory) -> dict[str, tuple[Any, Optional[str]]]:
    from ses_mail.live import prove

    out: dict[str, tuple[Any, Optional[str]]] = {}
    if args.credentials:
        try:
            text = stdin.read() if args.credentials == "-" else open(args.credentials, encoding="utf-8").read()
            data = json.loads(text)
        except OSError as err:
            raise prove.CredentialsError(f"cannot read {args.credentials}: {err.strerror or err}") from None
        except ValueError as err:
            raise prove.CredentialsError(f"the credentials are not JSON ({err})") from None
        creds = prove.parse_credentials(data)
        for person in chosen:
            out[person.address] = prove.credential_from_output(person, creds)
        return out
    from ses_mail.modes.delivery import delivery_mode
    from ses_mail.specs.naming import secret_name

    for person in chosen:
        if not delivery_mode(person.delivery).uses_secret:
            out[person.address] = (None, f"delivery {person.delivery}: not in Secrets Manager (give --credentials)")
        elif person.suspended:
            out[person.address] = (None, "suspended: the access key is Inactive by design")
        else:
            value = factory("secretsmanager").get_secret_value(SecretId=secret_name(person.address))
            out[person.address] = (prove.credential_from_secret(person, value["SecretString"]), None)
    return out


def _feedback(args, target, chosen, credentials, report, factory, send) -> dict[str, Any]:
    from ses_mail.live.feedback import DEFAULT_TIMEOUT, prove_feedback

    # The first person whose own address SES accepted: the send must get through for events to exist.
    accepted = {r.person for r in report.rows if r.case == "P1" and r.observed == "accepted"}
    person = next((p for p in chosen if p.address in accepted), None)
    if person is None:
        return {"holds": False, "observed": "not testable here: nobody's own address was accepted"}
    result = prove_feedback(credential=credentials[person.address][0], display_name=person.display_name,
                            region=target.region, configuration_set=target.configuration_set,
                            sts=factory("sts"), sns=factory("sns"), sqs=factory("sqs"), send=send,
                            timeout=DEFAULT_TIMEOUT if args.feedback_timeout is None else args.feedback_timeout,
                            poll_seconds=1 if args.feedback_timeout is not None and args.feedback_timeout < 20 else 10)
    return result.as_dict()


def _check_receiver(target) -> None:
    """Before anything is sent: the libraries are there, and the bucket's name can be known."""
    from ses_mail.live.receiver import require_libraries
    from ses_mail.live.target import TargetError

    require_libraries()
    reports = target.roster.reports
    if reports is not None and not reports.bucket and target.stack is None:
        raise TargetError("--receiver reads the stack's report bucket: give --stack, or set reports.bucket")


def _receiver(args, target, chosen, credentials, report, clients, send) -> dict[str, Any]:
    """The receiver's view; its rows join the report's. Without `reports:` it is skipped, not failed."""
    from ses_mail.live import receiver
    from ses_mail.live.clients import boto3_factory
    from ses_mail.specs.report_receiving import bucket_name

    reports = target.roster.reports
    if reports is None:
        return {"skipped": "receiving is not set up: the roster has no `reports:` section (docs/dmarc.md), "
                           "so the stack has no address to send to"}
    # Read-only clients (Get/List only): the receiver's view writes nothing.
    factory = clients or boto3_factory(target.region)
    bucket = reports.bucket or bucket_name(target.stack, factory("sts").get_caller_identity()["Account"],
                                           target.region)
    timeout = receiver.DEFAULT_TIMEOUT if args.receiver_timeout is None else args.receiver_timeout
    with receiver.using_resolver(args.resolver):
        rows, section = receiver.prove_receiver(
            domains=[d.name for d in target.roster.domains], chosen=chosen, rows=report.rows,
            credentials=credentials, reports_address=reports.address, bucket=bucket, s3=factory("s3"), send=send,
            timeout=timeout, poll_seconds=1 if timeout < 20 else 10)
    report.rows += rows
    return section


def render(report, stream) -> None:
    from ses_mail.live.prove import ACCEPTED, NOT_TESTABLE
    from ses_mail.live.render import console, table

    out = console(stream)
    to_self = report.receiver is not None and "address" in report.receiver
    out.print(f"ses-mail prove: region {report.region}, SMTP {report.endpoint}, recipients: SES mailbox simulator"
              + (f" and {report.receiver['address']}" if to_self else ""))

    def verdict(row) -> str:
        if row.holds is None:
            return "[yellow]n/a[/]"
        return "[green]ok[/]" if row.holds else "[bold red]FAIL[/]"

    def observed(row) -> str:
        if row.observed == NOT_TESTABLE:
            return f"{NOT_TESTABLE}: {row.note}"
        if row.domain and not row.holds:
            return f"[bold]{row.observed}[/]: {row.note}"  # the receiver's view: why, e.g. the key not found
        return row.observed if row.observed == ACCEPTED or row.holds else f"[bold]{row.observed}[/]"

    out.print(table(None, ["", "PERSON", "CASE", "WHAT", "EXPECTED", "OBSERVED", "SES REPLY"],
                    [[verdict(r), r.person, r.case, r.title, r.expected, observed(r), r.reply or "-"]
                     for r in report.rows]))
    if report.feedback is not None:
        fb = report.feedback
        out.print()
        out.print(f"[bold]feedback[/] as {fb.get('person', '-')} via {fb.get('topic_arn', '-')}")
        if "checks" in fb:
            out.print(table(None, ["", "TO", "EXPECTED", "OBSERVED", "SES REPLY"],
                            [["[green]ok[/]" if c["holds"] else "[bold red]FAIL[/]", to, c["expected"],
                              c.get("observed", "-"), c["send"]] for to, c in fb["checks"].items()]))
            out.print(f"created and deleted: {', '.join(fb['deleted']) or '-'}")
        else:
            out.print(f"[bold red]FAIL[/] {fb.get('observed')}")
    if report.receiver is not None:
        section = report.receiver
        out.print()
        if "skipped" in section:
            out.print(f"[bold]receiver's view[/] skipped: {section['skipped']}")
        else:
            out.print(f"[bold]receiver's view[/]: to {section['address']}, read from "
                      f"s3://{section['bucket']}/{section['prefix']}")
            for domain, entry in section["domains"].items():
                ses = entry.get("ses") or {}
                where = entry.get("object") or entry.get("observed") or "-"
                out.print(f"  {domain}: {where}" + (f"; SES spam {ses.get('spam_verdict') or '-'}, virus "
                                                     f"{ses.get('virus_verdict') or '-'}" if ses else ""))
    out.print()
    untested = sum(not r.tested for r in report.rows)
    if report.failed:
        out.print(f"[bold red]{len(report.failed)} expectations do not hold[/]: "
                  + ", ".join(r.label for r in report.failed))
    elif not report.tested:
        out.print("[bold red]nothing could be tested here[/]")
    else:
        out.print(f"[green]every tested expectation holds[/] ({report.tested} sends"
                  + (f", {untested} not testable here" if untested else "") + ")")


if __name__ == "__main__":
    sys.exit(main())
