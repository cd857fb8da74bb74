"""Receiving the domains' DMARC aggregate reports in the stack, as plain data: the regions with SES
receiving, names, the MX record, the report bucket's policy, the `rua` every domain publishes,
the authorisation records, and the decision about the region's one active receipt rule set.

The same subdomain also receives `ses-mail prove --receiver`'s test messages at `prove_address`,
through a rule of their own storing them under `PROVE_OBJECT_PREFIX`, apart from the reports that
`ses-mail dmarc` reads, and kept `PROVE_RETENTION_DAYS` only.

The component ses_mail.components.report_receiving turns these into resources.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Protocol, TypeVar

from ses_mail.specs import dns_records as records
from ses_mail.specs.dns_records import DnsRecord

_Model = TypeVar("_Model", bound="_Copyable")


class _Copyable(Protocol):
    def model_copy(self: _Model, *, update: dict[str, Any]) -> _Model: ...


class Dmarc(_Copyable, records.Dmarc, Protocol):
    """The DMARC settings the records read, copyable (ses_mail.roster.model.Dmarc has it): the
    roster depends on the specs, never the other way."""


class Domain(_Copyable, records.Domain, Protocol):
    """A roster domain as the records read it, copyable, and whether this stack manages it
    (ses_mail.roster.model.Domain has it)."""

    @property
    def dmarc(self) -> Dmarc: ...
    @property
    def managed(self) -> bool: ...


_Domain = TypeVar("_Domain", bound=Domain)


#: Regions where SES receives mail, and their inbound endpoints. Source: AWS General Reference,
#: "Amazon Simple Email Service endpoints and quotas", table "Email receiving endpoints"
#: (docs.aws.amazon.com/general/latest/gr/ses.html#ses_inbound_endpoints), as listed in January
#: 2024. AWS adds regions: a region missing here is refused until this list is updated.
RECEIVING_REGIONS: tuple[str, ...] = (
    "us-east-1", "us-east-2", "us-west-2", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2",
    "ap-northeast-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
)
RECEIVING_REGIONS_SOURCE = ("AWS General Reference, Amazon Simple Email Service endpoints and quotas, "
                            "Email receiving endpoints (as listed in January 2024)")

DEFAULT_RETENTION_DAYS = 365  # a year: every stage of a rollout, and last year's same season
DEFAULT_OBJECT_PREFIX = "dmarc/"
#: `ses-mail prove --receiver` sends each domain's test message to `<PROVE_LOCAL_PART>@<reports host>`;
#: SES stores it under PROVE_OBJECT_PREFIX, where S3 deletes it after PROVE_RETENTION_DAYS (long
#: enough to read a failed weekly run's message, short since nobody needs it after the run).
PROVE_LOCAL_PART = "ses-mail-prove"
PROVE_OBJECT_PREFIX = "prove/"
PROVE_RETENTION_DAYS = 7
MX_PRIORITY = 10
#: SES receipt rule and rule set names: letters, digits, `.`, `_`, `-`, starting with a letter or
#: digit, at most 64 characters (SES API Reference, ReceiptRule Name / CreateReceiptRuleSet).
_SES_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class ReceivingError(ValueError):
    """A receiving setting that cannot work; the message says why and what to do."""


def inbound_endpoint(region: str) -> str:
    """The MX target of SES receiving in `region`; refused where SES does not receive mail."""
    if region not in RECEIVING_REGIONS:
        raise ReceivingError(f"SES does not receive mail in {region}: receiving reports needs one of "
                             f"{', '.join(RECEIVING_REGIONS)} ({RECEIVING_REGIONS_SOURCE})")
    return f"inbound-smtp.{region}.amazonaws.com"


def _slug(text: str, room: int) -> str:
    """`text` as lowercase letters, digits and hyphens in at most `room` characters; a long one
    keeps a hash of the whole, so two long names never meet."""
    slug = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "x"
    if len(slug) <= room:
        return slug
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return slug[: room - 9].rstrip("-") + "-" + digest


def bucket_name(stack: str, account_id: str, region: str) -> str:
    """The report bucket's default name: `ses-mail-dmarc-<account>-<region>-<stack>`, unique
    across accounts and regions (S3 names are global), at most 63 characters."""
    head = f"ses-mail-dmarc-{account_id}-{region}-"
    return head + _slug(stack, 63 - len(head))


def normalize_bucket(value: str) -> str:
    """An S3 general purpose bucket name (S3 User Guide, "Bucket naming rules"), or ValueError."""
    name = value.strip()
    if not _BUCKET.fullmatch(name) or ".." in name:
        raise ValueError("is not an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens, "
                         "starting and ending with a letter or digit)")
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name) or name.startswith(("xn--", "sthree-")) or \
            name.endswith(("-s3alias", "--ol-s3")):
        raise ValueError("is a name S3 reserves (an IP address, xn--, sthree-, -s3alias or --ol-s3)")
    return name


def rule_set_name(stack: str) -> str:
    return "ses-mail-" + _slug(stack, 64 - len("ses-mail-"))


def rule_name(stack: str) -> str:
    return "ses-mail-dmarc-reports-" + _slug(stack, 64 - len("ses-mail-dmarc-reports-"))


def prove_rule_name(stack: str) -> str:
    return "ses-mail-prove-" + _slug(stack, 64 - len("ses-mail-prove-"))


def prove_address(reports_address: str) -> str:
    """Where `ses-mail prove --receiver` sends: at the reports subdomain, never the report mailbox
    itself (`ses-mail dmarc` reads that one)."""
    return f"{PROVE_LOCAL_PART}@{domain_of(reports_address)}"


def check_ses_name(value: str) -> str:
    if not _SES_NAME.fullmatch(value):
        raise ValueError("is not a receipt rule set name (letters, digits, '.', '_' and '-', "
                         "starting with a letter or digit, at most 64 characters)")
    return value


def rule_arn(region: str, account_id: str, rule_set: str, rule: str, partition: str = "aws") -> str:
    """What SES writes to S3 as (aws:SourceArn): the receipt rule (SES Developer Guide,
    "Give permissions to Amazon SES to write to an Amazon S3 bucket")."""
    return f"arn:{partition}:ses:{region}:{account_id}:receipt-rule-set/{rule_set}:receipt-rule/{rule}"


def _ses_writes(sid: str, objects: str, account_id: str, source_arn: str) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": "ses.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": objects,
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id},
                      "ArnLike": {"aws:SourceArn": source_arn}},
    }


def bucket_policy(bucket: str, account_id: str, source_arn: str, prefix: str = DEFAULT_OBJECT_PREFIX,
                  partition: str = "aws", *, prove_source_arn: Optional[str] = None,
                  prove_prefix: str = PROVE_OBJECT_PREFIX) -> dict[str, Any]:
    """Only SES, acting for this account's rule, may write, and only under `prefix`; with
    `prove_source_arn`, SES acting for that rule (prove's) may write under `prove_prefix` only;
    nobody reads or writes without TLS. Reading is left to IAM in the account (the bucket is
    never public)."""
    writes = [_ses_writes("SesWritesReports", f"arn:{partition}:s3:::{bucket}/{prefix}*", account_id, source_arn)]
    if prove_source_arn is not None:
        writes.append(_ses_writes("SesWritesProveMessages", f"arn:{partition}:s3:::{bucket}/{prove_prefix}*",
                                  account_id, prove_source_arn))
    return {
        "Version": "2012-10-17",
        "Statement": [
            *writes,
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def expiry_rules(retention_days: int, prefix: str = DEFAULT_OBJECT_PREFIX, *, prove: bool = False
                 ) -> list[dict[str, Any]]:
    """The bucket's lifecycle rules (pulumi-aws BucketLifecycleConfiguration `rules`): reports
    expire after `retention_days`; with `prove`, prove's messages after PROVE_RETENTION_DAYS."""
    def rule(rule_id: str, under: str, days: int) -> dict[str, Any]:
        return {"id": rule_id, "status": "Enabled", "filter": {"prefix": under}, "expiration": {"days": days},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 1}}
    rules = [rule("expire-dmarc-reports", prefix, retention_days)]
    if prove:
        rules.append(rule("expire-prove-messages", PROVE_OBJECT_PREFIX, PROVE_RETENTION_DAYS))
    return rules


