"""`SesMail`: a whole roster as one Pulumi component: every domain and person, parented to it.

    from ses_mail import SesMail
    mail = SesMail("mail", {"roster": "roster.yaml"})
    pulumi.export("dns_records", mail.dns_records)

Everything that can be wrong with the input (the roster, regions, hosted zones, Secrets Manager
settings) is checked before the component or any child is registered, so a bad roster never
leaves a half-applied stack.

No `from __future__ import annotations` here: the SDK's component analyzer
(`pulumi.provider.experimental`) reads the annotations of `SesMailArgs` and `SesMail` at run
time to derive the package schema for other languages.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, TypedDict

import pulumi
import pulumi_aws as aws
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import monitor_supports_feature

from ses_mail.components.deliverability import Deliverability
from ses_mail.components.outputs import gather
from ses_mail.components.sending_domain import SendingDomain
from ses_mail.components.smtp_sender import SecretsManagerOptions, SmtpSender, finish_status
from ses_mail.roster import Deployment, Roster, RosterError, load_roster_checked
from ses_mail.roster.identifiers import domain_of, is_aws_region
from ses_mail.roster.restrictions import (
    account_of,
    normalize_iam_path,
    normalize_kms_key,
    normalize_policy_arn,
    normalize_principal_arn,
)
from ses_mail.specs import deliverability as deliverability_spec
from ses_mail.specs.iam_policy import SECRET_ADMIN_PATH, arn_matches, default_secret_admins, identity_arn
from ses_mail.specs.naming import IAM_USER_PATH

from typing import NotRequired

#: The component's type token; the package name (`ses-mail`) is also the plugin's name.
TYPE = "ses-mail:index:SesMail"


class SesMailArgs(TypedDict):
    """What `SesMail` builds from. Only `roster` is required; every other field has a default.

    - `roster`: path of the roster file (YAML). Required. Relative paths are relative to the
      working directory (for `pulumi up`, the project directory).
    - `region`: AWS region SES sends from. Default: the AWS provider's region.
    - `iam_path`: IAM path of the SMTP users. Default: `/ses-smtp/`.
    - `permissions_boundary`: managed policy ARN set as every SMTP user's permissions boundary.
      Default: none.
    - `secrets_kms_key`: KMS key (id, ARN or alias) encrypting the Secrets Manager secrets of
      people with `delivery: secrets_manager`. Default: the account's `aws/secretsmanager` key.
    - `secret_admins`: IAM role or user ARNs exempt from those secrets' Deny (whoever runs
      `pulumi up` must be one). Default: every role and user under the IAM path
      `/ses-mail-admin/` of the account (the same for every principal, so a preview role and the
      deploy role plan the same policy).
    - `bounce_rate_alarm`, `complaint_rate_alarm`: account reputation rates (fractions) at which
      the CloudWatch alarms notify the feedback topic. Default: 0.02 and 0.0005, well below SES's
      review levels of 5% and 0.1% (README, Deliverability).
    """

    roster: str
    """Path of the roster file (YAML). Required; relative to the working directory."""
    region: NotRequired[str]
    """AWS region SES sends from. Default: the AWS provider's region."""
    iam_path: NotRequired[str]
    """IAM path of the SMTP users. Default: /ses-smtp/."""
    permissions_boundary: NotRequired[str]
    """Managed policy ARN set as every SMTP user's permissions boundary. Default: none."""
    secrets_kms_key: NotRequired[str]
    """KMS key for the Secrets Manager secrets (delivery secrets_manager). Default: the account's aws/secretsmanager key."""
    secret_admins: NotRequired[list[str]]
    """IAM role or user ARNs exempt from the secrets' Deny. Default: roles and users under /ses-mail-admin/."""
    bounce_rate_alarm: NotRequired[float]
    """Account bounce rate (a fraction, 0.02 = 2%) at which the alarm notifies the feedback topic. Default: 0.02."""
    complaint_rate_alarm: NotRequired[float]
    """Account complaint rate (a fraction, 0.0005 = 0.05%) at which the alarm notifies. Default: 0.0005."""


