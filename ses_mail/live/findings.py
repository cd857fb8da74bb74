"""What is wrong, judged from plain data: every check of doctor and audit as a pure function.

Each check returns `ses_mail.findings.Finding`s, under codes listed in the README's findings
catalogue.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Optional, Sequence

from ses_mail.findings import ERROR, INFO, WARNING, Finding
from ses_mail.specs.deliverability import DEFAULT_BOUNCE_ALARM, DEFAULT_COMPLAINT_ALARM
from ses_mail.specs.dns_records import DnsRecord


def next_hour(moment: datetime) -> datetime:
    """`moment` rounded up to the hour: CloudWatch answers best for periods aligned to hours, and
    an end time at the hour after now includes the latest datapoint."""
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(hours=1)


# --- DNS --------------------------------------------------------------------------------------

def normalize_value(rtype: str, value: str) -> str:
    """A record value as compared: names lowercased without the final dot, MX as `pref host`."""
    value = value.strip()
    if rtype in ("CNAME", "NS"):
        return value.rstrip(".").lower()
    if rtype == "MX":
        pref, _, host = value.partition(" ")
        return f"{int(pref)} {host.strip().rstrip('.').lower()}"
    return value


@dataclass(frozen=True)
class Answer:
    """What the resolver said for one (name, type): the values owned by the name itself, whether
    the name holds a CNAME (and its target), and whether the query failed."""

    values: tuple[str, ...] = ()
    cname: Optional[str] = None
    error: Optional[str] = None


def check_record(record: DnsRecord, answer: Answer, *, in_zone: Optional[bool]) -> list[Finding]:
    """One expected record against the public answer for its name and type.

    `in_zone`: whether the Route 53 zone holds the record (None: zone not in this account), which
    tells "missing" from "not public yet".
    """
    expected = normalize_value(record.type, record.value)
    got = [normalize_value(record.type, v) for v in answer.values]
    subject = f"{record.name} {record.type}"
    details = {"name": record.name, "type": record.type, "expected": record.value, "found": list(answer.values),
               "purpose": record.purpose}
    if answer.error:
        return [Finding("dns-query-failed", ERROR, subject, f"the query failed: {answer.error}",
                        "check --resolver and the network; run again", details)]
    findings: list[Finding] = []
    if record.type != "CNAME" and answer.cname:
        findings.append(Finding(
            "dns-cname-conflict", ERROR, subject,
            f"{record.name} is a CNAME (to {answer.cname}), so it cannot hold the {record.type} record",
            f"delete the CNAME at {record.name}; then `pulumi up` creates the {record.type} record", details))
        return findings
    if record.type == "TXT":
        return findings + _check_txt(record, expected, got, subject, details, in_zone)
    if expected in got:
        extra = [v for v in got if v != expected]
        if extra:
            findings.append(Finding(
                "dns-extra-value", ERROR if record.type == "CNAME" else WARNING, subject,
                f"besides {record.value}, {record.name} {record.type} also has {', '.join(extra)}",
                f"delete the other {record.type} values at {record.name}", details))
        return findings
    if got:
        return [Finding("dns-wrong-value", ERROR, subject,
                        f"{record.name} {record.type} is {', '.join(got)}, expected {record.value}",
                        f"set {record.name} {record.type} to {record.value} (`pulumi up` in the stack, "
                        "or by hand where DNS is kept elsewhere)", details)]
    return [_absent(record, subject, details, in_zone)]


def _absent(record: DnsRecord, subject: str, details: dict, in_zone: Optional[bool]) -> Finding:
    if in_zone:
        return Finding("dns-not-public", WARNING, subject,
                       f"{record.name} {record.type} is in the Route 53 zone but does not resolve publicly yet",
                       "wait for caches to expire (the record's TTL, or the zone's negative TTL), "
                       "and check the zone's delegation; `ses-mail doctor --wait 600` polls", details)
    return Finding("dns-missing", ERROR, subject,
                   f"{record.name} {record.type} does not exist (expected {record.value})",
                   f"publish {record.name} {record.type} {record.value}: `pulumi up` in the stack "
                   "(or by hand where DNS is kept elsewhere: `dns_records` output)", details)


_TXT_KIND = {"mail-from-spf": ("v=spf1", "SPF", "RFC 7208 4.5: two SPF records are a permanent error, so SPF fails"),
             "dmarc": ("v=dmarc1", "DMARC", "RFC 7489 6.6.3: with more than one DMARC record receivers apply no DMARC")}


def _check_txt(record: DnsRecord, expected: str, got: list[str], subject: str, details: dict,
               in_zone: Optional[bool]) -> list[Finding]:
    prefix, kind, why = _TXT_KIND.get(record.purpose, ("", "TXT", ""))
    same_kind = [v for v in got if v.lower().startswith(prefix)] if prefix else got
    if len(same_kind) > 1:
        others = [v for v in same_kind if v != expected]
        return [Finding(f"dns-duplicate-{kind.lower()}", ERROR, subject,
                        f"{record.name} has {len(same_kind)} {kind} records ({why})",
                        f"delete {'; '.join(repr(o) for o in others)} at {record.name}, keeping only {expected!r}",
                        details)]
    if expected in same_kind:
        return []
    if same_kind:
        return [Finding("dns-wrong-value", ERROR, subject,
                        f"{record.name} {kind} is {same_kind[0]!r}, expected {expected!r}",
                        f"set the {kind} record at {record.name} to {expected!r} (`pulumi up`)", details)]
    return [_absent(record, subject, details, in_zone)]


def check_data_beside_cname(name: str, cname: Optional[str], other_types: Sequence[str]) -> list[Finding]:
    """A name holding a CNAME must hold nothing else (RFC 1034 3.6.2; RFC 2181 10.1)."""
    if not cname or not other_types:
        return []
    return [Finding("dns-cname-conflict", ERROR, name,
                    f"{name} holds a CNAME (to {cname}) and also {', '.join(other_types)} data: resolvers "
                    "answer one or the other",
                    f"delete the {', '.join(other_types)} records at {name}",
                    {"name": name, "cname": cname, "other_types": list(other_types)})]


def check_delegation(zone: str, public_ns: Optional[Sequence[str]], route53_ns: Optional[Sequence[str]],
                     *, error: Optional[str] = None, provider: str = "Route 53") -> list[Finding]:
    """The zone's public NS set against the name servers of the zone holding the records: the
    Route 53 zone's, or (provider "Cloudflare") the Cloudflare zone's `name_servers`."""
    details = {"zone": zone, "public": sorted(normalize_value("NS", n) for n in public_ns or []),
               "route53": sorted(normalize_value("NS", n) for n in route53_ns or [])}
    if provider != "Route 53":
        details["provider"] = provider
        details["provider_name_servers"] = details.pop("route53")
    if error:
        return [Finding("delegation-query-failed", ERROR, zone, f"the NS query for {zone} failed: {error}",
                        "check --resolver and the network; run again", details)]
    if not public_ns:
        return [Finding("delegation-missing", ERROR, zone, f"{zone} has no public NS records: it is not delegated",
                        f"at the registrar (or parent zone), delegate {zone} to "
                        + (", ".join(sorted(route53_ns)) if route53_ns else "the zone's name servers"), details)]
    if route53_ns is None and provider != "Route 53":
        return [Finding("zone-not-read", INFO, zone,
                        f"the {provider} zone {zone} was not read (no API token, or it may not read the zone): "
                        "records were checked publicly only",
                        "set CLOUDFLARE_API_TOKEN (Zone Read) to check the delegation too", details)]
    if route53_ns is None:
        return [Finding("zone-not-in-route53", INFO, zone,
                        f"no Route 53 public hosted zone {zone} in this account: records were checked publicly only",
                        "nothing, if DNS is kept elsewhere; else check the account and `zone:` in the roster", details)]
    public = {normalize_value("NS", n) for n in public_ns}
    ours = {normalize_value("NS", n) for n in route53_ns}
    if public == ours:
        return []
    return [Finding("delegation-mismatch", ERROR, zone,
                    f"{zone} is delegated to {', '.join(sorted(public))}, but its {provider} zone's name servers are "
                    f"{', '.join(sorted(ours))}: the records the program writes are not the ones the world sees",
                    f"set the NS records of {zone} at the registrar (or parent zone) to {', '.join(sorted(ours))}",
                    details)]


# --- SES identity and account -------------------------------------------------------------------

_PENDING = ("PENDING",)


def check_identity(domain: str, mail_from_domain: str, identity: Optional[Mapping[str, Any]]) -> list[Finding]:
    """sesv2 GetEmailIdentity's answer for a roster domain (None: the identity does not exist)."""
    if identity is None:
        return [Finding("identity-missing", ERROR, domain, f"SES has no identity {domain} in this region",
                        "`pulumi up` in the stack (check --region / the stack's ses-mail:region)")]
    findings: list[Finding] = []
    if not identity.get("VerifiedForSendingStatus"):
        findings.append(Finding("identity-not-verified", ERROR, domain,
                                f"{domain} is not verified for sending: mail from it is refused",
                                "publish the DKIM CNAMEs (see the DNS findings); SES verifies within 72 hours "
                                "of them resolving"))
    dkim = identity.get("DkimAttributes") or {}
    status = dkim.get("Status", "NOT_STARTED")
    if status != "SUCCESS":
        pending = status in _PENDING
        findings.append(Finding(
            "dkim-pending" if pending else "dkim-failed", WARNING if pending else ERROR, domain,
            f"SES's DKIM status for {domain} is {status}",
            "wait: SES checks the CNAMEs periodically (`--wait` polls)" if pending else
            "make the three DKIM CNAMEs resolve as expected; SES retries for 72 hours, after FAILED run "
            "`pulumi up` again (or restart verification in the SES console)", {"status": status}))
    if dkim.get("SigningEnabled") is False:
        findings.append(Finding("dkim-signing-disabled", ERROR, domain, f"DKIM signing is disabled for {domain}",
                                "enable it: `aws sesv2 put-email-identity-dkim-attributes --signing-enabled` "
                                "(or `pulumi up --refresh`)"))
    mail_from = identity.get("MailFromAttributes") or {}
    actual = (mail_from.get("MailFromDomain") or "").rstrip(".").lower()
    if actual != mail_from_domain:
        findings.append(Finding("mail-from-wrong", ERROR, domain,
                                f"SES's MAIL FROM domain for {domain} is {actual or 'not set'}, expected {mail_from_domain}",
                                "`pulumi up` in the stack", {"expected": mail_from_domain, "found": actual}))
    else:
        mstatus = mail_from.get("MailFromDomainStatus", "FAILED")
        if mstatus != "SUCCESS":
            pending = mstatus in _PENDING
            findings.append(Finding(
                "mail-from-pending" if pending else "mail-from-failed", WARNING if pending else ERROR, domain,
                f"SES's MAIL FROM status for {mail_from_domain} is {mstatus}"
                + ("" if pending else ": SES sends with its own amazonses.com MAIL FROM, so SPF does not align"),
                "wait (`--wait` polls)" if pending else
                f"make {mail_from_domain} MX and SPF resolve as expected; SES checks again by itself",
                {"status": mstatus}))
    if not identity.get("ConfigurationSetName"):
        findings.append(Finding("no-default-configuration-set", INFO, domain,
                                f"{domain} has no default configuration set: bounces, complaints and per-person "
                                "sending metrics are not published for it",
                                "set a default configuration set with a CloudWatch event destination"))
    return findings


