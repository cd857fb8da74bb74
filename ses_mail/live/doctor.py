"""`ses-mail doctor`: is every roster domain ready to send, seen from SES and from public DNS?

For each domain: SES's identity (sesv2 GetEmailIdentity: verification, DKIM, MAIL FROM, default
configuration set), the records the program manages with values computed from the roster and
from SES's DKIM tokens (resolved publicly; conflicts looked for), and the zone's delegation
against the Route 53 zone's name servers. For the account: sesv2 GetAccount and the latest
reputation metrics against the alarm thresholds, and that the permissions boundaries the stack
sets exist (iam GetPolicy). Read-only.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

from ses_mail.findings import ERROR, Finding, failing
from ses_mail.live.clients import ClientFactory
from ses_mail.live.dns_check import Resolver
from ses_mail.live.findings import (
    check_account, check_data_beside_cname, check_delegation, check_identity, check_identity_policies,
    check_record, check_reputation, next_hour,
)
from ses_mail.live.target import Target
from ses_mail.modes.dns import dns_provider
from ses_mail.roster import Domain
from ses_mail.specs import boundary as boundaries
from ses_mail.specs.dns_records import DKIM_TOKEN_COUNT, DnsRecord, dkim_records, static_records

REPUTATION_NAMESPACE = "AWS/SES"
BOUNCE_METRIC = "Reputation.BounceRate"
COMPLAINT_METRIC = "Reputation.ComplaintRate"
REPUTATION_WINDOW = timedelta(days=2)
POLL_INTERVAL = 15.0
REPORT_VERSION = 1


@dataclass
class DomainReport:
    domain: str
    identity: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


@dataclass
class DoctorReport:
    region: str
    resolver: str
    domains: list[DomainReport]
    account: dict[str, Any]
    account_findings: list[Finding]
    waited_seconds: float = 0.0
    #: DMARC report receiving (roster `reports:`), None without it (ses_mail.live.reports_check).
    reports: Optional[dict[str, Any]] = None
    reports_findings: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for d in self.domains for f in d.findings] + self.account_findings + self.reports_findings

    @property
    def healthy(self) -> bool:
        return not failing(self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION, "command": "doctor", "region": self.region, "resolver": self.resolver,
            "healthy": self.healthy, "findings": [f.as_dict() for f in self.findings],
            "domains": [{"domain": d.domain, "identity": d.identity, "records": d.records} for d in self.domains],
            "account": self.account, "waited_seconds": round(self.waited_seconds, 1),
            **({"reports": self.reports} if self.reports is not None else {}),
        }


# --- reading ----------------------------------------------------------------------------------

def get_identity(clients: ClientFactory, domain: str) -> Optional[dict[str, Any]]:
    ses = clients("sesv2")
    try:
        return ses.get_email_identity(EmailIdentity=domain)
    except ses.exceptions.NotFoundException:
        return None


def route53_zone(clients: ClientFactory, zone: str) -> Optional[dict[str, Any]]:
    """The public hosted zone named `zone`: its id, name servers and record sets (name, type)."""
    r53 = clients("route53")
    wanted = zone.rstrip(".").lower() + "."
    found = None
    kwargs: dict[str, Any] = {"DNSName": wanted}
    while found is None:  # zones come sorted by name from `wanted` on: stop once past it
        page = r53.list_hosted_zones_by_name(**kwargs)
        zones = page.get("HostedZones", [])
        found = next((z for z in zones if z["Name"].lower() == wanted
                      and not z.get("Config", {}).get("PrivateZone")), None)
        if found or not page.get("IsTruncated") or any(z["Name"].lower() != wanted for z in zones):
            break
        kwargs = {"DNSName": page["NextDNSName"], "HostedZoneId": page["NextHostedZoneId"]}
    if found is None:
        return None
    detail = r53.get_hosted_zone(Id=found["Id"])
    name_servers = [n.rstrip(".").lower() for n in (detail.get("DelegationSet") or {}).get("NameServers", [])]
    present: set[tuple[str, str]] = set()
    for page in r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=found["Id"]):
        for rrset in page["ResourceRecordSets"]:
            name = rrset["Name"].rstrip(".").lower().replace("\\052", "*")
            present.add((name, rrset["Type"]))
    return {"id": found["Id"], "name_servers": name_servers, "records": present}


def expected_records(domain: Domain, region: str, identity: Optional[dict[str, Any]]) -> list[DnsRecord]:
    tokens = ((identity or {}).get("DkimAttributes") or {}).get("Tokens") or []
    dkim = dkim_records(domain, tokens, region) if len(tokens) == DKIM_TOKEN_COUNT else []
    return dkim + static_records(domain, region)


def caller_account(clients: ClientFactory) -> Callable[[], str]:
    """This account's id, asked of STS once and only when needed (most identities have no policy)."""
    known: list[str] = []

    def account_id() -> str:
        if not known:
            known.append(clients("sts").get_caller_identity()["Account"])
        return known[0]

    return account_id


