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
import importlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Optional, TypedDict

import pulumi
import pulumi_aws as aws
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import monitor_supports_feature

from ses_mail.components.deliverability import Deliverability
from ses_mail.components.outputs import gather
from ses_mail.components.report_receiving import ReportReceiving, ReportReceivingArgs, active_rule_set
from ses_mail.components.rotation import CredentialRotation, CredentialRotationArgs
from ses_mail.components.sending_domain import SendingDomain, SendingDomainArgs
from ses_mail.components.smtp_sender import SecretsManagerOptions, SmtpSender, finish_status
from ses_mail.modes.delivery import delivery_mode, delivery_modes
from ses_mail.modes.dns import dns_provider
from ses_mail.roster import Deployment, Domain, Roster, RosterError, load_roster_checked
from ses_mail.roster.identifiers import domain_of
from ses_mail.roster.restrictions import account_of
from ses_mail.specs.dns_records import DnsRecord
from ses_mail.specs import report_receiving as receiving_spec
from ses_mail.specs.iam_policy import SECRET_ADMIN_PATH, arn_matches, default_secret_admins, identity_arn
from ses_mail.stack_settings import SettingsError, StackSettings, from_args

from typing import NotRequired

#: The component's type token; the package name (`ses-mail`) is also the plugin's name.
TYPE = "ses-mail:index:SesMail"


class SesMailArgs(TypedDict):
    """What `SesMail` builds from; the stack config (docs/stack-config.md) sets the same fields."""

    roster: str
    """Path of the roster file (YAML). Required; relative to the working directory."""
    region: NotRequired[str]
    """AWS region SES sends from. Default: the AWS provider's region."""
    iam_path: NotRequired[str]
    """IAM path of the SMTP users. Default: /ses-smtp/."""
    permissions_boundary: NotRequired[str]
    """Every SMTP user's permissions boundary: a managed policy ARN, or "none". Default: the account's /ses-mail-boundary/ses-smtp-boundary."""
    rotation_permissions_boundary: NotRequired[str]
    """The rotation role's permissions boundary: a policy ARN, or "none". Default: the account's /ses-mail-boundary/ses-mail-rotation-boundary."""
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


def check_args(name: str, args: Mapping[str, Any]) -> StackSettings:
    """The args, validated and normalised (ses_mail.stack_settings); a pulumi.RunError naming every bad field."""
    try:
        return from_args(name, args, stack=pulumi.get_stack())
    except SettingsError as err:
        raise pulumi.RunError(str(err)) from None


def read_roster(path: Path, deployment: Deployment = Deployment()) -> Roster:
    """The validated roster (limits measured for `deployment`); its warnings go to the engine's log."""
    try:
        loaded = load_roster_checked(path, deployment)
    except RosterError as err:
        raise pulumi.RunError(str(err)) from None
    for warning in loaded.warnings:
        pulumi.log.warn(str(warning))
    return loaded.roster


def lookup_zones(roster: Roster, file: Path, opts: Optional[pulumi.ResourceOptions]) -> dict[str, str]:
    """The zone id of every managed domain whose DNS provider holds its records in a zone
    (ses_mail.modes.dns), by domain: each zone looked up once, with the provider of the zone's
    package the component is given (`opts`), or taken from the roster's `zone_id:`. Every
    failure is reported at once, before anything is registered. Domains whose DNS is kept
    elsewhere (`dns: external`) need none."""
    found: dict[tuple[str, str, Optional[str]], str] = {}
    missing: list[str] = []
    managed = [d for d in roster.domains if dns_provider(d.dns).uses_zone and d.managed]
    key = lambda d: (d.hosted_zone, d.dns, d.zone_id)  # noqa: E731
    for zone, dns, zone_id in sorted({key(d) for d in managed}, key=lambda k: (k[0], k[1], k[2] or "")):
        provider = dns_provider(dns)
        invoke = _invoke_options(opts, provider.package)
        try:
            if zone_id is None:
                found[(zone, dns, zone_id)] = provider.find_zone(importlib.import_module, zone, invoke)
            else:
                found[(zone, dns, zone_id)] = provider.find_zone(importlib.import_module, zone, invoke, zone_id=zone_id)
        except Exception as err:  # the provider reports a missing zone as a failed invoke
            users = ", ".join(d.name for d in managed if key(d) == (zone, dns, zone_id))
            missing.append(f"  - {provider.describe_zone(zone)} (for {users}) could not be looked up: {err}")
    if missing:
        raise pulumi.RunError(f"{file}: zones not found:\n" + "\n".join(missing)
                              + "\nCreate the zone (a Route 53 zone in this AWS account; a Cloudflare zone the API "
                              "token cloudflare:apiToken may read, or give its `zone_id:`), set `zone:` on the "
                              "domain to the zone that holds it, or set `dns: external` and publish the records "
                              "(output dns_records) yourself.")
    return {d.name: found[key(d)] for d in managed}


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
    pgp = [p.email for p in roster.people if delivery_mode(roster.settings(p).delivery).needs_provider_region]
    if pgp and provider != region:
        modes = " or ".join(sorted({roster.settings(p).delivery for p in roster.people
                                   if delivery_mode(roster.settings(p).delivery).needs_provider_region}))
        others = " or ".join(m for m in delivery_modes() if not delivery_mode(m).needs_provider_region)
        raise pulumi.RunError(
            f"{file}: delivery {modes} ({', '.join(pgp)}) needs the SES region to be the provider's region: "
            f"the provider encrypts an SMTP password derived for its own region, aws:region ({provider or 'unset'}), "
            f"but SES sends from region {region} (argument `region`; stack config ses-mail:region). "
            f"Set aws:region to {region}, or use delivery {others} for these people.")