def check_identity_policies(domain: str, policies: Optional[Mapping[str, Any]], account_id: str) -> list[Finding]:
    """The identity's sending-authorization policies (GetEmailIdentity's `Policies`): the program
    writes none, so each statement that lets a principal other than this account send is one
    finding (judged by ses_mail.specs.sending_authorization, which credits no condition)."""
    from ses_mail.specs.sending_authorization import identity_send_grants

    return [Finding("identity-policy-permissive", ERROR, domain,
                    f"the sending-authorization policy {g.policy!r} of {domain} (statement {g.statement}) lets "
                    f"{', '.join(g.principals)} send ({g.reason}), without the From pin of the send policies: "
                    f"they may send as anyone at {domain}",
                    f"check CloudTrail (PutEmailIdentityPolicy / CreateEmailIdentityPolicy) for who added it, then "
                    f"`aws sesv2 delete-email-identity-policy --email-identity {domain} --policy-name {g.policy}`",
                    {"policy": g.policy, "statement": g.statement, "principals": list(g.principals),
                     "actions": list(g.actions), "reason": g.reason})
            for g in identity_send_grants(policies, account_id)]


def check_account(account: Mapping[str, Any], *, quota_warning: float = 0.8) -> list[Finding]:
    """sesv2 GetAccount's answer."""
    findings: list[Finding] = []
    if not account.get("ProductionAccessEnabled"):
        findings.append(Finding("sandbox", WARNING, "account",
                                "the account is in the SES sandbox: mail goes only to verified addresses, "
                                "at most 200 messages a day",
                                "request production access (SES console: Account dashboard, or "
                                "`aws sesv2 put-account-details`)"))
    if not account.get("SendingEnabled", True):
        findings.append(Finding("sending-disabled", ERROR, "account", "sending is disabled for the account in this region",
                                "find why (reputation, a pause by an administrator), fix it, then "
                                "`aws sesv2 put-account-sending-attributes --sending-enabled`"))
    enforcement = account.get("EnforcementStatus", "HEALTHY")
    if enforcement != "HEALTHY":
        findings.append(Finding("enforcement", ERROR, "account", f"SES enforcement status is {enforcement}",
                                "read the case in the AWS Support Center and the Reputation dashboard; "
                                "stop whatever bounces or gets complaints", {"status": enforcement}))
    quota = account.get("SendQuota") or {}
    limit, sent = quota.get("Max24HourSend"), quota.get("SentLast24Hours")
    if limit and sent is not None and limit > 0 and sent / limit >= quota_warning:
        findings.append(Finding("quota-near-limit", WARNING, "account",
                                f"{sent:.0f} of {limit:.0f} messages of the 24-hour quota used",
                                "request a quota increase (Service Quotas: Amazon SES, Sending quota)",
                                {"sent": sent, "max": limit}))
    return findings