def identity_policy_findings(domain: str, identity: Optional[dict[str, Any]],
                             account_id: Callable[[], str]) -> list[Finding]:
    """Sending-authorization policies of an identity that let a principal outside the stack send."""
    policies = (identity or {}).get("Policies") or {}
    return check_identity_policies(domain, policies, account_id()) if policies else []


def check_domain(domain: Domain, region: str, clients: ClientFactory, resolver: Resolver,
                 zone: Optional[dict[str, Any]], account_id: Optional[Callable[[], str]] = None) -> DomainReport:
    report = DomainReport(domain.name)
    identity = get_identity(clients, domain.name)
    if identity is not None:
        dkim = identity.get("DkimAttributes") or {}
        mail_from = identity.get("MailFromAttributes") or {}
        report.identity = {
            "verified_for_sending": bool(identity.get("VerifiedForSendingStatus")),
            "dkim_status": dkim.get("Status"), "dkim_tokens": list(dkim.get("Tokens") or []),
            "mail_from_domain": mail_from.get("MailFromDomain"),
            "mail_from_status": mail_from.get("MailFromDomainStatus"),
            "configuration_set": identity.get("ConfigurationSetName"),
        }
    report.findings += check_identity(domain.name, domain.mail_from_domain, identity)
    report.findings += identity_policy_findings(domain.name, identity, account_id or caller_account(clients))
    for record in expected_records(domain, region, identity):
        answer = resolver.lookup(record.name, record.type)
        in_zone = None if zone is None else (record.name.lower(), record.type) in zone["records"]
        problems = check_record(record, answer, in_zone=in_zone)
        if record.type == "CNAME" and answer.cname and not answer.error:
            beside = resolver.lookup(record.name, "TXT")
            if beside.values:
                problems += check_data_beside_cname(record.name, answer.cname, ["TXT"])
        report.records.append({**record.as_row(), "purpose": record.purpose, "found": list(answer.values),
                               "ok": not problems})
        report.findings += problems
    return report


def cloudflare_zone(cloudflare: Any, zone_name: str, zone_id: Optional[str]) -> Optional[dict[str, Any]]:
    """The Cloudflare zone (ses_mail.live.cloudflare.CloudflareReader, read-only) as
    `route53_zone` describes a hosted zone; None without a reader or when it cannot be read."""
    from ses_mail.live.cloudflare import CloudflareAccessError

    if cloudflare is None:
        return None
    try:
        if zone_id:
            zone = cloudflare.zone(zone_id)
        else:
            found = cloudflare.zone_by_name(zone_name)
            if len(found) != 1:
                return None
            zone = found[0]
        records = {(r.name, r.type) for r in cloudflare.records(zone.id)}
    except CloudflareAccessError:
        return None
    return {"id": zone.id, "name_servers": [n.lower() for n in zone.name_servers], "records": records,
            "provider": "Cloudflare"}