def check_rotation_support(roster: Roster) -> None:
    """Generations past 2 replace a slot's key through the replacementTrigger resource option;
    an engine without it would silently keep the old key, so refuse rather than pretend."""
    late = [p.email for p in roster.people if p.key >= 3]
    if late and not monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_REPLACEMENT_TRIGGER):
        raise pulumi.RunError(
            f"key generations above 2 ({', '.join(late)}) need a Pulumi CLI that supports the "
            "replacementTrigger resource option (3.208 or later): upgrade the Pulumi CLI and run again")


def secret_admins(settings: StackSettings, caller: Caller) -> tuple[str, ...]:
    """The principals exempt from the secrets' Deny: the configured ones, else every role and user
    under /ses-mail-admin/ of the account. Never the caller itself: a preview role and the
    deploy role must plan the same policy."""
    return settings.secret_admins or default_secret_admins(caller.account_id, caller.partition)


def secrets_manager_options(roster: Roster, settings: StackSettings, file: Path, caller: Caller,
                            invoke: Optional[pulumi.InvokeOptions]) -> Optional[SecretsManagerOptions]:
    """Admins exempt from the secrets' Deny, and the KMS key; None when nobody uses it."""
    people = [p for p in roster.people if delivery_mode(roster.settings(p).delivery).uses_secret]
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


def _invoke_options(opts: Optional[pulumi.ResourceOptions], package: str = "aws") -> Optional[pulumi.InvokeOptions]:
    """Look-ups made before the component exists use the provider of `package` it is given, if any."""
    if opts is None:
        return None
    provider = opts.provider if getattr(opts.provider, "package", package) == package else None
    if provider is None and opts.providers:
        providers = opts.providers
        if isinstance(providers, Mapping):
            provider = providers.get(package)
        else:
            provider = next((p for p in providers if getattr(p, "package", None) == package), None)
    return pulumi.InvokeOptions(provider=provider) if provider is not None else None


@dataclass(frozen=True)
class ReportsPlan:
    """DMARC report receiving as decided before anything is registered: the roster whose domains
    report to the address (`rua`), and the receiving component's arguments."""

    roster: Roster
    args: ReportReceivingArgs
    #: The roster domain whose records include the receiving MX, and that record.
    parent: str
    mx: DnsRecord


