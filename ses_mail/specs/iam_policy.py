"""IAM policy documents for SMTP credentials: send only as one's own address.

SES's SMTP interface authorises each message as `ses:SendRawEmail` on the identity that the
From address belongs to, with the From address in the condition key `ses:FromAddress`, the
From display name in `ses:FromDisplayName`, every To/Cc/Bcc address in `ses:Recipients`
(multi-valued) and the client's address in `aws:SourceIp`.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

SEND_ACTION = "ses:SendRawEmail"
POLICY_VERSION = "2012-10-17"

#: What a Secrets Manager reader needs: the value, and the metadata to find its current version.
SECRET_READ_ACTIONS = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")
SECRET_VALUE_ACTION = "secretsmanager:GetSecretValue"

#: IAM path of the roles and users that administer the secrets when `ses-mail:secretAdmins` is
#: unset. A path is part of the principal's ARN (aws:PrincipalArn) and is fixed when the role or
#: user is created, so neither a session nor a tag can claim it.
SECRET_ADMIN_PATH = "/ses-mail-admin/"


def default_secret_admins(account_id: str, partition: str = "aws") -> tuple[str, str]:
    """Every role and user under SECRET_ADMIN_PATH in the account: the same for every principal
    that runs the program there, so a preview role and the deploy role plan the same policy."""
    return (f"arn:{partition}:iam::{account_id}:role{SECRET_ADMIN_PATH}*",
            f"arn:{partition}:iam::{account_id}:user{SECRET_ADMIN_PATH}*")


def arn_matches(pattern: str, arn: str) -> bool:
    """IAM's ARN matching (ArnLike): each of the six `:` components compared on its own,
    case-sensitively, with `*` and `?` as the only wildcards."""
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return False
    return all(re.fullmatch("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in p), a, re.S)
               for p, a in zip(pattern_parts, arn_parts, strict=True))


def identity_arn(region: str, account_id: str, identity: str, partition: str = "aws") -> str:
    return f"arn:{partition}:ses:{region}:{account_id}:identity/{identity}"


def send_as_policy(address: str, identity_arn: str, *, display_name: str | None = None,
                   allowed_ips: Sequence[str] = (), recipients: Sequence[str] = (),
                   configuration_set_arn: str | None = None, suspended: bool = False) -> dict[str, Any]:
    """Allow SendRawEmail on the domain's identity only when From is exactly `address`.

    IgnoreCase: receivers and clients treat addresses case-insensitively, and the roster
    lowercases them, so `Taro@Example.com` typed in a mail client is still Taro's own.
    Nothing else is allowed: no other action, no other identity, no other From.

    Each option narrows the one Allow further (conditions AND together):
    - `display_name`: the From display name must be exactly this (StringEquals is
      case-sensitive), so nobody sends as "CEO <own address>"; mail without one is refused.
    - `allowed_ips`: the SMTP client's address must be in one of these CIDRs (aws:SourceIp).
    - `recipients`: every To/Cc/Bcc address must match one of these StringLike patterns
      (ForAllValues), and there must be recipients at all (Null false): ForAllValues alone
      is true for a request without the key, as the IAM User Guide warns.
    With no options the document is the same as it always was.

    `configuration_set_arn`: when a configuration set applies to a send (the identity's
    default set, or an X-SES-CONFIGURATION-SET header), SES authorises SendRawEmail on the
    set's ARN as well as on the identity's; both must be allowed. The set's ARN joins the
    identity's in the same statement, under the same conditions, and no other set is allowed.

    `suspended`: adds a Deny of every action, which overrides the Allow whatever key signs the
    request: how a person whose keys Pulumi never sees (delivery rotation) is suspended within
    one `pulumi up`. Removing it (reactivation) restores the Allow alone.
    """
    condition: dict[str, dict[str, Any]] = {"StringEqualsIgnoreCase": {"ses:FromAddress": address}}
    if display_name is not None:
        condition["StringEquals"] = {"ses:FromDisplayName": display_name}
    if allowed_ips:
        condition["IpAddress"] = {"aws:SourceIp": list(allowed_ips)}
    if recipients:
        condition["ForAllValues:StringLike"] = {"ses:Recipients": list(recipients)}
        condition["Null"] = {"ses:Recipients": "false"}
    statements: list[dict[str, Any]] = [
        {
            "Sid": "SendAsOwnAddressOnly",
            "Effect": "Allow",
            "Action": SEND_ACTION,
            "Resource": [identity_arn, configuration_set_arn] if configuration_set_arn else identity_arn,
            "Condition": condition,
        }
    ]
    if suspended:
        statements.append(SUSPENDED_STATEMENT)
    return {"Version": POLICY_VERSION, "Statement": statements}


#: A suspended person's credential may do nothing at all, whichever key signs.
SUSPENDED_STATEMENT: dict[str, Any] = {"Sid": "SuspendedNothingAllowed", "Effect": "Deny", "Action": "*",
                                       "Resource": "*"}


def secret_read_policy(readers: Iterable[str], admins: Iterable[str] = ()) -> dict[str, Any]:
    """Resource policy of one person's Secrets Manager secret: only `readers` read it.

    The Allow lets each listed role or user read the secret without any identity policy of
    its own. The Deny is what makes it *only* them: in the same account, any principal whose
    identity policy allows `secretsmanager:GetSecretValue` on `*` (administrators) could
    otherwise read it too. `admins`, the principals that run `pulumi up`, stay exempt from the
    Deny, because the provider reads the secret value back after writing it; they still need
    their own identity permission, and they hold the value in the stack state anyway.
    aws:PrincipalArn is a role's ARN with its path (not the session's) or a user's ARN; an
    admin may be a pattern (`default_secret_admins`), hence ArnNotLike.
    """
    readers = sorted(set(readers))
    if not readers:
        raise ValueError("a secret needs at least one reader")
    exempt = sorted(set(readers) | set(admins))
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "ListedReadersMayRead",
                "Effect": "Allow",
                "Principal": {"AWS": readers},
                "Action": list(SECRET_READ_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "NobodyElseMayReadTheValue",
                "Effect": "Deny",
                "Principal": "*",
                "Action": SECRET_VALUE_ACTION,
                "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": exempt}},
            },
        ],
    }