def check_zone(zone_name: str, resolver: Resolver, zone: Optional[dict[str, Any]],
               provider: str = "Route 53") -> list[Finding]:
    answer = resolver.lookup(zone_name, "NS")
    return check_delegation(zone_name, list(answer.values), None if zone is None else zone["name_servers"],
                            error=answer.error, provider=provider)


def latest_reputation(clients: ClientFactory, now: datetime) -> tuple[Optional[float], Optional[float]]:
    cloudwatch = clients("cloudwatch")
    queries = [{"Id": id_, "MetricStat": {"Metric": {"Namespace": REPUTATION_NAMESPACE, "MetricName": metric},
                                          "Period": 3600, "Stat": "Average"}, "ReturnData": True}
               for id_, metric in (("bounce", BOUNCE_METRIC), ("complaint", COMPLAINT_METRIC))]
    end = next_hour(now)
    response = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=end - REPUTATION_WINDOW,
                                          EndTime=end, ScanBy="TimestampDescending")
    latest: dict[str, Optional[float]] = {"bounce": None, "complaint": None}
    for result in response["MetricDataResults"]:
        pairs = sorted(zip(result.get("Timestamps", []), result.get("Values", []), strict=True), reverse=True)
        if pairs:
            latest[result["Id"]] = float(pairs[0][1])
    return latest["bounce"], latest["complaint"]


def check_live_account(clients: ClientFactory, target: Target, now: datetime) -> tuple[dict[str, Any], list[Finding]]:
    account = clients("sesv2").get_account()
    bounce, complaint = latest_reputation(clients, now)
    quota = account.get("SendQuota") or {}
    summary = {
        "production_access": bool(account.get("ProductionAccessEnabled")),
        "sending_enabled": bool(account.get("SendingEnabled")),
        "enforcement_status": account.get("EnforcementStatus"),
        "send_quota": {"max_24_hour_send": quota.get("Max24HourSend"), "max_send_rate": quota.get("MaxSendRate"),
                       "sent_last_24_hours": quota.get("SentLast24Hours")},
        "bounce_rate": bounce, "complaint_rate": complaint,
        "bounce_alarm": target.bounce_alarm, "complaint_alarm": target.complaint_alarm,
    }
    findings = check_account(account) + check_reputation(
        bounce, complaint, bounce_alarm=target.bounce_alarm, complaint_alarm=target.complaint_alarm)
    return summary, findings


def rotation_failures(target: Target, clients: ClientFactory, now: datetime) -> list[Finding]:
    """Failed, stuck or disabled rotations of the people whose credential the stack's function
    rotates (delivery rotation): the secrets' metadata only, never a value."""
    from ses_mail.live.audit import rotation_state
    from ses_mail.modes.delivery import delivery_mode

    findings: list[Finding] = []
    for person in target.roster.people:
        settings = target.roster.settings(person)
        if delivery_mode(settings.delivery).rotated_in_account:
            findings += rotation_state(clients, person.email, settings.rotation_days, now=now)[1]
    return findings


