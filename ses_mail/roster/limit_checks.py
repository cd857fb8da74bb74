"""The service limits on what the program sends, checked on a roster before anything is registered.

Pure: no Pulumi, no AWS calls. Each check measures the *real* document or name a component
will send, built by the same builder the component uses (send_as_policy, secret_read_policy,
dns_records, naming, smtp_password.secret_value), against a limit named once in
ses_mail.specs.limits. Problems read `file:line: field: value message`, saying which limit and
by how much.

What is known only at deploy time is stood in for, and the stand-in is documented:

- **The SES identity ARN** in a send policy is the provider's, `arn:<partition>:ses:<region>:
  <12-digit account>:identity/<domain>`. Account ids always have 12 digits. With the region known
  (the program; `ses-mail validate --region`), partition and region are exact, so the length is
  exact. With the region unknown, the policy is measured with the shortest ARN any region gives
  (over the limit even then: an error) and with the longest (over or near the limit: a warning).
- **The stack admins** in a secret's resource policy: `ses-mail:secretAdmins` when configured
  (exact), else the default patterns for roles and users under `/ses-mail-admin/` in the stack's
  account, which differ between accounts only in the 12-digit account id: measured with the
  longest partition, so exact up to a few characters and never under.
- **Easy DKIM tokens**, issued by SES when the identity is created: 32 characters.
- **What the account already holds** (IAM users, SES identities in the region, records in a
  zone): the roster's own count over the limit is an error (or, for a quota AWS raises on
  request, a warning); from 90 % of the limit, a warning that what exists already counts too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ses_mail.roster.errors import NO_VALUE, Problem
from ses_mail.roster.model import Person, Roster
from ses_mail.roster.paths import Path_, field_name
from ses_mail.modes.delivery import delivery_mode
from ses_mail.modes.dns import dns_provider
from ses_mail.modes.existing import existing_mode
from ses_mail.roster.settings import Settings
from ses_mail.specs import limits as L
from ses_mail.specs.dns_records import DKIM_TOKEN_LENGTH, dkim_records, dmarc_record, static_records, txt_strings
from ses_mail.specs.iam_policy import DisplayNames, default_secret_admins, secret_read_policy, send_as_policy
from ses_mail.specs.naming import (SEND_POLICY_NAME, iam_user_name, secret_description, secret_name, secret_tags,
                                   user_tags)
from ses_mail.specs.smtp_password import secret_value

LineOf = Callable[[Path_], "int | None"]

#: Warn from this fraction of a limit that what already exists in the account counts against.
NEAR = 0.9

#: An account id (always 12 digits) for measuring ARNs before the account is known.
PLACEHOLDER_ACCOUNT = "123456789012"

#: Partitions by region prefix (first match wins); every other region is in `aws`.
_PARTITIONS = (("us-gov-", "aws-us-gov"), ("cn-", "aws-cn"), ("us-isob-", "aws-iso-b"),
               ("us-isof-", "aws-iso-f"), ("eu-isoe-", "aws-iso-e"), ("us-iso-", "aws-iso"),
               ("eusc-", "aws-eusc"))
#: With the region unknown: the shortest (partition, region) of any region, and a longest one:
#: `aws-us-gov` is the longest partition, and no region code in use is over 14 characters
#: (ap-southeast-5, us-isob-east-1, eusc-de-east-1), one more for headroom.
SHORTEST_PLACE = ("aws", "us-east-1")
LONGEST_PLACE = ("aws-us-gov", "x" * 15)
#: Placeholders of the greatest length for the values the secret holds (an access key id is at
#: most 128 characters, botocore iam accessKeyIdType; an SMTP password is 44).
_LONGEST_KEY_ID, _LONGEST_PASSWORD = "A" * 128, "p" * 44
#: Records each domain puts in its zone: 3 DKIM CNAMEs, the MAIL FROM MX and TXT, DMARC TXT;
#: every zone also holds its own SOA and NS.
_RECORDS_PER_DOMAIN, _RECORDS_PER_ZONE = 5, 2


@dataclass(frozen=True)
class Deployment:
    """What is known about where the roster goes; None: not known offline (bounds are used)."""

    region: str | None = None
    admins: tuple[str, ...] | None = None
    #: The stack's configuration set name (ses_mail.specs.deliverability.configuration_set_name),
    #: when the stack is known; else bounded by the shortest and longest names it can have.
    configuration_set: str | None = None


@dataclass(frozen=True)
class LimitReport:
    errors: list[Problem]
    warnings: list[Problem]


def partition_of(region: str) -> str:
    return next((p for prefix, p in _PARTITIONS if region.startswith(prefix)), "aws")


def identity_arn_bounds(domain: str, region: str | None) -> tuple[str, str]:
    """(shortest, longest) ARN the domain's SES identity can have: equal when the region is known."""
    places = [(partition_of(region), region)] * 2 if region else [SHORTEST_PLACE, LONGEST_PLACE]
    return tuple(f"arn:{part}:ses:{reg}:{PLACEHOLDER_ACCOUNT}:identity/{domain}" for part, reg in places)  # type: ignore[return-value]


