"""`ses-mail audit`: every person's IAM user and keys against the roster, and anything else found.

Per person: the IAM user exists; its keys match the roster (one, or two during a rotation;
Active, or Inactive when suspended); each key's age and last use; sends, bounces and complaints
over the last days from SES's CloudWatch event metrics. Drift: users under the program's IAM path
that the roster does not list, extra keys, policies, groups, a permissions boundary other than the
stack's, console passwords, MFA devices, and a send policy other than the roster implies (compared
in full, configuration sets included). Per domain: sending-authorization policies that let a
principal outside the stack send.
Read-only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator, Optional

from ses_mail.findings import ERROR, Finding, failing
from ses_mail.live.clients import ClientFactory
from ses_mail.live.findings import (
    KeyState, check_identity_policies, check_keys, check_person_rates, check_send_policy_configuration_set,
    check_unlisted_users, check_user, next_hour,
)
from ses_mail.live.target import Target
from ses_mail.roster import Person
from ses_mail.specs.boundary import resolve_boundary
from ses_mail.specs.deliverability import configuration_set_arn
from ses_mail.specs.iam_policy import identity_arn, send_as_policy
from ses_mail.specs.key_slots import key_slots
from ses_mail.specs.naming import SEND_POLICY_NAME, iam_user_name, secret_name
from ses_mail.modes.delivery import delivery_mode
from ses_mail.specs.rotation_policy import check_rotation_state

#: SES event destinations publish to CloudWatch under AWS/SES with the dimensions the
#: configuration set names; the per-person dimension carries the `ses:caller-identity` auto-tag
#: (the IAM user that sent), under this dimension name.
METRIC_NAMESPACE = "AWS/SES"
CALLER_DIMENSION = "ses:caller-identity"
METRICS = {"sends": "Send", "bounces": "Bounce", "complaints": "Complaint"}
MAX_QUERIES = 500  # GetMetricData's limit per request
DEFAULT_STALE_DAYS = 90
DEFAULT_MAX_KEY_AGE_DAYS = 365
DEFAULT_METRIC_DAYS = 14
REPORT_VERSION = 1


@dataclass
class PersonReport:
    address: str
    iam_user: str
    status: str
    exists: bool = True
    keys: list[dict[str, Any]] = field(default_factory=list)
    activity: dict[str, float] = field(default_factory=dict)
    #: delivery rotation: the secret's rotation state (enabled, last and next rotation, pending).
    rotation: Optional[dict[str, Any]] = None
    findings: list[Finding] = field(default_factory=list)
    configuration_set: Optional[str] = None


@dataclass
class AuditReport:
    region: str
    account_id: str
    iam_path: str
    people: list[PersonReport]
    other_findings: list[Finding]
    metric_days: int

    @property
    def findings(self) -> list[Finding]:
        return [f for p in self.people for f in p.findings] + self.other_findings

    @property
    def clean(self) -> bool:
        return not failing(self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION, "command": "audit", "region": self.region, "account_id": self.account_id,
            "iam_path": self.iam_path, "clean": self.clean, "metric_days": self.metric_days,
            "findings": [f.as_dict() for f in self.findings],
            "people": [{"address": p.address, "iam_user": p.iam_user, "status": p.status, "exists": p.exists,
                        "keys": p.keys, "activity": p.activity, "configuration_set": p.configuration_set,
                        **({"rotation": p.rotation} if p.rotation is not None else {})} for p in self.people],
        }


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page[key]]


def users_under(clients: ClientFactory, iam_path: str) -> list[str]:
    return [u["UserName"] for u in _pages(clients("iam"), "list_users", "Users", PathPrefix=iam_path)
            if u.get("Path") == iam_path]


def read_keys(clients: ClientFactory, user: str) -> list[KeyState]:
    iam = clients("iam")
    keys = []
    for meta in _pages(iam, "list_access_keys", "AccessKeyMetadata", UserName=user):
        used = iam.get_access_key_last_used(AccessKeyId=meta["AccessKeyId"]).get("AccessKeyLastUsed") or {}
        keys.append(KeyState(meta["AccessKeyId"], meta["Status"], meta["CreateDate"], used.get("LastUsedDate"),
                             _known(used.get("ServiceName")), _known(used.get("Region"))))
    return sorted(keys, key=lambda k: k.created)


def _known(value: Optional[str]) -> Optional[str]:
    return None if value in (None, "N/A") else value


def send_policy_configuration_set(target: Target, subject: str, live: Any, account_id: str,
                                  partition: str) -> tuple[Optional[str], list[Finding]]:
    """The configuration set the person's send policy must allow, and findings about the ones it does.

    The policy is compared in full (`check_user`), set included: the set is the stack's
    (`--stack`) or `--configuration-set`; with a roster file alone, the one named set the live
    policy allows, so a wildcard, a second set or a set elsewhere is a finding."""
    if live is None:
        return target.configuration_set, []
    prefix = configuration_set_arn(target.region, account_id, "", partition)
    return check_send_policy_configuration_set(subject, live, set_prefix=prefix, expected=target.configuration_set,
                                               wanted=target.roster.deliverability.configuration_set)


def check_configuration_set_agreement(people: list[PersonReport], target: Target) -> list[Finding]:
    """With a roster file alone, every person's send policy must name the same set."""
    names = sorted({p.configuration_set for p in people if p.configuration_set})
    if target.configuration_set is not None or len(names) < 2:
        return []
    return [Finding("configuration-set-mismatch", ERROR, "account",
                    f"the send policies name {len(names)} configuration sets ({', '.join(names)}); one stack "
                    "writes one", "audit with --stack (or --configuration-set NAME) to see which policies drifted",
                    {"configuration_sets": names})]