def plan_reports(roster: Roster, stack_key: str, region: str, caller: Caller,
                 file: Path, invoke: Optional[pulumi.InvokeOptions]) -> Optional[ReportsPlan]:
    """None without `reports:`. Refuses a region without SES receiving and another active
    receipt rule set not named by `reports.join` (one look-up, before anything is registered).
    The MX goes in the zone of the roster domain above the reports subdomain; when that domain's
    DNS is kept elsewhere, the MX is only listed (output dns_records) for whoever keeps it."""
    reports = roster.reports
    if reports is None:
        return None
    try:
        receiving_spec.inbound_endpoint(region)
        active = active_rule_set(region, invoke)
        rule_set = receiving_spec.rule_set_name(stack_key)
        receiving_spec.rule_set_plan(ours=rule_set, active=active, join=reports.join)
    except receiving_spec.ReceivingError as err:
        raise pulumi.RunError(f"{file}: reports: {err}") from None
    parent = receiving_spec.parent_domain(reports.address, roster.domains)
    args = ReportReceivingArgs(
        address=reports.address, region=region, account_id=caller.account_id,
        bucket_name=reports.bucket or receiving_spec.bucket_name(stack_key, caller.account_id, region),
        rule_set_name=rule_set, rule_name=receiving_spec.rule_name(stack_key), join=reports.join,
        retention_days=reports.retention_days, kms_key_arn=reports.kms_key, ttl=parent.ttl,
        partition=caller.partition, tags={"ses-mail:stack": stack_key},
        prove_rule_name=receiving_spec.prove_rule_name(stack_key),
        check_active_rule_set=False, active_rule_set=active)
    domains = tuple(receiving_spec.with_reports(roster.domains, reports.address))
    # The MX is one of the parent domain's records, published by its DNS provider (Route 53,
    # Cloudflare) or listed for whoever keeps its DNS (external).
    mx = receiving_spec.mx_record(reports.address, region, parent.ttl)
    return ReportsPlan(roster.model_copy(update={"domains": domains}), args, parent.name, mx)


