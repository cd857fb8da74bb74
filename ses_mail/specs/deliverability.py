"""Deliverability as plain data: the stack's configuration set, its feedback, the reputation
alarms, domain verification and cross-domain DMARC report authorisations.

Nothing here imports Pulumi; `ses_mail.components.deliverability` turns these specs into
resources. Every name derives from the stack or a domain, never from a list position.

Why a configuration set at all: SES puts an account under review at a bounce rate of 5% or a
complaint rate of 0.1% and may pause sending at 10% or 0.5% (SES Developer Guide, "Sending
review process FAQs"). Knowing *who* bounces needs events tagged with the sender: SES adds the
auto-tag `ses:caller-identity` (the IAM user that sent) to every event of a message sent
through a configuration set, so the set's CloudWatch destination counts per person and each
SNS notification names the person.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from ses_mail.specs.dns_records import DnsRecord
from ses_mail.specs.iam_policy import POLICY_VERSION
from ses_mail.specs.limits import (CLOUDWATCH_ALARM_NAME, SES_CONFIGURATION_SET_NAME, SES_CONFIGURATION_SET_NAME_RE,
                                   SNS_TOPIC_NAME, SNS_TOPIC_NAME_RE)

# --- the configuration set --------------------------------------------------------------------

CONFIGURATION_SET_PREFIX = "ses-mail-"
_HASH_CHARS = 8
_NOT_NAME_CHAR = re.compile(r"[^A-Za-z0-9_-]+")

#: TLS policy of the set (sesv2 DeliveryOptions.TlsPolicy): OPTIONAL delivers in clear text to a
#: receiver that offers no STARTTLS; REQUIRE bounces such mail instead.
TLS_POLICIES = {"optional": "OPTIONAL", "require": "REQUIRE"}


def configuration_set_name(stack: str) -> str:
    """`ses-mail-<stack>`, made of what SES allows (letters, digits, `-`, `_`, at most 64).

    Pulumi stack names may hold `.` (and, fully qualified, `org/project/`): any run of other
    characters becomes `-`. When that changed the name or it is too long, a hash of the original
    stack name follows, so two stacks never share a set (`a.b` and `a-b` differ).
    """
    stack = stack.rsplit("/", 1)[-1]
    cleaned = _NOT_NAME_CHAR.sub("-", stack).strip("-") or "stack"
    plain = CONFIGURATION_SET_PREFIX + cleaned
    if cleaned == stack and len(plain) <= SES_CONFIGURATION_SET_NAME.maximum:
        return plain
    digest = hashlib.sha256(stack.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    room = SES_CONFIGURATION_SET_NAME.maximum - _HASH_CHARS - 1
    name = plain[:room].rstrip("-") + "-" + digest
    assert SES_CONFIGURATION_SET_NAME_RE.fullmatch(name)
    return name


def configuration_set_arn(region: str, account_id: str, name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:ses:{region}:{account_id}:configuration-set/{name}"


# --- feedback: event destinations -------------------------------------------------------------

#: What a sender must act on (SNS, one notification per event): hard and soft bounces, spam
#: complaints, messages SES refused (virus), mail that is late, templates that failed.
FEEDBACK_EVENTS = ("BOUNCE", "COMPLAINT", "REJECT", "DELIVERY_DELAY", "RENDERING_FAILURE")
#: What CloudWatch counts per person: the feedback plus sends and deliveries, so that a
#: person's bounces can be read against their own volume.
METRIC_EVENTS = ("SEND", "DELIVERY", *FEEDBACK_EVENTS)
#: The SES auto-tag naming who sent: the IAM user of the SMTP credential.
CALLER_IDENTITY_DIMENSION = "ses:caller-identity"
#: The dimension's value for an event without the tag (SES always sets it; never seen in practice).
DEFAULT_DIMENSION_VALUE = "unknown"
SNS_DESTINATION = "sns"
CLOUDWATCH_DESTINATION = "cloudwatch"


def sns_event_destination(topic_arn: str) -> dict[str, Any]:
    return {"enabled": True, "matching_event_types": list(FEEDBACK_EVENTS),
            "sns_destination": {"topic_arn": topic_arn}}


def cloudwatch_event_destination() -> dict[str, Any]:
    return {"enabled": True, "matching_event_types": list(METRIC_EVENTS),
            "cloud_watch_destination": {"dimension_configurations": [{
                "dimension_name": CALLER_IDENTITY_DIMENSION,
                "dimension_value_source": "MESSAGE_TAG",
                "default_dimension_value": DEFAULT_DIMENSION_VALUE,
            }]}}


def topic_name(set_name: str) -> str:
    name = f"{set_name}-feedback"
    assert SNS_TOPIC_NAME_RE.fullmatch(name) and len(name) <= SNS_TOPIC_NAME.maximum
    return name


SES_SERVICE = "ses.amazonaws.com"
CLOUDWATCH_SERVICE = "cloudwatch.amazonaws.com"
PUBLISH = "SNS:Publish"


def topic_policy(topic_arn: str, account_id: str, configuration_set_arn: str | None,
                 alarm_arns: Sequence[str] = ()) -> dict[str, Any]:
    """Only SES of this account, for this stack's configuration set, and this stack's alarms may
    publish to the feedback topic.

    The service principals alone would let SES or CloudWatch act for *any* account that names
    this topic (the confused-deputy problem, IAM User Guide): `aws:SourceAccount` pins the
    account and `aws:SourceArn` the one configuration set (or alarm) that publishes.
    Nobody else gets anything: IAM principals of the account manage the topic through their
    own identity policies, and no other account has access.
    """
    statements: list[dict[str, Any]] = []
    if configuration_set_arn is not None:
        statements.append({
            "Sid": "SesOfThisAccountPublishesEvents",
            "Effect": "Allow",
            "Principal": {"Service": SES_SERVICE},
            "Action": PUBLISH,
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"AWS:SourceAccount": account_id},
                          "ArnEquals": {"AWS:SourceArn": configuration_set_arn}},
        })
    if alarm_arns:
        statements.append({
            "Sid": "ReputationAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDWATCH_SERVICE},
            "Action": PUBLISH,
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"AWS:SourceAccount": account_id},
                          "ArnEquals": {"AWS:SourceArn": sorted(alarm_arns)}},
        })
    return {"Version": POLICY_VERSION, "Statement": statements}


# --- subscribers ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Subscriber:
    protocol: str   # email, https or sqs (SNS Subscribe Protocol)
    endpoint: str

    @property
    def label(self) -> str:
        return f"{self.protocol}:{self.endpoint}"


def subscriber(normalized: str) -> Subscriber:
    if normalized.startswith("arn:"):
        return Subscriber("sqs", normalized)
    if normalized.startswith("https://"):
        return Subscriber("https", normalized)
    return Subscriber("email", normalized)


# --- guardrails: reputation alarms -----------------------------------------------------------

#: AWS's levels (SES Developer Guide, "Sending review process FAQs"): review, then pause.
BOUNCE_REVIEW, BOUNCE_PAUSE = 0.05, 0.10
COMPLAINT_REVIEW, COMPLAINT_PAUSE = 0.001, 0.005
#: Defaults: alarm at 40% (bounce) and 50% (complaint) of the review level, while there is still
#: time to find the person and the list before AWS looks. 2% bounces is already a sign of a stale
#: list; 0.05% is one complaint in 2,000 messages, under the 0.1% the large mailbox providers
#: ask bulk senders to stay below.
DEFAULT_BOUNCE_ALARM = 0.02
DEFAULT_COMPLAINT_ALARM = 0.0005
REPUTATION_NAMESPACE = "AWS/SES"
#: One hour: SES updates the reputation rates over a representative window, not per message.
ALARM_PERIOD_SECONDS = 3600


@dataclass(frozen=True)
class AlarmSpec:
    key: str               # stable role: bounce-rate, complaint-rate
    name: str              # CloudWatch alarm name
    metric_name: str
    threshold: float
    review_level: float
    description: str


def parse_rate(text: str, *, pause_level: float) -> float:
    """`2%` or `0.02`: a rate as a fraction, above 0 and below AWS's pause level."""
    value = text.strip()
    try:
        rate = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise ValueError("is not a rate such as 2% or 0.02") from None
    if not 0 < rate < pause_level:
        raise ValueError(f"must be above 0 and below AWS's pause level {pause_level:.1%} "
                         "(write a percentage with %, e.g. 2%, or a fraction, e.g. 0.02)")
    return rate