def check_reputation(bounce: Optional[float], complaint: Optional[float], *,
                     bounce_alarm: float = DEFAULT_BOUNCE_ALARM,
                     complaint_alarm: float = DEFAULT_COMPLAINT_ALARM) -> list[Finding]:
    """Latest Reputation.BounceRate / Reputation.ComplaintRate against the alarm thresholds."""
    findings = []
    for name, value, alarm, fix in (
            ("bounce", bounce, bounce_alarm, "find who sends to bad addresses (`ses-mail audit` per person); "
             "clean the lists; SES reviews the account at 5% and may pause it at 10%"),
            ("complaint", complaint, complaint_alarm, "find who sends unwanted mail (`ses-mail audit` per person); "
             "SES reviews the account at 0.1% and may pause it at 0.5%")):
        if value is not None and value >= alarm:
            findings.append(Finding(f"{name}-rate-high", ERROR, "account",
                                    f"the {name} rate is {value:.2%}, at or above the alarm threshold {alarm:.2%}",
                                    fix, {"rate": value, "threshold": alarm}))
    return findings


# --- IAM credentials (audit) -------------------------------------------------------------------

@dataclass(frozen=True)
class KeyState:
    """One access key as IAM reports it (ListAccessKeys + GetAccessKeyLastUsed)."""

    id: str
    status: str  # Active | Inactive
    created: datetime
    last_used: Optional[datetime] = None
    service: Optional[str] = None
    region: Optional[str] = None