#: Shortest and longest configuration set names the program derives from a stack name
#: (`ses-mail-` and at least one character; SES's limit of 64).
_SET_NAME_BOUNDS = ("ses-mail-x", "x" * L.SES_CONFIGURATION_SET_NAME.maximum)


def configuration_set_arn_for(identity_arn: str, name: str) -> str:
    """The configuration set's ARN beside an identity ARN (same partition, region and account)."""
    return identity_arn.split(":identity/", 1)[0] + f":configuration-set/{name}"


def send_policy_length(address: str, arn: str, settings: Settings, *, without: str | None = None,
                       set_arn: str | None = None) -> int:
    """IAM's count for the person's send policy (the user's only inline policy), optionally
    without one of its options (to tell how much that option takes)."""
    return L.iam_policy_length(send_as_policy(
        address, arn,
        display_names=DisplayNames.unrestricted() if without == "display_name" else settings.display_names,
        allowed_ips=() if without == "allowed_ips" else settings.allowed_ips,
        recipients=() if without == "recipients" else settings.recipients,
        configuration_set_arn=set_arn))


def check_limits(roster: Roster, file: str, line_of: LineOf, deployment: Deployment = Deployment()) -> LimitReport:
    """Every limit the roster can reach, as errors (certain failures) and warnings (possible ones)."""
    errors: list[Problem] = []
    warnings: list[Problem] = []

    def at(path: Path_, value: Any, message: str, into: list[Problem] = errors) -> None:
        into.append(Problem(file, line_of(path), field_name(path), value, message))

    _check_counts(roster, at, warnings)
    for i, domain in enumerate(roster.domains):
        _check_domain(i, domain, at)
    for i, person in enumerate(roster.people):
        _check_person(roster, i, person, deployment, at, warnings)
    return LimitReport(errors, warnings)


# --- counts against account quotas -----------------------------------------------------------

def _check_counts(roster: Roster, at: Any, warnings: list[Problem]) -> None:
    def count(path: Path_, limit: L.Limit, measured: int, what: str, *, adjustable: bool = False) -> None:
        over = limit.check(measured)
        if over and not adjustable:
            at(path, NO_VALUE, f"{what}, and that {over}")
        elif over or limit.near(measured, NEAR):
            at(path, NO_VALUE, f"{what}: {measured:,} of the {limit.maximum:,} {limit.unit} allowed for "
                               f"{limit.name} ({limit.source}); what the account already holds counts too, "
                               "and `pulumi up` fails part-way once it is full", warnings)

    count(("people",), L.IAM_USERS_PER_ACCOUNT, len(roster.people), "need one IAM user each")
    # `existing: reference` domains get no identity here, `dns: external` ones no Route 53 records.
    owned = [d for d in roster.domains if existing_mode(d.existing).manages]
    count(("domains",), L.SES_IDENTITIES_PER_REGION, len(owned), "need one SES identity each")
    zones: dict[str, list[int]] = {}
    for i, domain in enumerate(roster.domains):
        if existing_mode(domain.existing).manages and dns_provider(domain.dns).uses_zone:
            zones.setdefault(domain.hosted_zone, []).append(i)
    for zone, indices in zones.items():
        records = _RECORDS_PER_ZONE + sum(
            _RECORDS_PER_DOMAIN + (1 if roster.domains[i].dmarc.enabled else 0) for i in indices)
        count(("domains", indices[0], "zone"), L.ROUTE53_RECORDS_PER_ZONE, records,
              f"puts {records:,} records in zone {zone!r} (with its SOA and NS) for {len(indices):,} domains",
              adjustable=True)


# --- DNS names and values --------------------------------------------------------------------

