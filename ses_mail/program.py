"""The whole stack: read the configured roster, validate it, then build every resource.

Everything that can be wrong with the input (roster, region, hosted zones) is checked before
the first resource is registered, so a bad roster never leaves a half-applied stack.
"""
from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import monitor_supports_feature

from ses_mail.roster.restrictions import account_of, normalize_iam_path, normalize_kms_key, normalize_policy_arn, normalize_principal_arn
from ses_mail.roster.errors import RosterError
from ses_mail.specs.iam_policy import SECRET_ADMIN_PATH, arn_matches, default_secret_admins
from ses_mail.specs.naming import IAM_USER_PATH
from ses_mail.roster import Deployment, Roster, load_roster_checked

from ses_mail.components.sending_domain import SendingDomain
from ses_mail.components.outputs import gather
from ses_mail.components.smtp_sender import SecretsManagerOptions, SmtpSender, finish_status
from ses_mail.stack_config import config_list, config_value, roster_path, ses_region

def read_roster(path: Path, deployment: Deployment = Deployment()) -> Roster:
    """The validated roster (limits measured for `deployment`); its warnings go to the engine's log."""
    try:
        loaded = load_roster_checked(path, deployment)
    except RosterError as err:
        raise pulumi.RunError(str(err)) from None
    for warning in loaded.warnings:
        pulumi.log.warn(str(warning))
    return loaded.roster


def lookup_zones(roster: Roster, file: Path) -> dict[str, str]:
    """Route53 public zone id of every zone the roster names, looked up once each."""
    zone_ids: dict[str, str] = {}
    missing: list[str] = []
    for zone in sorted({d.hosted_zone for d in roster.domains}):
        try:
            zone_ids[zone] = aws.route53.get_zone(name=zone, private_zone=False).zone_id
        except Exception as err:  # noqa: BLE001 - the provider reports a missing zone as a failed invoke
            users = ", ".join(d.name for d in roster.domains if d.hosted_zone == zone)
            missing.append(f"  - Route53 public hosted zone {zone!r} (for {users}) could not be looked up: {err}")
    if missing:
        raise pulumi.RunError(f"{file}: hosted zones missing in this AWS account:\n" + "\n".join(missing)
                              + "\nCreate the zone, or set `zone:` on the domain to the zone that holds it.")
    return zone_ids


def check_pgp_region(roster: Roster, region: str, file: Path) -> None:
    """PGP delivery exports the provider's encrypted SMTP password, which the provider derives
    for *its* region (aws:region): refuse when SES runs in another one, as that password
    would be wrong and nothing could tell."""
    pgp = [p.email for p in roster.people if roster.settings(p).delivery == "pgp"]
    provider_region = pulumi.Config("aws").get("region")
    if pgp and provider_region != region:
        raise pulumi.RunError(
            f"{file}: delivery pgp ({', '.join(pgp)}) needs the SES region to be the provider's region: "
            f"the provider encrypts an SMTP password derived for aws:region ({provider_region or 'unset'}), "
            f"but SES sends from ses-mail:region {region}. Set aws:region to {region}, or use delivery "
            "output or secrets_manager for these people.")


def check_rotation_support(roster: Roster) -> None:
    """Generations past 2 replace a slot's key through the replacementTrigger resource option;
    an engine without it would silently keep the old key, so refuse rather than pretend."""
    late = [p.email for p in roster.people if p.key >= 3]
    if late and not monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_REPLACEMENT_TRIGGER):
        raise pulumi.RunError(
            f"key generations above 2 ({', '.join(late)}) need a Pulumi CLI that supports the "
            "replacementTrigger resource option (3.208 or later): upgrade the Pulumi CLI and run again")