def check_keys(subject: str, keys: Sequence[KeyState], *, expected_count: int, suspended: bool,
               now: datetime, stale_days: int, max_age_days: int) -> list[Finding]:
    """A person's keys against the roster: how many, their status, their age and last use.

    The roster's key generations: one key, or two while a rotation keeps `previous_key`. The
    newest key is the current generation."""
    findings: list[Finding] = []
    want = "Inactive" if suspended else "Active"
    ids = [k.id for k in keys]
    if len(keys) > expected_count:
        # The program's keys are the oldest (it never creates a key beside a third): the newest
        # are the ones made by someone else.
        extra = sorted(keys, key=lambda k: k.created)[expected_count:]
        findings.append(Finding("key-extra", ERROR, subject,
                                f"{len(keys)} access keys, but the roster implies {expected_count}: "
                                f"{', '.join(k.id for k in extra)} (the newest) was not created by the program",
                                f"delete it (`aws iam delete-access-key --user-name {subject} --access-key-id "
                                f"{extra[0].id}`) after checking CloudTrail for who made it",
                                {"keys": ids, "expected": expected_count}))
    elif len(keys) < expected_count:
        findings.append(Finding("key-missing", ERROR, subject,
                                f"{len(keys)} access keys, but the roster implies {expected_count}",
                                "`pulumi up` in the stack (`pulumi refresh` first, if keys were deleted by hand)",
                                {"keys": ids, "expected": expected_count}))
    for key in keys:
        if key.status != want:
            findings.append(Finding("key-status", ERROR, subject,
                                    f"access key {key.id} is {key.status}, but the roster says the person is "
                                    f"{'suspended' if suspended else 'active'}",
                                    "`pulumi up --refresh` to set it back (if it was changed by hand on purpose, "
                                    "change the roster's `status` first)", {"key": key.id, "status": key.status}))
        if key.status != "Active":
            continue
        age = now - key.created
        if key.last_used is None:
            if age > timedelta(days=stale_days):
                findings.append(Finding("key-never-used", WARNING, subject,
                                        f"access key {key.id} was created {age.days} days ago and never used",
                                        "ask whether the person still needs to send; else remove them (or suspend)",
                                        {"key": key.id, "age_days": age.days}))
        elif now - key.last_used > timedelta(days=stale_days):
            findings.append(Finding("key-stale", WARNING, subject,
                                    f"access key {key.id} was last used {(now - key.last_used).days} days ago",
                                    "ask whether the person still needs to send; else suspend or remove them",
                                    {"key": key.id, "last_used": key.last_used.isoformat()}))
        if age > timedelta(days=max_age_days):
            findings.append(Finding("key-old", WARNING, subject,
                                    f"access key {key.id} is {age.days} days old (rotation reminder: {max_age_days})",
                                    "rotate: `key: N+1`, `previous_key: N`, `pulumi up` (README: Rotate a person's key)",
                                    {"key": key.id, "age_days": age.days}))
    return findings


