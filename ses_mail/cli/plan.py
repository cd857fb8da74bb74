"""Offline plan: what `pulumi up` would create for a stack, without AWS or the Pulumi CLI.

Runs the real `__main__.py` under the mock engine with an emulated AWS provider and prints
every resource it registers, grouped by domain and person, then the DNS records table.
Emulated values (DKIM tokens, key ids, zone ids) are marked FAKE; secrets are never printed.

    ses-mail plan [--stack dev] [--roster path/to/roster.yaml]
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Iterable

import pulumi

from ses_mail.cli.console import counting
from ses_mail.cli.exit_codes import EXIT_OK, EXIT_USAGE
from ses_mail.project import ProjectError, find_project
from ses_mail.resource_types import CLOUDFLARE_RECORD, RECORD, describe, percent
from ses_mail.roster.identifiers import both_forms
from ses_mail.specs.report_receiving import stage_of_record
from ses_mail.review.changes import COMPONENT_KINDS, ROSTER_COMPONENTS, Group, Resource, group_of, resources, short_type
from ses_mail.review.engine import ProgramRun, run_program


#: After the header of a domain whose resources are adopted (`existing: adopt`).
ADOPTED_NOTE = ("  (existing: adopt: import these first with `ses-mail adopt`; removing the domain "
                "releases them, never deletes them)")

#: Component headers as the plan prints them, by the diff's group kinds.
_HEADERS = {kind: short_type(token) for token, kind in {**ROSTER_COMPONENTS, **COMPONENT_KINDS}.items()}


def group_by_component(run: ProgramRun) -> list[tuple[Group, list[Resource]]]:
    """Cloud resources under the component that registered them (the diff's grouping)."""
    found = resources((r.type, r.name, r.inputs, run.options.get((r.type, r.name))) for r in run.registrations)
    by_urn = {r.key: r for r in found}
    groups: dict[Group, list[Resource]] = {group_of(r, by_urn): [] for r in found if not r.custom}
    for r in found:
        if r.custom:
            groups.setdefault(group_of(r, by_urn), []).append(r)
    order = {kind: i for i, kind in enumerate(_HEADERS)}
    return sorted(groups.items(), key=lambda g: (order.get(g[0].kind, len(order)), g[0].name))


def _table(rows: list[list[str]], headers: list[str]) -> Iterable[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    yield "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    yield "  ".join("-" * w for w in widths)
    for row in rows:
        yield "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip()


def _status_columns(status: dict[str, Any]) -> list[str]:
    """Status, delivery, current key generation and restrictions, from `credential_status`."""
    restrictions = status.get("restrictions") or {}
    narrowed = [f"{name}={value if isinstance(value, str) else ','.join(value)}"
                for name, value in restrictions.items()
                if name != "display_names" and value not in (None, "any", [], ())]
    if restrictions.get("display_names") == "any":
        # The opt-out is worth seeing: this person may present under any (non-address) name.
        narrowed.insert(0, "display_name=ANY(opted-out)")
    key = str(status.get("key", ""))
    if status.get("previous_key"):
        key += f" (+{status['previous_key']})"
    return [status.get("status", ""), status.get("delivery", ""), key, " ".join(narrowed) or "-"]


def render(run: ProgramRun) -> str:
    out = [f"Offline plan for stack '{run.stack}': roster {run.roster}, SES region {run.region}",
           "(mock engine: ids, DKIM tokens and keys are FAKE emulations; secrets are not shown)", ""]
    groups = group_by_component(run)
    for group, children in groups:
        # An IDN shows both forms, so a reviewer sees what readers see beside what DNS holds.
        shown = both_forms(group.name) if group.kind == "domain" else group.name
        header = f"+ {_HEADERS.get(group.kind, group.kind)} {shown}".rstrip()
        if children and all(r.retain_on_delete for r in children):
            header += ADOPTED_NOTE
        out.append(header)
        for r in sorted(children, key=lambda r: r.name):
            described = describe(r.type)
            summary = described.summary(r.inputs) if described else ""
            out.append(f"    + {short_type(r.type):<34} {r.name:<44} {summary}")
        out.append("")
    custom = sum(len(children) for _, children in groups)
    out.append(f"{custom} resources to create ({len(groups)} components).")
    managed = {g.name for g, _ in groups if g.kind == "domain"}
    referenced = {d: arn for d, arn in (run.outputs.get("identities") or {}).items() if d not in managed}
    if referenced:
        out.append("")
        out.append("Referenced domains (existing: reference; identity and DNS managed elsewhere, nothing created):")
        out += [f"  = {domain}  {arn}" for domain, arn in sorted(referenced.items())]
    out.append("")
    out.append("DNS records (also the stack output `dns_records`); PUBLISHED BY external: add them where "
               "the domain's DNS is kept (dns: external); cloudflare: created in the domain's Cloudflare zone, "
               "never proxied:")
    in_route53 = {(r.inputs.get("name"), r.inputs.get("type")) for r in run.of_type(RECORD)}
    # Cloudflare records are named as Cloudflare returns them: lower case (ses_mail.specs.cloudflare).
    at_cloudflare = {(r.inputs.get("name"), r.inputs.get("type")) for r in run.of_type(CLOUDFLARE_RECORD)}

    def published_by(name: str, type_: str) -> str:
        if (name, type_) in in_route53:
            return "route53"
        return "cloudflare" if (name.lower(), type_) in at_cloudflare else "external"

    rows = [[r["name"], r["type"], str(r["ttl"]), published_by(r["name"], r["type"]), r["value"]]
            for r in run.outputs.get("dns_records") or []]
    out.extend(_table(rows, ["NAME", "TYPE", "TTL", "PUBLISHED BY", "VALUE"]))
    out.append("")
    out.extend(_deliverability_notes(run))
    out.extend(_boundary_notes(run))
    creds = run.outputs.get("smtp_credentials") or {}
    secret = "smtp_credentials" in run.secret_outputs
    out.append(f"SMTP credentials: {len(creds)} people, exported as a {'Pulumi secret' if secret else 'PLAIN VALUE (bug!)'} "
               "(read with `pulumi stack output smtp_credentials --show-secrets`):")
    senders = run.outputs.get("senders") or {}
    status = run.outputs.get("credential_status") or {}
    rows = [[address, info.get("iam_user", ""), creds.get(address, {}).get("host", ""),
             str(creds.get(address, {}).get("port", "")), *_status_columns(status.get(address) or {})]
            for address, info in sorted(senders.items())]
    out.extend(_table(rows, ["ADDRESS", "IAM USER", "SMTP HOST", "PORT", "STATUS", "DELIVERY", "KEY", "RESTRICTIONS"]))
    return "\n".join(out)


def _deliverability_notes(run: ProgramRun) -> list[str]:
    """Configuration set, alarms, verification records and DMARC report authorisations, in words."""
    info = run.outputs.get("deliverability") or {}
    out = ["Deliverability (stack output `deliverability`):"]
    if info.get("configuration_set"):
        out.append(f"  configuration set {info['configuration_set']}: default of every identity, TLS {info['tls_policy']}; "
                   f"events to the feedback topic: {', '.join(info['event_types']['sns'])}; "
                   f"counted per person in CloudWatch by {info['event_types']['cloudwatch_dimension']}")
    else:
        out.append("  no configuration set (deliverability.configuration_set: false): sends through any set are refused")
    for alarm in (info.get("alarms") or {}).values():
        out.append(f"  alarm {alarm['name']}: {alarm['metric']} >= {percent(alarm['threshold'])} "
                   f"(AWS reviews at {percent(alarm['aws_review_level'])})")
    subscribers = info.get("subscribers") or []
    out.append("  feedback subscribers: " + (", ".join(subscribers) if subscribers else
                                             "none (add deliverability.notify, or nobody hears of bounces)"))
    if info.get("account_suppression"):
        out.append(f"  account-level suppression list: {', '.join(info['account_suppression'])} (account-wide)")
    for auth in info.get("dmarc_report_authorizations") or []:
        who = "published by this stack" if auth["published_by"] == "this stack" else \
            f"ACTION NEEDED: {auth['report_domain']} must publish it, or receivers send no reports"
        out.append(f"  DMARC reports of {auth['domain']} go to {auth['report_domain']}: {auth['name']} TXT v=DMARC1 ({who})")
    stages = {r["name"].removeprefix("_dmarc."): stage_of_record(str(r["value"]))
              for r in run.outputs.get("dns_records") or [] if r["type"] == "TXT" and r["name"].startswith("_dmarc.")}
    if stages:
        out.append("  DMARC rollout: " + "; ".join(f"{d} {s}" for d, s in sorted(stages.items()) if s))
    reports = run.outputs.get("dmarc_reports")
    if reports:
        out.append(f"  DMARC reports to {reports['address']}: MX {reports['mx_record']['name']} -> "
                   f"{reports['mx_record']['value']}; rule {reports['rule']} in receipt rule set {reports['rule_set']}; "
                   f"stored in s3://{reports['bucket']} for {reports['retention_days']} days (read with `ses-mail dmarc --stack`)")
        if reports.get("prove_address"):
            out.append(f"  prove's receiver view: mail to {reports['prove_address']} stored by rule {reports['prove_rule']} "
                       f"under s3://{reports['bucket']}/prove/ (read with `ses-mail prove --receiver`)")
    else:
        out.append("  DMARC reports: not received by this stack (roster `reports:`, docs/dmarc.md)")
    for domain, v in sorted((run.outputs.get("verification") or {}).items()):
        wait = v.get("pulumi_up_waits_minutes")
        out.append(f"  {domain} is verified when its {len(v.get('must_resolve') or [])} DKIM CNAMEs resolve publicly; "
                   + (f"pulumi up waits up to {wait} min" if wait else "pulumi up does not wait")
                   + f"; MAIL FROM MX missing -> {v.get('mail_from_on_mx_failure')}")
    out.append("")
    return out


#: Who gets which boundary, and the setting that names it (ses_mail.stack_settings).
_BOUNDED = (("aws:iam/user:User", "SMTP users", "ses-mail:permissionsBoundary"),
            ("aws:iam/role:Role", "rotation function's role", "ses-mail:rotationPermissionsBoundary"))


def _boundary_notes(run: ProgramRun) -> list[str]:
    """The permissions boundaries the stack sets; an explicit `none` is marked, as the shipped
    deploy role (policies/deploy-role.json) refuses to create users or the role without them."""
    out = ["Permissions boundaries (created once per account: docs/review-threat-model.md; "
           "`ses-mail doctor` checks they exist):"]
    for token, whose, key in _BOUNDED:
        found = {str(r.inputs.get("permissionsBoundary") or "") for r in run.of_type(token)}
        if not found:
            continue
        for arn in sorted(found):
            out.append(f"  {whose} ({key}): " + (arn or f"NONE ({key} is `none`): the deploy role of "
                                                       "policies/deploy-role.json refuses to create them"))
    return out + [""] if len(out) > 1 else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ses-mail plan", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to use (default: dev)")
    parser.add_argument("--roster", help="roster file instead of the stack's configured one")
    parser.add_argument("--project-dir", metavar="DIR", help="the Pulumi project (default: found from the working directory)")
    args = parser.parse_args(argv)
    try:
        project = find_project(args.project_dir)
        if not project.stack_file(args.stack).exists():
            print(f"error: no stack {args.stack!r}: {project.stack_file(args.stack)} does not exist", file=sys.stderr)
            return EXIT_USAGE
        with counting(f"stack {args.stack} under the mock engine") as tick:
            run = run_program(project=project, stack=args.stack, roster=args.roster, on_register=tick)
    except ProjectError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except pulumi.RunError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(render(run))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