def kms_key_statement(account_id: str, source_arn: str) -> dict[str, Any]:
    """With `kms_key`, the statement the key's policy needs so that SES can write encrypted
    objects (S3 asks the writer for kms:GenerateDataKey); the key is the organisation's, so this
    is documented for it to add, not applied."""
    return {"Sid": "SesWritesDmarcReports", "Effect": "Allow", "Principal": {"Service": "ses.amazonaws.com"},
            "Action": ["kms:GenerateDataKey*"], "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id},
                          "ArnLike": {"aws:SourceArn": source_arn}}}


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def is_below(name: str, parent: str) -> bool:
    return name.endswith("." + parent)


def address_problems(address: str, domains: Iterable[Any]) -> list[str]:
    """Why `address` cannot receive the reports, given the roster's domains (none: it can).

    The address must be at a dedicated subdomain of a roster domain: not a roster domain itself
    (its MX would take the domain's mail away), not a MAIL FROM subdomain (whose MX is SES's
    feedback endpoint), and under a domain the stack manages (so the MX can be published there).
    Whether the subdomain already has MX records is for the live checks (adopt, doctor).
    """
    host = domain_of(address)
    domains = list(domains)
    names = {d.name for d in domains}
    if address.rpartition("@")[0].lower() == PROVE_LOCAL_PART:
        return [f"is the address `ses-mail prove --receiver` sends its test messages to; use another local part "
                f"such as dmarc@{host}"]
    if host in names:
        return [f"is at {host}, a roster domain: the MX record would take that domain's mail; "
                f"use a dedicated subdomain such as dmarc@reports.{host}"]
    for d in domains:
        if host == d.mail_from_domain:
            return [f"is at {host}, the MAIL FROM subdomain of {d.name}, whose MX belongs to SES's feedback "
                    f"endpoint; use another subdomain such as dmarc@reports.{d.name}"]
    parents = [d for d in domains if is_below(host, d.name)]
    if not parents:
        return [f"is at {host}, which is not below any roster domain: give an address at a subdomain of one "
                "(e.g. dmarc@reports.<domain>), where the stack can publish its MX record"]
    parent = max(parents, key=lambda d: len(d.name))
    if not parent.managed:
        return [f"is below {parent.name}, which is `existing: reference` (managed elsewhere): "
                "the stack publishes nothing there; use a subdomain of a domain it manages"]
    return []