def policy_equal(a: Any, b: Any) -> bool:
    """IAM policy documents compared by meaning: key order, one-item lists and value order aside."""
    return _canonical(a) == _canonical(b)


def _canonical(value: Any) -> Any:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return _canonical(parsed) if isinstance(parsed, (dict, list)) else value
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_canonical(v) for v in value]
        if len(items) == 1:
            return items[0]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def check_user(subject: str, *, expected_policy: Mapping[str, Any], inline: Mapping[str, Any],
               attached: Sequence[str], groups: Sequence[str], boundary: Optional[str],
               expected_boundary: Optional[str], login_profile: bool, mfa_devices: Sequence[str],
               policy_name: str) -> list[Finding]:
    """An SMTP user's permissions against what the program sets: one inline send policy, the
    configured permissions boundary, and nothing else."""
    findings: list[Finding] = []
    if policy_name not in inline:
        findings.append(Finding("policy-missing", ERROR, subject, f"the inline policy {policy_name} is missing: "
                                "the person cannot send", "`pulumi up --refresh` in the stack"))
    elif not policy_equal(inline[policy_name], expected_policy):
        findings.append(Finding("policy-drift", ERROR, subject,
                                f"the inline policy {policy_name} differs from what the roster implies",
                                "`pulumi up --refresh` writes it back; if the change was wanted, put it in the roster",
                                {"expected": expected_policy, "found": _canonical(inline[policy_name])}))
    for name in sorted(set(inline) - {policy_name}):
        findings.append(Finding("extra-inline-policy", ERROR, subject, f"extra inline policy {name}",
                                f"`aws iam delete-user-policy --user-name {subject} --policy-name {name}`",
                                {"policy": name}))
    for arn in sorted(attached):
        findings.append(Finding("attached-policy", ERROR, subject, f"managed policy {arn} is attached",
                                f"`aws iam detach-user-policy --user-name {subject} --policy-arn {arn}`",
                                {"policy_arn": arn}))
    for group in sorted(groups):
        findings.append(Finding("group-membership", ERROR, subject, f"member of group {group} (its policies apply too)",
                                f"`aws iam remove-user-from-group --user-name {subject} --group-name {group}`",
                                {"group": group}))
    if (boundary or None) != (expected_boundary or None):
        findings.append(Finding("boundary-drift", ERROR, subject,
                                f"permissions boundary is {boundary or 'none'}, the stack sets "
                                f"{expected_boundary or 'none'}",
                                "`pulumi up --refresh` in the stack", {"found": boundary, "expected": expected_boundary}))
    if login_profile:
        findings.append(Finding("console-password", ERROR, subject, "has a console password (login profile)",
                                f"`aws iam delete-login-profile --user-name {subject}`"))
    for serial in sorted(mfa_devices):
        findings.append(Finding("mfa-device", ERROR, subject, f"has an MFA device {serial}: SMTP users never log in",
                                f"`aws iam deactivate-mfa-device --user-name {subject} --serial-number {serial}`",
                                {"serial": serial}))
    return findings


def _policy_resources(document: Any) -> list[Any]:
    """Resources of the statements that can allow something."""
    statements = _canonical(document)
    statements = statements.get("Statement", []) if isinstance(statements, dict) else []
    found: list[Any] = []
    for statement in statements if isinstance(statements, list) else [statements]:
        # A Deny allows nothing (the suspension's Deny is on "*"); any other change to it is
        # still a difference in the full comparison (check_user).
        if isinstance(statement, dict) and statement.get("Effect") != "Deny":
            for key in ("Resource", "NotResource"):
                value = statement.get(key)
                found += value if isinstance(value, list) else [] if value is None else [value]
    return found


