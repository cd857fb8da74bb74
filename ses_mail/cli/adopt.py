"""Take over domains already set up in the account (`existing: adopt` / `existing: reference`).

Reads the account, read-only (SES identities and their MAIL FROM settings; Route 53 record sets
at exactly the names and types the program manages) and writes a Pulumi bulk import file whose
types, names and parents are those the program registers, so that

    pulumi import --file import.json --generate-code=false
    pulumi preview

shows updates only. Lists what it adopts and what the first `pulumi up` then changes. What
cannot be adopted safely is a finding with its fix, and no file is written.

    ses-mail adopt [--stack S | --roster FILE] [--region R] [--out FILE] [--format text|json]

Exit status (docs/exit-codes.md): 0 the file was written (or nothing is to be adopted) with no findings; 1 findings;
2 usage errors, an invalid roster or stack config, or missing AWS credentials.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterable

from ses_mail.cli.exit_codes import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError
from ses_mail.live.errors import explain
from ses_mail.project import Project, ProjectError, ProjectNotFound, find_project
from ses_mail.stack_settings import SettingsError, from_config

DEFAULT_OUT = "import.json"
JSON_FORMAT_VERSION = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ses-mail adopt", description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--stack", help="stack whose Pulumi.<stack>.yaml (roster, region) to use (default: dev)")
    which.add_argument("--roster", help="roster file, without a stack file (then --region is needed)")
    parser.add_argument("--region", help="SES region to look in (default: the stack's ses-mail:region, else aws:region)")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"import file to write (default: {DEFAULT_OUT})")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="report format on stdout")
    parser.add_argument("--project-dir", metavar="DIR", help="the Pulumi project (default: found from the working directory)")
    return parser


def _project(directory: str | None, roster_only: bool) -> Project:
    try:
        return find_project(directory)
    except ProjectNotFound:
        if roster_only:  # a bare roster: the packaged program, no stack file
            return Project(Path(directory or ".").resolve())
        raise


def main(argv: list[str] | None = None, *, account: Any = None, other_regions: Iterable[str] | None = None,
         cloudflare: Any = None) -> int:
    """`account` and `other_regions` replace the boto3-backed account and the list of SES
    regions searched for identities living elsewhere (tests pass stubbed ones); `cloudflare`
    the CloudflareReader made from CLOUDFLARE_API_TOKEN and CLOUDFLARE_BASE_URL."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0) and EXIT_USAGE
    try:
        return _run(args, account, other_regions, cloudflare)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace, account: Any, other_regions: Iterable[str] | None, cloudflare: Any = None) -> int:
    import pulumi

    from ses_mail.modes.existing import existing_mode
    from ses_mail.modes.dns import dns_provider
    from ses_mail.roster import load_roster
    from ses_mail.roster.errors import RosterError
    from ses_mail.roster.identifiers import is_aws_region

    try:
        project = _project(args.project_dir, roster_only=bool(args.roster))
    except ProjectError as err:
        raise UsageError(str(err)) from None
    stack = args.stack or "dev"
    try:
        if args.roster:
            stack_config = project.stack_config(stack) if args.stack else _project_defaults(project)
            roster_path = Path(args.roster).resolve()
        else:
            if not project.stack_file(stack).exists():
                raise UsageError(f"no stack {stack!r}: {project.stack_file(stack)} does not exist")
            stack_config = project.stack_config(stack)
            roster_path = project.roster_of(stack_config)
    except ProjectError as err:
        raise UsageError(str(err)) from None
    try:
        # Checked as the program checks it: a stack config `pulumi up` refuses is refused here too.
        settings = from_config(stack_config, stack=stack, source=str(project.stack_file(stack)) if args.stack or not args.roster else "")
    except SettingsError as err:
        raise UsageError(str(err)) from None
    region = args.region or settings.region
    if not region:
        raise UsageError("no SES region: pass --region, or set aws:region (or ses-mail:region) in the stack file")
    if not is_aws_region(region):
        raise UsageError(f"{region!r} is not an AWS region code such as eu-west-1")
    try:
        roster = load_roster(roster_path)
    except RosterError as err:
        raise UsageError(str(err)) from None

    if not any(existing_mode(d.existing).adopted for d in roster.domains):
        _say(args, {"version": JSON_FORMAT_VERSION, "status": "nothing-to-adopt", "findings": []},
             f"Nothing to adopt: no domain of {roster_path} has `existing: adopt` or `existing: reference`.")
        return EXIT_OK

    account, other_regions = _account(account, other_regions, region)
    from ses_mail.adoption.assess import assess
    from ses_mail.adoption.cloudflare import CloudflareAccessError, CloudflareReader
    try:
        # Cloudflare zones are read only for adopted `dns: cloudflare` domains (CLOUDFLARE_API_TOKEN).
        if cloudflare is None and any(existing_mode(d.existing).adopted and d.managed and dns_provider(d.dns).cloudflare_zone
                                      for d in roster.domains):
            cloudflare = CloudflareReader.from_environment()
        result = assess(project=project, stack=stack, roster=roster, roster_path=roster_path, region=region,
                        stack_config=stack_config, account=account, other_regions=other_regions,
                        cloudflare=cloudflare)
    except CloudflareAccessError as err:
        raise UsageError(str(err)) from None
    except pulumi.RunError as err:
        raise UsageError(str(err)) from None
    except Exception as err:  # botocore's credential and connection errors; the rest re-raises
        message = explain(err)  # what is the environment's fault, as doctor and audit say it
        if message is None:
            raise
        raise UsageError(message) from None

    out: Path | None = None
    if result.document is not None and not result.findings:
        out = Path(args.out)
        out.write_text(json.dumps(result.document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    report = render_json(result, out) if args.format == "json" else render_text(result, out)
    sys.stdout.write(report)
    return EXIT_FINDINGS if result.findings else EXIT_OK


def _project_defaults(project: Project) -> dict[str, str]:
    from ses_mail.project import PULUMI_FILE, config_from_texts, read_text

    return config_from_texts(read_text(project.dir / PULUMI_FILE), None)


def _account(account: Any, other_regions: Iterable[str] | None, region: str) -> tuple[Any, list[str]]:
    from ses_mail.adoption.account import Account, ses_regions

    if account is None:
        import boto3

        account = Account(boto3.Session(), default_region=region)
    if other_regions is None:
        other_regions = ses_regions(account.session, region)
    return account, list(other_regions)


def _say(args: argparse.Namespace, document: dict[str, Any], text: str) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n" if args.format == "json" else text + "\n")


# --- reports ------------------------------------------------------------------------------

def _short(type_: str) -> str:
    return type_.split(":")[-1]


def render_text(result: Any, out: Path | None) -> str:
    lines = [f"ses-mail adopt: stack {result.stack}, SES region {result.region}, account {result.account} (read-only)", ""]
    domains: dict[str, list[Any]] = {}
    for item in result.items:
        domains.setdefault(item.domain, []).append(item)
    for domain, items in domains.items():
        lines.append(f"Domain {domain} (existing: adopt)")
        for item in items:
            what = f"{'adopt' if item.action == 'import' else 'create':<6} {_short(item.type):<32} {item.name}"
            lines.append(f"  {what}" + (f"  [{item.note}]" if item.note else ""))
            if item.action == "import":
                lines.append(f"           id {item.import_id}")
                for change in item.changes:
                    lines.append(f"           first `pulumi up` changes {change}")
                if not item.changes:
                    lines.append("           first `pulumi up` changes nothing")
        lines.append("")
    for ref in result.referenced:
        lines.append(f"Domain {ref.domain} (existing: reference): identity {ref.arn} — {ref.status}; "
                     "nothing created or imported, people's credentials send through it")
    if result.referenced:
        lines.append("")
    if result.findings:
        lines.append(f"FINDINGS ({len(result.findings)}): cannot be adopted safely; no import file written.")
        for f in result.findings:
            lines.append(f"  ! {f.subject}: {f.message} [{f.code}]")
            lines.append(f"    fix: {f.fix}")
        return "\n".join(lines) + "\n"
    adopted = result.to_import
    if out is None:
        lines.append("Nothing exists yet to adopt: `pulumi up` creates every resource listed above.")
        return "\n".join(lines) + "\n"
    components = sum(1 for e in result.document["resources"] if e.get("component"))
    lines += [f"Wrote {out}: {len(adopted)} resources to adopt, {components} component parents.",
              "Next:",
              f"  pulumi import --file {out} --generate-code=false",
              "  pulumi preview        # updates only: the changes listed above, and what is still to create"]
    return "\n".join(lines) + "\n"


def render_json(result: Any, out: Path | None) -> str:
    document = {
        "version": JSON_FORMAT_VERSION,
        "status": "findings" if result.findings else ("written" if out else "nothing-to-import"),
        "stack": result.stack, "region": result.region, "account": result.account,
        "out": str(out) if out else None,
        "resources": [i.as_json() for i in result.items],
        "referenced": [r.as_json() for r in result.referenced],
        # Format version 1: a finding's subject (always a domain here) is `domain`.
        "findings": [{"domain": f.subject, "code": f.code, "message": f.message, "fix": f.fix}
                     for f in result.findings],
        "import_file": result.document if not result.findings else None,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.exit(main())