def _name_problems(name: str, shown: str) -> list[str]:
    """Messages for the DNS name `name` (its total, then each label), naming it as `shown`."""
    problems = []
    total = L.DNS_NAME.check(L.dns_name_length(name))
    if total:
        problems.append(f"makes the name {shown} {total}")
    for label in name.split("."):
        over = L.DNS_LABEL.check(len(label))
        if over:
            problems.append(f"makes the label {label!r} of {shown} {over}")
    return problems


def _check_domain(i: int, domain: Any, at: Any) -> None:
    token = "t" * DKIM_TOKEN_LENGTH
    for message in _name_problems(f"{token}._domainkey.{domain.name}",
                                  f"of its Easy DKIM records (<{DKIM_TOKEN_LENGTH}-character token>._domainkey.<domain>)"):
        at(("domains", i, "name"), domain.name, message)
    for message in _name_problems(domain.mail_from_domain, f"of its MAIL FROM domain ({domain.mail_from_domain})"):
        at(("domains", i, "mail_from"), domain.mail_from, message)
    # A provider with limits of its own (Cloudflare's) measures every record, DMARC's too.
    own_limits = _check_provider_limits(i, domain, at)
    record = dmarc_record(domain)
    if record is None:
        return
    for message in _name_problems(record.name, "of its DMARC record (_dmarc.<domain>)"):
        at(("domains", i, "name"), domain.name, message)
    for problem in ([] if own_limits else L.check_txt(txt_strings(record))):
        reports = f"{len(domain.dmarc.rua)} rua and {len(domain.dmarc.ruf)} ruf addresses"
        at(("domains", i, "dmarc"), NO_VALUE, f"make a DMARC TXT record whose {problem}; it lists {reports}: "
                                              "list fewer report addresses")


#: The roster field a record's content comes from, by purpose (its name comes from `name`,
#: or `mail_from` for the MAIL FROM records; its TTL from `ttl`).
_CONTENT_FIELD = {"dmarc": "dmarc", "mail-from-spf": "mail_from", "mail-from-mx": "mail_from"}


def _check_provider_limits(i: int, domain: Any, at: Any) -> bool:
    """Every record the domain puts at its DNS provider, against that provider's own limits (DKIM
    names measured with 32-character tokens, the feedback host with a 15-character region).
    Report authorisations for other domains are a short TXT `v=DMARC1` each. False when the
    provider has no limits of its own."""
    provider = dns_provider(domain.dns)
    token = "t" * DKIM_TOKEN_LENGTH
    specs = [*dkim_records(domain, [token] * 3, "x" * 15), *static_records(domain, "x" * 15)]
    problems = provider.record_problems(specs)
    if problems is None:
        return False
    for spec, what, message in problems:
        field = {"ttl": "ttl", "content": _CONTENT_FIELD.get(spec.purpose, "name"),
                 "name": "mail_from" if spec.purpose.startswith("mail-from") else "name"}[what]
        at(("domains", i, field), NO_VALUE,
           f"makes its {provider.host} {spec.type} record {spec.name} ({spec.purpose}), whose {message}")
    return True


# --- one person's IAM user, policy, keys and secret ------------------------------------------

def _source(person: Person, field: str) -> str:
    """Where a person's effective `field` comes from, for messages."""
    if field == "display_name" and person.display_name is True:
        return "`name`, by display_name: true"
    if field == "display_name" and person.display_name is None:
        return "`name`, by defaults.display_name"
    return "this person's own" if getattr(person, field) is not None else f"from defaults.{field}"


def _check_person(roster: Roster, i: int, person: Person, deployment: Deployment, at: Any,
                  warnings: list[Problem]) -> None:
    settings = roster.settings(person)
    address = person.email
    where = ("people", i)

    # IAM user: name, tags; the inline policy's name.
    name = iam_user_name(address)
    tags = user_tags(address, person.name, settings.suspended)
    for limit, measured, what in (
            (L.IAM_USER_NAME, len(name), f"its IAM user name {name!r}"),
            (L.IAM_POLICY_NAME, len(SEND_POLICY_NAME), f"its policy name {SEND_POLICY_NAME!r}"),
            (L.IAM_TAGS_PER_USER, len(tags), "its IAM user's tags"),
            *((L.IAM_TAG_VALUE, len(v), f"its IAM user's tag {k}") for k, v in tags.items()),
            *((L.IAM_TAG_KEY, len(k), f"its IAM user's tag key {k}") for k in tags)):
        over = limit.check(measured)
        if over:
            at(where, address, f"makes {what} that {over}")
    if not L.IAM_NAME_RE.fullmatch(name):
        at(where, address, f"makes its IAM user name {name!r}, which IAM's name pattern {L.IAM_NAME_PATTERN} refuses")

    _check_send_policy(i, person, settings, deployment, at, warnings,
                       with_set=roster.deliverability.configuration_set)
    if delivery_mode(settings.delivery).uses_secret and settings.secret_readers:
        _check_secret(i, person, settings, deployment, at)


