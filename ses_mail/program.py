"""The whole stack: the stack's config becomes one `SesMail` component, whose outputs the stack exports.

This module only maps stack config (`ses-mail:*`, checked with clean errors by
ses_mail.stack_config) to `SesMailArgs`; the component validates the roster and everything else
before the first resource is registered, so a bad roster never leaves a half-applied stack.
"""
from __future__ import annotations

import pulumi

from ses_mail.components.ses_mail import DEFAULT_NAME, SesMail, SesMailArgs
from ses_mail.roster.restrictions import normalize_iam_path, normalize_kms_key, normalize_policy_arn, normalize_principal_arn
from ses_mail.stack_config import alarm_thresholds, config_list, config_value, roster_path, ses_region

#: The component's name in this program's stacks (its children are named by domain and address).
COMPONENT_NAME = DEFAULT_NAME


def args_from_config() -> SesMailArgs:
    """`SesMailArgs` from the stack config; a pulumi.RunError names a bad `ses-mail:` key."""
    args: SesMailArgs = {"roster": str(roster_path()), "region": ses_region()}
    iam_path = config_value("iamPath", normalize_iam_path)
    if iam_path is not None:
        args["iam_path"] = iam_path
    boundary = config_value("permissionsBoundary", normalize_policy_arn)
    if boundary is not None:
        args["permissions_boundary"] = boundary
    kms_key = config_value("secretsKmsKey", normalize_kms_key)
    if kms_key is not None:
        args["secrets_kms_key"] = kms_key
    admins = config_list("secretAdmins", normalize_principal_arn)
    if admins:
        args["secret_admins"] = list(admins)
    thresholds = alarm_thresholds()
    args["bounce_rate_alarm"] = thresholds["bounce_alarm"]
    args["complaint_rate_alarm"] = thresholds["complaint_alarm"]
    return args


def build() -> SesMail:
    mail = SesMail(COMPONENT_NAME, args_from_config())
    pulumi.export("smtp_credentials", mail.smtp_credentials)
    pulumi.export("senders", mail.senders)
    # Plain facts, no secrets: who is suspended, how credentials are delivered, which key is current.
    pulumi.export("credential_status", mail.credential_status)
    pulumi.export("identities", mail.identities)
    pulumi.export("dns_records", mail.dns_records)
    pulumi.export("deliverability", mail.deliverability_summary)
    pulumi.export("verification", mail.verification)
    return mail


if __name__ == "__main__":
    build()
