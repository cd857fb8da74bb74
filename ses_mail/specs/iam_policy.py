"""IAM policy documents for SMTP credentials: send only as one's own address.

SES's SMTP interface authorises each message as `ses:SendRawEmail` on the identity that the
From address belongs to, with the From address in the condition key `ses:FromAddress`, the
From display name in `ses:FromDisplayName`, every To/Cc/Bcc address in `ses:Recipients`
(multi-valued) and the client's address in `aws:SourceIp`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

SEND_ACTION = "ses:SendRawEmail"
POLICY_VERSION = "2012-10-17"

#: What a Secrets Manager reader needs: the value, and the metadata to find its current version.
SECRET_READ_ACTIONS = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")
SECRET_VALUE_ACTION = "secretsmanager:GetSecretValue"
#: Actions that return a secret's value: only readers and the exempt admins may call them.
#: BatchGetSecretValue returns values of many secrets in one call.
SECRET_VALUE_ACTIONS = (SECRET_VALUE_ACTION, "secretsmanager:BatchGetSecretValue")
#: Actions that change, re-point, rotate, copy or remove a value or the policy guarding it: only
#: the exempt admins (who run `pulumi up`) may call them. Beyond the obvious ones:
#: - CancelRotateSecret: rotation settings are part of who controls the value;
#: - TagResource/UntagResource: tags can grant access through tag-based (ABAC) identity policies;
#: - ReplicateSecretToRegions, RemoveRegionsFromReplication, StopReplicationToReplica: a replica
#:   is a copy of the value in another region, and one promoted to a standalone secret no
#:   longer follows this policy.
SECRET_GUARDED_ACTIONS = (
    "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret", "secretsmanager:UpdateSecretVersionStage",
    "secretsmanager:RotateSecret", "secretsmanager:CancelRotateSecret",
    "secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy", "secretsmanager:DeleteSecret",
    "secretsmanager:RestoreSecret", "secretsmanager:TagResource", "secretsmanager:UntagResource",
    "secretsmanager:ReplicateSecretToRegions", "secretsmanager:RemoveRegionsFromReplication",
    "secretsmanager:StopReplicationToReplica",
)

#: IAM path of the roles and users that administer the secrets when `ses-mail:secretAdmins` is
#: unset. A path is part of the principal's ARN (aws:PrincipalArn) and is fixed when the role or
#: user is created, so neither a session nor a tag can claim it.
SECRET_ADMIN_PATH = "/ses-mail-admin/"


def check_not_admin_path(iam_path: str, admin_path: str = SECRET_ADMIN_PATH) -> str:
    """`iam_path` for SMTP users, refused when it is the admin path or under it: every principal
    there is exempt from the secrets' Deny (IAM paths compare case-sensitively, as ARNs do)."""
    if iam_path.startswith(admin_path):
        raise ValueError(f"is {'' if iam_path == admin_path else 'under '}the secret admin path {admin_path}: "
                         "every SMTP user there would be exempt from the secrets' Deny; choose another path")
    return iam_path


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


@dataclass(frozen=True)
class DisplayNames:
    """Which From display names (ses:FromDisplayName) a person may send with.

    `names`: the exact names allowed (case-sensitive); `none`: mail without a display name is
    allowed too (an absent key, or an empty name, which is treated like none); `any`: no
    restriction at all. Whatever this says, a name containing an `@` is always denied.
    """

    names: tuple[str, ...] = ()
    none: bool = True
    any: bool = False

    @classmethod
    def own_or_none(cls, name: str | None) -> "DisplayNames":
        """The default: the person's roster `name`, or no display name."""
        return cls((name,) if name else (), none=True)

    @classmethod
    def exactly(cls, name: str) -> "DisplayNames":
        """`display_name: true` or a text: exactly this name, and mail without one is refused."""
        return cls((name,), none=False)

    @classmethod
    def unrestricted(cls) -> "DisplayNames":
        """`display_name: any`."""
        return cls((), none=True, any=True)

    def describe(self) -> str:
        if self.any:
            return "any (but never one with an @)"
        if not self.none:
            return f"exactly {self.names[0]!r}"
        return f"{self.names[0]!r} or none" if self.names else "none"


