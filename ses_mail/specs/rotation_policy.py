"""Specs of the in-account rotation mode: the rotation function's role policy, who may invoke it,
the secret's resource policy in this mode, its tags and the schedule's limits (pure, no Pulumi).

The function (ses_mail/rotation/handler.py) learns its person from the secret's tags written here;
`encode_tag` and the handler's `decode_tag` are inverses (tests/test_rotation_policy.py).
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, Iterable, Optional

from ses_mail.specs.iam_policy import POLICY_VERSION, SECRET_READ_ACTIONS, SECRET_VALUE_ACTION
from ses_mail.specs.naming import IAM_USER_PATH, SECRET_NAME_PREFIX, STACK_RESOURCE_PREFIX, tag_value

TAG_USER = "ses-mail:iam-user"
TAG_ADDRESS = "ses-mail:smtp-address"
TAG_READABLE_ADDRESS = "ses-mail:address"
TAG_REGION = "ses-mail:ses-region"
TAG_STATUS = "ses-mail:status"
TAG_LEGACY_KEY = "ses-mail:legacy-key"
#: The stack a secret belongs to: the function's role may touch only secrets carrying its stack's value.
TAG_STACK = "ses-mail:stack"
TAG_VALUE_MAX = 256

DEFAULT_ROTATION_DAYS = 30
DEFAULT_GRACE_HOURS = 24
#: Secrets Manager's AutomaticallyAfterDays range.
ROTATION_DAYS_MIN, ROTATION_DAYS_MAX = 1, 1000

#: What the function does to IAM: access keys only (no user, policy or login profile action).
KEY_ACTIONS = ("iam:ListAccessKeys", "iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey")
#: What the function does to its secrets: read metadata and versions, write the pending version, promote it.
ROTATION_SECRET_ACTIONS = ("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                           "secretsmanager:ListSecretVersionIds", "secretsmanager:PutSecretValue",
                           "secretsmanager:UpdateSecretVersionStage")
VALUE_WRITE_ACTIONS = ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage")
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
#: A customer managed key of the secrets, used only through Secrets Manager.
KMS_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
#: Managing a secret without reading it: what only the deployers (secret admins) may do.
MANAGEMENT_ACTIONS = ("secretsmanager:RotateSecret", "secretsmanager:CancelRotateSecret",
                      "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret", "secretsmanager:RestoreSecret",
                      "secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy",
                      "secretsmanager:TagResource", "secretsmanager:UntagResource",
                      "secretsmanager:ReplicateSecretToRegions", "secretsmanager:RemoveRegionsFromReplication",
                      "secretsmanager:StopReplicationToReplica")
SECRETS_MANAGER_SERVICE = "secretsmanager.amazonaws.com"
LAMBDA_SERVICE = "lambda.amazonaws.com"
INVOKE_ACTION = "lambda:InvokeFunction"

_TAG_SAFE = re.compile(r"[A-Za-z0-9 _.:/+\-@]")
_FUNCTION_CHAR = re.compile(r"[A-Za-z0-9_-]")
FUNCTION_NAME_MAX = 64


def encode_tag(text: str) -> str:
    """`text` in Secrets Manager's tag alphabet, reversibly: each other character (and `=`) becomes
    `=XX` per UTF-8 byte. An ordinary address is unchanged."""
    encoded = "".join(c if _TAG_SAFE.fullmatch(c) else "".join(f"={b:02X}" for b in c.encode("utf-8")) for c in text)
    if len(encoded) > TAG_VALUE_MAX:
        raise ValueError(f"{text!r} does not fit a tag value ({len(encoded)} > {TAG_VALUE_MAX} characters escaped)")
    return encoded


def stack_tag_value(project: str, stack: str) -> str:
    return encode_tag(f"{project}/{stack}")


def rotation_secret_tags(address: str, iam_user: str, region: str, stack: str, *, suspended: bool = False,
                         legacy_key: Optional[str] = None) -> dict[str, str]:
    """Tags of a person's secret in the rotation mode: who the function rotates, and for which stack.

    `legacy_key`: the id of the key made by Pulumi before the person moved to this mode; the function
    keeps it working until its own first version is current, then retires it like a previous key."""
    tags = {TAG_READABLE_ADDRESS: tag_value(address), TAG_ADDRESS: encode_tag(address),
            TAG_USER: encode_tag(iam_user), TAG_REGION: region, TAG_STACK: stack}
    if suspended:
        tags[TAG_STATUS] = "suspended"
    if legacy_key:
        tags[TAG_LEGACY_KEY] = legacy_key
    return tags


def check_schedule(rotation_days: int, grace_hours: int) -> None:
    """The schedule never needs a third key: a scheduled rotation comes after the grace period."""
    if not ROTATION_DAYS_MIN <= rotation_days <= ROTATION_DAYS_MAX:
        raise ValueError(f"rotation_days {rotation_days} must be {ROTATION_DAYS_MIN}..{ROTATION_DAYS_MAX}")
    if grace_hours < 1:
        raise ValueError(f"grace_hours {grace_hours} must be at least 1")
    if grace_hours >= rotation_days * 24:
        raise ValueError(f"grace_hours {grace_hours} must be shorter than the rotation interval "
                         f"({rotation_days} days = {rotation_days * 24} hours): otherwise a scheduled rotation "
                         "would find the previous key still in its grace period and need a third key")


def function_name(project: str, stack: str) -> str:
    """`ses-mail-<stack>-smtp-rotation` for this project (`<project>-<stack>-…` for another project,
    always starting `ses-mail-`, the only function names the deploy role may create), in Lambda's
    alphabet, hashed when it would be too long."""
    head = project if f"{project}-".startswith(STACK_RESOURCE_PREFIX) else f"{STACK_RESOURCE_PREFIX}{project}"
    wanted = f"{head}-{stack}-smtp-rotation"
    plain = "".join(c if _FUNCTION_CHAR.match(c) else "-" for c in wanted)
    if len(plain) <= FUNCTION_NAME_MAX and plain == wanted:
        return plain
    digest = hashlib.sha256(f"{project}/{stack}".encode("utf-8")).hexdigest()[:10]
    return plain[: FUNCTION_NAME_MAX - 11 - len("-rot")] + "-rot-" + digest


def log_group_name(function: str) -> str:
    return f"/aws/lambda/{function}"


def log_group_arn(region: str, account_id: str, function: str, partition: str = "aws") -> str:
    return f"arn:{partition}:logs:{region}:{account_id}:log-group:{log_group_name(function)}"


def secrets_arn_pattern(region: str, account_id: str, prefix: str = SECRET_NAME_PREFIX, partition: str = "aws") -> str:
    return f"arn:{partition}:secretsmanager:{region}:{account_id}:secret:{prefix}*"


def smtp_users_arn_pattern(account_id: str, iam_path: str = IAM_USER_PATH, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:user{iam_path}*"


def assume_role_policy(account_id: str) -> dict[str, Any]:
    """Only Lambda, for a function of this account, assumes the function's role."""
    return {"Version": POLICY_VERSION, "Statement": [{
        "Effect": "Allow", "Principal": {"Service": LAMBDA_SERVICE}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}}]}