class DnsRecordRow(TypedDict):
    """One DNS record a domain needs, published in Route 53 or by whoever keeps its DNS."""

    name: str
    """Fully qualified name, without the trailing dot."""
    type: str
    """CNAME, MX or TXT."""
    value: str
    """The record's value (TXT without quotes)."""
    ttl: int
    """TTL in seconds."""


class Sender(TypedDict):
    """One person allowed to send."""

    iam_user: str
    """The person's IAM user."""
    domain: str
    """The sending domain of their address."""
    name: NotRequired[str]
    """Display name from the roster, if any."""


@dataclass(frozen=True)
class Settings:
    """`SesMailArgs` checked and with defaults filled in (what the component builds from)."""

    roster_path: Path
    region: Optional[str]
    iam_path: str
    permissions_boundary: Optional[str]
    secrets_kms_key: Optional[str]
    secret_admins: tuple[str, ...]
    bounce_alarm: float = deliverability_spec.DEFAULT_BOUNCE_ALARM
    complaint_alarm: float = deliverability_spec.DEFAULT_COMPLAINT_ALARM


def check_args(name: str, args: Mapping[str, Any]) -> Settings:
    """The args, validated and normalised; a pulumi.RunError naming every bad field."""
    problems: list[str] = []
    known = set(SesMailArgs.__annotations__)
    for key in sorted(set(args) - known):
        problems.append(f"{key}: unknown argument (expected one of {', '.join(sorted(known))})")

    def text(key: str, normalize=None) -> Optional[str]:
        value = args.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            problems.append(f"{key}: {value!r} is not a plain string (Outputs are not accepted: "
                            "the roster is validated before anything is registered)")
            return None
        try:
            return normalize(value) if normalize else value.strip()
        except ValueError as err:
            problems.append(f"{key}: {value.strip()!r} {err}")
            return None

    roster = text("roster")
    if roster is None and (args.get("roster") is None or isinstance(args.get("roster"), str)):
        problems.append("roster: required (the path of a roster file)")
    region = text("region")
    if region is not None and not is_aws_region(region):
        problems.append(f"region: {region!r} is not an AWS region code such as eu-west-1")
    iam_path = text("iam_path", normalize_iam_path) or IAM_USER_PATH
    boundary = text("permissions_boundary", normalize_policy_arn)
    kms_key = text("secrets_kms_key", normalize_kms_key)
    admins: list[str] = []
    raw_admins = args.get("secret_admins") or []
    if isinstance(raw_admins, str) or not isinstance(raw_admins, (list, tuple)):
        problems.append(f"secret_admins: {raw_admins!r} is not a list of IAM role or user ARNs")
        raw_admins = []
    for item in raw_admins:
        try:
            admins.append(normalize_principal_arn(item))
        except ValueError as err:
            problems.append(f"secret_admins: {item!r} {err}")

    def rate(key: str, pause: float, default: float) -> float:
        value = args.get(key)
        if value is None:
            return default
        try:
            return deliverability_spec.parse_rate(str(value), pause_level=pause)
        except ValueError as err:
            problems.append(f"{key}: {value!r} {err}")
            return default

    bounce = rate("bounce_rate_alarm", deliverability_spec.BOUNCE_PAUSE, deliverability_spec.DEFAULT_BOUNCE_ALARM)
    complaint = rate("complaint_rate_alarm", deliverability_spec.COMPLAINT_PAUSE,
                     deliverability_spec.DEFAULT_COMPLAINT_ALARM)
    if problems:
        raise pulumi.RunError(f"SesMail {name}: invalid arguments:\n" + "\n".join(f"  - {p}" for p in problems))
    return Settings(Path(roster), region, iam_path, boundary, kms_key, tuple(admins),  # type: ignore[arg-type]
                    bounce, complaint)


def read_roster(path: Path, deployment: Deployment = Deployment()) -> Roster:
    """The validated roster (limits measured for `deployment`); its warnings go to the engine's log."""
    try:
        loaded = load_roster_checked(path, deployment)
    except RosterError as err:
        raise pulumi.RunError(str(err)) from None
    for warning in loaded.warnings:
        pulumi.log.warn(str(warning))
    return loaded.roster


