"""`doctor`'s view of DMARC report receiving (roster `reports:`, docs/dmarc.md): the live MX of the
reports subdomain, the region's active receipt rule set, the report bucket's policy, encryption
and public access block, and each domain's rollout stage with the latest recommendation when the
bucket's reports can be read. Read-only: Describe/Get/List calls only.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Optional

from botocore.exceptions import ClientError

from ses_mail.findings import ERROR, INFO, WARNING, Finding
from ses_mail.live.clients import ClientFactory
from ses_mail.live.dns_check import Resolver
from ses_mail.live.findings import check_record
from ses_mail.live.target import Target
from ses_mail.specs import report_receiving as spec

#: Reports of the last 30 days make the recommendation, as `ses-mail dmarc`'s default window.
RECOMMENDATION_DAYS = 30


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def check_mx(target: Target, resolver: Resolver) -> tuple[dict[str, Any], list[Finding]]:
    reports = target.roster.reports
    assert reports is not None
    parent = spec.parent_domain(reports.address, target.roster.domains)
    record = spec.mx_record(reports.address, target.region, parent.ttl)
    answer = resolver.lookup(record.name, "MX")
    problems = check_record(record, answer, in_zone=None)
    return {**record.as_row(), "found": list(answer.values), "ok": not problems}, problems


def check_rule_set(target: Target, clients: ClientFactory) -> tuple[dict[str, Any], list[Finding]]:
    """Ours (the stack's set, or the one `join` names) must be active and hold the report rule."""
    reports = target.roster.reports
    assert reports is not None
    key = target.stack
    ours = reports.join or (spec.rule_set_name(key) if key else None)
    rule = spec.rule_name(key) if key else None
    active = clients("ses").describe_active_receipt_rule_set()
    name = (active.get("Metadata") or {}).get("Name")
    rules = active.get("Rules") or []
    state = "none" if name is None else ("ours" if ours is None or name == ours else "another")
    info = {"active_rule_set": name, "expected_rule_set": ours, "state": state}
    subject = reports.address
    if name is None:
        return info, [Finding("reports-no-active-rule-set", ERROR, subject,
                              f"no receipt rule set is active in {target.region}: SES rejects the reports sent to "
                              f"{reports.address}", f"run `pulumi up`, or activate {ours or 'the stack’s rule set'}")]
    if state == "another":
        return info, [Finding("reports-other-rule-set-active", ERROR, subject,
                              f"the active receipt rule set in {target.region} is {name!r}, not {ours!r}: the report "
                              "rule does not run", f"set `reports: {{join: {name}}}` in the roster and run `pulumi up`, "
                              f"or activate {ours!r} if {name!r} is not needed")]
    matching = [r for r in rules if (rule is None or r.get("Name") == rule)
                and reports.address in (r.get("Recipients") or [])]
    if not matching:
        return info, [Finding("reports-rule-missing", ERROR, subject,
                              f"the active set {name!r} has no rule storing mail for {reports.address}",
                              "run `pulumi up`")]
    actions = [a.get("S3Action") for a in matching[0].get("Actions") or [] if a.get("S3Action")]
    info["rule"] = matching[0].get("Name")
    info["bucket"] = actions[0].get("BucketName") if actions else None
    if not matching[0].get("Enabled", False) or not actions:
        return info, [Finding("reports-rule-disabled", ERROR, subject,
                              f"the report rule {matching[0].get('Name')!r} is disabled or stores nothing",
                              "run `pulumi up`")]
    return info, []


def bucket_of(target: Target, clients: ClientFactory, rule_set: dict[str, Any]) -> Optional[str]:
    """The roster's bucket, else the stack's default name, else (roster alone) the rule's."""
    reports = target.roster.reports
    assert reports is not None
    if reports.bucket:
        return reports.bucket
    if target.stack:
        account = clients("sts").get_caller_identity()["Account"]
        return spec.bucket_name(target.stack, account, target.region)
    return rule_set.get("bucket")


def check_bucket(target: Target, clients: ClientFactory, bucket: str,
                 rule_set: dict[str, Any]) -> tuple[dict[str, Any], list[Finding]]:
    """The bucket exists, blocks public access, encrypts at rest, and its policy lets only SES of
    this account, for the report rule, write (the policy the stack sets, compared as data)."""
    reports = target.roster.reports
    assert reports is not None
    s3 = clients("s3")
    info: dict[str, Any] = {"bucket": bucket}
    findings: list[Finding] = []
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as err:
        if _code(err) == "NoSuchBucket":
            return {**info, "exists": False}, [Finding("reports-bucket-missing", ERROR, bucket,
                                                       f"the report bucket {bucket} does not exist", "run `pulumi up`")]
        if _code(err) != "NoSuchBucketPolicy":
            raise
        policy = None
    info["exists"] = True
    account = clients("sts").get_caller_identity()["Account"]
    # The rule that writes: the stack's names, else (roster alone) the active set's rule found.
    key = target.stack
    set_name = rule_set.get("expected_rule_set") or rule_set.get("active_rule_set") or "?"
    rule_name = spec.rule_name(key) if key else (rule_set.get("rule") or "?")
    expected = spec.bucket_policy(bucket, account, spec.rule_arn(target.region, account, set_name, rule_name))
    info["policy_ok"] = policy == expected
    if policy is None:
        findings.append(Finding("reports-bucket-policy-missing", ERROR, bucket,
                                f"{bucket} has no bucket policy: SES cannot store reports", "run `pulumi up`"))
    elif policy != expected:
        findings.append(Finding("reports-bucket-policy-drift", ERROR, bucket,
                                f"{bucket}'s policy is not the one the stack sets (only SES of account {account}, "
                                f"for rule {set_name}/{rule_name}, writes under {spec.DEFAULT_OBJECT_PREFIX})",
                                "run `pulumi up` to restore it", {"expected": expected, "found": policy}))
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        algorithms = [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules]
    except ClientError as err:
        if _code(err) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        algorithms = []
    info["encryption"] = algorithms
    wanted = "aws:kms" if reports.kms_key else "AES256"
    if wanted not in algorithms:
        findings.append(Finding("reports-bucket-encryption", ERROR, bucket,
                                f"{bucket}'s default encryption is {algorithms or 'none'}, not {wanted}",
                                "run `pulumi up`"))
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as err:
        if _code(err) != "NoSuchPublicAccessBlockConfiguration":
            raise
        block = {}
    info["public_access_blocked"] = bool(block) and all(block.values())
    if not info["public_access_blocked"]:
        findings.append(Finding("reports-bucket-public-access", ERROR, bucket,
                                f"{bucket} does not block all public access", "run `pulumi up`"))
    return info, findings


def rollout(target: Target, clients: ClientFactory, bucket: str, now: datetime,
            readable: bool) -> tuple[dict[str, Any], list[Finding]]:
    """Each managed domain's stage (as the roster states it) and, when the bucket could be read,
    the latest recommendation of `ses-mail dmarc`."""
    from ses_mail.dmarc import analysis
    from ses_mail.dmarc.bucket import read_bucket

    stages: dict[str, dict[str, Any]] = {d.name: {"stage": spec.rollout_stage(d.dmarc)}
                                         for d in target.roster.domains if d.managed}
    findings: list[Finding] = []
    if not readable:
        return stages, findings
    read = read_bucket(clients("s3"), bucket, since=now - timedelta(days=RECOMMENDATION_DAYS))
    policies = {d.name: (d.dmarc.policy, d.dmarc.testing) for d in target.roster.domains if d.dmarc.enabled}
    window = analysis.in_window(read.reports, RECOMMENDATION_DAYS, now)
    for summary in analysis.summarise(window, roster_policies=policies):
        if summary.domain not in stages:
            continue
        stages[summary.domain].update(recommendation=summary.recommendation, reason=summary.reason,
                                      reports=summary.reports, messages=summary.messages)
        if summary.stricter_than_evidence:
            findings.append(Finding("dmarc-stricter-than-evidence", ERROR, summary.domain,
                                    f"DMARC {stages[summary.domain]['stage']} is stricter than the reports support: "
                                    f"{summary.reason}", "relax the domain's `dmarc: policy` (ses-mail dmarc --stack)"))
        elif summary.recommendation in ("quarantine", "reject"):
            findings.append(Finding("dmarc-can-tighten", INFO, summary.domain,
                                    f"the reports support the next step, {summary.recommendation}: {summary.reason}",
                                    "step `dmarc: policy` in the roster (docs/dmarc.md, Rollout steps)"))
    for entry in stages.values():
        entry.setdefault("recommendation", None)
    return stages, findings


def check_reports(target: Target, clients: ClientFactory, resolver: Resolver,
                  now: datetime) -> tuple[Optional[dict[str, Any]], list[Finding]]:
    """None without `reports:`; else (the report's `reports` section, findings)."""
    if target.roster.reports is None:
        return None, []
    findings: list[Finding] = []
    mx, problems = check_mx(target, resolver)
    findings += problems
    rule_set, problems = check_rule_set(target, clients)
    findings += problems
    bucket = bucket_of(target, clients, rule_set)
    bucket_info: dict[str, Any] = {"bucket": None}
    if bucket is None:
        findings.append(Finding("reports-bucket-unknown", WARNING, target.roster.reports.address,
                                "with --roster alone and no `reports.bucket`, the bucket is not known",
                                "run doctor with --stack, or set `reports.bucket`"))
    else:
        bucket_info, problems = check_bucket(target, clients, bucket, rule_set)
        findings += problems
    stages, problems = rollout(target, clients, bucket or "", now, readable=bool(bucket_info.get("exists")))
    findings += problems
    return {"address": target.roster.reports.address, "mx": mx, "rule_set": rule_set, "bucket": bucket_info,
            "rollout": stages}, findings