def identity_policies(target: Target, clients: ClientFactory, account_id: str) -> list[Finding]:
    """Every roster domain's sending-authorization policies (a missing identity is doctor's finding)."""
    ses = clients("sesv2")
    findings: list[Finding] = []
    for domain in target.roster.domains:
        try:
            identity = ses.get_email_identity(EmailIdentity=domain.name)
        except ses.exceptions.NotFoundException:
            continue
        findings += check_identity_policies(domain.name, identity.get("Policies") or {}, account_id)
    return findings


def audit_person(person: Person, target: Target, clients: ClientFactory, account_id: str, *, now: datetime,
                 stale_days: int, max_age_days: int, partition: str = "aws") -> PersonReport:
    iam = clients("iam")
    settings = target.roster.settings(person)
    name = iam_user_name(person.email)
    report = PersonReport(person.email, name, settings.status)
    try:
        user = iam.get_user(UserName=name)["User"]
    except iam.exceptions.NoSuchEntityException:
        report.exists = False
        report.findings.append(Finding("user-missing", ERROR, name,
                                       f"no IAM user {name} for {person.email}: the person cannot send",
                                       "`pulumi up` in the stack (`pulumi refresh` first if it was deleted by hand)",
                                       {"address": person.email}))
        return report
    if user.get("Path") != target.iam_path:
        report.findings.append(Finding("user-path", ERROR, name, f"{name} is under {user.get('Path')}, "
                                       f"the stack uses {target.iam_path}", "`pulumi up --refresh` in the stack",
                                       {"found": user.get("Path"), "expected": target.iam_path}))
    slots = key_slots(settings.key, settings.previous_key)
    keys = read_keys(clients, name)
    generations = [s.generation for s in sorted(slots, key=lambda s: s.generation)]
    for i, key in enumerate(keys):
        generation = generations[i] if len(keys) == len(generations) else None
        report.keys.append({
            "id": key.id, "status": key.status, "created": key.created.isoformat(),
            "age_days": (now - key.created).days, "generation": generation,
            "current": generation == settings.key if generation is not None else None,
            "last_used": key.last_used.isoformat() if key.last_used else None,
            "last_used_service": key.service, "last_used_region": key.region,
        })
    mode = delivery_mode(settings.delivery)
    # The rotation function holds one key, two within a grace period; a suspension is the send
    # policy's Deny until its next run deactivates the keys.
    expected_count = len(slots) if mode.issues_keys else min(max(len(keys), 1), 2)
    report.findings += check_keys(name, keys, expected_count=expected_count,
                                  suspended=settings.suspended and mode.issues_keys, now=now,
                                  stale_days=stale_days, max_age_days=max_age_days)
    if mode.rotated_in_account:
        report.rotation, found = rotation_state(clients, person.email, settings.rotation_days, now=now)
        report.findings += found

    inline = {}
    for policy in _pages(iam, "list_user_policies", "PolicyNames", UserName=name):
        inline[policy] = iam.get_user_policy(UserName=name, PolicyName=policy)["PolicyDocument"]
    attached = [p["PolicyArn"] for p in _pages(iam, "list_attached_user_policies", "AttachedPolicies", UserName=name)]
    groups = [g["GroupName"] for g in _pages(iam, "list_groups_for_user", "Groups", UserName=name)]
    try:
        iam.get_login_profile(UserName=name)
        login = True
    except iam.exceptions.NoSuchEntityException:
        login = False
    mfa = [d["SerialNumber"] for d in _pages(iam, "list_mfa_devices", "MFADevices", UserName=name)]
    arn = identity_arn(target.region, account_id, person.domain, partition)
    set_name, set_findings = send_policy_configuration_set(target, name, inline.get(SEND_POLICY_NAME),
                                                           account_id, partition)
    report.configuration_set = set_name
    report.findings += set_findings
    set_arn = configuration_set_arn(target.region, account_id, set_name, partition) if set_name else None
    expected = send_as_policy(person.email, arn, display_names=settings.display_names,
                              allowed_ips=settings.allowed_ips, recipients=settings.recipients,
                              configuration_set_arn=set_arn, suspended=settings.suspended and not mode.issues_keys)
    boundary = (user.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    report.findings += check_user(name, expected_policy=expected, inline=inline, attached=attached, groups=groups,
                                  boundary=boundary,
                                  expected_boundary=resolve_boundary(target.permissions_boundary, account_id, partition),
                                  login_profile=login, mfa_devices=mfa, policy_name=SEND_POLICY_NAME)
    return report


def rotation_state(clients: ClientFactory, address: str, rotation_days: int, *,
                   now: datetime) -> tuple[Optional[dict[str, Any]], list[Finding]]:
    """The person's secret's rotation state (DescribeSecret and its version ids: never the value)."""
    secrets = clients("secretsmanager")
    name = secret_name(address)
    try:
        described = secrets.describe_secret(SecretId=name)
    except secrets.exceptions.ResourceNotFoundException:
        described = None
    versions: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while described is not None:  # not pageable by boto3's paginators: NextToken by hand
        page = secrets.list_secret_version_ids(SecretId=name, **token)
        versions += page.get("Versions", [])
        if not page.get("NextToken"):
            break
        token = {"NextToken": page["NextToken"]}
    return check_rotation_state(address, name, described, versions, rotation_days=rotation_days, now=now)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def activity(clients: ClientFactory, users: list[str], *, now: datetime, days: int) -> dict[str, dict[str, float]]:
    """Sends, bounces and complaints per IAM user over the last `days`, from CloudWatch."""
    cloudwatch = clients("cloudwatch")
    totals = {u: {k: 0.0 for k in METRICS} for u in users}
    queries = [(f"m{i}_{k}", u, k) for i, u in enumerate(users) for k in METRICS]
    for chunk in _chunks(queries, MAX_QUERIES):
        by_id = {qid: (u, k) for qid, u, k in chunk}
        request = [{"Id": qid, "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": METRIC_NAMESPACE, "MetricName": METRICS[k],
                       "Dimensions": [{"Name": CALLER_DIMENSION, "Value": u}]},
            "Period": 86400, "Stat": "Sum"}} for qid, u, k in chunk]
        end = next_hour(now)
        kwargs = {"MetricDataQueries": request, "StartTime": end - timedelta(days=days), "EndTime": end}
        while True:
            response = cloudwatch.get_metric_data(**kwargs)
            for result in response["MetricDataResults"]:
                user, kind = by_id[result["Id"]]
                totals[user][kind] += float(sum(result.get("Values", [])))
            if not response.get("NextToken"):
                break
            kwargs["NextToken"] = response["NextToken"]
    return totals