def lookup_zones(roster: Roster, file: Path, invoke: Optional[pulumi.InvokeOptions]) -> dict[str, str]:
    """Route53 public zone id of every zone the roster's Route 53 domains name, looked up once each.
    Domains with `dns: external` need none."""
    zone_ids: dict[str, str] = {}
    missing: list[str] = []
    managed = [d for d in roster.domains if d.dns == "route53" and d.existing != "reference"]
    for zone in sorted({d.hosted_zone for d in managed}):
        try:
            zone_ids[zone] = aws.route53.get_zone(name=zone, private_zone=False, opts=invoke).zone_id
        except Exception as err:  # noqa: BLE001 - the provider reports a missing zone as a failed invoke
            users = ", ".join(d.name for d in managed if d.hosted_zone == zone)
            missing.append(f"  - Route53 public hosted zone {zone!r} (for {users}) could not be looked up: {err}")
    if missing:
        raise pulumi.RunError(f"{file}: hosted zones missing in this AWS account:\n" + "\n".join(missing)
                              + "\nCreate the zone, set `zone:` on the domain to the zone that holds it, "
                              "or set `dns: external` and publish the records (output dns_records) yourself.")
    return zone_ids


@dataclass(frozen=True)
class Caller:
    """Who runs the program (one getCallerIdentity, made before anything is registered)."""

    account_id: str
    arn: str

    @property
    def partition(self) -> str:
        return self.arn.split(":")[1]


def caller_identity(invoke: Optional[pulumi.InvokeOptions]) -> Caller:
    found = aws.get_caller_identity(opts=invoke)
    return Caller(found.account_id, found.arn)


def provider_region(invoke: Optional[pulumi.InvokeOptions]) -> str:
    """The AWS provider's region (aws:region, or its environment), as the provider reports it."""
    return aws.get_region(opts=invoke).region


def check_pgp_region(roster: Roster, region: str, provider: str, file: Path) -> None:
    """PGP delivery exports the provider's encrypted SMTP password, which the provider derives
    for *its* region: refuse when SES runs in another one, as that password would be wrong and
    nothing could tell."""
    pgp = [p.email for p in roster.people if roster.settings(p).delivery == "pgp"]
    if pgp and provider != region:
        raise pulumi.RunError(
            f"{file}: delivery pgp ({', '.join(pgp)}) needs the SES region to be the provider's region: "
            f"the provider encrypts an SMTP password derived for its own region, aws:region ({provider or 'unset'}), "
            f"but SES sends from region {region} (argument `region`; stack config ses-mail:region). "
            f"Set aws:region to {region}, or use delivery output or secrets_manager for these people.")


def check_rotation_support(roster: Roster) -> None:
    """Generations past 2 replace a slot's key through the replacementTrigger resource option;
    an engine without it would silently keep the old key, so refuse rather than pretend."""
    late = [p.email for p in roster.people if p.key >= 3]
    if late and not monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_REPLACEMENT_TRIGGER):
        raise pulumi.RunError(
            f"key generations above 2 ({', '.join(late)}) need a Pulumi CLI that supports the "
            "replacementTrigger resource option (3.208 or later): upgrade the Pulumi CLI and run again")


def secret_admins(settings: Settings, caller: Caller) -> tuple[str, ...]:
    """The principals exempt from the secrets' Deny: the configured ones, else every role and user
    under /ses-mail-admin/ of the account. Never the caller itself: a preview role and the
    deploy role must plan the same policy."""
    return settings.secret_admins or default_secret_admins(caller.account_id, caller.partition)


