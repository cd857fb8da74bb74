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
from ses_mail.specs.naming import IAM_USER_PATH
from ses_mail.roster import Roster, load_roster

from ses_mail.components.sending_domain import SendingDomain
from ses_mail.components.outputs import gather
from ses_mail.components.smtp_sender import SecretsManagerOptions, SmtpSender, finish_status
from ses_mail.stack_config import config_list, config_value, roster_path, ses_region

def read_roster(path: Path) -> Roster:
    try:
        return load_roster(path)
    except RosterError as err:
        raise pulumi.RunError(str(err)) from None


def lookup_zones(roster: Roster, file: Path) -> dict[str, str]:
    """Route53 public zone id of every zone the roster names, looked up once each."""
    zone_ids: dict[str, str] = {}
    missing: list[str] = []
    for zone in sorted({d.hosted_zone for d in roster.domains if d.existing != "reference"}):
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
    admins = config_list("secretAdmins", normalize_principal_arn)
    caller = aws.get_caller_identity()
    if not admins:
        # Whoever runs `pulumi up` must keep reading the value back: exempt its role (the
        # session's issuer, which is what aws:PrincipalArn reports) or user.
        admins = (aws.iam.get_session_context(arn=caller.arn).issuer_arn,)
    if kms_key is None:
        foreign = sorted({r for p in people for r in roster.settings(p).secret_readers
                          if account_of(r) != caller.account_id})
        if foreign:
            raise pulumi.RunError(
                f"{file}: secret_readers in other accounts ({', '.join(foreign)}) cannot decrypt a secret "
                "encrypted with the account's aws/secretsmanager key: set ses-mail:secretsKmsKey to a "
                "customer managed KMS key whose key policy lets them decrypt")
    return SecretsManagerOptions(admins=tuple(admins), kms_key=kms_key)


def referenced_identity_arns(roster: Roster, region: str) -> dict[str, str]:
    """`existing: reference` domains: the ARN of each identity managed elsewhere, in this account
    and the SES region (the partition is the caller's), by domain."""
    names = [d.name for d in roster.domains if d.existing == "reference"]
    if not names:
        return {}
    caller = aws.get_caller_identity()
    partition = caller.arn.split(":")[1]
    return {name: f"arn:{partition}:ses:{region}:{caller.account_id}:identity/{name}" for name in names}


def build() -> None:
    region = ses_region()
    path = roster_path()
    roster = read_roster(path)
    iam_path = config_value("iamPath", normalize_iam_path, IAM_USER_PATH)
    boundary = config_value("permissionsBoundary", normalize_policy_arn)
    check_pgp_region(roster, region, path)
    check_rotation_support(roster)
    zone_ids = lookup_zones(roster, path)
    secrets = secrets_manager_options(roster, path)

    domains = {
        d.name: SendingDomain(d, region=region, zone_id=zone_ids[d.hosted_zone])
        for d in roster.domains if d.existing != "reference"
    }
    identity_arns = {name: d.identity_arn for name, d in domains.items()}
    identity_arns.update(referenced_identity_arns(roster, region))
    senders = {
        p.email: SmtpSender(p, region=region, identity_arn=identity_arns[p.domain],
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
    pulumi.export("identities", identity_arns)
    pulumi.export("dns_records", pulumi.Output.all(*[d.dns_records for d in domains.values()]).apply(
        lambda per_domain: [row for rows in per_domain for row in rows]))


if __name__ == "__main__":
    build()