def parent_domain(address: str, domains: Iterable[Any]) -> Any:
    """The roster domain whose zone holds the reports subdomain (the closest one above it)."""
    host = domain_of(address)
    return max((d for d in domains if is_below(host, d.name)), key=lambda d: len(d.name))


def mx_record(address: str, region: str, ttl: int) -> DnsRecord:
    return DnsRecord(domain_of(address), "MX", ttl, f"{MX_PRIORITY} {inbound_endpoint(region)}", "dmarc-reports-mx")


def with_report_address(dmarc: Dmarc, address: str) -> Dmarc:
    """The domain's DMARC settings with the reports address in `rua`, explicit entries kept first."""
    if not dmarc.enabled or address in dmarc.rua:
        return dmarc
    return dmarc.model_copy(update={"rua": (*dmarc.rua, address)})


def with_reports(domains: Iterable[_Domain], address: str) -> list[_Domain]:
    """Every domain of the stack publishing `address` in its rua (`existing: reference` ones are
    managed elsewhere and left as they are)."""
    return [d if not d.managed
            else d.model_copy(update={"dmarc": with_report_address(d.dmarc, address)}) for d in domains]


def authorization_records(domains: Iterable[Any], address: str) -> list[tuple[str, DnsRecord]]:
    """(the roster domain whose zone holds it, record) for each domain whose reports go to
    `address` across organisational domains: `<domain>._report._dmarc.<reports host>` TXT
    `v=DMARC1` (RFC 7489 section 7.1, RFC 9990 "External Destination Verification"); the same
    records ses_mail.specs.deliverability.report_authorizations gives the stack."""
    from ses_mail.specs.deliverability import report_authorizations

    domains = list(domains)
    ttl = {d.name: d.ttl for d in domains}
    host = domain_of(address)
    return [(auth.zone_domain, auth.record(ttl[auth.zone_domain])) for auth in report_authorizations(domains)
            if auth.report_domain == host and auth.zone_domain is not None]


@dataclass(frozen=True)
class RuleSetPlan:
    """What the stack does about the region's one active receipt rule set."""

    rule_set: str   # the set the report rule goes into
    create: bool    # the stack creates that set
    activate: bool  # and makes it the active one


class RuleSetConflict(ReceivingError):
    pass


def rule_set_plan(*, ours: str, active: Optional[str], join: Optional[str]) -> RuleSetPlan:
    """Only one receipt rule set is active per region (SES Developer Guide, "Creating receipt
    rules"). With none active, or ours, the stack creates and activates its own. Another active
    set is never replaced silently: the roster must say `join: <that set>`, and the rule is
    then added to it (and removed from it when receiving is turned off)."""
    if join is not None:
        if active is not None and active != join:
            raise RuleSetConflict(f"reports.join is {join!r}, but the active receipt rule set in this region is "
                                  f"{active!r}: join the active one, or activate {join!r} first")
        if active is None:
            raise RuleSetConflict(f"reports.join is {join!r}, but no receipt rule set is active in this region: "
                                  "remove `join` and the stack creates and activates its own")
        return RuleSetPlan(join, create=False, activate=False)
    if active is None or active == ours:
        return RuleSetPlan(ours, create=True, activate=True)
    raise RuleSetConflict(
        f"the active receipt rule set in this region is {active!r}, not this stack's {ours!r}: SES allows one "
        f"active set per region, and activating ours would stop every rule of {active!r}. Write "
        f"`reports: {{join: {active}}}` to add the report rule to it, or deactivate it yourself")


# --- rollout ----------------------------------------------------------------------------------

def rollout_stage(dmarc: Dmarc) -> str:
    """The domain's DMARC rollout stage as the roster states it: p=, with `testing` for t=y
    (receivers then apply one step less: RFC 9989)."""
    if not dmarc.enabled:
        return "no DMARC record"
    return dmarc.policy + (", testing" if dmarc.testing else "")


_STAGE_OF_P = {"none": "none", "quarantine": "quarantine", "reject": "reject"}


def stage_of_record(value: str) -> str | None:
    """The rollout stage a published DMARC TXT value states (`quarantine, testing` for p=quarantine
    with t=y), as rollout_stage words it; None when the value is not a DMARC record."""
    text = value.strip().strip('"')
    if not text.lower().startswith("v=dmarc1"):
        return None
    tags = {k.strip().lower(): v.strip().lower() for k, _, v in (t.partition("=") for t in text.split(";")) if k.strip()}
    policy = _STAGE_OF_P.get(tags.get("p", ""), tags.get("p", "?"))
    return policy + (", testing" if tags.get("t") == "y" else "")