def boundary_findings(target: Target, clients: ClientFactory) -> list[Finding]:
    """Each permissions boundary the stack sets (the SMTP users', and the rotation role's when
    someone's credential is rotated in the account) that does not exist in the account: IAM refuses
    to create a user or role with it, so `pulumi up` would fail. A boundary set to `none` is not asked for."""
    from ses_mail.modes.delivery import delivery_mode

    people = target.roster.people
    wanted = []
    if people:
        wanted.append((boundaries.SMTP_BOUNDARY, "ses-mail:permissionsBoundary", target.permissions_boundary,
                       "the SMTP users"))
    if any(delivery_mode(target.roster.settings(p).delivery).rotated_in_account for p in people):
        wanted.append((boundaries.ROTATION_BOUNDARY, "ses-mail:rotationPermissionsBoundary",
                       target.rotation_permissions_boundary, "the rotation function's role"))
    wanted = [w for w in wanted if not boundaries.is_opt_out(w[2])]
    if not wanted:
        return []
    caller = clients("sts").get_caller_identity()
    account, partition = caller["Account"], caller["Arn"].split(":")[1]
    iam = clients("iam")
    findings = []
    for name, key, setting, whose in wanted:
        arn = boundaries.resolve_boundary(setting, account, partition, name)
        assert arn is not None
        try:
            iam.get_policy(PolicyArn=arn)
            continue
        except iam.exceptions.NoSuchEntityException:
            pass
        if setting is None:
            fix = boundaries.create_command(name, account, partition)
            how = f"create it once (the command), or set {key} to none (docs/stack-config.md)"
        else:
            fix = f"create the managed policy {arn}, or set {key} to a policy that exists, or to none"
            how = "the stack names it"
        findings.append(Finding(
            "boundary-missing", ERROR, arn,
            f"the permissions boundary of {whose} does not exist in account {account}: `pulumi up` cannot "
            f"create {whose} with it; {how}", fix, {"policy_arn": arn, "setting": key}))
    return findings


def check_domains(target: Target, clients: ClientFactory, resolver: Resolver,
                  cloudflare: Any = None) -> list[DomainReport]:
    """`cloudflare`: a CloudflareReader for `dns: cloudflare` domains, whose zone's name servers
    the delegation is checked against (every other check is the same for every DNS host)."""
    zones: dict[str, Optional[dict[str, Any]]] = {}
    providers: dict[str, str] = {}
    reports = []
    for zone_name in sorted({d.hosted_zone for d in target.roster.domains}):
        at_cloudflare = [d for d in target.roster.domains
                         if d.hosted_zone == zone_name and dns_provider(d.dns).cloudflare_zone]
        if at_cloudflare:
            providers[zone_name] = dns_provider(at_cloudflare[0].dns).host
            zone_id = next((d.zone_id for d in at_cloudflare if d.zone_id), None)
            zones[zone_name] = cloudflare_zone(cloudflare, zone_name, zone_id)
        else:
            zones[zone_name] = route53_zone(clients, zone_name)
    delegation = {z: check_zone(z, resolver, zones[z], providers.get(z, "Route 53")) for z in zones}
    account_id = caller_account(clients)
    for domain in target.roster.domains:
        report = check_domain(domain, target.region, clients, resolver, zones[domain.hosted_zone], account_id)
        # The zone's delegation is reported once, with the first domain that lives in it.
        report.findings = delegation.pop(domain.hosted_zone, []) + report.findings
        reports.append(report)
    return reports


def run(target: Target, clients: ClientFactory, resolver: Resolver, *, wait: float = 0.0,
        sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
        now: Optional[Callable[[], datetime]] = None, on_poll: Optional[Callable[[list[Finding]], None]] = None,
        cloudflare: Any = None) -> DoctorReport:
    """Check every domain, again every POLL_INTERVAL seconds while some domain has findings and
    `wait` seconds have not passed, then the account once."""
    now = now or (lambda: datetime.now(timezone.utc))
    start = clock()
    while True:
        domains = check_domains(target, clients, resolver, cloudflare)
        pending = failing(f for d in domains for f in d.findings)
        remaining = wait - (clock() - start)
        if not pending or remaining <= 0:
            break
        if on_poll:
            on_poll(pending)
        sleep(min(POLL_INTERVAL, remaining))
    account, account_findings = check_live_account(clients, target, now())
    account_findings += boundary_findings(target, clients)
    account_findings += rotation_failures(target, clients, now())
    from ses_mail.live.reports_check import check_reports
    reports, reports_findings = check_reports(target, clients, resolver, now())
    return DoctorReport(target.region, str(resolver), domains, account, account_findings, clock() - start,
                        reports, reports_findings)