def alarm_name(set_name: str, key: str) -> str:
    name = f"{set_name}-{key}"
    assert len(name) <= CLOUDWATCH_ALARM_NAME.maximum
    return name


def reputation_alarms(set_name: str, bounce: float = DEFAULT_BOUNCE_ALARM,
                      complaint: float = DEFAULT_COMPLAINT_ALARM) -> list[AlarmSpec]:
    return [
        AlarmSpec("bounce-rate", alarm_name(set_name, "bounce-rate"), "Reputation.BounceRate", bounce, BOUNCE_REVIEW,
                  f"SES account bounce rate at or above {bounce:.2%} (AWS reviews the account at "
                  f"{BOUNCE_REVIEW:.0%}, may pause sending at {BOUNCE_PAUSE:.0%}): find who bounces in the "
                  "feedback topic or the per-person metrics (dimension ses:caller-identity)"),
        AlarmSpec("complaint-rate", alarm_name(set_name, "complaint-rate"), "Reputation.ComplaintRate", complaint,
                  COMPLAINT_REVIEW,
                  f"SES account complaint rate at or above {complaint:.3%} (AWS reviews the account at "
                  f"{COMPLAINT_REVIEW:.1%}, may pause sending at {COMPLAINT_PAUSE:.1%}): find who is "
                  "complained about in the feedback topic or the per-person metrics"),
    ]


SUPPRESSION_REASONS = ("BOUNCE", "COMPLAINT")


# --- verification -----------------------------------------------------------------------------