#: Display names that read as an address: `@`, and its full-width and small forms (U+FF20,
#: U+FE6B), which mail clients render like one.
ADDRESS_LIKE_DISPLAY_NAMES = ("*@*", "*\uff20*", "*\ufe6b*")


def send_as_policy(address: str, identity_arn: str, *, display_name: str | None = None,
                   display_names: DisplayNames | None = None,
                   allowed_ips: Sequence[str] = (), recipients: Sequence[str] = (),
                   configuration_set_arn: str | None = None, suspended: bool = False) -> dict[str, Any]:
    """Allow SendRawEmail on the domain's identity only when From is exactly `address`.

    IgnoreCase: receivers and clients treat addresses case-insensitively, and the roster
    lowercases them, so `Taro@Example.com` typed in a mail client is still Taro's own.
    Nothing else is allowed: no other action, no other identity, no other From.

    Each option narrows the one Allow further (conditions AND together):
    - `display_names` (or `display_name`, short for DisplayNames.exactly): which From display
      names are allowed. Default: none at all. With `none` the names are tested with
      StringEqualsIfExists against the names plus "": a request without the key (no display
      name) passes, as IfExists is true for an absent key; an empty name passes as "".
      Without `none` it is StringEquals, which is false for an absent key, so mail without a
      display name is refused. The list holds only the person's own name, so the policy does
      not grow with the roster.
    - `allowed_ips`: the SMTP client's address must be in one of these CIDRs (aws:SourceIp).
    - `recipients`: every To/Cc/Bcc address must match one of these StringLike patterns
      (ForAllValues), and there must be recipients at all (Null false): ForAllValues alone
      is true for a request without the key, as the IAM User Guide warns.

    Two Denies hold whatever the Allow says (and whatever else the user may be granted):
    - a display name containing `@` (ADDRESS_LIKE_DISPLAY_NAMES), so nobody presents as
      "ceo@example.com" <own address>;
    - a feedback address (ses:FeedbackAddress, the Return-Path that receives bounces and
      complaints) that is present and is not the person's own: Null false makes the Deny apply
      only when the key is there, since StringNotEqualsIgnoreCase alone is true for an absent key.

    `configuration_set_arn`: when a configuration set applies to a send (the identity's
    default set, or an X-SES-CONFIGURATION-SET header), SES authorises SendRawEmail on the
    set's ARN as well as on the identity's; both must be allowed. The set's ARN joins the
    identity's in the same statement, under the same conditions, and no other set is allowed.

    `suspended`: adds a Deny of every action, which overrides the Allow whatever key signs the
    request: how a person whose keys Pulumi never sees (delivery rotation) is suspended within
    one `pulumi up`. Removing it (reactivation) restores the Allow alone.
    """
    if display_names is None:
        display_names = DisplayNames.exactly(display_name) if display_name is not None else DisplayNames()
    condition: dict[str, dict[str, Any]] = {"StringEqualsIgnoreCase": {"ses:FromAddress": address}}
    if not display_names.any:
        if display_names.none:
            condition["StringEqualsIfExists"] = {"ses:FromDisplayName": [*display_names.names, ""]}
        else:
            condition["StringEquals"] = {"ses:FromDisplayName": display_names.names[0]
                                         if len(display_names.names) == 1 else list(display_names.names)}
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
        },
        {
            "Sid": "NoAddressInDisplayName",
            "Effect": "Deny",
            "Action": SEND_ACTION,
            "Resource": "*",
            "Condition": {"StringLike": {"ses:FromDisplayName": list(ADDRESS_LIKE_DISPLAY_NAMES)}},
        },
        {
            "Sid": "FeedbackToOwnAddressOnly",
            "Effect": "Deny",
            "Action": SEND_ACTION,
            "Resource": "*",
            "Condition": {"StringNotEqualsIgnoreCase": {"ses:FeedbackAddress": address},
                          "Null": {"ses:FeedbackAddress": "false"}},
        },
    ]
    if suspended:
        statements.append(SUSPENDED_STATEMENT)
    return {"Version": POLICY_VERSION, "Statement": statements}