def function_role_policy(*, account_id: str, region: str, stack: str, function: str,
                         iam_path: str = IAM_USER_PATH, secret_prefix: str = SECRET_NAME_PREFIX,
                         kms_key_arn: Optional[str] = None, partition: str = "aws") -> dict[str, Any]:
    """The rotation function's whole permission: keys of users under `iam_path`, this stack's
    secrets (name prefix and stack tag), its own log group; and the secrets' customer managed key
    only through Secrets Manager when one is set. Nothing else."""
    statements: list[dict[str, Any]] = [
        {"Sid": "AccessKeysOfSmtpUsersOnly", "Effect": "Allow", "Action": list(KEY_ACTIONS),
         "Resource": smtp_users_arn_pattern(account_id, iam_path, partition)},
        {"Sid": "ThisStacksSecretsOnly", "Effect": "Allow", "Action": list(ROTATION_SECRET_ACTIONS),
         "Resource": secrets_arn_pattern(region, account_id, secret_prefix, partition),
         "Condition": {"StringEquals": {f"aws:ResourceTag/{TAG_STACK}": stack}}},
        {"Sid": "OwnLogsOnly", "Effect": "Allow", "Action": list(LOG_ACTIONS),
         "Resource": log_group_arn(region, account_id, function, partition) + ":*"},
    ]
    if kms_key_arn:
        statements.append({"Sid": "SecretsKeyThroughSecretsManagerOnly", "Effect": "Allow",
                           "Action": list(KMS_ACTIONS), "Resource": kms_key_arn,
                           "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}})
    return {"Version": POLICY_VERSION, "Statement": statements}


def invoke_permission(*, account_id: str, region: str, secret_prefix: str = SECRET_NAME_PREFIX,
                      partition: str = "aws") -> dict[str, str]:
    """The arguments of the function's one `lambda:InvokeFunction` permission (aws.lambda_.Permission)."""
    return {"action": INVOKE_ACTION, "principal": SECRETS_MANAGER_SERVICE, "source_account": account_id,
            "source_arn": secrets_arn_pattern(region, account_id, secret_prefix, partition)}


def invoke_statement(function_arn: str, permission: dict[str, str]) -> dict[str, Any]:
    """The statement Lambda adds to the function's resource policy for `permission` (AddPermission
    turns SourceAccount into StringEquals and SourceArn into ArnLike): what tests evaluate."""
    return {"Version": POLICY_VERSION, "Statement": [{
        "Effect": "Allow", "Principal": {"Service": permission["principal"]}, "Action": permission["action"],
        "Resource": function_arn,
        "Condition": {"StringEquals": {"AWS:SourceAccount": permission["source_account"]},
                      "ArnLike": {"AWS:SourceArn": permission["source_arn"]}}}]}


def rotation_secret_policy(readers: Iterable[str], admins: Iterable[str], function_role_arn: str) -> dict[str, Any]:
    """Resource policy of a person's secret in the rotation mode.

    Only the person's `readers` and the function read the value; only the function writes or
    promotes versions; only `admins` (the deployers) manage the secret, its policy and its
    rotation, and they are denied the value like everyone else: Pulumi never reads it in this mode.
    aws:PrincipalArn is a role's ARN (with its path) for its sessions, so the function's role ARN
    stands for the function."""
    readers = sorted(set(readers))
    admins = sorted(set(admins))
    if not readers:
        raise ValueError("a secret needs at least one reader")
    if not admins:
        raise ValueError("a rotated secret needs its admins: everyone else is denied managing it")
    return {"Version": POLICY_VERSION, "Statement": [
        {"Sid": "ListedReadersMayRead", "Effect": "Allow", "Principal": {"AWS": readers},
         "Action": list(SECRET_READ_ACTIONS), "Resource": "*"},
        {"Sid": "OnlyReadersAndTheRotationFunctionReadTheValue", "Effect": "Deny", "Principal": "*",
         "Action": SECRET_VALUE_ACTION, "Resource": "*",
         "Condition": {"ArnNotLike": {"aws:PrincipalArn": sorted({*readers, function_role_arn})}}},
        {"Sid": "OnlyTheRotationFunctionWritesValues", "Effect": "Deny", "Principal": "*",
         "Action": list(VALUE_WRITE_ACTIONS), "Resource": "*",
         "Condition": {"ArnNotLike": {"aws:PrincipalArn": [function_role_arn]}}},
        {"Sid": "OnlyAdminsManage", "Effect": "Deny", "Principal": "*",
         "Action": list(MANAGEMENT_ACTIONS), "Resource": "*",
         "Condition": {"ArnNotLike": {"aws:PrincipalArn": admins}}},
    ]}


def _iso(value: Any) -> Optional[str]:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return None if value is None else str(value)


def check_rotation_state(address: str, secret: str, described: Optional[dict[str, Any]],
                         versions: list[dict[str, Any]], *, rotation_days: int,
                         now: Any) -> tuple[Optional[dict[str, Any]], list[Any]]:
    """A rotated secret's state from DescribeSecret and ListSecretVersionIds (metadata only), and
    its findings: no secret, rotation disabled, a failed or stuck rotation (a version left in
    AWSPENDING), no current version yet, or a last rotation older than the schedule allows.

    Pure apart from the Finding type (ses_mail.findings is standard library only)."""
    from datetime import timedelta

    from ses_mail.findings import ERROR, WARNING, Finding

    if described is None:
        return None, [Finding("rotation-secret-missing", ERROR, address,
                              f"no secret {secret}: the rotation function has nothing to rotate",
                              "`pulumi up` in the stack", {"secret": secret})]
    pending = [v["VersionId"] for v in versions if "AWSPENDING" in v.get("VersionStages", [])
               and "AWSCURRENT" not in v.get("VersionStages", [])]
    current = [v["VersionId"] for v in versions if "AWSCURRENT" in v.get("VersionStages", [])]
    last = described.get("LastRotatedDate")
    state = {"secret": secret, "enabled": bool(described.get("RotationEnabled")),
             "rotation_days": (described.get("RotationRules") or {}).get("AutomaticallyAfterDays"),
             "last_rotated": _iso(last), "next_rotation": _iso(described.get("NextRotationDate")),
             "pending_versions": pending, "has_current_version": bool(current)}
    findings = []
    if not state["enabled"]:
        findings.append(Finding("rotation-disabled", ERROR, address, f"rotation of {secret} is not enabled",
                                "`pulumi up` in the stack (it sets the rotation schedule)", {"secret": secret}))
    if pending:
        findings.append(Finding("rotation-stuck", ERROR, address,
                                f"a rotation of {secret} failed or is stuck: version {', '.join(pending)} is still "
                                "AWSPENDING (the current version and key are untouched)",
                                "read the rotation function's log group for RotationError / TwoKeysInUse, fix the "
                                f"cause, then `ses-mail rotate {address}`", {"secret": secret, "pending": pending}))
    if not current:
        findings.append(Finding("rotation-no-current-version", ERROR, address,
                                f"{secret} has no current version: the first rotation has not succeeded",
                                f"read the rotation function's logs, then `ses-mail rotate {address}`",
                                {"secret": secret}))
    if state["enabled"] and (last is None or now - last > timedelta(days=rotation_days + 1)):
        findings.append(Finding("rotation-overdue", WARNING, address,
                                f"{secret} was last rotated {state['last_rotated'] or 'never'}, but the schedule "
                                f"is every {rotation_days} days",
                                f"read the rotation function's logs, then `ses-mail rotate {address}`",
                                {"secret": secret, "last_rotated": state["last_rotated"]}))
    return state, findings