def run(target: Target, clients: ClientFactory, *, stale_days: int = DEFAULT_STALE_DAYS,
        max_age_days: int = DEFAULT_MAX_KEY_AGE_DAYS, metric_days: int = DEFAULT_METRIC_DAYS,
        now: Optional[datetime] = None,
        progress: Callable[[Iterable[Person], str], Iterable[Person]] = lambda items, what: items) -> AuditReport:
    now = now or datetime.now(timezone.utc)
    caller = clients("sts").get_caller_identity()
    account_id, partition = caller["Account"], caller["Arn"].split(":")[1]
    people = [audit_person(p, target, clients, account_id, now=now, stale_days=stale_days, partition=partition,
                           max_age_days=max_age_days)
              for p in progress(target.roster.people, "auditing IAM users")]
    counts = activity(clients, [p.iam_user for p in people if p.exists], now=now, days=metric_days)
    for p in people:
        if p.exists:
            p.activity = counts[p.iam_user]
            p.findings += check_person_rates(p.iam_user, p.activity["sends"], p.activity["bounces"],
                                             p.activity["complaints"], bounce_alarm=target.bounce_alarm,
                                             complaint_alarm=target.complaint_alarm)
    others = check_unlisted_users([p.iam_user for p in people], users_under(clients, target.iam_path), target.iam_path)
    others += check_configuration_set_agreement(people, target)
    others += identity_policies(target, clients, account_id)
    return AuditReport(target.region, account_id, target.iam_path, people, others, metric_days)