def check_send_policy_configuration_set(subject: str, document: Any, *, set_prefix: str,
                                        expected: Optional[str], wanted: bool) -> tuple[Optional[str], list[Finding]]:
    """The configuration sets a live send policy allows, against the one `pulumi up` writes.

    `set_prefix`: `arn:<partition>:ses:<region>:<account>:configuration-set/`. `expected`: the
    stack's set name when known (`--stack`, `--configuration-set`); `wanted`: whether the roster
    applies a set at all. With `wanted` and no `expected` (a roster file alone), the policy must
    name exactly one set of this account and region, by a plain name; that one becomes the
    expected set, and anything else (no set, several, a wildcard, a set elsewhere) is a finding.
    Returns (the set the policy is compared with, findings); the full comparison is `check_user`'s.
    """
    mentioned = [r for r in _policy_resources(document)
                 if not isinstance(r, str) or "configuration-set" in r or r == "*" or r.endswith(":*")]
    from ses_mail.specs.limits import SES_CONFIGURATION_SET_NAME, SES_CONFIGURATION_SET_NAME_RE

    def plain(name: str) -> bool:
        return bool(SES_CONFIGURATION_SET_NAME_RE.fullmatch(name)) and len(name) <= SES_CONFIGURATION_SET_NAME.maximum

    named = sorted({r[len(set_prefix):] for r in mentioned if isinstance(r, str) and r.startswith(set_prefix)
                    and plain(r[len(set_prefix):])})
    others = [r for r in mentioned if not (isinstance(r, str) and r.startswith(set_prefix)
                                           and r[len(set_prefix):] in named)]
    chosen = expected if expected is not None else (named[0] if wanted and len(named) == 1 else None)
    problems: list[str] = []
    if others:
        problems.append(f"it allows {', '.join(map(str, others))}: a wildcard or a set outside this account and "
                        "region lets the person send through any configuration set (with other event "
                        "destinations, or none)")
    extra = [n for n in named if n != chosen]
    if extra:
        problems.append(f"it allows the configuration set{'s' if len(extra) > 1 else ''} {', '.join(extra)}"
                        + (f" (the stack's is {chosen})" if chosen else "")
                        + ("" if wanted else ", but the roster applies none"))
    if wanted and chosen is None and not named:
        problems.append("it allows no configuration set, but the roster's deliverability applies one: "
                        "SES refuses the person's mail")
    if wanted and expected is None and len(named) > 1:
        problems.append("with a roster file alone exactly one named set is accepted: give --configuration-set NAME "
                        "or --stack")
    if not problems:
        return chosen, []
    return chosen, [Finding("policy-configuration-set", ERROR, subject,
                            "the send policy's configuration sets are not the stack's: " + "; ".join(problems),
                            "`pulumi up --refresh` in the stack writes the policy back; check CloudTrail "
                            "(PutUserPolicy) for who changed it",
                            {"expected": chosen, "named": named, "others": [str(o) for o in others]})]


def check_unlisted_users(listed: Iterable[str], found: Iterable[str], iam_path: str) -> list[Finding]:
    """IAM users under the program's path that the roster does not list."""
    known = {n.lower() for n in listed}
    return [Finding("unlisted-user", ERROR, name,
                    f"IAM user {name} is under {iam_path} but not in the roster",
                    "if it is left from another stack, leave it; else delete it (keys, policies, then "
                    f"`aws iam delete-user --user-name {name}`) or add the person to the roster",
                    {"user": name}) for name in sorted(found) if name.lower() not in known]


def check_person_rates(subject: str, sends: float, bounces: float, complaints: float, *,
                       bounce_alarm: float = DEFAULT_BOUNCE_ALARM,
                       complaint_alarm: float = DEFAULT_COMPLAINT_ALARM) -> list[Finding]:
    """One person's bounce and complaint rates over the audit window, against the account alarms."""
    if sends <= 0:
        return []
    findings = []
    for name, count, alarm in (("bounce", bounces, bounce_alarm), ("complaint", complaints, complaint_alarm)):
        rate = count / sends
        if rate >= alarm:
            findings.append(Finding(f"person-{name}-rate-high", WARNING, subject,
                                    f"{count:.0f} {name}s for {sends:.0f} sends ({rate:.2%}, alarm at {alarm:.2%})",
                                    "look at what this person sends and to whom; suspend if it is misuse",
                                    {"sends": sends, name + "s": count, "rate": rate}))
    return findings
