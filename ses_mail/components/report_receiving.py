"""Receiving DMARC aggregate reports: the S3 bucket, the receipt rule (and rule set) storing mail
for the report address in it, and the MX record of the address's subdomain. With
`prove_rule_name`, a second rule stores `ses-mail prove --receiver`'s test messages, sent to
spec.prove_address at the same subdomain, under spec.PROVE_OBJECT_PREFIX of the same bucket.

A thin shell over ses_mail.specs.report_receiving: every name, value and policy comes from there.
Standalone: `ReportReceiving(name, ReportReceivingArgs(...), opts)`; the program wires it from
the roster's `reports:` section.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_aws as aws

from ses_mail.specs import report_receiving as spec


@dataclass(frozen=True)
class ReportReceivingArgs:
    """What `ReportReceiving` needs. Defaults as documented in docs/dmarc.md."""

    #: The report mailbox, e.g. dmarc@reports.example.com (checked by the roster).
    address: str
    #: The SES region: must receive mail (spec.RECEIVING_REGIONS), else the constructor raises.
    region: str
    #: This account's ID (aws:SourceAccount of the bucket policy).
    account_id: str
    #: The bucket's name (spec.bucket_name gives the stack default).
    bucket_name: str
    #: Receipt rule set and rule names (spec.rule_set_name / spec.rule_name of the stack).
    rule_set_name: str
    rule_name: str
    #: Route53 hosted zone of the address's subdomain; None: the MX is only listed in `mx_record`
    #: for whoever keeps the zone (dns external). Default: None.
    zone_id: Optional[pulumi.Input[str]] = None
    #: The active rule set (made elsewhere) to add the rule to, from the roster's `reports.join`.
    #: Default: None (create and activate the stack's own set).
    join: Optional[str] = None
    #: Days S3 keeps a report. Default: spec.DEFAULT_RETENTION_DAYS (365).
    retention_days: int = spec.DEFAULT_RETENTION_DAYS
    #: A KMS key ARN for SSE-KMS; None: SSE-S3 (AES256). Default: None.
    kms_key_arn: Optional[str] = None
    #: Key prefix of stored mail. Default: spec.DEFAULT_OBJECT_PREFIX ("dmarc/").
    object_prefix: str = spec.DEFAULT_OBJECT_PREFIX
    #: TTL of the MX record. Default: 600.
    ttl: int = 600
    partition: str = "aws"
    tags: Mapping[str, str] = field(default_factory=dict)
    #: The receipt rule storing mail for spec.prove_address(address) under spec.PROVE_OBJECT_PREFIX
    #: (spec.prove_rule_name of the stack), for `ses-mail prove --receiver`. Default: None (no such rule).
    prove_rule_name: Optional[str] = None
    #: Ask the provider which rule set is active (aws.ses.get_active_receipt_rule_set) and refuse
    #: to replace another one (spec.rule_set_plan). Default: True; False only where the caller has
    #: already decided (tests, a program that asked once for several components).
    check_active_rule_set: bool = True
    #: With `check_active_rule_set` False: the active set the caller found (None: none active).
    active_rule_set: Optional[str] = None


def active_rule_set(region: str, opts: Optional[pulumi.InvokeOptions] = None) -> Optional[str]:
    """The name of the region's active receipt rule set, or None when none is active.

    DescribeActiveReceiptRuleSet answers with no metadata when no set is active; the data
    source then fails (its message says nothing is active) or returns an empty name. Both mean
    "none"; any other failure (permissions, network) is raised.
    """
    try:
        result = aws.ses.get_active_receipt_rule_set(region=region, opts=opts)
    except Exception as err:  # the invoke's failure type is the SDK's generic one
        text = str(err).lower()
        if "no active" in text or "not found" in text or "empty result" in text:
            return None
        raise
    return result.rule_set_name or None


class ReportReceiving(pulumi.ComponentResource):
    """Outputs: `bucket_name`, `bucket_arn`, `rule_set_name`, `rule_name`, `mx_record` (a row:
    name, type, value, ttl) and `address`; with a prove rule, `prove_address` and `prove_rule_name`."""

    bucket: aws.s3.Bucket
    rule: aws.ses.ReceiptRule
    mx: Optional[aws.route53.Record]

    def __init__(self, name: str, args: ReportReceivingArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("ses-mail:index:ReportReceiving", name, None, opts)
        record = spec.mx_record(args.address, args.region, args.ttl)  # refuses a region without receiving
        active = (active_rule_set(args.region, pulumi.InvokeOptions(parent=self))
                  if args.check_active_rule_set else args.active_rule_set)
        plan = spec.rule_set_plan(ours=args.rule_set_name, active=active, join=args.join)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        self.bucket = aws.s3.Bucket(f"{name}-bucket", bucket=args.bucket_name, region=args.region,
                                    force_destroy=False, tags=tags, opts=child)
        bucket_id = self.bucket.id
        access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block", bucket=bucket_id, region=args.region,
            block_public_acls=True, block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True,
            opts=child)
        aws.s3.BucketOwnershipControls(f"{name}-ownership", bucket=bucket_id, region=args.region,
                                       rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
        # Encryption at rest by the bucket, so SES writes plain objects that readers with the
        # bucket's IAM access read as they are (the rule's KMS option would encrypt client-side).
        by_default = ({"sse_algorithm": "aws:kms", "kms_master_key_id": args.kms_key_arn} if args.kms_key_arn
                      else {"sse_algorithm": "AES256"})
        # The rule is the SDK's ArgsDict, spelled as a plain dict: its TypedDict check rejects the inferred dict[str, object].
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=bucket_id, region=args.region,
            rules=[{"apply_server_side_encryption_by_default": by_default, "bucket_key_enabled": bool(args.kms_key_arn)}],  # type: ignore[list-item]
            opts=child)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-expiry", bucket=bucket_id, region=args.region,
            # Plain dicts from the pure spec, where the SDK's annotation wants its ArgsDict TypedDicts.
            rules=spec.expiry_rules(args.retention_days, args.object_prefix,  # type: ignore[arg-type]
                                    prove=args.prove_rule_name is not None),
            opts=child)
        source_arn = spec.rule_arn(args.region, args.account_id, plan.rule_set, args.rule_name, args.partition)
        prove_arn = (spec.rule_arn(args.region, args.account_id, plan.rule_set, args.prove_rule_name, args.partition)
                     if args.prove_rule_name is not None else None)
        policy = aws.s3.BucketPolicy(
            f"{name}-bucket-policy", bucket=bucket_id, region=args.region,
            policy=json.dumps(spec.bucket_policy(args.bucket_name, args.account_id, source_arn, args.object_prefix,
                                                 args.partition, prove_source_arn=prove_arn)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access]))

        depends: list[pulumi.Resource] = [policy]
        if plan.create:
            rule_set = aws.ses.ReceiptRuleSet(f"{name}-rule-set", rule_set_name=plan.rule_set, region=args.region,
                                              opts=child)
            depends.append(rule_set)
        # SES test-writes to the bucket when the rule is created: the policy must exist first.
        self.rule = aws.ses.ReceiptRule(
            f"{name}-rule", name=args.rule_name, rule_set_name=plan.rule_set, region=args.region,
            recipients=[args.address], enabled=True, scan_enabled=True, tls_policy="Optional",
            s3_actions=[{"bucket_name": args.bucket_name, "object_key_prefix": args.object_prefix, "position": 1}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends))
        self.prove_rule: Optional[aws.ses.ReceiptRule] = None
        if args.prove_rule_name is not None:
            # Its own rule and prefix: `ses-mail dmarc` never reads prove's messages as reports.
            self.prove_rule = aws.ses.ReceiptRule(
                f"{name}-prove-rule", name=args.prove_rule_name, rule_set_name=plan.rule_set, region=args.region,
                after=args.rule_name, recipients=[spec.prove_address(args.address)], enabled=True,
                scan_enabled=True, tls_policy="Optional",
                s3_actions=[{"bucket_name": args.bucket_name, "object_key_prefix": spec.PROVE_OBJECT_PREFIX,
                             "position": 1}],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*depends, self.rule]))
        if plan.activate:
            aws.ses.ActiveReceiptRuleSet(f"{name}-active-rule-set", rule_set_name=plan.rule_set, region=args.region,
                                         opts=pulumi.ResourceOptions(parent=self, depends_on=[self.rule]))

        self.mx = None
        if args.zone_id is not None:
            self.mx = aws.route53.Record(f"{name}-mx", zone_id=args.zone_id, name=record.name, type="MX",
                                         ttl=record.ttl, records=[record.value], opts=child)

        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.rule_set_name = plan.rule_set
        self.rule_name = args.rule_name
        self.mx_record = record.as_row()
        self.address = args.address
        self.prove_address = spec.prove_address(args.address) if args.prove_rule_name is not None else None
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn,
                               "rule_set_name": plan.rule_set, "rule_name": args.rule_name,
                               "mx_record": self.mx_record, "address": args.address,
                               **({"prove_address": self.prove_address, "prove_rule_name": args.prove_rule_name}
                                  if args.prove_rule_name is not None else {})})