#: A suspended person's credential may do nothing at all, whichever key signs.
SUSPENDED_STATEMENT: dict[str, Any] = {"Sid": "SuspendedNothingAllowed", "Effect": "Deny", "Action": "*",
                                       "Resource": "*"}


def secret_read_policy(readers: Iterable[str], admins: Iterable[str] = ()) -> dict[str, Any]:
    """Resource policy of one person's Secrets Manager secret: only `readers` read it, and
    only `admins` change it.

    The Allow lets each listed role or user read the secret without any identity policy of
    its own. The Denies are what make it *only* them: in the same account, any principal whose
    identity policy allows `secretsmanager:*` (administrators) could otherwise read the value,
    or delete this policy and then read it, or re-point the value (PutSecretValue) at their
    own relay. The first Deny keeps everyone but readers and admins from the value
    (SECRET_VALUE_ACTIONS); the second keeps everyone but admins, readers included, from
    changing the value, its rotation, tags, replicas or this policy (SECRET_GUARDED_ACTIONS).
    `admins`, the principals that run `pulumi up`, stay exempt from both, because the provider
    reads the value back after writing it and manages the policy; they still need their own
    identity permission, and they hold the value in the stack state anyway.
    aws:PrincipalArn is a role's ARN with its path (not the session's) or a user's ARN; an
    admin may be a pattern (`default_secret_admins`), hence ArnNotLike.
    """
    readers = sorted(set(readers))
    if not readers:
        raise ValueError("a secret needs at least one reader")
    admins = sorted(set(admins))
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
                "Action": list(SECRET_VALUE_ACTIONS),
                "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": exempt}},
            },
            *([{
                "Sid": "OnlyAdminsMayChangeTheSecretOrThisPolicy",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(SECRET_GUARDED_ACTIONS),
                "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": admins}},
            }] if admins else [{
                "Sid": "OnlyAdminsMayChangeTheSecretOrThisPolicy",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(SECRET_GUARDED_ACTIONS),
                "Resource": "*",
            }]),
        ],
    }


def send_policy_terms(policy: dict[str, Any]) -> dict[str, str]:
    """What a send policy lets its person do, in words, one entry per aspect: for telling a
    reviewer what an update changes (`describe_send_policy_change`)."""
    statements = _listed(policy.get("Statement"))
    allow: dict[str, Any] = next((s for s in statements if s.get("Effect") == "Allow"), {})
    condition = allow.get("Condition") or {}
    denies = [s for s in statements if s.get("Effect") == "Deny"]

    def denied(key: str) -> bool:
        return any(key in json.dumps(s.get("Condition") or {}) for s in denies)

    if "ses:FromDisplayName" in (condition.get("StringEqualsIfExists") or {}):
        names = [n for n in _listed(condition["StringEqualsIfExists"]["ses:FromDisplayName"]) if n]
        display = " or ".join([repr(n) for n in names] + ["none"])
    elif "ses:FromDisplayName" in (condition.get("StringEquals") or {}):
        display = "exactly " + " or ".join(repr(n) for n in _listed(condition["StringEquals"]["ses:FromDisplayName"]))
    else:
        display = "any"
    if denied("ses:FromDisplayName"):
        display += ", never one with an @" if display == "any" else ""
    return {
        "display names": display if display != "any" else "any, even an address",
        "feedback address": "own address only" if denied("ses:FeedbackAddress") else "any address",
        "source IPs": ", ".join(_listed((condition.get("IpAddress") or {}).get("aws:SourceIp"))) or "any",
        "recipients": ", ".join(_listed((condition.get("ForAllValues:StringLike") or {}).get("ses:Recipients")))
        or "any",
        "resources": ", ".join(_listed(allow.get("Resource"))) or "none",
    }


def describe_send_policy_change(before: dict[str, Any], after: dict[str, Any]) -> str:
    """`aspect: old -> new` for each aspect of a send policy an update changes, else ""."""
    old, new = send_policy_terms(before), send_policy_terms(after)
    return "; ".join(f"{aspect}: {old[aspect]} -> {new[aspect]}" for aspect in new if old.get(aspect) != new[aspect])


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