def secrets_manager_options(roster: Roster, file: Path) -> SecretsManagerOptions | None:
    """Admins exempt from the secrets' Deny, and the KMS key; None when nobody uses it."""
    people = [p for p in roster.people if roster.settings(p).delivery == "secrets_manager"]
    if not people:
        return None
    kms_key = config_value("secretsKmsKey", normalize_kms_key)
    configured = config_list("secretAdmins", normalize_principal_arn)
    caller = aws.get_caller_identity()
    # Never the caller itself: a preview role and the deploy role must plan the same policy.
    admins = configured or default_secret_admins(caller.account_id, caller.arn.split(":")[1])
    if not pulumi.runtime.is_dry_run():
        # The provider reads each secret value back after writing it: a deployer outside the
        # exemption would fail half-way, so refuse before anything is registered. (A preview
        # may run as anyone: it writes nothing.)
        deployer = aws.iam.get_session_context(arn=caller.arn).issuer_arn
        if not any(arn_matches(admin, deployer) for admin in admins):
            raise pulumi.RunError(
                f"{file}: {deployer} runs `pulumi up` but is not exempt from the Deny of the Secrets "
                f"Manager secrets ({', '.join(admins)}), so it could not read back the values it writes: "
                "add it to ses-mail:secretAdmins"
                + ("" if configured else f", or deploy as a role or user under the IAM path {SECRET_ADMIN_PATH}"))
    if kms_key is None:
        foreign = sorted({r for p in people for r in roster.settings(p).secret_readers
                          if account_of(r) != caller.account_id})
        if foreign:
            raise pulumi.RunError(
                f"{file}: secret_readers in other accounts ({', '.join(foreign)}) cannot decrypt a secret "
                "encrypted with the account's aws/secretsmanager key: set ses-mail:secretsKmsKey to a "
                "customer managed KMS key whose key policy lets them decrypt")
    return SecretsManagerOptions(admins=tuple(admins), kms_key=kms_key)


def build() -> None:
    region = ses_region()
    path = roster_path()
    # Limits are measured for this region; the secret admins are known here only when configured.
    configured_admins = config_list("secretAdmins", normalize_principal_arn) or None
    roster = read_roster(path, Deployment(region=region, admins=configured_admins))
    iam_path = config_value("iamPath", normalize_iam_path, IAM_USER_PATH)
    boundary = config_value("permissionsBoundary", normalize_policy_arn)
    check_pgp_region(roster, region, path)
    check_rotation_support(roster)
    zone_ids = lookup_zones(roster, path)
    secrets = secrets_manager_options(roster, path)
    if secrets is not None and configured_admins is None:
        # The default admins name this account: measure the secret policies again with exactly
        # what will be written, still before anything is registered.
        roster = read_roster(path, Deployment(region=region, admins=secrets.admins))

    domains = {
        d.name: SendingDomain(d, region=region, zone_id=zone_ids[d.hosted_zone])
        for d in roster.domains
    }
    senders = {
        p.email: SmtpSender(p, region=region, identity_arn=domains[p.domain].identity_arn,
                            settings=roster.settings(p), iam_path=iam_path,
                            permissions_boundary=boundary, secrets=secrets)
        for p in roster.people
    }

    # Each export gathered in one Output.all over its Output leaves: a dict of per-person Outputs
    # costs dozens of Outputs per person (components/outputs.py).
    pulumi.export("smtp_credentials", gather({a: s.credential_tree for a, s in senders.items()}, secret=True))
    pulumi.export("senders", {
        p.email: {"iam_user": senders[p.email].user.name, "domain": p.domain, "name": p.name}
        for p in roster.people
    })
    # Plain facts, no secrets: who is suspended, how credentials are delivered, which key is current.
    pulumi.export("credential_status", gather({a: s.status_tree for a, s in senders.items()},
                                              then=lambda all_: {a: finish_status(v) for a, v in all_.items()}))
    pulumi.export("identities", {name: d.identity_arn for name, d in domains.items()})
    pulumi.export("dns_records", pulumi.Output.all(*[d.dns_records for d in domains.values()]).apply(
        lambda per_domain: [row for rows in per_domain for row in rows]))


if __name__ == "__main__":
    build()