def reports_summary(plan: ReportsPlan, receiving: ReportReceiving) -> pulumi.Output[dict[str, Any]]:
    """The stack output `dmarc_reports`: where reports go and each domain's rollout stage."""
    plain = {"address": plan.args.address, "rule_set": receiving.rule_set_name, "rule": receiving.rule_name,
             "prove_address": receiving.prove_address, "prove_rule": plan.args.prove_rule_name,
             "mx_record": receiving.mx_record, "retention_days": plan.args.retention_days,
             "rollout": {d.name: receiving_spec.rollout_stage(d.dmarc) for d in plan.roster.domains if d.managed}}
    return receiving.bucket_name.apply(lambda bucket: {**plain, "bucket": bucket})


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
        set_key = settings.configuration_set_key
        set_name = settings.configuration_set_name
        assert set_key is not None and set_name is not None  # from_args names the stack
        roster_path = Path(settings.roster)
        roster = read_roster(roster_path, Deployment(region=region, admins=settings.secret_admins or None,
                                                              configuration_set=set_name))
        if provider is None and any(delivery_mode(roster.settings(p).delivery).needs_provider_region
                                    for p in roster.people):
            provider = provider_region(invoke)
        if provider is not None:
            check_pgp_region(roster, region, provider, roster_path)
        check_rotation_support(roster)
        zone_ids = lookup_zones(roster, roster_path, opts)
        # Who runs the program, before anything is registered: the identities' ARNs and the secrets'
        # default admins name its account.
        caller = caller_identity(invoke)
        secrets = secrets_manager_options(roster, settings, roster_path, caller, invoke)
        # DMARC report receiving: checked now, its component registered after the domains.
        reports = plan_reports(roster, set_key or name, region, caller, roster_path, invoke)
        if reports is not None:
            roster = reports.roster  # every domain's rua includes the reports address
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
        # from_args was given the stack, so the configuration set's key and name are set.
        assert set_name is not None and set_key is not None
        self._deliverability = Deliverability(
            set_name, {"roster": roster, "stack": set_key, "region": region,
                       "bounce_alarm": settings.bounce_rate_alarm, "complaint_alarm": settings.complaint_rate_alarm},
            opts=pulumi.ResourceOptions(parent=self))
        secrets = self._credential_rotation(name, roster, settings, secrets, caller, region)
        # People first: an identity applies the stack's configuration set to every send, so it must
        # not get (or change) its default set before the send policies allow that set. Each
        # identity waits for its people's policies; no policy waits for an identity.
        sender_options = self._deliverability.sender_options()
        self._people: dict[str, SmtpSender] = {
            p.email: SmtpSender(p.email, {
                "person": p, "region": region, "identity_arn": identity_arns[p.domain], "settings": roster.settings(p),
                "iam_path": settings.iam_path,
                "permissions_boundary": settings.smtp_boundary(caller.account_id, caller.partition),
                "secrets": secrets, "configuration_set_arn": sender_options["configuration_set_arn"]}, opts=child())
            for p in roster.people
        }
        # One pass over the people: each domain waits for its own people's policies.
        policies: dict[str, list[Any]] = {}
        for address, sender in self._people.items():
            policies.setdefault(domain_of(address), []).append(sender.policy)
        # The receiving MX joins its parent domain's records (`reports:` only).
        receiving_records = {reports.parent: (reports.mx,)} if reports is not None else {}

        def domain_args(d: Domain) -> SendingDomainArgs:
            options = self._deliverability.domain_options(d)
            return {"domain": d, "region": region, "zone_id": zone_ids.get(d.name), "after": policies.get(d.name, []),
                    "configuration_set_name": options["configuration_set_name"],
                    "report_records": (*options["report_records"], *receiving_records.get(d.name, ())),
                    "verify_minutes": options["verify_minutes"]}

        # Domains managed elsewhere (`existing: reference`): no resource here, only their ARN.
        self._domains: dict[str, SendingDomain] = {
            d.name: SendingDomain(d.name, domain_args(d), opts=child()) for d in roster.domains if d.managed}

        # --- DMARC report receiving (docs/dmarc.md): only with `reports:` in the roster ---
        self.reports: Optional[ReportReceiving] = None
        self.dmarc_reports: Optional[pulumi.Output[dict[str, Any]]] = None
        if reports is not None:
            self.reports = ReportReceiving(f"{name}-dmarc-reports", reports.args, opts=pulumi.ResourceOptions(parent=self))
            self.dmarc_reports = reports_summary(reports, self.reports)
        # --- end of DMARC report receiving ---

        # Each output gathered in one Output.all over its Output leaves: a dict of per-person
        # Outputs costs dozens of Outputs per person (components/outputs.py).
        people = self._people
        self.smtp_credentials = gather({a: s.credential_tree for a, s in people.items()}, secret=True)
        self.senders = gather({
            p.email: {"iam_user": people[p.email].user.name, "domain": p.domain, "name": p.name}
            for p in roster.people
        })
        self.credential_status = gather({a: s.status_tree for a, s in people.items()},
                                        then=lambda all_: {a: finish_status(v) for a, v in all_.items()})
        # The identities' own ARN outputs, so the output waits for them (same values as identity_arns).
        self.identities = gather({**identity_arns, **{name: d.identity_arn for name, d in self._domains.items()}})
        self.dns_records = pulumi.Output.all(*[d.dns_records for d in self._domains.values()]).apply(
            lambda per_domain: [row for rows in per_domain for row in rows])
        self.deliverability_summary = self._deliverability.summary
        self.verification = gather({name: d.verification for name, d in self._domains.items()})
        self.register_outputs({
            "deliverability_summary": self.deliverability_summary,
            "verification": self.verification,
            "dns_records": self.dns_records,
            "identities": self.identities,
            "senders": self.senders,
            "smtp_credentials": self.smtp_credentials,
            "credential_status": self.credential_status,
            **({"dmarc_reports": self.dmarc_reports} if self.dmarc_reports is not None else {}),
        })

    # The children, as properties: a public annotation on this class would become an output of
    # the plugin's schema (tests/test_schema.py::test_the_plugin_schema_is_pinned).
    @property
    def domains(self) -> Mapping[str, SendingDomain]:
        """Each managed domain's component (identity, mail_from, records), by domain."""
        return self._domains

    @property
    def people(self) -> Mapping[str, SmtpSender]:
        """Each person's component (user, policy, access_keys, secret), by address."""
        return self._people

    @property
    def deliverability(self) -> Deliverability:
        """The stack's configuration set, feedback topic and reputation alarms."""
        return self._deliverability

    @property
    def feedback(self) -> Deliverability:
        """`deliverability` under the name 0.3.0 documented, so programs written for it keep working."""
        return self._deliverability

    # --- in-account rotation (delivery modes with `rotated_in_account`): one CredentialRotation
    def _credential_rotation(self, name: str, roster: Roster, settings: StackSettings, secrets: Optional[SecretsManagerOptions],
                             caller: Caller, region: str) -> Optional[SecretsManagerOptions]:
        """The stack's one rotation function, when anyone's credential is rotated inside the account;
        each such person's secret, policy and schedule are then made under their SmtpSender."""
        if secrets is None or not any(delivery_mode(roster.settings(p).delivery).rotated_in_account
                                      for p in roster.people):
            return secrets
        rotation = CredentialRotation(f"{name}-smtp-rotation", CredentialRotationArgs(
            region=region, secret_admins=secrets.admins, iam_path=settings.iam_path,
            grace_hours=roster.defaults.grace_hours, rotation_days=roster.defaults.rotation_days,
            kms_key=settings.secrets_kms_key, account_id=caller.account_id, partition=caller.partition,
            permissions_boundary=settings.rotation_boundary(caller.account_id, caller.partition)),
            opts=pulumi.ResourceOptions(parent=self))
        self.rotation = rotation
        return replace(secrets, rotation=rotation)
    # --- end in-account rotation