def _check_send_policy(i: int, person: Person, settings: Settings, deployment: Deployment, at: Any,
                       warnings: list[Problem], *, with_set: bool = True) -> None:
    address, where = person.email, ("people", i)
    shortest, longest = identity_arn_bounds(person.domain, deployment.region)
    # The stack's configuration set is allowed in every send policy too (unless turned off).
    names = (deployment.configuration_set,) * 2 if deployment.configuration_set else _SET_NAME_BOUNDS
    sets = {shortest: configuration_set_arn_for(shortest, names[0]) if with_set else None,
            longest: configuration_set_arn_for(longest, names[1]) if with_set else None}
    low = send_policy_length(address, shortest, settings, set_arn=sets[shortest])
    # With the region known (the program) both bounds are one ARN, so one policy (`sets` has one entry).
    high = low if longest == shortest else send_policy_length(address, longest, settings, set_arn=sets[longest])
    limit = L.IAM_USER_INLINE_POLICIES
    over = limit.check(low)
    if not over and not limit.check(high):
        return

    # How much each option takes, measured with the same ARN as the total reported.
    arn, total = (shortest, low) if over else (longest, high)
    shares = []
    for field, present in (("allowed_ips", settings.allowed_ips), ("recipients", settings.recipients),
                           ("display_name", settings.display_names.names)):
        if present:
            share = total - send_policy_length(address, arn, settings, without=field, set_arn=sets[arn])
            entries = f"{len(present):,} entries, " if isinstance(present, tuple) else ""
            shares.append(f"{field} {share:,} ({entries}{_source(person, field)})")
    detail = (f"; of that, {', '.join(shares)}" if shares else "") + \
        ": list fewer or wider allowed_ips or recipients"
    what = f"has a send policy (IAM inline policy {SEND_POLICY_NAME}, the user's only one) that"
    if over:
        at(where, address, f"{what} {over}{detail}")
    else:
        at(where, address, f"{what} {limit.check(high)} in the region with the longest identity ARN, "
                           f"and {low:,} in the shortest (the SES region is not known here: check with "
                           f"`ses-mail validate --region <region>`){detail}", warnings)


def _check_secret(i: int, person: Person, settings: Settings, deployment: Deployment, at: Any) -> None:
    address, where = person.email, ("people", i)
    readers = f"{len(settings.secret_readers):,} secret_readers ({_source(person, 'secret_readers')})"

    for limit, measured, what in (
            (L.SECRET_NAME, len(secret_name(address)), f"its secret name {secret_name(address)!r}"),
            (L.SECRET_DESCRIPTION, len(secret_description(address)), "its secret's description"),
            (L.SECRET_VALUE, len(secret_value(address, "x" * 15, _LONGEST_KEY_ID, _LONGEST_PASSWORD,
                                              status=settings.status, key=settings.key).encode("utf-8")),
             "its secret's value"),
            *((L.IAM_TAG_VALUE, len(v), f"its secret's tag {k}") for k, v in secret_tags(address).items())):
        over = limit.check(measured)
        if over:
            at(where, address, f"makes {what} that {over}")
    if not L.SECRET_NAME_RE.fullmatch(secret_name(address)):
        at(where, address, f"makes its secret name {secret_name(address)!r}, which Secrets Manager refuses")

    limit = L.SECRET_RESOURCE_POLICY
    # Without ses-mail:secretAdmins the admins are the /ses-mail-admin/ patterns of the stack's
    # account (ses_mail.specs.iam_policy.default_secret_admins): the same length in every account.
    admins = deployment.admins if deployment.admins is not None else default_secret_admins("0" * 12, "aws-us-gov")
    measured = L.iam_policy_length(secret_read_policy(settings.secret_readers, admins))
    over = limit.check(measured)
    if over:
        at(where, address, f"has a secret resource policy that {over} (with the stack's secret admins), "
                           f"for {readers}: list fewer readers, or give them a role they share")