def secrets_manager_options(roster: Roster, settings: Settings, file: Path, caller: Caller,
                            invoke: Optional[pulumi.InvokeOptions]) -> Optional[SecretsManagerOptions]:
    """Admins exempt from the secrets' Deny, and the KMS key; None when nobody uses it."""
    people = [p for p in roster.people if roster.settings(p).delivery == "secrets_manager"]
    if not people:
        return None
    configured = settings.secret_admins
    admins = secret_admins(settings, caller)
    if not pulumi.runtime.is_dry_run():
        # The provider reads each secret value back after writing it: a deployer outside the
        # exemption would fail half-way, so refuse before anything is registered. (A preview
        # may run as anyone: it writes nothing.)
        deployer = aws.iam.get_session_context(arn=caller.arn, opts=invoke).issuer_arn
        if not any(arn_matches(admin, deployer) for admin in admins):
            raise pulumi.RunError(
                f"{file}: {deployer} runs `pulumi up` but is not exempt from the Deny of the Secrets "
                f"Manager secrets ({', '.join(admins)}), so it could not read back the values it writes: "
                "add it to ses-mail:secretAdmins"
                + ("" if configured else f", or deploy as a role or user under the IAM path {SECRET_ADMIN_PATH}"))
    if settings.secrets_kms_key is None:
        foreign = sorted({r for p in people for r in roster.settings(p).secret_readers
                          if account_of(r) != caller.account_id})
        if foreign:
            raise pulumi.RunError(
                f"{file}: secret_readers in other accounts ({', '.join(foreign)}) cannot decrypt a secret "
                "encrypted with the account's aws/secretsmanager key: set `secrets_kms_key` (stack config "
                "ses-mail:secretsKmsKey) to a customer managed KMS key whose key policy lets them decrypt")
    return SecretsManagerOptions(admins=tuple(admins), kms_key=settings.secrets_kms_key)


def _invoke_options(opts: Optional[pulumi.ResourceOptions]) -> Optional[pulumi.InvokeOptions]:
    """Look-ups made before the component exists use the AWS provider it is given, if any."""
    if opts is None:
        return None
    provider = opts.provider
    if provider is None and opts.providers:
        providers = opts.providers
        if isinstance(providers, Mapping):
            provider = providers.get("aws")
        else:
            provider = next((p for p in providers if getattr(p, "package", None) == "aws"), None)
    return pulumi.InvokeOptions(provider=provider) if provider is not None else None


#: The name this program gives its one component; its configuration set is `ses-mail-<stack>`.
DEFAULT_NAME = "ses-mail"


def configuration_set_key(name: str) -> str:
    """What the stack's configuration set is named after: the stack, and the component's name
    when it is not the program's own, so two SesMail components in one stack never share a set."""
    stack = pulumi.get_stack()
    return stack if name == DEFAULT_NAME else f"{stack}-{name}"


#: Until 0.4.0: domains and senders were registered at the stack root before 0.3.0. The alias
#: lets a stack deployed with 0.2.x adopt them (and, through their aliases, all their children)
#: in place; see README, "Using the component from another program".
LEGACY_ROOT_ALIASES = [pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]