#: With `wait_for_verification: true`: the provider's own default for its waiter.
DEFAULT_VERIFICATION_MINUTES = 45

MX_FAILURE = {"use_default": "USE_DEFAULT_VALUE", "reject": "REJECT_MESSAGE"}


def verification_minutes(domain_value: bool | int | None, stack_value: bool | int) -> int | None:
    """Minutes `pulumi up` waits for the domain's verification, None for not at all."""
    value = stack_value if domain_value is None else domain_value
    if value is True:
        return DEFAULT_VERIFICATION_MINUTES
    if value is False or value is None:
        return None
    return int(value)


def verification_requirements(dkim: Sequence[DnsRecord], static: Sequence[DnsRecord],
                              wait_minutes: int | None, on_mx_failure: str) -> dict[str, Any]:
    """What must resolve publicly for SES to verify the domain, and for MAIL FROM to work."""
    return {
        "verified_by": "DKIM: all three CNAMEs must resolve publicly (no _amazonses TXT is used)",
        "must_resolve": [r.as_row() for r in dkim],
        "mail_from_must_resolve": [r.as_row() for r in static if r.purpose == "mail-from-mx"],
        "mail_from_on_mx_failure": on_mx_failure,
        "pulumi_up_waits_minutes": wait_minutes,
    }


# --- DMARC report authorisations across domains (RFC 9989, External Destination Verification) --

@dataclass(frozen=True)
class ReportAuthorization:
    domain: str          # the domain whose DMARC record names the report address
    report_domain: str   # the domain of the report address
    managed: bool        # whether this roster publishes it (report_domain is one of its domains)

    @property
    def record_name(self) -> str:
        return f"{self.domain}._report._dmarc.{self.report_domain}"

    def record(self, ttl: int) -> DnsRecord:
        return DnsRecord(self.record_name, "TXT", ttl, "v=DMARC1", f"dmarc-report-auth-{self.domain}")

    def as_row(self) -> dict[str, str]:
        return {"domain": self.domain, "report_domain": self.report_domain, "name": self.record_name,
                "type": "TXT", "value": "v=DMARC1", "published_by": "this stack" if self.managed else "the report domain"}


def _related(a: str, b: str) -> bool:
    """Same domain, or one under the other: same organisational domain, no authorisation needed."""
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def report_authorizations(domains: Iterable[Any]) -> list[ReportAuthorization]:
    """Every (domain, report domain) pair whose reports go to another organisation's domain.

    Receivers send DMARC reports to an address outside the domain's organisational domain only
    when `<domain>._report._dmarc.<report-domain>` TXT `v=DMARC1` exists. A report domain this
    roster manages gets the record in its own zone; any other must publish it itself. Report
    domains that are the domain, a parent or a child of it share its organisational domain (a
    closer test needs the public suffix list; an extra record would be harmless anyway).
    """
    domains = list(domains)
    # `existing: reference` domains are managed elsewhere: this stack publishes nothing for them.
    managed = {d.name for d in domains if getattr(d, "managed", True)}
    found: dict[tuple[str, str], ReportAuthorization] = {}
    for d in domains:
        if not d.dmarc.enabled or d.name not in managed:
            continue
        for address in (*d.dmarc.rua, *d.dmarc.ruf):
            report_domain = address.rpartition("@")[2].lower()
            if _related(d.name, report_domain):
                continue
            found[(d.name, report_domain)] = ReportAuthorization(d.name, report_domain, report_domain in managed)
    return [found[k] for k in sorted(found)]


def report_records_by_domain(domains: Iterable[Any]) -> dict[str, list[DnsRecord]]:
    """The authorisation records each managed report domain publishes, in its own zone and TTL."""
    domains = list(domains)
    ttl = {d.name: d.ttl for d in domains}
    out: dict[str, list[DnsRecord]] = {}
    for auth in report_authorizations(domains):
        if auth.managed:
            out.setdefault(auth.report_domain, []).append(auth.record(ttl[auth.report_domain]))
    return out


def summary(*, set_name: str | None, tls: str, subscribers: Sequence[Subscriber], alarms: Sequence[AlarmSpec],
            suppression: bool, authorizations: Sequence[ReportAuthorization]) -> dict[str, Any]:
    """The plain part of the stack output `deliverability` (ARNs are added by the component)."""
    return {
        "configuration_set": set_name,
        "tls_policy": TLS_POLICIES[tls] if set_name else None,
        "event_types": ({"sns": list(FEEDBACK_EVENTS), "cloudwatch": list(METRIC_EVENTS),
                         "cloudwatch_dimension": CALLER_IDENTITY_DIMENSION} if set_name else None),
        "subscribers": [s.label for s in subscribers],
        "alarms": {a.key: {"name": a.name, "metric": f"{REPUTATION_NAMESPACE} {a.metric_name}",
                           "threshold": a.threshold, "aws_review_level": a.review_level} for a in alarms},
        "account_suppression": list(SUPPRESSION_REASONS) if suppression else None,
        "dmarc_report_authorizations": [a.as_row() for a in authorizations],
    }