class SesMail(pulumi.ComponentResource):
    """Amazon SES sending for a roster: each domain an SES identity with Easy DKIM, custom MAIL FROM
    and DMARC (records in Route 53 unless the domain says `dns: external`), and each person an
    IAM user whose SMTP credential can send only as their own address."""

    dns_records: pulumi.Output[list[DnsRecordRow]]
    """Every DNS record the domains need (Route 53 or external), for whoever publishes or checks them."""
    identities: pulumi.Output[dict[str, str]]
    """SES identity ARN of each domain, by domain."""
    senders: pulumi.Output[dict[str, Sender]]
    """IAM user, domain and name of each person, by address."""
    smtp_credentials: pulumi.Output[dict[str, dict[str, Any]]]
    """SMTP host, port, username and (delivery output) password of each person, by address. Always secret."""
    credential_status: pulumi.Output[dict[str, dict[str, Any]]]
    """Status, delivery, access key generations and restrictions of each person, by address. Never secret."""
    deliverability_summary: pulumi.Output[dict[str, Any]]
    """The configuration set, feedback topic, alarm thresholds and subscribers of the stack."""
    verification: pulumi.Output[dict[str, Any]]
    """Per domain: the records that must resolve for SES to verify it, and whether `pulumi up` waits."""

    def __init__(self, name: str, args: SesMailArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        # Everything is checked before anything is registered, the component included.
        settings = check_args(name, args)
        invoke = _invoke_options(opts)
        provider = None if settings.region is not None else provider_region(invoke)
        region = settings.region or provider
        if not region:
            raise pulumi.RunError(f"SesMail {name}: no SES region: give `region`, or set the provider's "
                                  "region (`pulumi config set aws:region <region>`)")
        # Limits are measured for this region and the stack's configuration set; unconfigured secret
        # admins are the /ses-mail-admin/ patterns, measured for the longest partition (an upper
        # bound by a few characters: ses_mail.roster.limit_checks), so the roster is read once.
        set_key = configuration_set_key(name)
        set_name = deliverability_spec.configuration_set_name(set_key)
        roster = read_roster(settings.roster_path, Deployment(region=region, admins=settings.secret_admins or None,
                                                              configuration_set=set_name))
        if provider is None and any(roster.settings(p).delivery == "pgp" for p in roster.people):
            provider = provider_region(invoke)
        if provider is not None:
            check_pgp_region(roster, region, provider, settings.roster_path)
        check_rotation_support(roster)
        zone_ids = lookup_zones(roster, settings.roster_path, invoke)
        # Who runs the program, before anything is registered: the identities' ARNs and the secrets'
        # default admins name its account.
        caller = caller_identity(invoke)
        secrets = secrets_manager_options(roster, settings, settings.roster_path, caller, invoke)
        # Every identity's ARN as a plain value (the provider's own format): send policies need not
        # wait for the identity, so the identity can wait for them (below).
        identity_arns = {d.name: identity_arn(region, caller.account_id, d.name, caller.partition)
                         for d in roster.domains}

        super().__init__(TYPE, name, None, opts)
        self.roster = roster
        self.region = region

        def child() -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, aliases=LEGACY_ROOT_ALIASES)

        # Stack-level first: identities name its configuration set, send policies allow it.
        # (New in 0.3.0, so born under the component: no alias.)
        self.feedback = Deliverability(roster, stack=set_key, region=region,
                                       bounce_alarm=settings.bounce_alarm, complaint_alarm=settings.complaint_alarm,
                                       opts=pulumi.ResourceOptions(parent=self))
        # People first: an identity applies the stack's configuration set to every send, so it must
        # not get (or change) its default set before the send policies allow that set. Each
        # identity waits for its people's policies; no policy waits for an identity.
        self.people: dict[str, SmtpSender] = {
            p.email: SmtpSender(p, region=region, identity_arn=identity_arns[p.domain],
                                settings=roster.settings(p), iam_path=settings.iam_path,
                                permissions_boundary=settings.permissions_boundary, secrets=secrets,
                                opts=child(), **self.feedback.sender_options())
            for p in roster.people
        }
        # Each domain's people's policies, grouped in one pass (not one pass over everyone per domain).
        policies: dict[str, list[pulumi.Resource]] = {}
        for address, sender in self.people.items():
            policies.setdefault(domain_of(address), []).append(sender.policy)
        # `existing: reference` domains are managed elsewhere: no resource here, only their ARN.
        self.domains: dict[str, SendingDomain] = {
            d.name: SendingDomain(d, region=region, zone_id=zone_ids.get(d.hosted_zone) if d.dns == "route53" else None,
                                  opts=child(), after=policies.get(d.name, []),
                                  **self.feedback.domain_options(d))
            for d in roster.domains if d.existing != "reference"
        }

        # Each output gathered in one Output.all over its Output leaves: a dict of per-person
        # Outputs costs dozens of Outputs per person (components/outputs.py).
        people = self.people
        self.smtp_credentials = gather({a: s.credential_tree for a, s in people.items()}, secret=True)
        self.senders = gather({
            p.email: {"iam_user": people[p.email].user.name, "domain": p.domain, "name": p.name}
            for p in roster.people
        })
        self.credential_status = gather({a: s.status_tree for a, s in people.items()},
                                        then=lambda all_: {a: finish_status(v) for a, v in all_.items()})
        # The identities' own ARN outputs, so the output waits for them (same values as identity_arns).
        self.identities = gather({**identity_arns, **{name: d.identity_arn for name, d in self.domains.items()}})
        self.dns_records = pulumi.Output.all(*[d.dns_records for d in self.domains.values()]).apply(
            lambda per_domain: [row for rows in per_domain for row in rows])
        self.deliverability_summary = self.feedback.summary
        self.verification = gather({name: d.verification for name, d in self.domains.items()})
        self.register_outputs({
            "deliverability_summary": self.deliverability_summary,
            "verification": self.verification,
            "dns_records": self.dns_records,
            "identities": self.identities,
            "senders": self.senders,
            "smtp_credentials": self.smtp_credentials,
            "credential_status": self.credential_status,
        })
